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

// Package operand holds every fact about the operands (the driver and the
// approver) that more than one component relies on: the names of the objects
// the operator creates for them, the RBAC rules each is granted, the signer
// names cert-manager checks, the approver's Lease, the issuer defaults, the
// SVID key usages and key defaults, and how an Event note is cut to size.
// The operator, the driver, the approver and the tests import these
// definitions instead of repeating them; nothing here talks to an API server.
package operand

import (
	"crypto/sha256"
	"encoding/hex"
)

// Components of a trust domain, used in names and in the
// app.kubernetes.io/component label.
const (
	ComponentDriver    = "driver"
	ComponentApprover  = "approver"
	ComponentRequester = "requester"
	ComponentCABundle  = "ca-bundle"
)

// AppName is the value of the app.kubernetes.io/name label and starts the
// name of every RBAC object.
const AppName = "csi-driver-spiffe"

// DriverServiceAccountName is the name of the driver's ServiceAccount of the
// SpiffeTrustDomain td.
func DriverServiceAccountName(td string) string { return td + "-" + ComponentDriver }

// ApproverServiceAccountName is the name of the approver's ServiceAccount of
// the SpiffeTrustDomain td.
func ApproverServiceAccountName(td string) string { return td + "-" + ComponentApprover }

// ServiceAccountName is the ServiceAccount of a component (driver or
// approver) of the SpiffeTrustDomain td.
func ServiceAccountName(td, component string) string { return td + "-" + component }

// DriverDaemonSetName is the name of the driver's DaemonSet.
func DriverDaemonSetName(td string) string { return DriverServiceAccountName(td) }

// ApproverDeploymentName is the name of the approver's Deployment.
func ApproverDeploymentName(td string) string { return ApproverServiceAccountName(td) }

// CABundleConfigMapName is the name of the ConfigMap holding the validated
// CA bundle.
func CABundleConfigMapName(td string) string { return td + "-" + ComponentCABundle }

// RBACName is the name of the ClusterRoles, ClusterRoleBindings, Roles and
// RoleBindings of a component: csi-driver-spiffe:<td>:<component>.
func RBACName(td, component string) string { return AppName + ":" + td + ":" + component }

// approverLeasePrefix starts the name of the approver's leader election Lease.
const approverLeasePrefix = "csi-driver-spiffe-approver-"

// maxObjectName is the longest name of an object named like a DNS subdomain
// (a Lease).
const maxObjectName = 253

// ApproverLeaseName is the name of the Lease the approver replicas of the
// SpiffeTrustDomain td elect their leader with:
// "csi-driver-spiffe-approver-<td>", or the prefix and a hash of td when that
// would be longer than a Lease name may be. The approver uses it as its
// leader election ID and the operator grants get/update on exactly it.
func ApproverLeaseName(td string) string {
	if id := approverLeasePrefix + td; len(id) <= maxObjectName {
		return id
	}
	sum := sha256.Sum256([]byte(td))
	return approverLeasePrefix + hex.EncodeToString(sum[:16])
}
