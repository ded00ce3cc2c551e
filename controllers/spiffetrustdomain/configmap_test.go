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

package spiffetrustdomain

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testCertificate returns a self-signed CA certificate in PEM.
func testCertificate(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func testPrivateKey(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestParseCABundle(t *testing.T) {
	t.Parallel()
	a, b := testCertificate(t, "a"), testCertificate(t, "b")
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := map[string]struct {
		data    []byte
		want    []byte
		n       int32
		wantErr string
	}{
		"one certificate":  {data: a, want: a, n: 1},
		"two certificates": {data: join(a, b), want: join(a, b), n: 2},
		"text around the blocks, as in many bundles": {
			data: join([]byte("# root A\n"), a, []byte("\n# root B\n"), b), want: join(a, b), n: 2,
		},
		"a private key next to the CA is dropped, never copied": {data: join(testPrivateKey(t), a), want: a, n: 1},
		"a certificate twice is kept once":                      {data: join(a, b, a), want: join(a, b), n: 2},
		"nothing":                                               {data: nil, wantErr: "no PEM-encoded certificate"},
		"not PEM":                                               {data: []byte("hello"), wantErr: "no PEM-encoded certificate"},
		"only a private key":                                    {data: testPrivateKey(t), wantErr: "no PEM-encoded certificate"},
		"a CERTIFICATE block that is not a certificate": {
			data:    join(a, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})),
			wantErr: "failed to parse PEM block 2 as an X.509 certificate",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCABundle(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.PEM, tc.want) || got.Certificates != tc.n {
				t.Errorf("got %d certificates:\n%s\nwant %d:\n%s", got.Certificates, got.PEM, tc.n, tc.want)
			}
		})
	}
}

func TestParseCABundleRefusesOversizedBundles(t *testing.T) {
	t.Parallel()
	var data []byte
	for len(data) <= maxCABundleSize {
		data = append(data, testCertificate(t, "root")...)
	}
	if _, err := parseCABundle(data); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("error = %v, want a size error", err)
	}
	if _, err := parseCABundle(nil); !errors.Is(err, errNoCertificates) {
		t.Fatalf("error = %v, want errNoCertificates", err)
	}
}

func TestBuildCABundleConfigMap(t *testing.T) {
	t.Parallel()
	a := testCertificate(t, "a")
	bundle, err := parseCABundle(a)
	if err != nil {
		t.Fatal(err)
	}
	expectYAML(t, buildCABundleConfigMap(testTrustDomain(), testOptions, bundle), `
apiVersion: v1
kind: ConfigMap
metadata:
  name: foo-bar-ca-bundle
  namespace: csi-driver-spiffe`+labelsYAML("ca-bundle")+`
data:
  ca.crt: |
`+indent(string(a), "    "))
	sum := sha256.Sum256(a)
	if got := bundle.status(); got.SHA256 != hex.EncodeToString(sum[:]) || got.Certificates != 1 {
		t.Errorf("status = %+v", got)
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
