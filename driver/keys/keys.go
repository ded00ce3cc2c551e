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

// Package keys generates the private key of an SVID in memory and builds its
// certificate signing request: an empty subject and exactly one URI SAN, the
// SPIFFE ID, in a critical subjectAltName extension (RFC 5280 4.2.1.6 requires
// the extension to be critical when the subject is empty).
package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// Generate returns a new private key of the configured algorithm and size:
// ECDSA P-256, P-384 or P-521, RSA 2048, 3072 or 4096, or Ed25519. The keys
// come from cert-manager's generators; this wrapper only refuses the sizes
// the SpiffeTrustDomain API does not offer (cert-manager accepts any RSA size
// from 2048 to 8192), so the driver never requests what the approver, which
// checks the configured size, denies.
func Generate(spec spiffev1alpha1.PrivateKeySpec) (crypto.Signer, error) {
	switch spec.Algorithm {
	case spiffev1alpha1.ECDSAKeyAlgorithm:
		switch spec.Size {
		case pki.ECCurve256, pki.ECCurve384, pki.ECCurve521:
			return pki.GenerateECPrivateKey(int(spec.Size))
		default:
			return nil, fmt.Errorf("unsupported ECDSA key size %d: want 256, 384 or 521", spec.Size)
		}
	case spiffev1alpha1.RSAKeyAlgorithm:
		switch spec.Size {
		case 2048, 3072, 4096:
			return pki.GenerateRSAPrivateKey(int(spec.Size))
		default:
			return nil, fmt.Errorf("unsupported RSA key size %d: want 2048, 3072 or 4096", spec.Size)
		}
	case spiffev1alpha1.Ed25519KeyAlgorithm:
		if spec.Size != 0 {
			return nil, fmt.Errorf("unsupported Ed25519 key size %d: Ed25519 keys have no size", spec.Size)
		}
		return pki.GenerateEd25519PrivateKey()
	default:
		return nil, fmt.Errorf("unsupported private key algorithm %q: want ECDSA, RSA or Ed25519", spec.Algorithm)
	}
}

// EncodePKCS8 returns the key as a PEM "PRIVATE KEY" block (PKCS#8).
func EncodePKCS8(key crypto.Signer) ([]byte, error) {
	data, err := pki.EncodePKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal private key as PKCS#8: %w", err)
	}
	return data, nil
}

// CSR returns a PEM certificate signing request signed by key, with an empty
// subject and id as its only SAN, in a critical subjectAltName extension. It
// has no other extension: the approver refuses unexpected ones, and the
// issuer sets key usages from the CertificateRequest. The SAN is cert-manager's
// pki.MarshalSANs; pki.GenerateCSR is not used because it builds from a
// Certificate object (subject, usages, options) of which this CSR needs none.
func CSR(key crypto.Signer, id *url.URL) ([]byte, error) {
	if id == nil || id.String() == "" {
		return nil, errors.New("failed to build CSR: empty SPIFFE ID")
	}
	// hasSubject=false makes the extension critical.
	san, err := pki.MarshalSANs(pki.GeneralNames{UniformResourceIdentifiers: []string{id.String()}}, false)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal URI SAN %q: %w", id, err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		ExtraExtensions: []pkix.Extension{san},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("failed to create CSR for %q: %w", id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// PublicKeysEqual reports whether the certificate holds the public half of
// key, so a signed chain is never written next to a key it does not match.
func PublicKeysEqual(cert *x509.Certificate, key crypto.Signer) bool {
	equal, err := pki.PublicKeyMatchesCertificate(key.Public(), cert)
	return err == nil && equal
}
