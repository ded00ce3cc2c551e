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
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// decision returns the Approved or Denied condition of cr, if any. Its
// presence, whatever its status, means the request has been decided: a
// decision is final and never made twice.
func decision(cr *cmapi.CertificateRequest) *cmapi.CertificateRequestCondition {
	for i, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionApproved || c.Type == cmapi.CertificateRequestConditionDenied {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// finished reports whether cr reached an end without a decision: issued
// (Ready=True), failed (Ready reason Failed) or refused by its issuer
// (InvalidRequest=True). Such a request is never decided: a decision could
// no longer change its outcome.
func finished(cr *cmapi.CertificateRequest) bool {
	for _, c := range cr.Status.Conditions {
		switch {
		case c.Type == cmapi.CertificateRequestConditionReady && c.Status == cmmeta.ConditionTrue,
			c.Type == cmapi.CertificateRequestConditionReady && c.Reason == cmapi.CertificateRequestReasonFailed,
			c.Type == cmapi.CertificateRequestConditionInvalidRequest && c.Status == cmmeta.ConditionTrue:
			return true
		}
	}
	return false
}

// pending reports whether cr is for the configured issuer and waits for a
// decision.
func pending(cr *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) bool {
	return operand.IssuerMatches(cr.Spec.IssuerRef, cfg.IssuerRef) && decision(cr) == nil && !finished(cr)
}
