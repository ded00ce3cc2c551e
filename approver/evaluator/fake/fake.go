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

// Package fake holds a fake evaluator for tests of code that calls one.
package fake

import (
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
)

var _ evaluator.Interface = &Fake{}

// Fake is an evaluator whose decisions a test chooses. By default it
// approves everything.
type Fake struct {
	evaluate func(*cmapi.CertificateRequest, *spiffev1alpha1.TrustDomainConfig) evaluator.Decision
}

// New returns a Fake that approves everything.
func New() *Fake {
	return &Fake{evaluate: func(*cmapi.CertificateRequest, *spiffev1alpha1.TrustDomainConfig) evaluator.Decision {
		return evaluator.Decision{Approved: true, Rule: evaluator.RuleNone, Message: "approved by the fake evaluator"}
	}}
}

// WithEvaluate makes Evaluate call fn.
func (f *Fake) WithEvaluate(fn func(*cmapi.CertificateRequest, *spiffev1alpha1.TrustDomainConfig) evaluator.Decision) *Fake {
	f.evaluate = fn
	return f
}

// Evaluate implements evaluator.Interface.
func (f *Fake) Evaluate(req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) evaluator.Decision {
	return f.evaluate(req, cfg)
}
