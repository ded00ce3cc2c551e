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

package operand

import (
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// The RBAC rules of each operand. The operator grants exactly these (its
// ClusterRoles and Roles are built from them), and the integration suites
// run the driver and the approver under exactly these: a permission missing
// here fails a test, and one too many is granted to no test.

const (
	certManagerGroup  = "cert-manager.io"
	coordinationGroup = "coordination.k8s.io"
	eventsGroup       = "events.k8s.io"
)

// DriverClusterRules are the driver's cluster-wide permissions. The driver
// creates CertificateRequests as the pod's ServiceAccount (with the pod's
// token), never as itself, so it gets no create: only what it needs to wait
// for a request and clean it up, and to read (and watch, with a
// metadata.name field selector) its own SpiffeTrustDomain.
func DriverClusterRules(td string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{certManagerGroup}, Resources: []string{"certificaterequests"}, Verbs: []string{"get", "list", "watch", "delete"}},
		trustDomainReadRule(td),
	}
}

// ApproverClusterRules are the approver's cluster-wide permissions: it reads
// CertificateRequests, patches their Approved/Denied conditions with
// server-side apply (never an update), may approve for exactly signerNames
// (see SignerNames; no rule when there are none), records events.k8s.io
// Events on requests in any namespace, and reads its own SpiffeTrustDomain
// and patches its CompetingApprover condition (it reads the object through
// the main resource, so it needs no get on the status subresource).
func ApproverClusterRules(td string, signerNames []string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{certManagerGroup}, Resources: []string{"certificaterequests"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{certManagerGroup}, Resources: []string{"certificaterequests/status"}, Verbs: []string{"patch"}},
	}
	if len(signerNames) > 0 {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{certManagerGroup}, Resources: []string{"signers"}, Verbs: []string{"approve"},
			ResourceNames: slices.Clone(signerNames),
		})
	}
	return append(rules,
		rbacv1.PolicyRule{APIGroups: []string{eventsGroup}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		trustDomainReadRule(td),
		rbacv1.PolicyRule{
			APIGroups: []string{spiffev1alpha1.GroupVersion.Group}, Resources: []string{"spiffetrustdomains/status"}, Verbs: []string{"patch"},
			ResourceNames: []string{td},
		},
	)
}

// ApproverNamespaceRules are the approver's permissions in the namespace of
// its leader election Lease (the operator's namespace): create a Lease
// (create cannot be limited to a name: the name is not known before the
// object exists), get and update exactly ApproverLeaseName, and record the
// core v1 Events controller-runtime's leader election writes there.
func ApproverNamespaceRules(td string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{coordinationGroup}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{coordinationGroup}, Resources: []string{"leases"}, Verbs: []string{"get", "update"}, ResourceNames: []string{ApproverLeaseName(td)}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// RequesterRules are what every ServiceAccount whose pods mount the volume
// needs: the driver creates the pod's CertificateRequest as that
// ServiceAccount.
func RequesterRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{certManagerGroup}, Resources: []string{"certificaterequests"}, Verbs: []string{"create"}},
	}
}

// RequesterGroup is the group of every ServiceAccount of namespace ns, to
// which the operator binds RequesterRules in each requester namespace.
func RequesterGroup(ns string) string { return "system:serviceaccounts:" + ns }

// trustDomainReadRule lets an operand read (and watch, with a metadata.name
// field selector) its own SpiffeTrustDomain and no other.
func trustDomainReadRule(td string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{
		APIGroups: []string{spiffev1alpha1.GroupVersion.Group}, Resources: []string{"spiffetrustdomains"}, Verbs: []string{"get", "list", "watch"},
		ResourceNames: []string{td},
	}
}

// IssuerResource is what the API server says about an issuer's kind: its
// plural resource name and whether it is namespaced. cert-manager names a
// signer after it.
type IssuerResource struct {
	Resource   string
	Namespaced bool
}

// SignerNames returns the signer names on which the approver needs the
// "approve" verb (resource "signers", group cert-manager.io) to decide
// requests for the issuer ref, exactly as cert-manager's approval webhook
// checks them (internal/webhook/admission/certificaterequest/approval in
// cert-manager v1.20: it allows "<resource>.<group>/*" or, for a namespaced
// issuer, "<resource>.<group>/<request namespace>.<name>", and for a
// cluster-scoped one "<resource>.<group>/<name>"):
//
//   - a cluster-scoped issuer: <resource>.<group>/<name>;
//   - a namespaced issuer when requests come from requesterNamespaces only
//     (allNamespaces false): <resource>.<group>/<namespace>.<name> for each,
//     sorted;
//   - a namespaced issuer usable from any namespace (allNamespaces true):
//     only the wildcard <resource>.<group>/* covers it.
//
// res is nil when the issuer's kind is not served (an external issuer whose
// CRDs are not installed): then there is nothing to approve for.
func SignerNames(ref spiffev1alpha1.IssuerReference, res *IssuerResource, allNamespaces bool, requesterNamespaces []string) []string {
	if res == nil {
		return nil
	}
	ref = IssuerRef(ref)
	prefix := res.Resource + "." + ref.Group + "/"
	switch {
	case !res.Namespaced:
		return []string{prefix + ref.Name}
	case allNamespaces:
		return []string{prefix + "*"}
	}
	names := make([]string, 0, len(requesterNamespaces))
	for _, ns := range requesterNamespaces {
		names = append(names, prefix+ns+"."+ref.Name)
	}
	slices.Sort(names)
	return names
}

// CertManagerIssuerResource returns the resource of cert-manager's own issuer
// kinds (Issuer, ClusterIssuer), which need no discovery; nil for any other
// kind.
func CertManagerIssuerResource(kind string) *IssuerResource {
	switch kind {
	case cmapi.ClusterIssuerKind:
		return &IssuerResource{Resource: "clusterissuers", Namespaced: false}
	case cmapi.IssuerKind:
		return &IssuerResource{Resource: "issuers", Namespaced: true}
	}
	return nil
}
