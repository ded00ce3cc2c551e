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
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

// The stand-in must behave like cert-manager's approval check: only users
// allowed "approve" on the request's signer may add Approved or Denied.
func TestApprovalCheckRequiresApproveOnTheSigner(t *testing.T) {
	e := env.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := certmanager.InstallApprovalCheck(ctx, e.Client); err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureNamespace(ctx, "sandbox", nil); err != nil {
		t.Fatal(err)
	}
	if err := certmanager.WaitForApprovalCheck(ctx, e.Config, env.Scheme, "sandbox"); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		signers   []string
		issuer    cmmeta.IssuerReference
		condition cmapi.CertificateRequestConditionType
		wantAllow bool
	}{
		"no approve permission, approving": {
			issuer: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionApproved,
		},
		"no approve permission, denying": {
			issuer: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionDenied,
		},
		"no approve permission, setting Ready": {
			issuer: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionReady, wantAllow: true,
		},
		"approve on the ClusterIssuer": {
			signers: []string{"clusterissuers.cert-manager.io/ca"},
			issuer:  cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionApproved, wantAllow: true,
		},
		"approve on another ClusterIssuer": {
			signers: []string{"clusterissuers.cert-manager.io/other"},
			issuer:  cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionApproved,
		},
		"approve on the Issuer of the namespace, named without kind": {
			signers: []string{"issuers.cert-manager.io/sandbox.ca"},
			issuer:  cmmeta.IssuerReference{Name: "ca"}, condition: cmapi.CertificateRequestConditionApproved, wantAllow: true,
		},
		"approve on every Issuer": {
			signers: []string{"issuers.cert-manager.io/*"},
			issuer:  cmmeta.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, condition: cmapi.CertificateRequestConditionDenied, wantAllow: true,
		},
		"approve on every Issuer does not cover a ClusterIssuer": {
			signers: []string{"issuers.cert-manager.io/*"},
			issuer:  cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, condition: cmapi.CertificateRequestConditionApproved,
		},
	}
	i := 0
	for name, tc := range tests {
		i++
		user := fmt.Sprintf("approval-check-user-%d", i)
		t.Run(name, func(t *testing.T) {
			grant(ctx, t, e, user, tc.signers)
			cr := &cmapi.CertificateRequest{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "approval-", Namespace: "sandbox"},
				Spec:       cmapi.CertificateRequestSpec{Request: []byte("x"), IssuerRef: tc.issuer},
			}
			if err := e.Client.Create(ctx, cr); err != nil {
				t.Fatal(err)
			}
			cfg := rest.CopyConfig(e.Config)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
			c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
			if err != nil {
				t.Fatal(err)
			}
			apply := func() error {
				return c.Status().Apply(ctx, cmapplyv1.CertificateRequest(cr.Name, cr.Namespace).WithStatus(
					cmapplyv1.CertificateRequestStatus().WithConditions(cmapplyv1.CertificateRequestCondition().
						WithType(tc.condition).WithStatus(cmmeta.ConditionTrue).WithReason("Test").WithMessage("test").
						WithLastTransitionTime(metav1.Now()))),
					client.FieldOwner(user), client.ForceOwnership)
			}
			err = apply()
			// A new grant reaches the authorizer a moment after it is
			// written: retry a refusal that should be an allowance.
			for deadline := time.Now().Add(5 * time.Second); tc.wantAllow && apierrors.IsForbidden(err) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				err = apply()
			}
			switch {
			case tc.wantAllow && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.wantAllow && err == nil:
				t.Errorf("allowed, want refused")
			case !tc.wantAllow && !(apierrors.IsForbidden(err) && strings.Contains(err.Error(), "does not have permissions to set approved/denied conditions for issuer")):
				t.Errorf("refused with %v, want cert-manager's message", err)
			}
		})
	}
}

// grant lets user patch request status and approve for signers.
func grant(ctx context.Context, t *testing.T, e *env.Environment, user string, signers []string) {
	t.Helper()
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests/status"}, Verbs: []string{"patch"}}}
	if len(signers) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"approve"}, ResourceNames: signers})
	}
	for _, obj := range []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		},
	} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}
