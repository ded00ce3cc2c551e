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

package approver

import (
	"crypto/sha256"
	"encoding/hex"

	rbacv1 "k8s.io/api/rbac/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// leaseNamePrefix starts the name of the leader election Lease.
const leaseNamePrefix = "csi-driver-spiffe-approver-"

// LeaderElectionID returns the name of the Lease the approver replicas of
// the SpiffeTrustDomain trustDomainObject elect their leader with:
// "csi-driver-spiffe-approver-<object>", or the prefix and a hash of the
// object's name when that would be longer than a Lease name may be.
func LeaderElectionID(trustDomainObject string) string {
	if id := leaseNamePrefix + trustDomainObject; len(id) <= 253 {
		return id
	}
	sum := sha256.Sum256([]byte(trustDomainObject))
	return leaseNamePrefix + hex.EncodeToString(sum[:16])
}

// SignerName returns the signer name on which cert-manager checks the
// "approve" verb (resource "signers", group cert-manager.io) when someone
// sets the Approved or Denied condition of a request to an issuer of kind
// resource (plural, e.g. "clusterissuers") in group. For a namespaced
// issuer the approver decides requests of every namespace, so the name
// covers all of them ("<resource>.<group>/*").
func SignerName(resource, group, name string, namespaced bool) string {
	if namespaced {
		return resource + "." + group + "/*"
	}
	return resource + "." + group + "/" + name
}

// ClusterRules are the cluster-wide permissions of the approver of the
// SpiffeTrustDomain trustDomainObject, whose issuer has the given signer
// names (see SignerName). They are all it needs besides LeaderElectionRules.
func ClusterRules(trustDomainObject string, signerNames ...string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"approve"}, ResourceNames: signerNames},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{spiffev1alpha1.GroupVersion.Group}, Resources: []string{"spiffetrustdomains"}, Verbs: []string{"get", "list", "watch"}, ResourceNames: []string{trustDomainObject}},
		{APIGroups: []string{spiffev1alpha1.GroupVersion.Group}, Resources: []string{"spiffetrustdomains/status"}, Verbs: []string{"patch"}, ResourceNames: []string{trustDomainObject}},
	}
}

// LeaderElectionRules are the permissions of the approver in its leader
// election namespace: the Lease named LeaderElectionID, and the Events
// leader election records there.
func LeaderElectionRules(trustDomainObject string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// create cannot be limited to a name: the name is not known before
		// the object exists.
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update"}, ResourceNames: []string{LeaderElectionID(trustDomainObject)}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}
