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

// Package spiffetrustdomain reconciles each SpiffeTrustDomain into the
// objects that make it work: a CSIDriver, the driver DaemonSet, the approver
// Deployment, their ServiceAccounts and least-privilege RBAC, the CA-bundle
// ConfigMap, and the published configuration in status.config.
//
// The desired objects come from pure builder functions (one file per kind);
// install.go lists them in apply order; the Reconciler applies them with
// server-side apply under one field owner and reports what it found in
// status conditions.
package spiffetrustdomain

// FieldOwner is the server-side apply field manager of everything the
// operator writes: children and status.
const FieldOwner = "csi-driver-spiffe-operator"

// DefaultDriverName is the CSI driver name when spec.driver.name is empty
// (the CRD defaults it; this guards older objects).
const DefaultDriverName = "spiffe.csi.cert-manager.io"

// Options configure the reconciler. They come from the operator's flags
// (cmd/operator/options) and have no defaults of their own: every field is
// required.
type Options struct {
	// Namespace is where the driver DaemonSets, approver Deployments, their
	// ServiceAccounts, the CA-bundle ConfigMaps and the approver's Role live:
	// the operator's own namespace.
	Namespace string

	// Image is the csi-driver-spiffe image run by the driver and the
	// approver unless spec.driver.image or spec.approver.image overrides it
	// (RELATED_IMAGE_CSI_DRIVER_SPIFFE).
	Image string

	// KubeletRootDir is the kubelet's root directory on the nodes, such as
	// /var/lib/kubelet.
	KubeletRootDir string
}
