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

// Package certmanager holds test stand-ins for the parts of cert-manager that
// do not run on our test control plane. They behave like cert-manager from
// the outside and are named as stand-ins wherever they are used.
package certmanager

import (
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// IdentityStampingPolicyName is the name of the MutatingAdmissionPolicy (and
// its binding) that stands in for cert-manager's webhook.
const IdentityStampingPolicyName = "stand-in-cert-manager-identity-stamping"

// InstallIdentityStamping reproduces what cert-manager's webhook does to every
// CertificateRequest on create: it overwrites spec.username and spec.groups
// with the identity of the user who made the request, so the approver can
// trust them. cert-manager does this in a mutating webhook; the test control
// plane has no webhook server, so a MutatingAdmissionPolicy (GA in Kubernetes
// v1.37) does it. Like the webhook, it ignores what the client wrote.
//
// It also rejects updates that change spec.username, as cert-manager's
// validating webhook does (spec is immutable).
func InstallIdentityStamping(ctx context.Context, cl client.Client) error {
	policy := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: IdentityStampingPolicyName},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:      ptr.To(admissionregistrationv1.Fail),
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{
							APIGroups:   []string{"cert-manager.io"},
							APIVersions: []string{"v1"},
							Resources:   []string{"certificaterequests"},
						},
					},
				}},
			},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{
					// "add" replaces an existing member, so whatever the
					// client wrote is overwritten. request.userInfo.uid is
					// absent for impersonated users, so it is not stamped.
					Expression: `[
  JSONPatch{op: "add", path: "/spec/username", value: request.userInfo.username},
  JSONPatch{op: "add", path: "/spec/groups", value: request.userInfo.groups.map(g, string(g))}
]`,
				},
			}},
		},
	}
	binding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: IdentityStampingPolicyName},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: IdentityStampingPolicyName,
		},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := cl.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create %T %q: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// WaitForIdentityStamping blocks until the policy installed by
// InstallIdentityStamping takes effect (the API server loads policies
// asynchronously): it dry-runs the creation of a CertificateRequest with a
// forged username in namespace ns until the server replaces the username.
func WaitForIdentityStamping(ctx context.Context, cl client.Client, ns string) error {
	probe := func() (bool, error) {
		cr := &cmapi.CertificateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "identity-stamping-probe-", Namespace: ns},
			Spec: cmapi.CertificateRequestSpec{
				Request:   []byte("probe"),
				IssuerRef: cmmeta.IssuerReference{Name: "probe"},
				Username:  "forged",
			},
		}
		if err := cl.Create(ctx, cr, client.DryRunAll); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsServiceUnavailable(err) {
				// Discovery, or the API server's handler of the new CRD,
				// does not serve it yet.
				return false, nil
			}
			return false, fmt.Errorf("failed to dry-run a CertificateRequest: %w", err)
		}
		return cr.Spec.Username != "forged" && cr.Spec.Username != "", nil
	}
	for {
		ok, err := probe()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("identity stamping policy did not take effect: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
