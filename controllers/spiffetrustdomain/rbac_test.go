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
	"testing"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

func labelsYAML(component string) string {
	return `
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: foo-bar
    app.kubernetes.io/component: ` + component + `
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: foo-bar` + ownerYAML
}

func TestBuildRBAC(t *testing.T) {
	t.Parallel()
	td := testTrustDomain()
	tests := map[string]struct {
		got  any
		want string
	}{
		"the driver may wait for and delete requests, and read its own trust domain, but not create requests": {
			got: buildClusterRole(td, operand.ComponentDriver, operand.DriverClusterRules(td.Name)),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: csi-driver-spiffe:foo-bar:driver` + labelsYAML("driver") + `
rules:
- apiGroups: [cert-manager.io]
  resources: [certificaterequests]
  verbs: [get, list, watch, delete]
- apiGroups: [spiffe.csi.cert-manager.io]
  resources: [spiffetrustdomains]
  verbs: [get, list, watch]
  resourceNames: [foo-bar]
`,
		},
		"the approver may approve for exactly its signers": {
			got: buildClusterRole(td, operand.ComponentApprover, operand.ApproverClusterRules(td.Name, []string{"clusterissuers.cert-manager.io/csi-driver-spiffe-ca"})),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: csi-driver-spiffe:foo-bar:approver` + labelsYAML("approver") + `
rules:
- apiGroups: [cert-manager.io]
  resources: [certificaterequests]
  verbs: [get, list, watch]
- apiGroups: [cert-manager.io]
  resources: [certificaterequests/status]
  verbs: [patch]
- apiGroups: [cert-manager.io]
  resources: [signers]
  verbs: [approve]
  resourceNames: [clusterissuers.cert-manager.io/csi-driver-spiffe-ca]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [spiffe.csi.cert-manager.io]
  resources: [spiffetrustdomains]
  verbs: [get, list, watch]
  resourceNames: [foo-bar]
- apiGroups: [spiffe.csi.cert-manager.io]
  resources: [spiffetrustdomains/status]
  verbs: [patch]
  resourceNames: [foo-bar]
`,
		},
		"without a signer the approver may approve nothing": {
			got: buildClusterRole(td, operand.ComponentApprover, operand.ApproverClusterRules(td.Name, nil)),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: csi-driver-spiffe:foo-bar:approver` + labelsYAML("approver") + `
rules:
- apiGroups: [cert-manager.io]
  resources: [certificaterequests]
  verbs: [get, list, watch]
- apiGroups: [cert-manager.io]
  resources: [certificaterequests/status]
  verbs: [patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [spiffe.csi.cert-manager.io]
  resources: [spiffetrustdomains]
  verbs: [get, list, watch]
  resourceNames: [foo-bar]
- apiGroups: [spiffe.csi.cert-manager.io]
  resources: [spiffetrustdomains/status]
  verbs: [patch]
  resourceNames: [foo-bar]
`,
		},
		"requesters may only create requests": {
			got: buildClusterRole(td, operand.ComponentRequester, operand.RequesterRules()),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: csi-driver-spiffe:foo-bar:requester` + labelsYAML("requester") + `
rules:
- apiGroups: [cert-manager.io]
  resources: [certificaterequests]
  verbs: [create]
`,
		},
		"the driver's binding": {
			got: buildClusterRoleBinding(td, testOptions, operand.ComponentDriver),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: csi-driver-spiffe:foo-bar:driver` + labelsYAML("driver") + `
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "csi-driver-spiffe:foo-bar:driver"}
subjects:
- {kind: ServiceAccount, name: foo-bar-driver, namespace: csi-driver-spiffe}
`,
		},
		"the approver's binding": {
			got: buildClusterRoleBinding(td, testOptions, operand.ComponentApprover),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: csi-driver-spiffe:foo-bar:approver` + labelsYAML("approver") + `
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "csi-driver-spiffe:foo-bar:approver"}
subjects:
- {kind: ServiceAccount, name: foo-bar-approver, namespace: csi-driver-spiffe}
`,
		},
		"the approver's leader election Role, in the operator's namespace, with the core Events leader election records": {
			got: buildRole(td, testOptions.Namespace, operand.ComponentApprover, operand.ApproverNamespaceRules(td.Name)),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: csi-driver-spiffe:foo-bar:approver
  namespace: csi-driver-spiffe` + labelsYAML("approver") + `
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, update]
  resourceNames: [csi-driver-spiffe-approver-foo-bar]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
`,
		},
		"the approver's leader election RoleBinding": {
			got: buildRoleBinding(td, testOptions, operand.ComponentApprover, "Role", testOptions.Namespace),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: csi-driver-spiffe:foo-bar:approver
  namespace: csi-driver-spiffe` + labelsYAML("approver") + `
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "csi-driver-spiffe:foo-bar:approver"}
subjects:
- {kind: ServiceAccount, name: foo-bar-approver, namespace: csi-driver-spiffe}
`,
		},
		"a requester binding grants every ServiceAccount of its namespace": {
			got: buildRoleBinding(td, testOptions, operand.ComponentRequester, "ClusterRole", "sandbox"),
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: csi-driver-spiffe:foo-bar:requester
  namespace: sandbox` + labelsYAML("requester") + `
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "csi-driver-spiffe:foo-bar:requester"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:serviceaccounts:sandbox"}
`,
		},
		"the driver's ServiceAccount": {
			got: buildServiceAccount(td, testOptions, operand.ComponentDriver),
			want: `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: foo-bar-driver
  namespace: csi-driver-spiffe` + labelsYAML("driver") + `
`,
		},
		"the approver's ServiceAccount": {
			got: buildServiceAccount(td, testOptions, operand.ComponentApprover),
			want: `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: foo-bar-approver
  namespace: csi-driver-spiffe` + labelsYAML("approver") + `
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectYAML(t, tc.got, tc.want)
		})
	}
}
