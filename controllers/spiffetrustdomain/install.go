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
	"k8s.io/apimachinery/pkg/runtime"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Kinds of children.
const (
	kindServiceAccount     = "ServiceAccount"
	kindClusterRole        = "ClusterRole"
	kindClusterRoleBinding = "ClusterRoleBinding"
	kindRole               = "Role"
	kindRoleBinding        = "RoleBinding"
	kindConfigMap          = "ConfigMap"
	kindCSIDriver          = "CSIDriver"
	kindDaemonSet          = "DaemonSet"
	kindDeployment         = "Deployment"
)

// childKey identifies a child object.
type childKey struct {
	Kind      string
	Namespace string
	Name      string
}

// child is one desired child object.
type child struct {
	Key childKey
	// Apply is what to apply; nil means keep the existing object as it is
	// (neither apply nor prune it).
	Apply runtime.ApplyConfiguration
}

// installInputs are what the builders need beyond the spec and the options;
// the reconciler finds them in the cluster.
type installInputs struct {
	// CABundle is the bundle to write into the CA-bundle ConfigMap; nil
	// when there is nothing new to write.
	CABundle *caBundle
	// KeepCABundle keeps the existing CA-bundle ConfigMap untouched: the
	// source is missing or invalid, and the previous bundle stays mounted.
	KeepCABundle bool
	// SignerNames are the signers the approver may approve for.
	SignerNames []string
	// RequesterNamespaces are the namespaces whose ServiceAccounts get the
	// requester ClusterRole.
	RequesterNamespaces []string
}

// caBundleMounted says whether the driver mounts the CA-bundle ConfigMap.
func (in installInputs) caBundleMounted() bool { return in.CABundle != nil || in.KeepCABundle }

// desiredChildren returns every child of td in apply order: identities
// first, then their permissions, then the CA bundle and the CSIDriver, then
// the workloads that use them, so that pods start with everything in place.
func desiredChildren(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, in installInputs) []child {
	ns := opts.Namespace
	children := []child{
		{childKey{kindServiceAccount, ns, operand.DriverServiceAccountName(td.Name)}, buildServiceAccount(td, opts, operand.ComponentDriver)},
		{childKey{kindServiceAccount, ns, operand.ApproverServiceAccountName(td.Name)}, buildServiceAccount(td, opts, operand.ComponentApprover)},

		{childKey{kindClusterRole, "", operand.RBACName(td.Name, operand.ComponentDriver)}, buildClusterRole(td, operand.ComponentDriver, operand.DriverClusterRules(td.Name))},
		{childKey{kindClusterRole, "", operand.RBACName(td.Name, operand.ComponentApprover)}, buildClusterRole(td, operand.ComponentApprover, operand.ApproverClusterRules(td.Name, in.SignerNames))},
		{childKey{kindClusterRole, "", operand.RBACName(td.Name, operand.ComponentRequester)}, buildClusterRole(td, operand.ComponentRequester, operand.RequesterRules())},
		{childKey{kindRole, ns, operand.RBACName(td.Name, operand.ComponentApprover)}, buildRole(td, ns, operand.ComponentApprover, operand.ApproverNamespaceRules(td.Name))},

		{childKey{kindClusterRoleBinding, "", operand.RBACName(td.Name, operand.ComponentDriver)}, buildClusterRoleBinding(td, opts, operand.ComponentDriver)},
		{childKey{kindClusterRoleBinding, "", operand.RBACName(td.Name, operand.ComponentApprover)}, buildClusterRoleBinding(td, opts, operand.ComponentApprover)},
		{childKey{kindRoleBinding, ns, operand.RBACName(td.Name, operand.ComponentApprover)}, buildRoleBinding(td, opts, operand.ComponentApprover, "Role", ns)},
	}
	for _, rns := range in.RequesterNamespaces {
		children = append(children, child{childKey{kindRoleBinding, rns, operand.RBACName(td.Name, operand.ComponentRequester)}, buildRoleBinding(td, opts, operand.ComponentRequester, "ClusterRole", rns)})
	}
	cmKey := childKey{kindConfigMap, ns, operand.CABundleConfigMapName(td.Name)}
	switch {
	case in.CABundle != nil:
		children = append(children, child{cmKey, buildCABundleConfigMap(td, opts, in.CABundle)})
	case in.KeepCABundle:
		children = append(children, child{Key: cmKey})
	}
	children = append(children,
		child{childKey{kindCSIDriver, "", DriverName(td)}, buildCSIDriver(td)},
		child{childKey{kindDaemonSet, ns, operand.DriverDaemonSetName(td.Name)}, buildDriverDaemonSet(td, opts, in.caBundleMounted())},
		child{childKey{kindDeployment, ns, operand.ApproverDeploymentName(td.Name)}, buildApproverDeployment(td, opts)},
	)
	return children
}
