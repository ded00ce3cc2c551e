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
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
)

const (
	namespace = "sandbox"
	username  = "system:serviceaccount:sandbox:example-app"
	// ownID is the SPIFFE ID of sandbox/example-app in foo.bar.
	ownID = "spiffe://foo.bar/ns/sandbox/sa/example-app"
)

// config is the published configuration of the tests: the defaults.
func config() *spiffev1alpha1.TrustDomainConfig {
	return &spiffev1alpha1.TrustDomainConfig{
		Generation:            1,
		TrustDomain:           "foo.bar",
		IssuerRef:             spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		Duration:              metav1.Duration{Duration: time.Hour},
		RenewBeforePercentage: 33,
		PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
		Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
		DriverName:            "spiffe.csi.cert-manager.io",
	}
}

// request returns what the driver creates for sandbox/example-app, with
// spec.username as cert-manager's webhook stamps it.
func request(pemCSR []byte) *cmapi.CertificateRequest {
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "example-app-abcde"},
		Spec: cmapi.CertificateRequestSpec{
			Duration:  &metav1.Duration{Duration: time.Hour},
			IssuerRef: cmmeta.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
			Request:   pemCSR,
			IsCA:      false,
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth, cmapi.UsageClientAuth},
			Username:  username,
			Groups:    []string{"system:serviceaccounts", "system:serviceaccounts:sandbox", "system:authenticated"},
		},
	}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// rsa2048 returns one shared RSA key: generating one per case is slow.
func rsa2048(t *testing.T) crypto.Signer {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func ecKey(curve elliptic.Curve) crypto.Signer {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustPEM(t *testing.T, s csr.Spec) []byte {
	t.Helper()
	b, err := s.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// driver returns the driver's CSR for id.
func driver(t *testing.T, id string) []byte { return mustPEM(t, csr.Driver(id)) }

// withExtensions returns the driver's CSR for the own ID plus exts.
func withExtensions(t *testing.T, exts ...pkix.Extension) []byte {
	s := csr.Driver(ownID)
	s.Extensions = append(s.Extensions, exts...)
	return mustPEM(t, s)
}

// signedBy returns a CSR whose request info names pub but is signed by
// signer: someone asking for a certificate of a key they do not hold.
func signedBy(t *testing.T, pub, signer crypto.Signer) []byte {
	t.Helper()
	tbs, _, err := csr.Driver(ownID).WithKey(pub).TBS()
	if err != nil {
		t.Fatal(err)
	}
	der, err := csr.Sign(signer, tbs)
	if err != nil {
		t.Fatal(err)
	}
	return csr.EncodePEM(der)
}

// goBuilt returns a CSR built by Go's x509.CreateCertificateRequest from
// template, as a client written in Go would build it.
func goBuilt(t *testing.T, template *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, template, ecKey(elliptic.P521()))
	if err != nil {
		t.Fatal(err)
	}
	return csr.EncodePEM(der)
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// build returns spec.request; default: the driver's CSR.
		build func(t *testing.T) []byte
		// mutate changes the request after it is built.
		mutate func(cr *cmapi.CertificateRequest)
		// config changes the published configuration.
		config func(cfg *spiffev1alpha1.TrustDomainConfig)
		// wantRules are the broken rules in order; none means approved.
		wantRules []evaluator.Rule
		// wantMessage are substrings of the message.
		wantMessage []string
	}{
		// What must be approved.
		"the driver's request is approved": {
			wantMessage: []string{"approved " + ownID + " for ServiceAccount " + username, "ECDSA P-521", "1h0m0s"},
		},
		"a request with key usage extensions agreeing with spec.usages is approved": {
			build: func(t *testing.T) []byte { return mustPEM(t, csr.Driver(ownID).WithDriverUsages()) },
		},
		"a request with basicConstraints CA=false is approved": {
			build: func(t *testing.T) []byte { return withExtensions(t, csr.BasicConstraints(false, -1)) },
		},
		"spec.usages in another order are approved": {
			mutate: func(cr *cmapi.CertificateRequest) {
				cr.Spec.Usages = []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageClientAuth, cmapi.UsageKeyEncipherment, cmapi.UsageDigitalSignature}
			},
		},
		"a request built by Go's x509 package with a critical SAN is approved": {
			build: func(t *testing.T) []byte {
				return goBuilt(t, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID))}})
			},
		},
		"an RSA 2048 key is approved when configured": {
			build: func(t *testing.T) []byte { return mustPEM(t, csr.Driver(ownID).WithKey(rsa2048(t))) },
			config: func(cfg *spiffev1alpha1.TrustDomainConfig) {
				cfg.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: "RSA", Size: 2048}
			},
		},
		"an Ed25519 key is approved when configured": {
			build: func(t *testing.T) []byte {
				_, k, _ := ed25519.GenerateKey(rand.Reader)
				return mustPEM(t, csr.Driver(ownID).WithKey(k))
			},
			config: func(cfg *spiffev1alpha1.TrustDomainConfig) {
				cfg.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: "Ed25519"}
			},
		},
		"another duration is approved when configured": {
			mutate: func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: 90 * time.Minute} },
			config: func(cfg *spiffev1alpha1.TrustDomainConfig) { cfg.Duration.Duration = 90 * time.Minute },
		},

		// Identity attacks.
		"another ServiceAccount's ID is denied": {
			build:       func(t *testing.T) []byte { return driver(t, "spiffe://foo.bar/ns/sandbox/sa/other") },
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{`uri-san: URI SAN "spiffe://foo.bar/ns/sandbox/sa/other" does not match the requesting ServiceAccount system:serviceaccount:sandbox:example-app (want "spiffe://foo.bar/ns/sandbox/sa/example-app": ServiceAccount "other" is not "example-app")`},
		},
		"another namespace's ID is denied": {
			build:       func(t *testing.T) []byte { return driver(t, "spiffe://foo.bar/ns/kube-system/sa/example-app") },
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{`namespace "kube-system" is not "sandbox"`},
		},
		"another trust domain is denied": {
			build:       func(t *testing.T) []byte { return driver(t, "spiffe://evil.example/ns/sandbox/sa/example-app") },
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{`trust domain "evil.example" is not "foo.bar"`},
		},
		"a trust domain differing in case is denied": {
			build:     func(t *testing.T) []byte { return driver(t, "spiffe://FOO.bar/ns/sandbox/sa/example-app") },
			wantRules: []evaluator.Rule{evaluator.RuleURISAN},
		},
		"a path traversal in the ID is denied": {
			build:     func(t *testing.T) []byte { return driver(t, ownID+"/../../admin") },
			wantRules: []evaluator.Rule{evaluator.RuleURISAN},
		},
		"a URI that is not a SPIFFE ID is denied": {
			build:       func(t *testing.T) []byte { return driver(t, "https://foo.bar/ns/sandbox/sa/example-app") },
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{"the URI is not a SPIFFE ID"},
		},
		"two URI SANs are denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.URI("spiffe://foo.bar/ns/sandbox/sa/other"))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{"the CSR has 2 URI SANs", `want exactly one: "` + ownID + `"`},
		},
		"the own URI SAN twice is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.URI(ownID))}})
			},
			wantRules: []evaluator.Rule{evaluator.RuleURISAN},
		},
		"a DNS name next to the URI is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.DNS("kubernetes.default.svc"))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSANs},
			wantMessage: []string{`sans: the CSR requests DNS name SAN "kubernetes.default.svc" (want no SAN but the URI)`},
		},
		"an IP address next to the URI is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.IP(net.ParseIP("10.0.0.1")))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSANs},
			wantMessage: []string{`IP address SAN "10.0.0.1"`},
		},
		"an email address next to the URI is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.Email("admin@foo.bar"))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSANs},
			wantMessage: []string{`email SAN "admin@foo.bar"`},
		},
		"an otherName SAN, which Go's parser hides, is denied": {
			build: func(t *testing.T) []byte {
				upn := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.OtherName(upn, "administrator@corp"))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSANs},
			wantMessage: []string{"otherName SAN"},
		},
		"a registeredID SAN, which Go's parser hides, is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(ownID), csr.RegisteredID(asn1.ObjectIdentifier{1, 2, 3}))}})
			},
			wantRules: []evaluator.Rule{evaluator.RuleSANs},
		},
		"no URI SAN is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.DNS("foo.bar"))}})
			},
			wantRules: []evaluator.Rule{evaluator.RuleSANs, evaluator.RuleURISAN},
		},
		"no subjectAltName extension is denied": {
			build:       func(t *testing.T) []byte { return mustPEM(t, csr.Spec{}) },
			wantRules:   []evaluator.Rule{evaluator.RuleURISAN},
			wantMessage: []string{`the CSR has no subjectAltName extension (want exactly one URI SAN: "` + ownID + `")`},
		},
		"a non-critical subjectAltName extension is denied": {
			build: func(t *testing.T) []byte {
				return mustPEM(t, csr.Spec{Extensions: []pkix.Extension{csr.SAN(false, csr.URI(ownID))}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"subjectAltName extension is not critical"},
		},
		"a username that is not a ServiceAccount is denied": {
			mutate:      func(cr *cmapi.CertificateRequest) { cr.Spec.Username = "alice" },
			wantRules:   []evaluator.Rule{evaluator.RuleUsername},
			wantMessage: []string{`username "alice" is not a ServiceAccount`},
		},
		"a ServiceAccount of another namespace asking for its own ID is denied": {
			build: func(t *testing.T) []byte { return driver(t, "spiffe://foo.bar/ns/kube-system/sa/admin") },
			mutate: func(cr *cmapi.CertificateRequest) {
				cr.Spec.Username = "system:serviceaccount:kube-system:admin"
			},
			wantRules:   []evaluator.Rule{evaluator.RuleNamespace},
			wantMessage: []string{`the request is in namespace "sandbox" but was created by ServiceAccount system:serviceaccount:kube-system:admin of namespace "kube-system"`},
		},

		// Certificate shape attacks.
		"spec.isCA is denied": {
			mutate:      func(cr *cmapi.CertificateRequest) { cr.Spec.IsCA = true },
			wantRules:   []evaluator.Rule{evaluator.RuleIsCA},
			wantMessage: []string{"is-ca: spec.isCA is true"},
		},
		"basicConstraints CA=true in the CSR is denied": {
			build:     func(t *testing.T) []byte { return withExtensions(t, csr.BasicConstraints(true, -1)) },
			wantRules: []evaluator.Rule{evaluator.RuleIsCA},
		},
		"basicConstraints with CA=false encoded, which DER omits, is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, pkix.Extension{Id: csr.OIDBasicConstraints, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0x00}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"basicConstraints extension is not DER-encoded"},
		},
		"basicConstraints with a path length is denied": {
			build:     func(t *testing.T) []byte { return withExtensions(t, csr.BasicConstraints(true, 0)) },
			wantRules: []evaluator.Rule{evaluator.RuleIsCA, evaluator.RuleExtensions},
		},
		"a smaller ECDSA curve is denied": {
			build:       func(t *testing.T) []byte { return mustPEM(t, csr.Driver(ownID).WithKey(ecKey(elliptic.P256()))) },
			wantRules:   []evaluator.Rule{evaluator.RuleKey},
			wantMessage: []string{"key: the CSR's public key is ECDSA P-256 (want ECDSA P-521, as configured for trust domain foo.bar)"},
		},
		"an RSA key instead of ECDSA is denied": {
			build:       func(t *testing.T) []byte { return mustPEM(t, csr.Driver(ownID).WithKey(rsa2048(t))) },
			wantRules:   []evaluator.Rule{evaluator.RuleKey},
			wantMessage: []string{"public key is RSA 2048 (want ECDSA P-521"},
		},
		"an RSA key of another size is denied": {
			build: func(t *testing.T) []byte { return mustPEM(t, csr.Driver(ownID).WithKey(rsa2048(t))) },
			config: func(cfg *spiffev1alpha1.TrustDomainConfig) {
				cfg.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: "RSA", Size: 3072}
			},
			wantRules:   []evaluator.Rule{evaluator.RuleKey},
			wantMessage: []string{"public key is RSA 2048 (want RSA 3072"},
		},
		"a tampered signature is denied": {
			build: func(t *testing.T) []byte {
				der, err := csr.Driver(ownID).DER()
				if err != nil {
					t.Fatal(err)
				}
				der[len(der)-1] ^= 0x01
				return csr.EncodePEM(der)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSignature},
			wantMessage: []string{"signature does not verify"},
		},
		"a request for someone else's public key is denied": {
			build:     func(t *testing.T) []byte { return signedBy(t, ecKey(elliptic.P521()), ecKey(elliptic.P521())) },
			wantRules: []evaluator.Rule{evaluator.RuleSignature},
		},
		"an extra usage is denied": {
			mutate:      func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = append(cr.Spec.Usages, cmapi.UsageCertSign) },
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{`spec.usages are ["digital signature", "key encipherment", "server auth", "client auth", "cert sign"] (want exactly ["key encipherment", "digital signature", "client auth", "server auth"], in any order)`},
		},
		"a missing usage is denied": {
			mutate:    func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = cr.Spec.Usages[:3] },
			wantRules: []evaluator.Rule{evaluator.RuleUsages},
		},
		"a repeated usage in place of another is denied": {
			mutate: func(cr *cmapi.CertificateRequest) {
				cr.Spec.Usages = []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageDigitalSignature, cmapi.UsageServerAuth, cmapi.UsageClientAuth}
			},
			wantRules: []evaluator.Rule{evaluator.RuleUsages},
		},
		"empty spec.usages, which cert-manager defaults, are denied": {
			mutate:      func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = nil },
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{`spec.usages is empty, which cert-manager treats as ["digital signature", "key encipherment"]`},
		},
		"a keyUsage extension with cert sign is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, csr.KeyUsage(true, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment|x509.KeyUsageCertSign),
					csr.ExtKeyUsage(csr.OIDExtKeyUsageServerAuth, csr.OIDExtKeyUsageClientAuth))
			},
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{`keyUsage extension is ["digital signature", "key encipherment", "cert sign"] but spec.usages give ["digital signature", "key encipherment"]`},
		},
		"an extKeyUsage extension with code signing is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, csr.KeyUsage(true, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment),
					csr.ExtKeyUsage(csr.OIDExtKeyUsageServerAuth, csr.OIDExtKeyUsageClientAuth, csr.OIDExtKeyUsageCodeSigning))
			},
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{`"code signing"`},
		},
		"an unknown extended key usage is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, csr.ExtKeyUsage(csr.OIDExtKeyUsageServerAuth, asn1.ObjectIdentifier{1, 2, 3, 4}))
			},
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{"lists 1.2.3.4, which is no usage cert-manager knows"},
		},
		"extended key usages in another order than spec.usages are denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, csr.KeyUsage(true, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment),
					csr.ExtKeyUsage(csr.OIDExtKeyUsageClientAuth, csr.OIDExtKeyUsageServerAuth))
			},
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{"same order"},
		},
		"a keyUsage extension without extKeyUsage is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, csr.KeyUsage(true, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment))
			},
			wantRules:   []evaluator.Rule{evaluator.RuleUsages},
			wantMessage: []string{"extKeyUsage extension is absent"},
		},
		"another duration is denied": {
			mutate:      func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: 8760 * time.Hour} },
			wantRules:   []evaluator.Rule{evaluator.RuleDuration},
			wantMessage: []string{"duration: spec.duration is 8760h0m0s (want 1h0m0s, as configured for trust domain foo.bar)"},
		},
		"no duration is denied": {
			mutate:    func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = nil },
			wantRules: []evaluator.Rule{evaluator.RuleDuration},
		},
		"the default duration is denied after the configuration changes": {
			config:      func(cfg *spiffev1alpha1.TrustDomainConfig) { cfg.Duration.Duration = 2 * time.Hour },
			wantRules:   []evaluator.Rule{evaluator.RuleDuration},
			wantMessage: []string{"want 2h0m0s"},
		},
		"a common name is denied": {
			build: func(t *testing.T) []byte {
				s := csr.Driver(ownID)
				s.Subject = pkix.Name{CommonName: "kubernetes-admin"}
				return mustPEM(t, s)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleSubject},
			wantMessage: []string{`subject: the CSR's subject is "CN=kubernetes-admin"`},
		},
		"an organization is denied": {
			build: func(t *testing.T) []byte {
				s := csr.Driver(ownID)
				s.Subject = pkix.Name{Organization: []string{"system:masters"}}
				return mustPEM(t, s)
			},
			wantRules: []evaluator.Rule{evaluator.RuleSubject},
		},
		"a nameConstraints extension is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, pkix.Extension{Id: csr.OIDNameConstraints, Critical: true, Value: []byte{0x30, 0x00}})
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"requests the nameConstraints (2.5.29.30) extension"},
		},
		"a subjectKeyIdentifier extension is denied": {
			build: func(t *testing.T) []byte {
				return withExtensions(t, pkix.Extension{Id: csr.OIDSubjectKeyIdentifier, Value: []byte{0x04, 0x01, 0x00}})
			},
			wantRules: []evaluator.Rule{evaluator.RuleExtensions},
		},
		"a challengePassword attribute is denied": {
			build: func(t *testing.T) []byte {
				pw, _ := asn1.MarshalWithParams("secret", "utf8")
				s := csr.Driver(ownID)
				s.Attributes = []asn1.RawValue{
					csr.Attribute(csr.OIDExtensionRequest, csr.ExtensionRequest(s.Extensions...)),
					csr.Attribute(csr.OIDChallengePassword, asn1.RawValue{FullBytes: pw}),
				}
				return mustPEM(t, s)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"the CSR carries 2 attributes"},
		},
		"a second extensionRequest value, which Go's parser ignores, is denied": {
			build: func(t *testing.T) []byte {
				s := csr.Driver(ownID)
				s.Attributes = []asn1.RawValue{csr.Attribute(csr.OIDExtensionRequest,
					csr.ExtensionRequest(s.Extensions...),
					csr.ExtensionRequest(csr.SAN(true, csr.DNS("kubernetes.default.svc"))))}
				return mustPEM(t, s)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"extensionRequest attribute has 2 values"},
		},
		"an attribute other than extensionRequest is denied": {
			build: func(t *testing.T) []byte {
				pw, _ := asn1.MarshalWithParams("secret", "utf8")
				s := csr.Driver(ownID)
				s.Attributes = []asn1.RawValue{csr.Attribute(csr.OIDChallengePassword, asn1.RawValue{FullBytes: pw})}
				return mustPEM(t, s)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleExtensions},
			wantMessage: []string{"carries the challengePassword (1.2.840.113549.1.9.7) attribute"},
		},

		// Malformed requests.
		"garbage instead of a CSR is denied": {
			build:       func(*testing.T) []byte { return []byte("not a csr") },
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"spec.request does not start with a PEM CERTIFICATE REQUEST block"},
		},
		"an empty request is denied": {
			build:       func(*testing.T) []byte { return nil },
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"spec.request is empty"},
		},
		"garbage inside the PEM block is denied": {
			build:       func(*testing.T) []byte { return csr.EncodePEM([]byte("garbage")) },
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"not a valid PKCS #10 certificate signing request"},
		},
		"a second PEM block is denied": {
			build: func(t *testing.T) []byte {
				return append(driver(t, ownID), driver(t, "spiffe://foo.bar/ns/sandbox/sa/other")...)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"spec.request holds 2 PEM blocks"},
		},
		"a PEM block of another type is denied": {
			build: func(t *testing.T) []byte {
				return bytes.ReplaceAll(driver(t, ownID), []byte("CERTIFICATE REQUEST"), []byte("CERTIFICATE"))
			},
			wantRules: []evaluator.Rule{evaluator.RuleRequest},
		},
		"data after the PEM block is denied": {
			build:       func(t *testing.T) []byte { return append(driver(t, ownID), "trailing"...) },
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"holds data after its PEM block"},
		},
		"a PEM block with headers is denied": {
			build: func(t *testing.T) []byte {
				return bytes.Replace(driver(t, ownID), []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1)
			},
			wantRules: []evaluator.Rule{evaluator.RuleRequest},
		},
		"a CSR of an unknown version is denied": {
			build: func(t *testing.T) []byte {
				s := csr.Driver(ownID)
				s.Version = 1
				return mustPEM(t, s)
			},
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"the CSR has version 1"},
		},
		"an oversized request is denied": {
			build:       func(t *testing.T) []byte { return append(driver(t, ownID), bytes.Repeat([]byte(" "), 20000)...) },
			wantRules:   []evaluator.Rule{evaluator.RuleRequest},
			wantMessage: []string{"want at most 16384"},
		},
		"no configuration denies": {
			config:    func(cfg *spiffev1alpha1.TrustDomainConfig) { *cfg = spiffev1alpha1.TrustDomainConfig{} },
			wantRules: []evaluator.Rule{evaluator.RuleDuration, evaluator.RuleKey, evaluator.RuleURISAN},
		},

		// Several broken rules are all named, the first labels the decision.
		"every broken rule is named": {
			build: func(t *testing.T) []byte {
				s := csr.Spec{Key: ecKey(elliptic.P384()), Subject: pkix.Name{CommonName: "x"},
					Extensions: []pkix.Extension{csr.SAN(true, csr.URI("spiffe://foo.bar/ns/sandbox/sa/other"), csr.DNS("x"))}}
				return mustPEM(t, s)
			},
			mutate: func(cr *cmapi.CertificateRequest) {
				cr.Spec.Duration = &metav1.Duration{Duration: 2 * time.Hour}
				cr.Spec.IsCA = true
			},
			wantRules: []evaluator.Rule{evaluator.RuleDuration, evaluator.RuleIsCA, evaluator.RuleKey, evaluator.RuleSubject, evaluator.RuleSANs, evaluator.RuleURISAN},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var pemCSR []byte
			if tc.build != nil {
				pemCSR = tc.build(t)
			} else {
				pemCSR = driver(t, ownID)
			}
			cr := request(pemCSR)
			if tc.mutate != nil {
				tc.mutate(cr)
			}
			cfg := config()
			if tc.config != nil {
				tc.config(cfg)
			}
			crBefore, cfgBefore := cr.DeepCopy(), cfg.DeepCopy()

			got := evaluator.New().Evaluate(cr, cfg)

			if wantApproved := len(tc.wantRules) == 0; got.Approved != wantApproved {
				t.Fatalf("Approved = %v, want %v; message: %s", got.Approved, wantApproved, got.Message)
			}
			var gotRules []evaluator.Rule
			for _, v := range got.Violations {
				gotRules = append(gotRules, v.Rule)
			}
			if !slices.Equal(gotRules, tc.wantRules) {
				t.Errorf("broken rules = %v, want %v; message: %s", gotRules, tc.wantRules, got.Message)
			}
			wantRule := evaluator.RuleNone
			if len(tc.wantRules) > 0 {
				wantRule = tc.wantRules[0]
				if !strings.HasPrefix(got.Message, "denied by the SPIFFE issuance policy: "+string(wantRule)+": ") {
					t.Errorf("message does not start with the first broken rule: %s", got.Message)
				}
			}
			if got.Rule != wantRule {
				t.Errorf("Rule = %q, want %q", got.Rule, wantRule)
			}
			for _, w := range tc.wantMessage {
				if !strings.Contains(got.Message, w) {
					t.Errorf("message does not contain %q:\n%s", w, got.Message)
				}
			}
			if !apiequality.Semantic.DeepEqual(crBefore, cr) || !apiequality.Semantic.DeepEqual(cfgBefore, cfg) {
				t.Errorf("Evaluate modified its arguments")
			}
		})
	}
}

// TestEvaluateNil checks the evaluator refuses, without panicking, to decide
// without a request or a configuration.
func TestEvaluateNil(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cr       *cmapi.CertificateRequest
		cfg      *spiffev1alpha1.TrustDomainConfig
		wantRule evaluator.Rule
	}{
		"no request":       {cfg: config(), wantRule: evaluator.RuleRequest},
		"no configuration": {cr: request(nil), wantRule: evaluator.RuleConfiguration},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := evaluator.New().Evaluate(tc.cr, tc.cfg)
			if got.Approved || got.Rule != tc.wantRule {
				t.Errorf("Evaluate = %+v, want denied by %q", got, tc.wantRule)
			}
		})
	}
}

// Values copied from the request into the message are quoted and cut, so
// that a hostile request cannot flood a condition or forge its text.
func TestMessagesQuoteAndBoundRequestValues(t *testing.T) {
	t.Parallel()
	long := "spiffe://foo.bar/ns/sandbox/sa/" + strings.Repeat("a", 1000)
	names := []csr.GeneralName{csr.URI(long)}
	for range 30 {
		names = append(names, csr.DNS(strings.Repeat("d", 150)+"\"; approved"))
	}
	s := csr.Spec{Subject: pkix.Name{CommonName: strings.Repeat("c", 300)}, Extensions: []pkix.Extension{csr.SAN(true, names...)}}
	got := evaluator.New().Evaluate(request(mustPEM(t, s)), config())
	if got.Approved {
		t.Fatal("approved a hostile request")
	}
	if len(got.Message) > 4<<10+len("…") {
		t.Errorf("message is %d bytes, want at most 4 KiB", len(got.Message))
	}
	if strings.Contains(got.Message, strings.Repeat("a", 200)) || strings.Contains(got.Message, strings.Repeat("c", 200)) {
		t.Errorf("message copies long values whole: %s", got.Message)
	}
	if strings.Contains(got.Message, `"; approved`) {
		t.Errorf("message does not escape quotes from the request: %s", got.Message)
	}
	if !strings.Contains(got.Message, "and 25 more") {
		t.Errorf("message does not bound the list of names: %s", got.Message)
	}
}
