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

package certmanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApprovalCheckPolicyName is the name of the ValidatingAdmissionPolicy (and
// its binding) that stands in for cert-manager's approval check.
const ApprovalCheckPolicyName = "stand-in-cert-manager-approval-check"

// approvalProbeUser is the user WaitForApprovalCheck impersonates: it may
// patch request status but may approve for no signer.
const approvalProbeUser = "stand-in-approval-check-probe"

// InstallApprovalCheck reproduces cert-manager's webhook check on approvals:
// whoever adds an Approved or Denied condition to a CertificateRequest must
// be allowed the verb "approve" on the resource "signers" of group
// cert-manager.io, named "<resource>.<group>/*" or, for the request's own
// issuer, "<resource>.<group>/<name>" (cluster-scoped issuer) or
// "<resource>.<group>/<namespace>.<name>" (namespaced issuer). cert-manager
// finds the issuer's resource and scope by discovery; this stand-in knows
// cert-manager's own kinds (Issuer, ClusterIssuer) and treats another kind
// as its lowercase plural, namespaced unless it ends in "ClusterIssuer".
func InstallApprovalCheck(ctx context.Context, cl client.Client) error {
	const conditions = `has(%[1]s.status) && has(%[1]s.status.conditions) && %[1]s.status.conditions.exists(c, c.type == t)`
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ApprovalCheckPolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{
							APIGroups:   []string{"cert-manager.io"},
							APIVersions: []string{"v1"},
							Resources:   []string{"certificaterequests/status"},
						},
					},
				}},
			},
			Variables: []admissionregistrationv1.Variable{
				{Name: "group", Expression: `has(object.spec.issuerRef.group) && object.spec.issuerRef.group != "" ? object.spec.issuerRef.group : "cert-manager.io"`},
				{Name: "kind", Expression: `has(object.spec.issuerRef.kind) && object.spec.issuerRef.kind != "" ? object.spec.issuerRef.kind : "Issuer"`},
				{Name: "resource", Expression: `variables.kind == "ClusterIssuer" ? "clusterissuers" : variables.kind == "Issuer" ? "issuers" : variables.kind.lowerAscii() + "s"`},
				{Name: "namespaced", Expression: `!variables.kind.endsWith("ClusterIssuer")`},
				{Name: "signer", Expression: `variables.resource + "." + variables.group + "/" + (variables.namespaced ? object.metadata.namespace + "." : "") + object.spec.issuerRef.name`},
				{Name: "wildcard", Expression: `variables.resource + "." + variables.group + "/*"`},
				{Name: "decides", Expression: `["Approved", "Denied"].exists(t, (` + fmt.Sprintf(conditions, "object") + `) && !(` + fmt.Sprintf(conditions, "oldObject") + `))`},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: `!variables.decides || ` +
					`authorizer.group("cert-manager.io").resource("signers").name(variables.wildcard).check("approve").allowed() || ` +
					`authorizer.group("cert-manager.io").resource("signers").name(variables.signer).check("approve").allowed()`,
				MessageExpression: `"user " + request.userInfo.username + " does not have permissions to set approved/denied conditions for issuer " + variables.signer`,
				Reason:            ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ApprovalCheckPolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        ApprovalCheckPolicyName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	// The probe user of WaitForApprovalCheck may write request status and
	// approve nothing.
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: approvalProbeUser},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests/status"}, Verbs: []string{"patch"},
		}},
	}
	roleBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: approvalProbeUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: approvalProbeUser},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: approvalProbeUser}},
	}
	for _, obj := range []client.Object{policy, binding, role, roleBinding} {
		if err := cl.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create %T %q: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// WaitForApprovalCheck blocks until the policy installed by
// InstallApprovalCheck takes effect (the API server loads policies
// asynchronously): it creates a probe request in namespace ns and dry-runs
// its approval by a user without the approve permission until the server
// refuses it. admin must be a cluster administrator's config.
func WaitForApprovalCheck(ctx context.Context, admin *rest.Config, scheme *runtime.Scheme, ns string) error {
	adminClient, err := client.New(admin, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("failed to build a client: %w", err)
	}
	probe := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "approval-check-probe-", Namespace: ns},
		Spec:       cmapi.CertificateRequestSpec{Request: []byte("probe"), IssuerRef: cmmeta.IssuerReference{Name: "probe"}},
	}
	for {
		err := adminClient.Create(ctx, probe)
		if err == nil {
			break
		}
		if !meta.IsNoMatchError(err) && !apierrors.IsServiceUnavailable(err) {
			return fmt.Errorf("failed to create a probe CertificateRequest: %w", err)
		}
		// Discovery does not serve the new CRD yet.
		select {
		case <-ctx.Done():
			return fmt.Errorf("failed to create a probe CertificateRequest: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer func() { _ = adminClient.Delete(context.WithoutCancel(ctx), probe) }()

	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: approvalProbeUser}
	user, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("failed to build a client: %w", err)
	}
	approve := cmapplyv1.CertificateRequest(probe.Name, ns).WithStatus(cmapplyv1.CertificateRequestStatus().WithConditions(
		cmapplyv1.CertificateRequestCondition().WithType(cmapi.CertificateRequestConditionApproved).
			WithStatus(cmmeta.ConditionTrue).WithReason("Probe").WithMessage("probe").
			WithLastTransitionTime(metav1.Now())))
	for {
		err := user.Status().Apply(ctx, approve, client.FieldOwner(approvalProbeUser), client.ForceOwnership, client.DryRunAll)
		switch {
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "does not have permissions to set approved/denied conditions"):
			return nil
		case err != nil && !apierrors.IsForbidden(err):
			return fmt.Errorf("failed to dry-run an approval: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("approval check policy did not take effect: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
