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
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

const certManagerGroup = operand.DefaultIssuerGroup

// buildClusterRole returns the ClusterRole of a component of td, granting
// rules (from operand: DriverClusterRules, ApproverClusterRules,
// RequesterRules).
func buildClusterRole(td *spiffev1alpha1.SpiffeTrustDomain, component string, rules []rbacv1.PolicyRule) *rbacv1ac.ClusterRoleApplyConfiguration {
	return rbacv1ac.ClusterRole(operand.RBACName(td.Name, component)).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(policyRules(rules)...)
}

// buildRole returns the Role of a component of td in namespace ns.
func buildRole(td *spiffev1alpha1.SpiffeTrustDomain, ns, component string, rules []rbacv1.PolicyRule) *rbacv1ac.RoleApplyConfiguration {
	return rbacv1ac.Role(operand.RBACName(td.Name, component), ns).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td)).
		WithRules(policyRules(rules)...)
}

// buildClusterRoleBinding binds the ClusterRole of a component (driver or
// approver) to its ServiceAccount.
func buildClusterRoleBinding(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, component string) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	b := newBinding(td, opts, component, "ClusterRole", "")
	return rbacv1ac.ClusterRoleBinding(b.name).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td)).
		WithRoleRef(b.roleRef).
		WithSubjects(b.subject)
}

// buildRoleBinding binds the role of a component in namespace ns: the
// approver's Role in the operator's namespace, or the requester ClusterRole
// in a requester namespace.
func buildRoleBinding(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, component, roleKind, ns string) *rbacv1ac.RoleBindingApplyConfiguration {
	b := newBinding(td, opts, component, roleKind, ns)
	return rbacv1ac.RoleBinding(b.name, ns).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td)).
		WithRoleRef(b.roleRef).
		WithSubjects(b.subject)
}

// binding is what every binding of a component grants: its role (named
// operand.RBACName, like the binding) to its subject.
type binding struct {
	name    string
	roleRef *rbacv1ac.RoleRefApplyConfiguration
	subject *rbacv1ac.SubjectApplyConfiguration
}

// newBinding returns the binding of a component of td. The subject of the
// driver and the approver is their ServiceAccount in the operator's
// namespace; that of the requester role is every ServiceAccount of the
// requester namespace ns.
func newBinding(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, component, roleKind, ns string) binding {
	name := operand.RBACName(td.Name, component)
	subject := rbacv1ac.Subject().
		WithKind(rbacv1.ServiceAccountKind).
		WithName(operand.ServiceAccountName(td.Name, component)).
		WithNamespace(opts.Namespace)
	if component == operand.ComponentRequester {
		subject = rbacv1ac.Subject().
			WithAPIGroup(rbacv1.GroupName).
			WithKind(rbacv1.GroupKind).
			WithName(operand.RequesterGroup(ns))
	}
	return binding{
		name:    name,
		roleRef: rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind(roleKind).WithName(name),
		subject: subject,
	}
}

// policyRules converts rules to apply configurations, field by field.
func policyRules(rules []rbacv1.PolicyRule) []*rbacv1ac.PolicyRuleApplyConfiguration {
	out := make([]*rbacv1ac.PolicyRuleApplyConfiguration, 0, len(rules))
	for _, r := range rules {
		ac := rbacv1ac.PolicyRule().
			WithAPIGroups(r.APIGroups...).
			WithResources(r.Resources...).
			WithVerbs(r.Verbs...)
		if len(r.ResourceNames) > 0 {
			ac.WithResourceNames(r.ResourceNames...)
		}
		if len(r.NonResourceURLs) > 0 {
			ac.WithNonResourceURLs(r.NonResourceURLs...)
		}
		out = append(out, ac)
	}
	return out
}
