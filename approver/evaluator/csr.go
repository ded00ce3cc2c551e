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

package evaluator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmpki "github.com/cert-manager/cert-manager/pkg/util/pki"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// pemType is the only PEM block type accepted in spec.request.
const pemType = "CERTIFICATE REQUEST"

var (
	oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

	// emptyName is the DER of an empty X.501 Name.
	emptyName = []byte{0x30, 0x00}

	// oidNames make messages about extensions and attributes readable.
	oidNames = map[string]string{
		"1.2.840.113549.1.9.7":  "challengePassword",
		"1.2.840.113549.1.9.14": "extensionRequest",
		"2.5.29.9":              "subjectDirectoryAttributes",
		"2.5.29.14":             "subjectKeyIdentifier",
		"2.5.29.17":             "subjectAltName",
		"2.5.29.18":             "issuerAltName",
		"2.5.29.30":             "nameConstraints",
		"2.5.29.31":             "cRLDistributionPoints",
		"2.5.29.32":             "certificatePolicies",
		"2.5.29.33":             "policyMappings",
		"2.5.29.35":             "authorityKeyIdentifier",
		"2.5.29.36":             "policyConstraints",
		"1.3.6.1.5.5.7.1.1":     "authorityInfoAccess",
		"1.3.6.1.5.5.7.1.24":    "tlsFeature",
	}
)

// GeneralName tags (RFC 5280, section 4.2.1.6).
const (
	tagOtherName     = 0
	tagEmail         = 1
	tagDNS           = 2
	tagX400Address   = 3
	tagDirectoryName = 4
	tagEDIPartyName  = 5
	tagURI           = 6
	tagIP            = 7
	tagRegisteredID  = 8
)

var generalNameKinds = map[int]string{
	tagOtherName:     "otherName",
	tagEmail:         "email",
	tagDNS:           "DNS name",
	tagX400Address:   "x400Address",
	tagDirectoryName: "directoryName",
	tagEDIPartyName:  "ediPartyName",
	tagIP:            "IP address",
	tagRegisteredID:  "registeredID",
	tagURI:           "malformed (constructed) URI",
}

// checkCSR checks spec.request. wantID is the SPIFFE ID the request must
// carry, or "" when the requester is not a ServiceAccount.
func checkCSR(v *violations, req *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig, wantID string) {
	csr, ok := parseCSR(v, req.Spec.Request)
	if !ok {
		return
	}
	// The signature is verified only with a key of the configured type and
	// size: a request is denied anyway otherwise, and verifying with any
	// key a requester chooses (a huge RSA modulus) would let it burn CPU.
	if checkKey(v, csr, cfg) {
		checkSignature(v, csr)
	}
	if !bytes.Equal(csr.RawSubject, emptyName) {
		v.add(RuleSubject, "the CSR's subject is %s (want empty: the URI SAN alone is the identity)", quote(csr.Subject.String()))
	}
	exts, ok := requestedExtensions(v, csr)
	if !ok {
		return
	}
	var san, ku, eku *pkix.Extension
	for i := range exts {
		ext := &exts[i]
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			san = ext
		case ext.Id.Equal(oidKeyUsage):
			ku = ext
		case ext.Id.Equal(oidExtKeyUsage):
			eku = ext
		case ext.Id.Equal(oidBasicConstraints):
			checkBasicConstraints(v, ext)
		default:
			v.add(RuleExtensions, "the CSR requests the %s extension (want none but subjectAltName, keyUsage, extKeyUsage and basicConstraints without CA)", oidName(ext.Id))
		}
	}
	checkSAN(v, req, san, wantID)
	checkKeyUsageExtensions(v, req, ku, eku)
}

// parseCSR decodes spec.request. It accepts exactly one PEM block of type
// CERTIFICATE REQUEST, without headers, surrounded by nothing but
// whitespace: a signer that reads another block than the one checked here
// must not find one.
func parseCSR(v *violations, data []byte) (*x509.CertificateRequest, bool) {
	switch {
	case len(data) == 0:
		v.add(RuleRequest, "spec.request is empty (want one PEM %s)", pemType)
		return nil, false
	case len(data) > maxRequestBytes:
		v.add(RuleRequest, "spec.request is %d bytes (want at most %d: one PEM %s)", len(data), maxRequestBytes, pemType)
		return nil, false
	}
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN "+pemType+"-----")) {
		v.add(RuleRequest, "spec.request does not start with a PEM %s block", pemType)
		return nil, false
	}
	if n := bytes.Count(trimmed, []byte("-----BEGIN ")); n != 1 {
		v.add(RuleRequest, "spec.request holds %d PEM blocks (want exactly one %s)", n, pemType)
		return nil, false
	}
	block, rest := pem.Decode(trimmed)
	switch {
	case block == nil || block.Type != pemType:
		v.add(RuleRequest, "spec.request is not a valid PEM %s block", pemType)
		return nil, false
	case len(block.Headers) > 0:
		v.add(RuleRequest, "spec.request's PEM block has headers (want none)")
		return nil, false
	case len(rest) > 0:
		v.add(RuleRequest, "spec.request holds data after its PEM block (want exactly one %s)", pemType)
		return nil, false
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		v.add(RuleRequest, "spec.request is not a valid PKCS #10 certificate signing request: %s", cut(err.Error()))
		return nil, false
	}
	if csr.Version != 0 {
		v.add(RuleRequest, "the CSR has version %d (want 0, PKCS #10 v1)", csr.Version)
		return nil, false
	}
	return csr, true
}

// checkKey reports whether the CSR's key has the configured type and size.
func checkKey(v *violations, csr *x509.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) bool {
	if got, want := describeKey(csr), wantKey(cfg.PrivateKey); got != want {
		v.add(RuleKey, "the CSR's public key is %s (want %s, as configured for trust domain %s)", got, want, cfg.TrustDomain)
		return false
	}
	return true
}

// describeKey names the CSR's key as wantKey names the configured one.
func describeKey(csr *x509.CertificateRequest) string {
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return "of an unsupported algorithm"
	}
}

func checkSignature(v *violations, csr *x509.CertificateRequest) {
	switch csr.SignatureAlgorithm {
	case x509.UnknownSignatureAlgorithm, x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA,
		x509.DSAWithSHA1, x509.DSAWithSHA256, x509.ECDSAWithSHA1:
		v.add(RuleSignature, "the CSR is signed with %s, a weak or unsupported algorithm (want SHA-256 or stronger, or Ed25519)", csr.SignatureAlgorithm)
		return
	}
	if err := csr.CheckSignature(); err != nil {
		v.add(RuleSignature, "the CSR's signature does not verify with its public key, so the requester has not proven it holds the private key: %s", cut(err.Error()))
	}
}

// requestedExtensions re-reads the attributes of the CSR without Go's
// leniency (Go skips attributes it cannot parse and reads only the first
// value of extensionRequest): it accepts at most one attribute,
// extensionRequest with exactly one value, and checks that Go's parser saw
// the same extensions. Another signer must not find anything here that was
// not checked.
func requestedExtensions(v *violations, csr *x509.CertificateRequest) ([]pkix.Extension, bool) {
	info, err := sequence(csr.RawTBSCertificateRequest)
	if err != nil {
		v.add(RuleRequest, "the CSR's request info is malformed: %s", cut(err.Error()))
		return nil, false
	}
	if len(info) != 4 {
		v.add(RuleRequest, "the CSR's request info has %d fields (want 4: version, subject, public key, attributes)", len(info))
		return nil, false
	}
	attrs := info[3]
	if attrs.Class != asn1.ClassContextSpecific || attrs.Tag != 0 || !attrs.IsCompound {
		v.add(RuleRequest, "the CSR's attributes are malformed (want a [0] set)")
		return nil, false
	}
	list, err := elements(attrs.Bytes)
	if err != nil {
		v.add(RuleRequest, "the CSR's attributes are malformed: %s", cut(err.Error()))
		return nil, false
	}
	switch len(list) {
	case 0:
		return nil, true
	case 1:
	default:
		v.add(RuleExtensions, "the CSR carries %d attributes (want at most one: extensionRequest)", len(list))
		return nil, false
	}
	attr, err := sequence(list[0].FullBytes)
	if err != nil || len(attr) != 2 {
		v.add(RuleRequest, "the CSR's attribute is malformed (want a type and a set of values)")
		return nil, false
	}
	var typ asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(attr[0].FullBytes, &typ); err != nil || len(rest) > 0 {
		v.add(RuleRequest, "the CSR's attribute type is malformed")
		return nil, false
	}
	if !typ.Equal(oidExtensionRequest) {
		v.add(RuleExtensions, "the CSR carries the %s attribute (want none but extensionRequest)", oidName(typ))
		return nil, false
	}
	set := attr[1]
	if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet || !set.IsCompound {
		v.add(RuleRequest, "the CSR's extensionRequest attribute is malformed (want a set of values)")
		return nil, false
	}
	values, err := elements(set.Bytes)
	if err != nil || len(values) != 1 {
		v.add(RuleExtensions, "the CSR's extensionRequest attribute has %d values (want exactly one)", len(values))
		return nil, false
	}
	var exts []pkix.Extension
	if rest, err := asn1.Unmarshal(values[0].FullBytes, &exts); err != nil || len(rest) > 0 {
		v.add(RuleRequest, "the CSR's extensionRequest attribute is malformed")
		return nil, false
	}
	if !sameExtensions(exts, csr.Extensions) {
		v.add(RuleExtensions, "the CSR's extensions read differently by different parsers (want an unambiguous encoding)")
		return nil, false
	}
	return exts, true
}

func sameExtensions(a, b []pkix.Extension) bool {
	return slices.EqualFunc(a, b, func(x, y pkix.Extension) bool {
		return x.Id.Equal(y.Id) && x.Critical == y.Critical && bytes.Equal(x.Value, y.Value)
	})
}

// checkSAN checks that the subjectAltName extension is critical and holds
// exactly one name: the URI wantID. The names are read by cert-manager's
// parser (pki.UnmarshalSANs); a check of our own comes first because that
// parser is lenient where a signer's might not be: it reads any element by
// its tag number, whatever its class, and takes a constructed URI's content
// as the URI.
func checkSAN(v *violations, req *cmapi.CertificateRequest, san *pkix.Extension, wantID string) {
	want := ""
	if wantID != "" {
		want = ": " + quote(wantID)
	}
	if san == nil {
		v.add(RuleURISAN, "the CSR has no subjectAltName extension (want exactly one URI SAN%s)", want)
		return
	}
	if !san.Critical {
		v.add(RuleExtensions, "the CSR's subjectAltName extension is not critical (want critical, as RFC 5280 requires when the subject is empty)")
	}
	raw, err := sequence(san.Value)
	if err != nil {
		v.add(RuleSANs, "the CSR's subjectAltName extension is malformed: %s", cut(err.Error()))
		return
	}
	var kinds []string
	for _, n := range raw {
		switch {
		case n.Class != asn1.ClassContextSpecific:
			v.add(RuleSANs, "the CSR's subjectAltName extension holds a value that is not a GeneralName")
			return
		case n.Tag == tagURI && n.IsCompound:
			v.add(RuleSANs, "the CSR requests a malformed (constructed) URI SAN (want no SAN but the URI)")
			return
		case n.Tag != tagURI:
			kind, ok := generalNameKinds[n.Tag]
			if !ok {
				kind = fmt.Sprintf("[%d]", n.Tag)
			}
			if !slices.Contains(kinds, kind) {
				kinds = append(kinds, kind)
			}
		}
	}
	names, err := cmpki.UnmarshalSANs(san.Value)
	if err != nil {
		if len(kinds) > 0 {
			// Name what was asked for even when it cannot be read.
			v.add(RuleSANs, "the CSR requests %s SAN that cannot be read: %s (want no SAN but the URI)", strings.Join(kinds, ", "), cut(err.Error()))
			return
		}
		v.add(RuleSANs, "the CSR's subjectAltName extension is malformed: %s", cut(err.Error()))
		return
	}
	others := []struct {
		kind   string
		values []string
	}{
		{"otherName", mapTo(names.OtherNames, func(n cmpki.OtherName) string { return n.TypeID.String() })},
		{"email", names.RFC822Names},
		{"DNS name", names.DNSNames},
		{"x400Address", mapTo(names.X400Addresses, func(n asn1.RawValue) string { return hex.EncodeToString(n.Bytes) })},
		{"directoryName", mapTo(names.DirectoryNames, func(n pkix.RDNSequence) string { return n.String() })},
		{"ediPartyName", mapTo(names.EDIPartyNames, func(n cmpki.EDIPartyName) string { return n.PartyName })},
		{"IP address", mapTo(names.IPAddresses, func(n net.IP) string { return formatIP(n) })},
		{"registeredID", mapTo(names.RegisteredIDs, func(n asn1.ObjectIdentifier) string { return n.String() })},
	}
	for _, o := range others {
		if len(o.values) > 0 {
			v.add(RuleSANs, "the CSR requests %s SAN %s (want no SAN but the URI)", o.kind, formatList(o.values))
		}
	}
	uris := names.UniformResourceIdentifiers
	switch len(uris) {
	case 0:
		v.add(RuleURISAN, "the CSR has no URI SAN (want exactly one%s)", want)
	case 1:
		if wantID != "" && uris[0] != wantID {
			v.add(RuleURISAN, "URI SAN %s does not match the requesting ServiceAccount %s (want %s%s)",
				quote(uris[0]), req.Spec.Username, quote(wantID), idDifference(uris[0], wantID))
		}
	default:
		v.add(RuleURISAN, "the CSR has %d URI SANs %s (want exactly one%s)", len(uris), formatList(uris), want)
	}
}

// mapTo applies f to each element of in.
func mapTo[T any](in []T, f func(T) string) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// idDifference says which part of a SPIFFE ID differs, when got is one.
func idDifference(got, want string) string {
	g, err := url.Parse(got)
	if err != nil || g.Scheme != "spiffe" {
		return ": the URI is not a SPIFFE ID"
	}
	w, err := url.Parse(want)
	if err != nil {
		return ""
	}
	var diffs []string
	if g.Host != w.Host {
		diffs = append(diffs, fmt.Sprintf("trust domain %s is not %s", quote(g.Host), quote(w.Host)))
	}
	gp, wp := strings.Split(g.EscapedPath(), "/"), strings.Split(w.EscapedPath(), "/")
	if len(gp) == 5 && gp[1] == "ns" && gp[3] == "sa" {
		if gp[2] != wp[2] {
			diffs = append(diffs, fmt.Sprintf("namespace %s is not %s", quote(gp[2]), quote(wp[2])))
		}
		if gp[4] != wp[4] {
			diffs = append(diffs, fmt.Sprintf("ServiceAccount %s is not %s", quote(gp[4]), quote(wp[4])))
		}
	} else if g.EscapedPath() != w.EscapedPath() {
		diffs = append(diffs, fmt.Sprintf("path %s is not %s", quote(g.EscapedPath()), quote(w.EscapedPath())))
	}
	if len(diffs) == 0 {
		return ""
	}
	return ": " + strings.Join(diffs, ", ")
}

// checkKeyUsageExtensions checks that keyUsage and extKeyUsage extensions in
// the CSR, when present, are exactly what cert-manager derives from
// spec.usages: cert-manager fails such a request otherwise, and a signer
// that honours the CSR's extensions must not find more than was approved.
func checkKeyUsageExtensions(v *violations, req *cmapi.CertificateRequest, ku, eku *pkix.Extension) {
	if ku == nil && eku == nil {
		return
	}
	wantKU, wantEKU, err := cmpki.KeyUsagesForCertificateOrCertificateRequest(req.Spec.Usages, false)
	if err != nil {
		// spec.usages holds unknown usages: reported by checkUsages.
		return
	}
	var (
		gotKU  x509.KeyUsage
		gotEKU []x509.ExtKeyUsage
		bad    bool
	)
	if ku != nil {
		var bits asn1.BitString
		if rest, err := asn1.Unmarshal(ku.Value, &bits); err != nil || len(rest) > 0 {
			v.add(RuleUsages, "the CSR's keyUsage extension is malformed")
			bad = true
		}
		for i := range bits.BitLength {
			if bits.At(i) == 0 {
				continue
			}
			if i > 8 {
				v.add(RuleUsages, "the CSR's keyUsage extension sets bit %d, which is no key usage", i)
				bad = true
				continue
			}
			gotKU |= 1 << uint(i)
		}
	}
	if eku != nil {
		var oids []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(eku.Value, &oids); err != nil || len(rest) > 0 {
			v.add(RuleUsages, "the CSR's extKeyUsage extension is malformed")
			bad = true
		}
		for _, oid := range oids {
			u, ok := cmpki.ExtKeyUsageFromOID(oid)
			if !ok {
				v.add(RuleUsages, "the CSR's extKeyUsage extension lists %s, which is no usage cert-manager knows", oid)
				bad = true
				continue
			}
			gotEKU = append(gotEKU, u)
		}
	}
	if bad {
		return
	}
	if gotKU != wantKU {
		v.add(RuleUsages, "the CSR's keyUsage extension is %s but spec.usages give %s (want them equal)",
			formatKeyUsage(ku, gotKU), formatUsages(apiutil.KeyUsageStrings(wantKU)))
	}
	if !slices.Equal(gotEKU, wantEKU) {
		got := "absent"
		if eku != nil {
			got = formatUsages(apiutil.ExtKeyUsageStrings(gotEKU))
		}
		v.add(RuleUsages, "the CSR's extKeyUsage extension is %s but spec.usages give %s (want them equal and in the same order, as cert-manager compares them)",
			got, formatUsages(apiutil.ExtKeyUsageStrings(wantEKU)))
	}
}

func formatKeyUsage(ext *pkix.Extension, ku x509.KeyUsage) string {
	if ext == nil {
		return "absent"
	}
	return formatUsages(apiutil.KeyUsageStrings(ku))
}

// checkBasicConstraints reads the extension with cert-manager's parser
// (pki.UnmarshalBasicConstraints) and adds one rule of its own: the value
// must be exactly that reading's DER encoding, so that a signer with another
// parser cannot find a field this reading skipped (an explicit CA=false,
// which DER omits, or an encoded default path length).
func checkBasicConstraints(v *violations, ext *pkix.Extension) {
	isCA, pathLen, err := cmpki.UnmarshalBasicConstraints(ext.Value)
	if err != nil {
		v.add(RuleExtensions, "the CSR's basicConstraints extension is malformed: %s", cut(err.Error()))
		return
	}
	if isCA {
		v.add(RuleIsCA, "the CSR's basicConstraints extension asks for a CA certificate (want CA=false or no basicConstraints)")
	}
	if pathLen != nil {
		v.add(RuleExtensions, "the CSR's basicConstraints extension carries a path length (want none)")
	}
	if der, err := cmpki.MarshalBasicConstraints(isCA, pathLen); err != nil || !bytes.Equal(der.Value, ext.Value) {
		v.add(RuleExtensions, "the CSR's basicConstraints extension is not DER-encoded (want an empty sequence: DER omits CA=false)")
	}
}

// sequence parses der as one DER SEQUENCE and returns its elements.
func sequence(der []byte) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	switch {
	case err != nil:
		return nil, err
	case len(rest) > 0:
		return nil, errors.New("trailing data after the sequence")
	case seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound:
		return nil, errors.New("not a sequence")
	}
	return elements(seq.Bytes)
}

// elements splits the contents of a constructed DER value.
func elements(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			return nil, err
		}
		out = append(out, rv)
		b = rest
	}
	return out, nil
}

func oidName(oid asn1.ObjectIdentifier) string {
	if name, ok := oidNames[oid.String()]; ok {
		return name + " (" + oid.String() + ")"
	}
	return oid.String()
}

func formatIP(b []byte) string {
	if len(b) == net.IPv4len || len(b) == net.IPv6len {
		return net.IP(b).String()
	}
	return hex.EncodeToString(b)
}

func formatList(values []string) string {
	s := make([]string, 0, min(len(values), maxListed+1))
	for i, x := range values {
		if i == maxListed {
			s = append(s, fmt.Sprintf("and %d more", len(values)-maxListed))
			break
		}
		s = append(s, quote(x))
	}
	return strings.Join(s, ", ")
}
