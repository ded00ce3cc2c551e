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
	"crypto/elliptic"
	"testing"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"

	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
)

// Run with: go test ./approver/evaluator -run '^$' -bench . -benchmem
func BenchmarkEvaluate(b *testing.B) {
	p256 := config()
	p256.PrivateKey.Size = 256
	benchmarks := map[string]struct {
		pemCSR []byte
		cfg    *spiffev1alpha1.TrustDomainConfig
	}{
		"approve the driver's request (P-521)":       {pemCSR: csr.Driver(ownID).MustPEM(), cfg: config()},
		"approve a request with key usages (P-521)":  {pemCSR: csr.Driver(ownID).WithDriverUsages().MustPEM(), cfg: config()},
		"approve a P-256 request (P-256 configured)": {pemCSR: csr.Driver(ownID).WithKey(ecKey(elliptic.P256())).MustPEM(), cfg: p256},
		"deny another ServiceAccount's ID (P-521)":   {pemCSR: csr.Driver("spiffe://foo.bar/ns/sandbox/sa/other").MustPEM(), cfg: config()},
		"deny a P-256 request (P-521 configured)":    {pemCSR: csr.Driver(ownID).WithKey(ecKey(elliptic.P256())).MustPEM(), cfg: config()},
		"deny garbage": {pemCSR: []byte("-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----\n"), cfg: config()},
	}
	for name, bm := range benchmarks {
		b.Run(name, func(b *testing.B) {
			cr := request(bm.pemCSR)
			e := evaluator.New()
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Evaluate(cr, bm.cfg)
			}
		})
	}
}
