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
	"testing"

	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
)

// Run with: go test ./approver/evaluator -run '^$' -bench . -benchmem
func BenchmarkEvaluate(b *testing.B) {
	cfg := config()
	benchmarks := map[string][]byte{
		"approve the driver's request":      csr.Driver(ownID).MustPEM(),
		"approve a request with key usages": csr.Driver(ownID).WithDriverUsages().MustPEM(),
		"deny another ServiceAccount's ID":  csr.Driver("spiffe://foo.bar/ns/sandbox/sa/other").MustPEM(),
		"deny garbage":                      []byte("-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----\n"),
	}
	for name, pemCSR := range benchmarks {
		b.Run(name, func(b *testing.B) {
			cr := request(pemCSR)
			e := evaluator.New()
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Evaluate(cr, cfg)
			}
		})
	}
}
