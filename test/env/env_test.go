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

package env_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

// After a restart the API server keeps its data, its address and its
// certificates: existing clients and ServiceAccount tokens keep working.
func TestRestartAPIServerKeepsDataAndCredentials(t *testing.T) {
	e := env.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := e.EnsureServiceAccount(ctx, "restart", "app"); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "restart", Name: "app"},
		Spec:       corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	tok, err := e.PodToken(ctx, pod, 3600)
	if err != nil {
		t.Fatal(err)
	}

	if err := e.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}

	got := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatalf("the admin client does not work after the restart: %v", err)
	}
	if got.UID != pod.UID {
		t.Errorf("the pod came back with another UID: data was lost")
	}
	saClient, err := client.New(e.TokenConfig(tok.Token), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The token authenticates (a Forbidden answer proves it: an unknown
	// token would be Unauthorized).
	err = saClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
	if err == nil || !isForbidden(err) {
		t.Errorf("the pod's token does not authenticate after the restart: %v", err)
	}
}

func isForbidden(err error) bool {
	return apierrors.IsForbidden(err)
}

// Without the control-plane binaries the tests fail, saying how to build
// them; they never skip.
func TestMissingControlPlaneBinariesFailLoudly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	_, err := env.ControlPlaneBinDir("/nonexistent-repo")
	if err == nil {
		t.Fatal("no error for a directory without etcd and kube-apiserver")
	}
	for _, want := range []string{"etcd", "kube-apiserver", "make controlplane", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := env.Start(); err == nil || !strings.Contains(err.Error(), "make controlplane") {
		t.Errorf("env.Start() = %v, want the missing-binaries error", err)
	}
}
