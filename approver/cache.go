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
)

// TrimCertificateRequest is the cache transform of CertificateRequests: it
// keeps only what the approver reads, so that tens of thousands of cached
// requests fit in little memory. It keeps the name, namespace, UID and
// resourceVersion, spec.issuerRef, and the type, status and reason of
// every condition; who wrote the decision (the managedFields entries owning
// it, reduced to that one entry: see foreignDecision); the fields the
// evaluator reads (spec.request, duration, isCA, usages, username) only while
// the request is undecided. It drops all other managedFields, labels,
// annotations, owner references, spec.groups, uid and extra, condition
// messages and the issued certificate and CA.
//
// Nothing trimmed is ever written back: decisions are applied with
// server-side apply of the one condition.
func TrimCertificateRequest(obj any) (any, error) {
	cr, ok := obj.(*cmapi.CertificateRequest)
	if !ok {
		return obj, nil
	}
	cr.ManagedFields = decisionAttribution(cr)
	cr.Labels = nil
	cr.Annotations = nil
	cr.OwnerReferences = nil
	cr.Spec.Groups = nil
	cr.Spec.UID = ""
	cr.Spec.Extra = nil
	cr.Status.Certificate = nil
	cr.Status.CA = nil
	for i := range cr.Status.Conditions {
		cr.Status.Conditions[i].Message = ""
	}
	if decision(cr) != nil || finished(cr) {
		// Never evaluated again.
		cr.Spec.Request = nil
		cr.Spec.Usages = nil
		cr.Spec.Duration = nil
	}
	return cr, nil
}
