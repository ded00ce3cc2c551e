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

// Condition types of a SpiffeTrustDomain.
const (
	// ConditionReady is True when the configuration is published and the
	// driver and approver serve it.
	ConditionReady = "Ready"

	// ConditionIssuerReady is True when the issuer named by spec.issuerRef
	// exists, is Ready and can sign SPIFFE SVIDs. It is only evaluated for
	// cert-manager's own issuers; external issuers are trusted as named.
	ConditionIssuerReady = "IssuerReady"

	// ConditionCABundleReady is True when spec.caBundle names a source that
	// exists and holds PEM certificates, or when no CA bundle is configured.
	ConditionCABundleReady = "CABundleReady"

	// ConditionDriverReady is True when the driver DaemonSet runs a ready
	// pod on every node it should.
	ConditionDriverReady = "DriverReady"

	// ConditionApproverReady is True when the approver Deployment has all
	// its replicas ready.
	ConditionApproverReady = "ApproverReady"

	// ConditionDegraded is True when something needs a human: an invalid
	// spec, a conflict, or a competing approver.
	ConditionDegraded = "Degraded"

	// ConditionCompetingApprover is written by the approver: True when a
	// CertificateRequest for the trust domain's issuer was approved or
	// denied by someone else, such as cert-manager's built-in approver,
	// which must be disabled (--controllers=-certificaterequests-approver).
	ConditionCompetingApprover = "CompetingApprover"
)

// Condition reasons of a SpiffeTrustDomain.
const (
	// ReasonReady: everything is in place and serving.
	ReasonReady = "Ready"
	// ReasonProgressing: children are being created or rolled out.
	ReasonProgressing = "Progressing"
	// ReasonInvalidSpec: the spec cannot be published; the previous
	// configuration stays in force.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonDriverNameConflict: an older SpiffeTrustDomain uses the same
	// driver name.
	ReasonDriverNameConflict = "DriverNameConflict"
	// ReasonForeignObject: an object the operator would create (the
	// CSIDriver of the driver name, or a child's name) exists and was not
	// created by the operator, for example a csi-driver-spiffe Helm
	// release's; the operator never takes it over and applies nothing
	// until it is removed.
	ReasonForeignObject = "ForeignObject"
	// ReasonIssuerNotFound: the issuer does not exist (yet).
	ReasonIssuerNotFound = "IssuerNotFound"
	// ReasonIssuerNotReady: the issuer exists but is not Ready.
	ReasonIssuerNotReady = "IssuerNotReady"
	// ReasonIssuerUnsupported: the issuer type cannot sign SPIFFE SVIDs
	// (SelfSigned, ACME).
	ReasonIssuerUnsupported = "IssuerUnsupported"
	// ReasonExternalIssuer: the issuer is not one of cert-manager's own, so
	// its readiness is not checked.
	ReasonExternalIssuer = "ExternalIssuer"
	// ReasonIssuerNotChecked: the issuer is namespaced and the operator
	// cannot tell which namespaces need it (no requesterNamespaceSelector,
	// or no namespace matches it).
	ReasonIssuerNotChecked = "NotChecked"
	// ReasonCABundleNotConfigured: spec.caBundle is not set.
	ReasonCABundleNotConfigured = "NotConfigured"
	// ReasonCABundleSourceNotFound: the CA bundle Secret or ConfigMap or its
	// key does not exist.
	ReasonCABundleSourceNotFound = "SourceNotFound"
	// ReasonCABundleInvalid: the CA bundle source holds no PEM certificate.
	ReasonCABundleInvalid = "InvalidBundle"
	// ReasonCompetingApprover: someone else decided a request for our issuer.
	ReasonCompetingApprover = "CompetingApprover"
	// ReasonNoCompetingApprover: every decided request was decided by us.
	ReasonNoCompetingApprover = "NoCompetingApprover"
	// ReasonAsExpected: the Degraded condition is False.
	ReasonAsExpected = "AsExpected"
	// ReasonApplyFailed: the operator could not write a child object (or
	// read what it needs to build one); it retries.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonNoNodes: the driver DaemonSet matches no node, so no pod can
	// mount the volume.
	ReasonNoNodes = "NoNodes"
)
