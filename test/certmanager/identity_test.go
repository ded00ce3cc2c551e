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

package certmanager_test

import (
	"context"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

// The stand-in must behave like cert-manager's webhook: whatever username a
// client writes, the stored request carries the identity that created it.
func TestIdentityStampingOverwritesForgedUsername(t *testing.T) {
	e := env.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := certmanager.InstallIdentityStamping(ctx, e.Client); err != nil {
		t.Fatal(err)
	}
	if _, err := e.EnsureServiceAccount(ctx, "sandbox", "example-app"); err != nil {
		t.Fatal(err)
	}
	if err := certmanager.WaitForIdentityStamping(ctx, e.Client, "sandbox"); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "create-crs"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests"}, Verbs: []string{"create"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "create-crs"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "create-crs"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "sandbox", Name: "example-app"}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	sa, err := client.New(e.ImpersonationConfig("sandbox", "example-app"), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "forged-", Namespace: "sandbox"},
		Spec: cmapi.CertificateRequestSpec{
			Request:   []byte("not a real csr"),
			IssuerRef: cmmeta.IssuerReference{Name: "csi-driver-spiffe-ca"},
			Username:  "system:serviceaccount:kube-system:admin",
			Groups:    []string{"system:masters"},
		},
	}
	if err := sa.Create(ctx, cr); err != nil {
		t.Fatalf("failed to create request as the serviceaccount: %v", err)
	}
	stored := &cmapi.CertificateRequest{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(cr), stored); err != nil {
		t.Fatal(err)
	}
	if got, want := stored.Spec.Username, "system:serviceaccount:sandbox:example-app"; got != want {
		t.Errorf("spec.username = %q, want %q", got, want)
	}
	for _, g := range stored.Spec.Groups {
		if g == "system:masters" {
			t.Errorf("spec.groups kept the forged group: %v", stored.Spec.Groups)
		}
	}
	if len(stored.Spec.Groups) == 0 {
		t.Errorf("spec.groups is empty, want the serviceaccount's groups")
	}
}
