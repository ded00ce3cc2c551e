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

package spiffetrustdomain

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
)

const (
	certManagerGroup  = "cert-manager.io"
	coordinationGroup = "coordination.k8s.io"
	eventsGroup       = "events.k8s.io"
)

// buildDriverClusterRole returns the driver's ClusterRole. The driver
// creates CertificateRequests as the pod's ServiceAccount (with the pod's
// token), never as itself, so it gets no create: only what it needs to wait
// for a request and clean it up, and to read its own SpiffeTrustDomain.
func buildDriverClusterRole(td *spiffev1alpha1.SpiffeTrustDomain) *rbacv1ac.ClusterRoleApplyConfiguration {
	return rbacv1ac.ClusterRole(RBACName(td.Name, ComponentDriver)).
		WithLabels(childLabels(td.Name, ComponentDriver)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(
			rbacv1ac.PolicyRule().
				WithAPIGroups(certManagerGroup).
				WithResources("certificaterequests").
				WithVerbs("get", "list", "watch", "delete"),
			trustDomainReadRule(td),
		)
}

// buildApproverClusterRole returns the approver's ClusterRole: it reads
// CertificateRequests, sets their Approved/Denied conditions, and may
// approve for exactly the signers in signerNames (see signerNames). It
// writes the CompetingApprover condition of its own SpiffeTrustDomain.
func buildApproverClusterRole(td *spiffev1alpha1.SpiffeTrustDomain, signers []string) *rbacv1ac.ClusterRoleApplyConfiguration {
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).
			WithResources("certificaterequests").
			WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).
			WithResources("certificaterequests/status").
			WithVerbs("update", "patch"),
	}
	if len(signers) > 0 {
		rules = append(rules, rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).
			WithResources("signers").
			WithVerbs("approve").
			WithResourceNames(signers...))
	}
	rules = append(rules,
		rbacv1ac.PolicyRule().
			WithAPIGroups("", eventsGroup).
			WithResources("events").
			WithVerbs("create", "patch"),
		trustDomainReadRule(td),
		rbacv1ac.PolicyRule().
			WithAPIGroups(spiffev1alpha1.GroupVersion.Group).
			WithResources("spiffetrustdomains/status").
			WithVerbs("get", "patch").
			WithResourceNames(td.Name),
	)
	return rbacv1ac.ClusterRole(RBACName(td.Name, ComponentApprover)).
		WithLabels(childLabels(td.Name, ComponentApprover)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(rules...)
}

// buildRequesterClusterRole returns the ClusterRole every ServiceAccount
// whose pods mount the volume needs: the driver creates the pod's
// CertificateRequest as that ServiceAccount.
func buildRequesterClusterRole(td *spiffev1alpha1.SpiffeTrustDomain) *rbacv1ac.ClusterRoleApplyConfiguration {
	return rbacv1ac.ClusterRole(RBACName(td.Name, ComponentRequester)).
		WithLabels(childLabels(td.Name, ComponentRequester)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).
			WithResources("certificaterequests").
			WithVerbs("create"))
}

// trustDomainReadRule lets the driver and approver read (and watch, with a
// metadata.name field selector) their own SpiffeTrustDomain and no other.
func trustDomainReadRule(td *spiffev1alpha1.SpiffeTrustDomain) *rbacv1ac.PolicyRuleApplyConfiguration {
	return rbacv1ac.PolicyRule().
		WithAPIGroups(spiffev1alpha1.GroupVersion.Group).
		WithResources("spiffetrustdomains").
		WithVerbs("get", "list", "watch").
		WithResourceNames(td.Name)
}

// buildClusterRoleBinding binds the ClusterRole of a component (driver or
// approver) to its ServiceAccount.
func buildClusterRoleBinding(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, component string) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	name := RBACName(td.Name, component)
	return rbacv1ac.ClusterRoleBinding(name).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td)).
		WithRoleRef(rbacv1ac.RoleRef().
			WithAPIGroup(rbacv1.GroupName).
			WithKind("ClusterRole").
			WithName(name)).
		WithSubjects(rbacv1ac.Subject().
			WithKind(rbacv1.ServiceAccountKind).
			WithName(td.Name + "-" + component).
			WithNamespace(opts.Namespace))
}

// ApproverLeaseName is the name of the approver's leader election Lease,
// exactly as the approver names it.
func ApproverLeaseName(td string) string { return approver.LeaderElectionID(td) }

// buildApproverRole returns the approver's Role in the operator's
// namespace: its leader election Lease. create cannot be limited to a name;
// get and update are.
func buildApproverRole(td *spiffev1alpha1.SpiffeTrustDomain, opts Options) *rbacv1ac.RoleApplyConfiguration {
	return rbacv1ac.Role(RBACName(td.Name, ComponentApprover), opts.Namespace).
		WithLabels(childLabels(td.Name, ComponentApprover)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(
			rbacv1ac.PolicyRule().
				WithAPIGroups(coordinationGroup).
				WithResources("leases").
				WithVerbs("create"),
			rbacv1ac.PolicyRule().
				WithAPIGroups(coordinationGroup).
				WithResources("leases").
				WithVerbs("get", "update").
				WithResourceNames(ApproverLeaseName(td.Name)),
		)
}

// buildApproverRoleBinding binds the approver's Role to its ServiceAccount.
func buildApproverRoleBinding(td *spiffev1alpha1.SpiffeTrustDomain, opts Options) *rbacv1ac.RoleBindingApplyConfiguration {
	name := RBACName(td.Name, ComponentApprover)
	return rbacv1ac.RoleBinding(name, opts.Namespace).
		WithLabels(childLabels(td.Name, ComponentApprover)).
		WithOwnerReferences(ownerReference(td)).
		WithRoleRef(rbacv1ac.RoleRef().
			WithAPIGroup(rbacv1.GroupName).
			WithKind("Role").
			WithName(name)).
		WithSubjects(rbacv1ac.Subject().
			WithKind(rbacv1.ServiceAccountKind).
			WithName(ApproverServiceAccountName(td.Name)).
			WithNamespace(opts.Namespace))
}

// buildRequesterRoleBinding grants the requester ClusterRole to every
// ServiceAccount of namespace ns (group system:serviceaccounts:<ns>).
func buildRequesterRoleBinding(td *spiffev1alpha1.SpiffeTrustDomain, ns string) *rbacv1ac.RoleBindingApplyConfiguration {
	name := RBACName(td.Name, ComponentRequester)
	return rbacv1ac.RoleBinding(name, ns).
		WithLabels(childLabels(td.Name, ComponentRequester)).
		WithOwnerReferences(ownerReference(td)).
		WithRoleRef(rbacv1ac.RoleRef().
			WithAPIGroup(rbacv1.GroupName).
			WithKind("ClusterRole").
			WithName(name)).
		WithSubjects(rbacv1ac.Subject().
			WithAPIGroup(rbacv1.GroupName).
			WithKind(rbacv1.GroupKind).
			WithName("system:serviceaccounts:" + ns))
}

// issuerResource is what the API server says about an issuer's kind: its
// plural resource name and whether it is namespaced. cert-manager names a
// signer after it (see signerNames).
type issuerResource struct {
	Resource   string
	Namespaced bool
}

// signerNames returns the cert-manager signer names the approver may approve
// for, exactly as cert-manager's webhook checks them:
// <resource>.<group>/<name> for a cluster-scoped issuer and
// <resource>.<group>/<namespace>.<name> for a namespaced one, in each
// namespace of requesterNamespaces. A namespaced issuer without a
// requesterNamespaceSelector can be used from any namespace, which only the
// wildcard <resource>.<group>/* covers.
//
// res is nil when the issuer's kind is not served (an external issuer whose
// CRDs are not installed): then there is nothing to approve for.
func signerNames(ref spiffev1alpha1.IssuerReference, res *issuerResource, selectorSet bool, requesterNamespaces []string) []string {
	if res == nil {
		return nil
	}
	prefix := res.Resource + "." + ref.Group + "/"
	switch {
	case !res.Namespaced:
		return []string{prefix + ref.Name}
	case !selectorSet:
		return []string{prefix + "*"}
	}
	names := make([]string, 0, len(requesterNamespaces))
	for _, ns := range requesterNamespaces {
		names = append(names, fmt.Sprintf("%s%s.%s", prefix, ns, ref.Name))
	}
	sort.Strings(names)
	return names
}
