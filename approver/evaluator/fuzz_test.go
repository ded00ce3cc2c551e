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

package evaluator_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmpki "github.com/cert-manager/cert-manager/pkg/util/pki"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
)

// fuzzKeyPEM is a P-521 key used only by this fuzz test: seeds and fuzzed
// request infos are signed with it, so that mutations of everything but the
// key still carry a valid signature and reach the rules behind it.
const fuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIB7knWgYvE4T+yGN33
wktsC320sLLx54PSEMHDNCQlfA0ltbvIOk29OF0P1i+r1adnrDn/32c2yCGSmDMa
JiREU2+hgYkDgYYABACATwZWV9VH1r+IOk5HxDQzoUMUF07nFeLpsrf9AlCagX14
Lelo2KL4pFaoiCD3qqFbKw7IWJip+2cliWQS7FH8IABgHGhKcd6Pky60LUxyQJ7k
qVhfhTNmbuMq85UKoTtQ2QIGnvckZjEM+c9MiTt6ahXphIz6aSylF7fOxl6US6v+
5Q==
-----END PRIVATE KEY-----`

// Modes of a fuzz input: how its bytes become spec.request.
const (
	// modeSign: the bytes are a request info, signed with fuzzKey.
	modeSign = 1 << iota
	// modePEM: the request is PEM-encoded.
	modePEM
)

// fuzzUsages are the usages a fuzz input picks from with a bit mask.
var fuzzUsages = []cmapi.KeyUsage{
	cmapi.UsageKeyEncipherment, cmapi.UsageDigitalSignature, cmapi.UsageServerAuth, cmapi.UsageClientAuth,
	cmapi.UsageCertSign, cmapi.UsageCodeSigning, cmapi.UsageAny, cmapi.UsageDigitalSignature,
}

// validUsageMask selects the four SVID usages.
const validUsageMask = 0b1111

func fuzzKey(tb testing.TB) crypto.Signer {
	block, _ := pem.Decode([]byte(fuzzKeyPEM))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return k.(crypto.Signer)
}

// FuzzEvaluate feeds arbitrary request infos (signed or not), encodings and
// request fields to the evaluator. It must never panic, and whatever it
// approves must pass an independent re-check: Go's own parser, and a
// certificate actually issued from the request by cert-manager's template
// code, carry exactly the SVID of the requesting ServiceAccount.
//
// Run with: go test ./approver/evaluator -run '^$' -fuzz FuzzEvaluate
func FuzzEvaluate(f *testing.F) {
	key := fuzzKey(f)
	other := ecKey(elliptic.P521())
	seed := func(s csr.Spec, mode uint8, user, ns string, minutes int64, usages uint8, isCA bool) {
		tbs, _, err := s.WithKey(key).TBS()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tbs, mode, user, ns, minutes, usages, isCA)
	}
	own := csr.Driver(ownID)
	all := uint8(modeSign | modePEM)
	seed(own, all, username, namespace, 60, validUsageMask, false)
	seed(own.WithDriverUsages(), all, username, namespace, 60, validUsageMask, false)
	seed(own, all, "system:serviceaccount:kube-system:admin", namespace, 60, validUsageMask, false)
	seed(own, all, username, "kube-system", 60, validUsageMask, false)
	seed(own, all, username, namespace, 61, validUsageMask, false)
	seed(own, all, username, namespace, 60, 0b11111, true)
	seed(own, modeSign, username, namespace, 60, validUsageMask, false)
	seed(csr.Driver("spiffe://foo.bar/ns/sandbox/sa/other"), all, username, namespace, 60, validUsageMask, false)
	seed(csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.DNS("a.b"), csr.IP(net.IPv4(10, 0, 0, 1)))}}, all, username, namespace, 60, validUsageMask, false)
	seed(csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID)), csr.BasicConstraints(false, -1)}}, all, username, namespace, 60, validUsageMask, false)
	seed(csr.Spec{Subject: pkix.Name{CommonName: "x"}, Extensions: own.Extensions}, all, username, namespace, 60, validUsageMask, false)
	// A request info naming another key than the one that signs it.
	tbs, _, err := own.WithKey(other).TBS()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tbs, all, username, namespace, int64(60), uint8(validUsageMask), false)
	// A whole signed request, given as is.
	der, err := own.WithKey(key).DER()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der, uint8(modePEM), username, namespace, int64(60), uint8(validUsageMask), false)
	f.Add([]byte("garbage"), all, username, namespace, int64(60), uint8(validUsageMask), false)
	f.Add([]byte{}, uint8(0), "", "", int64(0), uint8(0), false)

	ca := newTestCA(f)
	cfg := config()
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, user, ns string, minutes int64, usageMask uint8, isCA bool) {
		raw := data
		if mode&modeSign != 0 {
			signed, err := csr.Sign(key, data)
			if err != nil {
				t.Fatal(err)
			}
			raw = signed
		}
		if mode&modePEM != 0 {
			raw = csr.EncodePEM(raw)
		}
		cr := fuzzRequest(raw, user, ns, minutes, usageMask, isCA)

		d := evaluator.New().Evaluate(cr, cfg)

		if d.Approved != (len(d.Violations) == 0) || (d.Approved && d.Rule != evaluator.RuleNone) || (!d.Approved && d.Rule != d.Violations[0].Rule) {
			t.Fatalf("inconsistent decision: %+v", d)
		}
		if d.Message == "" {
			t.Fatal("empty message")
		}
		if d.Approved {
			recheckApproved(t, cr, cfg, ca)
		}
	})
}

func fuzzRequest(raw []byte, user, ns string, minutes int64, usageMask uint8, isCA bool) *cmapi.CertificateRequest {
	cr := request(raw)
	cr.Namespace = ns
	cr.Spec.Username = user
	cr.Spec.IsCA = isCA
	if minutes != 0 {
		cr.Spec.Duration = &metav1.Duration{Duration: time.Duration(minutes) * time.Minute}
	} else {
		cr.Spec.Duration = nil
	}
	cr.Spec.Usages = nil
	for i, u := range fuzzUsages {
		if usageMask&(1<<uint(i)) != 0 {
			cr.Spec.Usages = append(cr.Spec.Usages, u)
		}
	}
	return cr
}

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(tb testing.TB) testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fuzz test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

// recheckApproved re-checks an approved request without the evaluator's
// code: with Go's parser, then by issuing the certificate the way
// cert-manager's CA issuer does and inspecting it.
func recheckApproved(t *testing.T, cr *cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig, ca testCA) {
	t.Helper()
	parts := strings.Split(cr.Spec.Username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] != cr.Namespace || parts[3] == "" {
		t.Fatalf("approved username %q for a request in namespace %q", cr.Spec.Username, cr.Namespace)
	}
	wantID := "spiffe://" + cfg.TrustDomain + "/ns/" + parts[2] + "/sa/" + parts[3]

	if cr.Spec.IsCA || cr.Spec.Duration == nil || cr.Spec.Duration.Duration != cfg.Duration.Duration {
		t.Fatalf("approved isCA=%v duration=%v", cr.Spec.IsCA, cr.Spec.Duration)
	}
	got := slices.Clone(cr.Spec.Usages)
	slices.Sort(got)
	want := []cmapi.KeyUsage{cmapi.UsageClientAuth, cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth}
	if !slices.Equal(got, want) {
		t.Fatalf("approved usages %v", cr.Spec.Usages)
	}

	block, rest := pem.Decode(cr.Spec.Request)
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("approved a request that is not one PEM block")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatalf("approved an unparsable request: %v", err)
	}
	if err := req.CheckSignature(); err != nil {
		t.Fatalf("approved a request with a bad signature: %v", err)
	}
	if len(req.URIs) != 1 || req.URIs[0].String() != wantID || len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses) > 0 {
		t.Fatalf("approved SANs URIs=%v DNS=%v IP=%v email=%v, want only %s", req.URIs, req.DNSNames, req.IPAddresses, req.EmailAddresses, wantID)
	}
	if len(req.Subject.Names) > 0 || !bytes.Equal(req.RawSubject, []byte{0x30, 0}) {
		t.Fatalf("approved subject %q", req.Subject)
	}
	if k, ok := req.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P521() {
		t.Fatalf("approved a %T key", req.PublicKey)
	}

	// Issue it as cert-manager's CA issuer does.
	tmpl, err := cmpki.CertificateTemplateFromCertificateRequest(cr)
	if err != nil {
		t.Fatalf("approved a request cert-manager refuses to issue: %v", err)
	}
	tmpl.SerialNumber = big.NewInt(2)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, tmpl.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("failed to issue the approved request: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("failed to parse the issued certificate: %v", err)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != wantID || len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) > 0 {
		t.Fatalf("issued SANs URIs=%v DNS=%v IP=%v email=%v, want only %s", cert.URIs, cert.DNSNames, cert.IPAddresses, cert.EmailAddresses, wantID)
	}
	if cert.IsCA || len(cert.Subject.Names) > 0 || cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment || len(cert.UnknownExtKeyUsage) > 0 {
		t.Fatalf("issued isCA=%v subject=%q keyUsage=%v unknownEKU=%v", cert.IsCA, cert.Subject, cert.KeyUsage, cert.UnknownExtKeyUsage)
	}
	eku := slices.Clone(cert.ExtKeyUsage)
	slices.Sort(eku)
	if !slices.Equal(eku, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Fatalf("issued extended key usages %v", cert.ExtKeyUsage)
	}
	allowed := []string{"2.5.29.17", "2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.35", "2.5.29.14"}
	for _, ext := range cert.Extensions {
		if !slices.Contains(allowed, ext.Id.String()) {
			t.Fatalf("issued certificate carries extension %s", ext.Id)
		}
		if ext.Id.String() == "2.5.29.17" {
			var names []asn1.RawValue
			if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 || len(names) != 1 {
				t.Fatalf("issued subjectAltName holds %d names (err %v), want 1", len(names), err)
			}
		}
	}
}

// The fuzz target's re-check is not vacuous: the seeds of the driver's
// requests are approved, and their issued certificates pass it.
func TestFuzzSeedsOfTheDriverAreApprovedAndRechecked(t *testing.T) {
	t.Parallel()
	key, ca := fuzzKey(t), newTestCA(t)
	for name, s := range map[string]csr.Spec{
		"the driver's request":                 csr.Driver(ownID),
		"the driver's request with key usages": csr.Driver(ownID).WithDriverUsages(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tbs, _, err := s.WithKey(key).TBS()
			if err != nil {
				t.Fatal(err)
			}
			der, err := csr.Sign(key, tbs)
			if err != nil {
				t.Fatal(err)
			}
			cr := fuzzRequest(csr.EncodePEM(der), username, namespace, 60, validUsageMask, false)
			if d := evaluator.New().Evaluate(cr, config()); !d.Approved {
				t.Fatalf("seed denied: %s", d.Message)
			}
			recheckApproved(t, cr, config(), ca)
		})
	}
}
