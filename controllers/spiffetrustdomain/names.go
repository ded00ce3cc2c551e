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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Labels on every child. The managed-by label is also the selector of the
// operator's caches (see CacheOptions): the operator only caches what it owns.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelTrustDomainObject names the SpiffeTrustDomain a child belongs
	// to. app.kubernetes.io/instance holds the same value; this one is
	// ours alone, so nothing else sets it by accident.
	LabelTrustDomainObject = "spiffe.csi.cert-manager.io/trust-domain-object"

	// ManagedBy is the value of app.kubernetes.io/managed-by.
	ManagedBy = "csi-driver-spiffe-operator"
)

// Annotations on pod templates.
const (
	// AnnotationRestartHash is a hash of everything in the driver's pod
	// template that needs a restart to take effect. What the driver reads
	// from status.config at run time is not part of it.
	AnnotationRestartHash = "spiffe.csi.cert-manager.io/restart-hash"
	// annotationDefaultContainer makes kubectl logs/exec pick the main container.
	annotationDefaultContainer = "kubectl.kubernetes.io/default-container"
)

// Paths inside the driver container.
const (
	pluginDirMountPath = "/plugin"
	registrationDir    = "/registration"
	dataDirMountPath   = "/csi-data-dir"
	// CABundleMountPath is where the CA-bundle ConfigMap is mounted.
	CABundleMountPath = "/var/run/secrets/spiffe.csi.cert-manager.io/ca-bundle"
	// CABundleKey is the key of the CA-bundle ConfigMap and the file name
	// in CABundleMountPath.
	CABundleKey = "ca.crt"
	// HostDataRoot is the parent of each trust domain's data directory on
	// the node: /var/lib/csi-driver-spiffe/<name>.
	HostDataRoot = "/var/lib/csi-driver-spiffe"
)

// Ports of the driver and the approver.
const (
	metricsPort = 9402
	healthPort  = 9403
)

// DriverName returns the CSI driver name of td.
func DriverName(td *spiffev1alpha1.SpiffeTrustDomain) string {
	if td.Spec.Driver.Name == "" {
		return DefaultDriverName
	}
	return td.Spec.Driver.Name
}

// selectorLabels select the pods of a component.
func selectorLabels(td, component string) map[string]string {
	return map[string]string{
		LabelName:      operand.AppName,
		LabelInstance:  td,
		LabelComponent: component,
	}
}

// childLabels are the labels of every child of td.
func childLabels(td, component string) map[string]string {
	l := selectorLabels(td, component)
	l[LabelManagedBy] = ManagedBy
	l[LabelTrustDomainObject] = td
	return l
}

// ownerReference is the controller reference of every child: deleting the
// SpiffeTrustDomain deletes them (garbage collection).
func ownerReference(td *spiffev1alpha1.SpiffeTrustDomain) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(spiffev1alpha1.GroupVersion.String()).
		WithKind(spiffev1alpha1.Kind).
		WithName(td.Name).
		WithUID(td.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// isControlledBy reports whether obj has a controller reference to td.
func isControlledBy(obj metav1.Object, td *spiffev1alpha1.SpiffeTrustDomain) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == td.UID
}
