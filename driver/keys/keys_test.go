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

package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

var oidSubjectAltName = []int{2, 5, 29, 17}

// Every key type yields a PKCS#8 key and a CSR with an empty subject and the
// SPIFFE ID as its only SAN, in a critical subjectAltName extension, and no
// other extension.
func TestCSRForEveryKeyType(t *testing.T) {
	t.Parallel()
	id := &url.URL{Scheme: "spiffe", Host: "foo.bar", Path: "/ns/sandbox/sa/app"}
	tests := map[string]struct {
		spec    spiffev1alpha1.PrivateKeySpec
		wantAlg x509.PublicKeyAlgorithm
		check   func(any) bool
	}{
		"ECDSA P-256": {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 256}, wantAlg: x509.ECDSA, check: func(k any) bool { return k.(*ecdsa.PublicKey).Curve.Params().BitSize == 256 }},
		"ECDSA P-384": {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 384}, wantAlg: x509.ECDSA, check: func(k any) bool { return k.(*ecdsa.PublicKey).Curve.Params().BitSize == 384 }},
		"ECDSA P-521": {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 521}, wantAlg: x509.ECDSA, check: func(k any) bool { return k.(*ecdsa.PublicKey).Curve.Params().BitSize == 521 }},
		"RSA 2048":    {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "RSA", Size: 2048}, wantAlg: x509.RSA, check: func(k any) bool { return k.(*rsa.PublicKey).N.BitLen() == 2048 }},
		"RSA 3072":    {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "RSA", Size: 3072}, wantAlg: x509.RSA, check: func(k any) bool { return k.(*rsa.PublicKey).N.BitLen() == 3072 }},
		"RSA 4096":    {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "RSA", Size: 4096}, wantAlg: x509.RSA, check: func(k any) bool { return k.(*rsa.PublicKey).N.BitLen() == 4096 }},
		"Ed25519":     {spec: spiffev1alpha1.PrivateKeySpec{Algorithm: "Ed25519"}, wantAlg: x509.Ed25519, check: func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key, err := Generate(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := EncodePKCS8(key)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(keyPEM)
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("key PEM block %v, want PRIVATE KEY", block)
			}
			if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
				t.Fatalf("key is not PKCS#8: %v", err)
			}

			csrPEM, err := CSR(key, id)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := pki.DecodeX509CertificateRequestBytes(csrPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Errorf("CSR signature: %v", err)
			}
			if csr.PublicKeyAlgorithm != tc.wantAlg || !tc.check(csr.PublicKey) {
				t.Errorf("CSR public key %T (%v), want %v of the configured size", csr.PublicKey, csr.PublicKeyAlgorithm, tc.wantAlg)
			}
			if !pki.IsASN1SubjectEmpty(csr.RawSubject) {
				t.Errorf("CSR subject %q, want empty", csr.Subject)
			}
			if len(csr.URIs) != 1 || csr.URIs[0].String() != id.String() || len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 {
				t.Errorf("CSR SANs URIs=%v DNS=%v IP=%v email=%v, want only %s", csr.URIs, csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, id)
			}
			if len(csr.Extensions) != 1 || !csr.Extensions[0].Id.Equal(oidSubjectAltName) || !csr.Extensions[0].Critical {
				t.Errorf("CSR extensions %+v, want only a critical subjectAltName", csr.Extensions)
			}
			if len(csr.Attributes) > 1 {
				t.Errorf("CSR has %d attributes, want at most the extension request", len(csr.Attributes))
			}
		})
	}
}

// Unsupported key types and sizes are refused, never defaulted.
func TestGenerateRefusesUnsupportedKeys(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]spiffev1alpha1.PrivateKeySpec{
		"ECDSA 224":       {Algorithm: "ECDSA", Size: 224},
		"ECDSA no size":   {Algorithm: "ECDSA"},
		"RSA 1024":        {Algorithm: "RSA", Size: 1024},
		"Ed25519 sized":   {Algorithm: "Ed25519", Size: 256},
		"an unknown type": {Algorithm: "DSA", Size: 2048},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := Generate(spec); err == nil {
				t.Errorf("Generate(%+v) succeeded, want an error", spec)
			}
		})
	}
}

func TestCSRRefusesEmptyID(t *testing.T) {
	t.Parallel()
	key, err := Generate(spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CSR(key, nil); err == nil {
		t.Error("CSR(nil) succeeded")
	}
}

func TestPublicKeysEqual(t *testing.T) {
	t.Parallel()
	spec := spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 256}
	a, _ := Generate(spec)
	b, _ := Generate(spec)
	cert := &x509.Certificate{PublicKey: a.Public()}
	if !PublicKeysEqual(cert, a) || PublicKeysEqual(cert, b) {
		t.Error("PublicKeysEqual does not tell keys apart")
	}
}
