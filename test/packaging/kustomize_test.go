/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package packaging

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
)

// `kubectl apply -k config/default` works: the rendered install is accepted
// object by object by a real API server.
func TestDefaultInstallIsAcceptedByAPIServer(t *testing.T) {
	e := env.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	objs, err := kustomize.Apply(ctx, e.Client, filepath.Join(e.RepoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, u := range objs {
		kinds[u.GetKind()]++
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("config/default renders no %s (renders %v)", k, kinds)
		}
	}

	// The namespace admits the privileged driver pods; the operator's own
	// pod meets the restricted level anyway.
	ns := &corev1.Namespace{}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: "csi-driver-spiffe-system"}, ns); err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("namespace enforce level = %q, want privileged (the driver DaemonSet needs it)", got)
	}
	d := &appsv1.Deployment{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: "csi-driver-spiffe-system", Name: "csi-driver-spiffe-controller-manager"}, d); err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["RELATED_IMAGE_CSI_DRIVER_SPIFFE"] != c.Image {
		t.Errorf("RELATED_IMAGE_CSI_DRIVER_SPIFFE = %q, want the operator image %q (one image, three roles)", env["RELATED_IMAGE_CSI_DRIVER_SPIFFE"], c.Image)
	}
	// The driver needs no sidecar images: it registers with kubelet and
	// serves its health endpoints itself.
	for k := range env {
		if strings.HasPrefix(k, "RELATED_IMAGE_") && k != "RELATED_IMAGE_CSI_DRIVER_SPIFFE" {
			t.Errorf("%s is set; the only operand image is RELATED_IMAGE_CSI_DRIVER_SPIFFE", k)
		}
	}

	// The operator pod is admitted at the restricted Pod Security level.
	if err := e.EnsureNamespace(ctx, "restricted", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{}
	pod.Namespace = "restricted"
	pod.Name = "operator"
	pod.Spec = *d.Spec.Template.Spec.DeepCopy()
	pod.Spec.ServiceAccountName = ""
	if err := e.Client.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the operator pod is refused in a restricted namespace: %v", err)
	}
}
