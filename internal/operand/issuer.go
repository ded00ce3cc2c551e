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
	"fmt"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// Issuer defaults. Two references have different defaults, and both are
// applied here so that no component guesses:
//
//   - a SpiffeTrustDomain's spec.issuerRef (and so status.config.issuerRef)
//     defaults to a ClusterIssuer of cert-manager.io: one issuer serves the
//     whole trust domain (the CRD's +kubebuilder:default markers say the
//     same; a test compares them with the generated CRD);
//   - a CertificateRequest's spec.issuerRef with an empty kind is an Issuer
//     (cert-manager's apiutil.IssuerKind, which its controllers and its
//     approval webhook use), with an empty group cert-manager.io.
//
// The driver always writes the kind and group of status.config into its
// requests, so the two meet only when someone else creates a request.
const (
	DefaultIssuerKind  = cmapi.ClusterIssuerKind
	DefaultIssuerGroup = "cert-manager.io"
)

// IssuerRef returns a SpiffeTrustDomain's issuer reference with its kind and
// group defaulted (DefaultIssuerKind, DefaultIssuerGroup).
func IssuerRef(ref spiffev1alpha1.IssuerReference) spiffev1alpha1.IssuerReference {
	if ref.Kind == "" {
		ref.Kind = DefaultIssuerKind
	}
	if ref.Group == "" {
		ref.Group = DefaultIssuerGroup
	}
	return ref
}

// RequestIssuerRef returns a CertificateRequest's issuer reference with its
// kind and group defaulted as cert-manager defaults them.
func RequestIssuerRef(ref cmmeta.IssuerReference) cmmeta.IssuerReference {
	ref.Kind = apiutil.IssuerKind(ref)
	if ref.Group == "" {
		ref.Group = DefaultIssuerGroup
	}
	return ref
}

// IssuerMatches reports whether a CertificateRequest's issuerRef names the
// configured issuer, each defaulted by its own rule (RequestIssuerRef,
// IssuerRef). A namespaced issuer matches in every namespace: the
// configuration names one Issuer per namespace.
func IssuerMatches(ref cmmeta.IssuerReference, want spiffev1alpha1.IssuerReference) bool {
	got, w := RequestIssuerRef(ref), IssuerRef(want)
	return got.Name == w.Name && got.Kind == w.Kind && got.Group == w.Group
}

// DescribeIssuer names an issuer in messages, e.g.
// `ClusterIssuer "csi-driver-spiffe-ca" (cert-manager.io)`.
func DescribeIssuer(ref spiffev1alpha1.IssuerReference) string {
	ref = IssuerRef(ref)
	return fmt.Sprintf("%s %q (%s)", ref.Kind, ref.Name, ref.Group)
}
