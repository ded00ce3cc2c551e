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

package helm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

const crdName = "spiffetrustdomains.spiffe.csi.cert-manager.io"

// scheme knows the built-in kinds, CRDs and ours.
var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(spiffev1alpha1.AddToScheme(scheme))
}

// cluster is a real API server (envtest with bin/) without our CRD, which
// the chart installs.
type cluster struct {
	client     client.Client
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	root := repoRoot(t)
	bin, err := env.ControlPlaneBinDir(root)
	if err != nil {
		t.Fatal(err)
	}
	te := &envtest.Environment{
		Scheme:                scheme,
		BinaryAssetsDirectory: bin,
		// The chart installs its own CRD; this test never touches a real
		// cluster.
		UseExistingCluster: ptr.To(false),
	}
	cfg, err := te.Start()
	t.Cleanup(func() {
		if err := te.Stop(); err != nil {
			t.Errorf("failed to stop the control plane: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("failed to start the control plane: %v", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, te.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{client: cl, kubeconfig: kubeconfig}
}

// helm returns a Helm action configuration for the release namespace, as the
// helm CLI builds it from a kubeconfig, storing releases in Secrets.
func (c *cluster) helm(t *testing.T) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = ptr.To(c.kubeconfig)
	flags.Namespace = ptr.To(namespace)
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := cfg.Init(flags, namespace, "secret"); err != nil {
		t.Fatalf("failed to configure Helm: %v", err)
	}
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (c *cluster) install(t *testing.T, vals map[string]any) {
	t.Helper()
	in := action.NewInstall(c.helm(t))
	in.ReleaseName = releaseName
	in.Namespace = namespace
	in.WaitStrategy = kube.HookOnlyStrategy
	in.Timeout = time.Minute
	if _, err := in.Run(loadChart(t), vals); err != nil {
		t.Fatalf("helm install: %v", err)
	}
}

func (c *cluster) upgrade(t *testing.T, vals map[string]any) {
	t.Helper()
	up := action.NewUpgrade(c.helm(t))
	up.Namespace = namespace
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = time.Minute
	if _, err := up.Run(releaseName, loadChart(t), vals); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
}

func (c *cluster) uninstall(t *testing.T) {
	t.Helper()
	un := action.NewUninstall(c.helm(t))
	un.WaitStrategy = kube.HookOnlyStrategy
	un.Timeout = time.Minute
	if _, err := un.Run(releaseName); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
}

// crdUID returns the CRD's UID once the API server serves its kind, or ""
// once it is gone.
func (c *cluster) crdUID(ctx context.Context, t *testing.T) types.UID {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	for {
		err := c.client.Get(ctx, client.ObjectKey{Name: crdName}, crd)
		if apierrors.IsNotFound(err) {
			return ""
		}
		if err == nil && crd.DeletionTimestamp == nil && c.client.List(ctx, &spiffev1alpha1.SpiffeTrustDomainList{}, client.Limit(1)) == nil {
			return crd.UID
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the CRD %s neither is served nor is gone: %v", crdName, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *cluster) trustDomains(ctx context.Context, t *testing.T) []string {
	t.Helper()
	list := &spiffev1alpha1.SpiffeTrustDomainList{}
	if err := c.client.List(ctx, list); err != nil {
		t.Fatalf("failed to list SpiffeTrustDomains: %v", err)
	}
	var names []string
	for _, td := range list.Items {
		names = append(names, td.Name)
	}
	slices.Sort(names)
	return names
}

func trustDomainValues(name, domain string) map[string]any {
	return map[string]any{"name": name, "spec": map[string]any{
		"trustDomain": domain,
		"issuerRef":   map[string]any{"name": "csi-driver-spiffe-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
	}}
}

// The chart installs onto a real API server with the operator admitted at
// the restricted Pod Security level; upgrades keep the CRD and every
// SpiffeTrustDomain; crds.keep keeps the CRD through uninstall, and without
// it uninstall deletes the CRD.
func TestInstallUpgradeUninstall(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{}
	ns.Name = namespace
	ns.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
	if err := c.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	c.install(t, nil)
	uid := c.crdUID(ctx, t)
	if uid == "" {
		t.Fatal("helm install did not create the CRD")
	}
	for name, obj := range map[string]client.Object{
		"csi-driver-spiffe-controller-manager":                 &corev1.ServiceAccount{},
		"csi-driver-spiffe-controller-manager-metrics-service": &corev1.Service{},
		"csi-driver-spiffe-manager-role":                       &rbacv1.ClusterRole{},
		"csi-driver-spiffe-manager-rolebinding":                &rbacv1.ClusterRoleBinding{},
		"csi-driver-spiffe-leader-election-role":               &rbacv1.Role{},
		"csi-driver-spiffe-leader-election-rolebinding":        &rbacv1.RoleBinding{},
	} {
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
			t.Errorf("after helm install: %T %s: %v", obj, name, err)
		}
	}

	// The operator's pod is admitted in the restricted namespace, with its
	// own ServiceAccount. (No kubelet runs here: the API server's admission
	// of a pod from the Deployment's template is what is checked.)
	d := &appsv1.Deployment{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "csi-driver-spiffe-controller-manager"}, d); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{}
	pod.Namespace = namespace
	pod.Name = "operator"
	pod.Labels = d.Spec.Template.Labels
	pod.Spec = *d.Spec.Template.Spec.DeepCopy()
	if err := c.client.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the operator's pod is refused at the restricted Pod Security level: %v", err)
	}
	// The check can fail: a privileged pod is refused in this namespace.
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	if err := c.client.Create(ctx, pod, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("a privileged pod was not refused by Pod Security admission: %v", err)
	}

	// A trust domain created with kubectl, not by the release.
	mine := &spiffev1alpha1.SpiffeTrustDomain{}
	mine.Name = "mine"
	mine.Spec.TrustDomain = "mine.example"
	mine.Spec.IssuerRef.Name = "csi-driver-spiffe-ca"
	mine.Spec.IssuerRef.Kind = "ClusterIssuer"
	mine.Spec.IssuerRef.Group = "cert-manager.io"
	if err := c.client.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}

	// An upgrade that changes values and adds a trust domain of the release.
	c.upgrade(t, map[string]any{"logLevel": 3, "trustDomains": []any{trustDomainValues("chart", "chart.example")}})
	if got := c.crdUID(ctx, t); got != uid {
		t.Errorf("helm upgrade replaced the CRD (UID %q, was %q)", got, uid)
	}
	if got, want := c.trustDomains(ctx, t), []string{"chart", "mine"}; !slices.Equal(got, want) {
		t.Errorf("after helm upgrade: SpiffeTrustDomains %q, want %q", got, want)
	}
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--log-level=3") {
		t.Errorf("helm upgrade did not apply logLevel: args %q", d.Spec.Template.Spec.Containers[0].Args)
	}

	// An upgrade that stops managing the CRD: crds.keep keeps it, and every
	// trust domain with it.
	c.upgrade(t, map[string]any{"crds": map[string]any{"enabled": false}, "trustDomains": []any{trustDomainValues("chart", "chart.example")}})
	if got := c.crdUID(ctx, t); got != uid {
		t.Errorf("helm upgrade with crds.enabled=false deleted the CRD despite crds.keep (UID %q, was %q)", got, uid)
	}
	if got, want := c.trustDomains(ctx, t), []string{"chart", "mine"}; !slices.Equal(got, want) {
		t.Errorf("after helm upgrade with crds.enabled=false: SpiffeTrustDomains %q, want %q", got, want)
	}

	// Back to managing it (Helm adopts the kept CRD), then uninstall:
	// crds.keep keeps the CRD and the trust domain made with kubectl; the
	// release's own trust domain goes with the release.
	c.upgrade(t, map[string]any{"trustDomains": []any{trustDomainValues("chart", "chart.example")}})
	c.uninstall(t)
	if got := c.crdUID(ctx, t); got != uid {
		t.Errorf("helm uninstall deleted the CRD despite crds.keep (UID %q, was %q)", got, uid)
	}
	for {
		got := c.trustDomains(ctx, t)
		if slices.Equal(got, []string{"mine"}) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after helm uninstall: SpiffeTrustDomains %q, want [mine]", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(d), d); !apierrors.IsNotFound(err) {
		t.Errorf("helm uninstall left the operator Deployment: %v", err)
	}

	// Without crds.keep, uninstall deletes the CRD, and every trust domain
	// with it.
	c.install(t, map[string]any{"crds": map[string]any{"keep": false}})
	c.uninstall(t)
	if got := c.crdUID(ctx, t); got != "" {
		t.Errorf("helm uninstall with crds.keep=false left the CRD (UID %q)", got)
	}
}
