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

package trustdomain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no notification: %s", what)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The watcher follows status.config of one object, as a ServiceAccount that
// may only get/list/watch that object by name: the RBAC the operator grants.
func TestWatcherFollowsStatusConfigWithNameScopedRBAC(t *testing.T) {
	e := env.Run(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if _, err := e.EnsureServiceAccount(ctx, "operands", "driver"); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "read-foo-bar"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"spiffe.csi.cert-manager.io"}, Resources: []string{"spiffetrustdomains"},
			ResourceNames: []string{"foo-bar"}, Verbs: []string{"get", "list", "watch"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-foo-bar"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "read-foo-bar"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "operands", Name: "driver"}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	saClient, err := client.NewWithWatch(e.ImpersonationConfig("operands", "driver"), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	w := trustdomain.NewWatcher(saClient, "foo-bar")
	changes := w.Subscribe()
	go w.Run(ctx)

	eventually(t, "watcher reports the object missing", func() bool {
		_, err := w.Config()
		return err != nil && strings.Contains(err.Error(), `SpiffeTrustDomain "foo-bar" does not exist`)
	})

	td := &spiffev1alpha1.SpiffeTrustDomain{
		ObjectMeta: metav1.ObjectMeta{Name: "foo-bar"},
		Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: "foo.bar",
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: "ca"},
		},
	}
	if err := e.Client.Create(ctx, td); err != nil {
		t.Fatal(err)
	}
	eventually(t, "watcher reports nothing published", func() bool {
		_, err := w.Config()
		return err != nil && strings.Contains(err.Error(), "no published configuration yet")
	})

	cfg := &spiffev1alpha1.TrustDomainConfig{
		Generation:            1,
		TrustDomain:           "foo.bar",
		IssuerRef:             spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		Duration:              metav1.Duration{Duration: time.Hour},
		RenewBeforePercentage: 33,
		PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
		Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
		DriverName:            "spiffe.csi.cert-manager.io",
	}
	td.Status.Config = cfg
	if err := e.Client.Status().Update(ctx, td); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changes, "config published")
	eventually(t, "watcher returns the published config", func() bool {
		got, err := w.Config()
		return err == nil && got.IssuerRef.Name == "ca"
	})

	td.Status.Config.IssuerRef.Name = "other-ca"
	if err := e.Client.Status().Update(ctx, td); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changes, "issuer changed")
	eventually(t, "watcher returns the new issuer", func() bool {
		got, err := w.Config()
		return err == nil && got.IssuerRef.Name == "other-ca"
	})

	// Another object is invisible to this ServiceAccount and to the watcher.
	other := td.DeepCopy()
	other.ObjectMeta = metav1.ObjectMeta{Name: "other"}
	if err := e.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := saClient.Get(ctx, client.ObjectKey{Name: "other"}, &spiffev1alpha1.SpiffeTrustDomain{}); err == nil {
		t.Errorf("the ServiceAccount could read another SpiffeTrustDomain")
	}

	if err := e.Client.Delete(ctx, td); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changes, "object deleted")
	if _, err := w.Config(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("after delete, Config() error = %v, want 'does not exist'", err)
	}
}

func TestMemorySourceNotifiesOnlyOnChange(t *testing.T) {
	t.Parallel()
	m := trustdomain.NewMemory(nil)
	if _, err := m.Config(); err == nil {
		t.Fatal("empty Memory source returned a config")
	}
	ch := m.Subscribe()
	cfg := &spiffev1alpha1.TrustDomainConfig{TrustDomain: "foo.bar"}
	m.Set(cfg)
	waitFor(t, ch, "set")
	m.Set(cfg.DeepCopy())
	select {
	case <-ch:
		t.Fatal("notified although nothing changed")
	default:
	}
	cfg.TrustDomain = "mutated.after.set"
	if got, _ := m.Config(); got.TrustDomain != "foo.bar" {
		t.Errorf("Memory kept a reference to the caller's config: %q", got.TrustDomain)
	}
}
