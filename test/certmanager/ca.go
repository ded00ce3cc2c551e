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

package certmanager

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"k8s.io/client-go/rest"
)

// CA is a self-signed certificate authority for tests, like the one behind a
// cert-manager CA issuer's Secret.
type CA struct {
	// Certs is the CA's chain, issuing certificate first.
	Certs []*x509.Certificate
	// Key is the issuing certificate's private key.
	Key crypto.Signer
	// PEM is Certs as PEM: the CA bundle (ca.crt) of the trust domain.
	PEM []byte
}

// NewCA returns a new self-signed ECDSA P-256 CA valid for a year.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("failed to generate CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("failed to generate serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("failed to self-sign CA %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("failed to parse CA %q: %w", commonName, err)
	}
	return &CA{
		Certs: []*x509.Certificate{cert},
		Key:   key,
		PEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// Pool returns the CA's certificates as a pool of roots.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range ca.Certs {
		pool.AddCert(c)
	}
	return pool
}

// NewClient returns a cert-manager client for cfg without client-side rate
// limiting, so that a stand-in reacts as fast as the API server allows.
func NewClient(cfg *rest.Config) (cmclient.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.QPS = -1
	c.RateLimiter = nil
	cl, err := cmclient.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("failed to build a cert-manager client: %w", err)
	}
	return cl, nil
}
