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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind is the kind of the SpiffeTrustDomain resource.
const Kind = "SpiffeTrustDomain"

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=std;stds,categories=cert-manager;spiffe
// +kubebuilder:printcolumn:name="Trust Domain",type=string,JSONPath=`.spec.trustDomain`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuerRef.name`
// +kubebuilder:printcolumn:name="Driver",type=string,JSONPath=`.spec.driver.name`
// +kubebuilder:printcolumn:name="Nodes Ready",type=integer,JSONPath=`.status.driver.readyNodes`
// +kubebuilder:printcolumn:name="Nodes Desired",type=integer,JSONPath=`.status.driver.desiredNodes`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: it labels and names the objects the operator creates"
// +operator-sdk:csv:customresourcedefinitions:displayName="SPIFFE Trust Domain",resources={{CSIDriver,v1,csidrivers},{DaemonSet,v1,daemonsets},{Deployment,v1,deployments},{ServiceAccount,v1,serviceaccounts},{ConfigMap,v1,configmaps},{ClusterRole,v1,clusterroles},{ClusterRoleBinding,v1,clusterrolebindings},{RoleBinding,v1,rolebindings}}

// SpiffeTrustDomain configures csi-driver-spiffe for one SPIFFE trust domain:
// the CSI driver that delivers X.509 SVIDs into pods, the approver that
// enforces the issuance policy on cert-manager CertificateRequests, and the
// RBAC that lets them act for the trust domain's issuer.
//
// The operator turns each SpiffeTrustDomain into a CSIDriver, a driver
// DaemonSet, an approver Deployment and their RBAC, and publishes the
// validated configuration in status.config, where the driver and the approver
// read it. An invalid edit never reaches running pods: status.config keeps the
// last good configuration and the Ready condition says why the edit was
// refused.
type SpiffeTrustDomain struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired configuration of the trust domain.
	// +required
	Spec SpiffeTrustDomainSpec `json:"spec"`

	// status is the observed state of the trust domain, written by the
	// operator, the driver and the approver.
	// +optional
	Status SpiffeTrustDomainStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// SpiffeTrustDomainList contains a list of SpiffeTrustDomain.
type SpiffeTrustDomainList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	// items is the list of SpiffeTrustDomains.
	Items []SpiffeTrustDomain `json:"items"`
}

// SpiffeTrustDomainSpec is the desired configuration of a SPIFFE trust domain.
type SpiffeTrustDomainSpec struct {
	// trustDomain is the SPIFFE trust domain name, such as "foo.bar". Every
	// SVID carries the URI SAN spiffe://<trustDomain>/ns/<namespace>/sa/<serviceaccount>.
	// It follows the SPIFFE trust-domain name rules: lowercase letters,
	// digits, '.', '-' and '_' only, at most 255 characters, no scheme, port
	// or path. It cannot be changed: create a new SpiffeTrustDomain instead.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="trustDomain must be a bare trust domain name such as \"foo.bar\", without a scheme such as \"spiffe://\""
	// +kubebuilder:validation:XValidation:rule="self.contains('://') || !self.contains(':')",message="trustDomain must not contain a port"
	// +kubebuilder:validation:XValidation:rule="self.contains('://') || !self.contains('/')",message="trustDomain must not contain a path"
	// +kubebuilder:validation:XValidation:rule="self == self.lowerAscii()",message="trustDomain must be lowercase"
	// +kubebuilder:validation:XValidation:rule="self.contains(':') || self.contains('/') || self != self.lowerAscii() || self.matches('^[a-z0-9._-]+$')",message="trustDomain may contain only lowercase letters, digits, '.', '-' and '_'"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="trustDomain is immutable: create a new SpiffeTrustDomain for another trust domain"
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Trust Domain",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	TrustDomain string `json:"trustDomain"`

	// issuerRef is the cert-manager issuer that signs the SVIDs of this trust
	// domain. It must be able to sign certificates with URI SANs from a
	// certificate signing request (CA, Vault, Venafi, AWS PCA, Google CAS,
	// step-ca, ...); SelfSigned and ACME issuers cannot.
	// +required
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Issuer"
	IssuerRef IssuerReference `json:"issuerRef"`

	// certificate is the shape of every SVID: lifetime, renewal time, key
	// type and extra CertificateRequest annotations. The approver enforces it.
	// +optional
	// +kubebuilder:default={}
	Certificate CertificateSpec `json:"certificate,omitzero"`

	// files names the files written into every volume.
	// +optional
	// +kubebuilder:default={certificate: "tls.crt", key: "tls.key", ca: "ca.crt"}
	Files FilesSpec `json:"files,omitzero"`

	// caBundle is an optional source of PEM-encoded CA certificates (the
	// trust domain's roots). When set, every volume also holds them in the
	// file named by files.ca, and the file follows changes to the source.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="CA Bundle"
	CABundle *CABundleSource `json:"caBundle,omitempty"`

	// requesterNamespaceSelector selects namespaces whose ServiceAccounts may
	// request SVIDs. The driver creates each CertificateRequest as the pod's
	// ServiceAccount, which needs "create" on certificaterequests in its
	// namespace; for every matching namespace the operator binds the
	// "<name>-requester" ClusterRole to all ServiceAccounts of that namespace.
	// An empty selector ({}) matches every namespace. When unset, no binding
	// is made and you grant the ClusterRole yourself.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Requester Namespaces",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:selector:core:v1:Namespace"}
	RequesterNamespaceSelector *metav1.LabelSelector `json:"requesterNamespaceSelector,omitempty"`

	// driver configures the CSI driver DaemonSet.
	// +optional
	// +kubebuilder:default={}
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Driver"
	Driver DriverSpec `json:"driver,omitzero"`

	// approver configures the approver Deployment.
	// +optional
	// +kubebuilder:default={}
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Approver"
	Approver ApproverSpec `json:"approver,omitzero"`
}

// IssuerReference names a cert-manager issuer.
// +kubebuilder:validation:XValidation:rule="self.group != 'cert-manager.io' || self.kind in ['Issuer', 'ClusterIssuer']",message="issuerRef.kind must be Issuer or ClusterIssuer when issuerRef.group is cert-manager.io"
type IssuerReference struct {
	// name is the name of the issuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Issuer Name",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Name string `json:"name"`

	// kind is the kind of the issuer: ClusterIssuer (the default) or Issuer
	// for cert-manager's own issuers, or the kind of an external issuer. An
	// Issuer is namespaced: one with this name must exist in every namespace
	// whose pods mount the volume.
	// +optional
	// +kubebuilder:default=ClusterIssuer
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Issuer Kind",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Kind string `json:"kind,omitempty"`

	// group is the API group of the issuer: cert-manager.io (the default),
	// or the group of an external issuer such as awspca.cert-manager.io.
	// +optional
	// +kubebuilder:default=cert-manager.io
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Issuer Group",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Group string `json:"group,omitempty"`
}

// CertificateSpec is the shape of every SVID of the trust domain.
type CertificateSpec struct {
	// duration is the lifetime requested for every SVID, as a Go duration
	// such as "1h" or "90m". The approver denies requests for any other
	// duration. At least 10m and at most 8760h (one year); default 1h.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$')",message="duration must be a duration such as \"1h\" or \"90m\""
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') || (duration(self) >= duration('10m') && duration(self) <= duration('8760h'))",message="duration must be at least 10m and at most 8760h (one year)"
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Certificate Duration",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Duration *metav1.Duration `json:"duration,omitempty"`

	// renewBeforePercentage is how much of an SVID's lifetime is left when the
	// driver renews it: 33 (the default) renews at two thirds of the lifetime.
	// Between 10 and 90.
	// +optional
	// +kubebuilder:default=33
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=90
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Renew Before (%)",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number"}
	RenewBeforePercentage int32 `json:"renewBeforePercentage,omitempty"`

	// privateKey is the type of the private key generated on the node for
	// every SVID. Default: ECDSA P-521.
	// +optional
	// +kubebuilder:default={algorithm: ECDSA, size: 521}
	PrivateKey PrivateKeySpec `json:"privateKey,omitzero"`

	// annotations are added to every CertificateRequest the driver creates,
	// for example to pass options to an external issuer. Keys with the
	// prefix "spiffe.csi.cert-manager.io/" are reserved for the driver.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('spiffe.csi.cert-manager.io/'))",message="annotations must not use the reserved prefix \"spiffe.csi.cert-manager.io/\""
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PrivateKeyAlgorithm is a private key algorithm.
// +kubebuilder:validation:Enum=ECDSA;RSA;Ed25519
type PrivateKeyAlgorithm string

const (
	// ECDSAKeyAlgorithm is an ECDSA key on a NIST curve (P-256, P-384 or P-521).
	ECDSAKeyAlgorithm PrivateKeyAlgorithm = "ECDSA"
	// RSAKeyAlgorithm is an RSA key of 2048, 3072 or 4096 bits.
	RSAKeyAlgorithm PrivateKeyAlgorithm = "RSA"
	// Ed25519KeyAlgorithm is an Ed25519 key; it has no size.
	Ed25519KeyAlgorithm PrivateKeyAlgorithm = "Ed25519"
)

// PrivateKeySpec is the type of a private key.
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'ECDSA' || !has(self.size) || self.size in [256, 384, 521]",message="privateKey.size must be 256, 384 or 521 for ECDSA keys"
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'RSA' || !has(self.size) || self.size in [2048, 3072, 4096]",message="privateKey.size must be 2048, 3072 or 4096 for RSA keys"
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'Ed25519' || !has(self.size)",message="privateKey.size must not be set for Ed25519 keys"
type PrivateKeySpec struct {
	// algorithm is the key algorithm: ECDSA (the default), RSA or Ed25519.
	// +optional
	// +kubebuilder:default=ECDSA
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Private Key Algorithm",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:select:ECDSA","urn:alm:descriptor:com.tectonic.ui:select:RSA","urn:alm:descriptor:com.tectonic.ui:select:Ed25519"}
	Algorithm PrivateKeyAlgorithm `json:"algorithm,omitempty"`

	// size is the key size: the curve for ECDSA (256, 384 or 521; default
	// 521), the modulus length for RSA (2048, 3072 or 4096; default 2048).
	// It must not be set for Ed25519.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Private Key Size",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number"}
	Size int32 `json:"size,omitempty"`
}

// FilesSpec names the files written into every volume.
// +kubebuilder:validation:XValidation:rule="self.certificate != self.key && self.certificate != self.ca && self.key != self.ca",message="files.certificate, files.key and files.ca must be distinct"
type FilesSpec struct {
	// certificate is the file holding the PEM certificate chain, leaf first.
	// Default tls.crt.
	// +optional
	// +kubebuilder:default="tls.crt"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-][A-Za-z0-9._-]*$')",message="must be a plain file name: letters, digits, '.', '-' and '_', not starting with '.'"
	Certificate string `json:"certificate,omitempty"`

	// key is the file holding the PEM (PKCS#8) private key. Default tls.key.
	// +optional
	// +kubebuilder:default="tls.key"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-][A-Za-z0-9._-]*$')",message="must be a plain file name: letters, digits, '.', '-' and '_', not starting with '.'"
	Key string `json:"key,omitempty"`

	// ca is the file holding the PEM CA bundle from caBundle; it is written
	// only when caBundle is set. Default ca.crt.
	// +optional
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-][A-Za-z0-9._-]*$')",message="must be a plain file name: letters, digits, '.', '-' and '_', not starting with '.'"
	CA string `json:"ca,omitempty"`
}

// CABundleSource is a source of PEM-encoded CA certificates: exactly one of
// secret or configMap.
// +kubebuilder:validation:XValidation:rule="has(self.secret) != has(self.configMap)",message="caBundle must name exactly one source: secret or configMap"
type CABundleSource struct {
	// secret is a key of a Secret holding PEM CA certificates, such as the
	// ca.crt of the Secret behind a cert-manager CA issuer.
	// +optional
	Secret *KeySelector `json:"secret,omitempty"`

	// configMap is a key of a ConfigMap holding PEM CA certificates, such as
	// one written by trust-manager.
	// +optional
	ConfigMap *KeySelector `json:"configMap,omitempty"`
}

// KeySelector selects a key of a namespaced Secret or ConfigMap.
type KeySelector struct {
	// namespace of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the object's data. Default ca.crt.
	// +optional
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// DriverSpec configures the CSI driver DaemonSet.
type DriverSpec struct {
	// name is the CSI driver name that pods reference in
	// volumes[].csi.driver. Default spiffe.csi.cert-manager.io. It must be
	// unique across SpiffeTrustDomains (the older object keeps a contested
	// name) and cannot be changed.
	// +optional
	// +kubebuilder:default="spiffe.csi.cert-manager.io"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",message="driver.name must be a CSI driver name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="driver.name is immutable: pods reference the driver by this name"
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="CSI Driver Name",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Name string `json:"name,omitempty"`

	// image is the csi-driver-spiffe image run by the DaemonSet. Default:
	// the operator's RELATED_IMAGE_CSI_DRIVER_SPIFFE.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// logLevel is the driver's log verbosity, 0 (least) to 10. Default 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	LogLevel int32 `json:"logLevel,omitempty"`

	// nodeSelector restricts the DaemonSet to matching nodes.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node Selector",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:selector:core:v1:Node"}
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the DaemonSet run on tainted nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// priorityClassName is the priority class of the driver pods, such as
	// system-node-critical.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// resources of the driver container.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Resources",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:resourceRequirements"}
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ApproverSpec configures the approver Deployment.
type ApproverSpec struct {
	// replicas is the number of approver pods. With more than one, they
	// elect a leader and only the leader decides. Default 1, at most 5.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Approver Replicas",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:podCount"}
	Replicas int32 `json:"replicas,omitempty"`

	// image is the csi-driver-spiffe image run by the approver. Default: the
	// operator's RELATED_IMAGE_CSI_DRIVER_SPIFFE.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// logLevel is the approver's log verbosity, 0 (least) to 10. Default 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	LogLevel int32 `json:"logLevel,omitempty"`

	// nodeSelector restricts the approver pods to matching nodes.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node Selector",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:selector:core:v1:Node"}
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the approver pods run on tainted nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// priorityClassName is the priority class of the approver pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// resources of the approver container.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Resources",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:resourceRequirements"}
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// SpiffeTrustDomainStatus is the observed state of a SpiffeTrustDomain.
type SpiffeTrustDomainStatus struct {
	// observedGeneration is the spec generation the operator last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions say whether the trust domain is serving and, when it is
	// not, why: Ready, IssuerReady, CABundleReady, DriverReady,
	// ApproverReady, Degraded and CompetingApprover.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Conditions",xDescriptors={"urn:alm:descriptor:io.kubernetes.conditions"}
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// config is the last valid configuration, published by the operator and
	// read by the driver and the approver. An invalid spec does not replace
	// it.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Published Configuration"
	Config *TrustDomainConfig `json:"config,omitempty"`

	// driver counts the driver DaemonSet's pods.
	// +optional
	Driver *DriverStatus `json:"driver,omitempty"`

	// approver counts the approver Deployment's pods.
	// +optional
	Approver *ApproverStatus `json:"approver,omitempty"`
}

// TrustDomainConfig is the validated configuration, with every default
// resolved, that the driver and the approver follow.
type TrustDomainConfig struct {
	// generation is the spec generation this configuration was built from.
	// +required
	Generation int64 `json:"generation"`

	// trustDomain is the SPIFFE trust domain name.
	// +required
	// +kubebuilder:validation:MaxLength=255
	TrustDomain string `json:"trustDomain"`

	// issuerRef is the issuer every CertificateRequest names, with kind and
	// group filled in.
	// +required
	IssuerRef IssuerReference `json:"issuerRef"`

	// duration is the lifetime requested and enforced.
	// +required
	Duration metav1.Duration `json:"duration"`

	// renewBeforePercentage is how much of the lifetime is left at renewal.
	// +required
	RenewBeforePercentage int32 `json:"renewBeforePercentage"`

	// privateKey is the key type, with the size resolved (0 for Ed25519).
	// +required
	PrivateKey PrivateKeySpec `json:"privateKey"`

	// annotations are added to every CertificateRequest.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// files names the files of every volume.
	// +required
	Files FilesSpec `json:"files"`

	// caBundle describes the CA bundle mounted into the driver, when one is
	// configured and valid.
	// +optional
	CABundle *CABundleStatus `json:"caBundle,omitempty"`

	// driverName is the CSI driver name.
	// +required
	DriverName string `json:"driverName"`
}

// CABundleStatus describes the CA bundle the driver writes into volumes.
type CABundleStatus struct {
	// sha256 is the hex SHA-256 of the PEM bundle.
	// +required
	SHA256 string `json:"sha256"`

	// certificates is the number of certificates in the bundle.
	// +required
	Certificates int32 `json:"certificates"`
}

// DriverStatus counts the driver DaemonSet's pods.
type DriverStatus struct {
	// desiredNodes is the number of nodes that should run the driver.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Driver Nodes Desired",xDescriptors={"urn:alm:descriptor:text"}
	DesiredNodes int32 `json:"desiredNodes"`
	// readyNodes is the number of nodes where the driver is ready.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Driver Nodes Ready",xDescriptors={"urn:alm:descriptor:text"}
	ReadyNodes int32 `json:"readyNodes"`
}

// ApproverStatus counts the approver Deployment's pods.
type ApproverStatus struct {
	// replicas is the number of approver pods.
	// +optional
	Replicas int32 `json:"replicas"`
	// readyReplicas is the number of ready approver pods.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Approver Ready Replicas",xDescriptors={"urn:alm:descriptor:text"}
	ReadyReplicas int32 `json:"readyReplicas"`
}

func init() {
	SchemeBuilder.Register(&SpiffeTrustDomain{}, &SpiffeTrustDomainList{})
}
