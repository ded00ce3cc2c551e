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
	"regexp"
	"strings"
	"time"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Defaults applied when a field is empty. The CRD defaults them too; these
// cover objects stored before a default existed.
const (
	defaultDuration              = time.Hour
	defaultRenewBeforePercentage = 33
	defaultCertificateFile       = "tls.crt"
	defaultKeyFile               = "tls.key"
	defaultCAFile                = "ca.crt"
)

// maxNameLength bounds the SpiffeTrustDomain's name: it is a label value
// (at most 63 characters) on every child.
const maxNameLength = validation.LabelValueMaxLength

// kindPattern is the shape of a Kubernetes kind: UpperCamelCase.
var kindPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// validateSpec checks what the CRD's schema and CEL rules cannot; an
// object that fails keeps its previous status.config and gets no new
// children. Driver-name conflicts are checked separately: they depend on
// other objects.
func validateSpec(td *spiffev1alpha1.SpiffeTrustDomain) field.ErrorList {
	var errs field.ErrorList
	if len(td.Name) > maxNameLength {
		errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), td.Name, maxNameLength))
	}

	ref := issuerRef(td)
	refPath := field.NewPath("spec", "issuerRef")
	for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
		errs = append(errs, field.Invalid(refPath.Child("name"), ref.Name, msg))
	}
	if !kindPattern.MatchString(ref.Kind) {
		errs = append(errs, field.Invalid(refPath.Child("kind"), ref.Kind, "must be a Kubernetes kind in UpperCamelCase, such as ClusterIssuer or AWSPCAClusterIssuer"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(ref.Group) {
		errs = append(errs, field.Invalid(refPath.Child("group"), ref.Group, msg))
	}
	if !strings.Contains(ref.Group, ".") {
		errs = append(errs, field.Invalid(refPath.Child("group"), ref.Group, "must be the API group of an issuer's CRD, such as cert-manager.io or awspca.cert-manager.io"))
	}

	errs = append(errs, apivalidation.ValidateAnnotations(td.Spec.Certificate.Annotations, field.NewPath("spec", "certificate", "annotations"))...)

	if sel := td.Spec.RequesterNamespaceSelector; sel != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("spec", "requesterNamespaceSelector"))...)
	}
	errs = append(errs, metav1validation.ValidateLabels(td.Spec.Driver.NodeSelector, field.NewPath("spec", "driver", "nodeSelector"))...)
	errs = append(errs, metav1validation.ValidateLabels(td.Spec.Approver.NodeSelector, field.NewPath("spec", "approver", "nodeSelector"))...)
	for _, pc := range []struct {
		path  *field.Path
		value string
	}{
		{field.NewPath("spec", "driver", "priorityClassName"), td.Spec.Driver.PriorityClassName},
		{field.NewPath("spec", "approver", "priorityClassName"), td.Spec.Approver.PriorityClassName},
	} {
		if pc.value == "" {
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(pc.value) {
			errs = append(errs, field.Invalid(pc.path, pc.value, msg))
		}
	}
	return errs
}

// issuerRef returns spec.issuerRef with kind and group defaulted.
func issuerRef(td *spiffev1alpha1.SpiffeTrustDomain) spiffev1alpha1.IssuerReference {
	return operand.IssuerRef(td.Spec.IssuerRef)
}

// buildConfig returns the configuration published in status.config for a
// valid spec, with every default resolved. ca is the CA bundle in use (nil
// when none is configured or none was ever valid).
func buildConfig(td *spiffev1alpha1.SpiffeTrustDomain, ca *caBundle) *spiffev1alpha1.TrustDomainConfig {
	cert := td.Spec.Certificate
	duration := defaultDuration
	if cert.Duration != nil && cert.Duration.Duration > 0 {
		duration = cert.Duration.Duration
	}
	renew := cert.RenewBeforePercentage
	if renew == 0 {
		renew = defaultRenewBeforePercentage
	}
	key := operand.DefaultKey(cert.PrivateKey)
	files := spiffev1alpha1.FilesSpec{
		Certificate: orDefault(td.Spec.Files.Certificate, defaultCertificateFile),
		Key:         orDefault(td.Spec.Files.Key, defaultKeyFile),
		CA:          orDefault(td.Spec.Files.CA, defaultCAFile),
	}
	var annotations map[string]string
	if len(cert.Annotations) > 0 {
		annotations = make(map[string]string, len(cert.Annotations))
		for k, v := range cert.Annotations {
			annotations[k] = v
		}
	}
	cfg := &spiffev1alpha1.TrustDomainConfig{
		Generation:            td.Generation,
		TrustDomain:           td.Spec.TrustDomain,
		IssuerRef:             issuerRef(td),
		Duration:              metav1.Duration{Duration: duration},
		RenewBeforePercentage: renew,
		PrivateKey:            key,
		Annotations:           annotations,
		Files:                 files,
		DriverName:            DriverName(td),
	}
	if ca != nil {
		cfg.CABundle = ca.status()
	}
	return cfg
}
