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

// Package evaluator holds the SPIFFE issuance policy: given a cert-manager
// CertificateRequest and the published configuration of the trust domain, it
// decides whether the request asks for exactly the SVID of the ServiceAccount
// that created it, and nothing more. It is pure: no client, no clock, no
// state.
package evaluator

import (
	"fmt"
	"slices"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
)

// Interface decides CertificateRequests.
type Interface interface {
	// Evaluate decides req under the configuration cfg. It never panics and
	// never modifies its arguments.
	Evaluate(req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) Decision
}

// Rule names one rule of the issuance policy. Rules label the decisions
// metric and prefix every part of a denial message.
type Rule string

// The rules, in the order they are checked.
const (
	// RuleNone labels approvals.
	RuleNone Rule = "none"
	// RuleConfiguration: a configuration is published (never broken when
	// the controller calls the evaluator).
	RuleConfiguration Rule = "configuration"
	// RuleUsername: spec.username is a ServiceAccount.
	RuleUsername Rule = "username"
	// RuleNamespace: the request lives in its ServiceAccount's namespace.
	RuleNamespace Rule = "namespace"
	// RuleDuration: spec.duration equals the configured duration.
	RuleDuration Rule = "duration"
	// RuleIsCA: neither spec.isCA nor the CSR asks for a CA certificate.
	RuleIsCA Rule = "is-ca"
	// RuleUsages: spec.usages are exactly the four SVID usages, and key
	// usage extensions in the CSR agree with them.
	RuleUsages Rule = "usages"
	// RuleRequest: spec.request holds exactly one well-formed PEM CSR.
	RuleRequest Rule = "request"
	// RuleSignature: the CSR's signature verifies, with a strong algorithm.
	RuleSignature Rule = "signature"
	// RuleKey: the CSR's public key has the configured algorithm and size.
	RuleKey Rule = "key"
	// RuleSubject: the CSR's subject is empty.
	RuleSubject Rule = "subject"
	// RuleExtensions: the CSR requests no extension and no attribute beyond
	// a critical subjectAltName, keyUsage, extKeyUsage and basicConstraints
	// without CA.
	RuleExtensions Rule = "extensions"
	// RuleSANs: the CSR has no DNS, IP, email or other non-URI SAN.
	RuleSANs Rule = "sans"
	// RuleURISAN: the CSR has exactly one URI SAN, the SPIFFE ID of the
	// requesting ServiceAccount in the configured trust domain.
	RuleURISAN Rule = "uri-san"
)

// Rules lists every rule that can deny, in the order they are checked.
var Rules = []Rule{
	RuleConfiguration, RuleUsername, RuleNamespace, RuleDuration, RuleIsCA, RuleUsages,
	RuleRequest, RuleSignature, RuleKey, RuleSubject, RuleExtensions, RuleSANs, RuleURISAN,
}

// Violation is one broken rule.
type Violation struct {
	Rule    Rule
	Message string
}

// Decision is the result of an evaluation.
type Decision struct {
	// Approved is true when every rule holds.
	Approved bool
	// Rule is RuleNone when approved, else the first broken rule.
	Rule Rule
	// Message is the condition message: what was approved, or every broken
	// rule with the expected and the found values.
	Message string
	// Violations lists every broken rule, in the order of Rules.
	Violations []Violation
}

const (
	// maxRequestBytes bounds spec.request. An RSA 4096 request with one
	// URI SAN is under 2 KiB of PEM; anything far larger is not ours.
	maxRequestBytes = 16 << 10
	// maxMessageBytes bounds the condition message. Values from the request
	// are quoted and cut well below it; this catches the sum.
	maxMessageBytes = 4 << 10
	// maxValueRunes bounds every value copied from the request into a
	// message.
	maxValueRunes = 128
	// maxListed bounds how many values of a list are copied into a message.
	maxListed = 5
)

// New returns the evaluator of the SPIFFE issuance policy.
func New() Interface { return policy{} }

type policy struct{}

var _ Interface = policy{}

// Evaluate implements Interface.
func (policy) Evaluate(req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) Decision {
	var v violations
	if req == nil {
		v.add(RuleRequest, "there is no CertificateRequest")
		return v.decision("")
	}
	if cfg == nil {
		v.add(RuleConfiguration, "no configuration is published for the trust domain")
		return v.decision("")
	}

	wantID := checkIdentity(&v, req, cfg)
	checkDuration(&v, req, cfg)
	if req.Spec.IsCA {
		v.add(RuleIsCA, "spec.isCA is true; an SVID is never a CA certificate (want false)")
	}
	checkUsages(&v, req)
	checkCSR(&v, req, cfg, wantID)

	if len(v) > 0 {
		return v.decision("")
	}
	return v.decision(fmt.Sprintf("approved %s for ServiceAccount %s: every rule of the SPIFFE issuance policy holds (key %s, duration %s)",
		wantID, req.Spec.Username, wantKey(cfg.PrivateKey), cfg.Duration.Duration))
}

// checkIdentity checks spec.username and the namespace, and returns the
// SPIFFE ID the request must carry ("" when the username is not a
// ServiceAccount).
func checkIdentity(v *violations, req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) string {
	ns, sa, err := spiffe.ParseServiceAccountUsername(req.Spec.Username)
	if err != nil {
		v.add(RuleUsername, "%s: only the ServiceAccount of a pod may request its SVID", cut(err.Error()))
		return ""
	}
	if req.Namespace != ns {
		v.add(RuleNamespace, "the request is in namespace %s but was created by ServiceAccount %s of namespace %s (want the request in namespace %s)",
			quote(req.Namespace), req.Spec.Username, quote(ns), quote(ns))
	}
	return spiffe.ID(cfg.TrustDomain, ns, sa).String()
}

func checkDuration(v *violations, req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) {
	want := cfg.Duration.Duration
	switch {
	case req.Spec.Duration == nil:
		v.add(RuleDuration, "spec.duration is not set, so the issuer would choose the lifetime (want %s, as configured for trust domain %s)", want, cfg.TrustDomain)
	case req.Spec.Duration.Duration != want:
		v.add(RuleDuration, "spec.duration is %s (want %s, as configured for trust domain %s)", req.Spec.Duration.Duration, want, cfg.TrustDomain)
	}
}

func checkUsages(v *violations, req *cmapi.CertificateRequest) {
	got := req.Spec.Usages
	if len(got) == 0 {
		v.add(RuleUsages, "spec.usages is empty, which cert-manager treats as %s (want exactly %s, in any order)",
			formatUsages(cmapi.DefaultKeyUsages()), formatUsages(operand.SVIDUsages()))
		return
	}
	if !sameUsages(got, operand.SVIDUsages()) {
		v.add(RuleUsages, "spec.usages are %s (want exactly %s, in any order)", formatUsages(got), formatUsages(operand.SVIDUsages()))
	}
}

// sameUsages reports whether got holds each wanted usage exactly once and
// nothing else.
func sameUsages(got, want []cmapi.KeyUsage) bool {
	if len(got) != len(want) {
		return false
	}
	seen := make(map[cmapi.KeyUsage]bool, len(got))
	for _, u := range got {
		if seen[u] || !slices.Contains(want, u) {
			return false
		}
		seen[u] = true
	}
	return true
}

func formatUsages(usages []cmapi.KeyUsage) string {
	s := make([]string, 0, len(usages))
	for i, u := range usages {
		if i == maxListed {
			s = append(s, fmt.Sprintf("and %d more", len(usages)-maxListed))
			break
		}
		s = append(s, quote(string(u)))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// wantKey describes the configured key, in the words describeKey uses.
func wantKey(k spiffev1alpha1.PrivateKeySpec) string {
	switch k.Algorithm {
	case spiffev1alpha1.ECDSAKeyAlgorithm:
		return fmt.Sprintf("ECDSA P-%d", k.Size)
	case spiffev1alpha1.RSAKeyAlgorithm:
		return fmt.Sprintf("RSA %d", k.Size)
	case spiffev1alpha1.Ed25519KeyAlgorithm:
		return "Ed25519"
	default:
		return fmt.Sprintf("unsupported algorithm %s", quote(string(k.Algorithm)))
	}
}

// violations collects broken rules.
type violations []Violation

func (v *violations) add(rule Rule, format string, args ...any) {
	*v = append(*v, Violation{Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// decision builds the Decision; approved is the approval message.
func (v violations) decision(approved string) Decision {
	if len(v) == 0 {
		return Decision{Approved: true, Rule: RuleNone, Message: approved}
	}
	// Report violations in the documented order of the rules, whatever
	// order the checks found them in.
	slices.SortStableFunc(v, func(a, b Violation) int {
		return slices.Index(Rules, a.Rule) - slices.Index(Rules, b.Rule)
	})
	var b strings.Builder
	b.WriteString("denied by the SPIFFE issuance policy: ")
	for i, x := range v {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(string(x.Rule))
		b.WriteString(": ")
		b.WriteString(x.Message)
	}
	msg := b.String()
	if len(msg) > maxMessageBytes {
		msg = strings.ToValidUTF8(msg[:maxMessageBytes], "") + "…"
	}
	return Decision{Rule: v[0].Rule, Message: msg, Violations: []Violation(v)}
}

// quote quotes a value from the request for a message, cut to a length a
// human can read and a condition can hold.
func quote(s string) string {
	return fmt.Sprintf("%q", cutRunes(s))
}

// cut shortens a message built from request values.
func cut(s string) string {
	if len(s) > 4*maxValueRunes {
		return strings.ToValidUTF8(s[:4*maxValueRunes], "") + "…"
	}
	return s
}

func cutRunes(s string) string {
	if r := []rune(s); len(r) > maxValueRunes {
		return string(r[:maxValueRunes]) + "…"
	}
	return s
}
