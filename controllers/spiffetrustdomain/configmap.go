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
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// maxCABundleSize bounds the copied bundle well under the 1 MiB limit of a
// ConfigMap.
const maxCABundleSize = 512 << 10

// caBundle is a validated PEM bundle of CA certificates.
type caBundle struct {
	// PEM holds only CERTIFICATE blocks, each once, in source order.
	PEM []byte
	// Certificates is the number of certificates in PEM.
	Certificates int32
}

// status describes the bundle for status.config.caBundle.
func (b *caBundle) status() *spiffev1alpha1.CABundleStatus {
	sum := sha256.Sum256(b.PEM)
	return &spiffev1alpha1.CABundleStatus{SHA256: hex.EncodeToString(sum[:]), Certificates: b.Certificates}
}

// errNoCertificates is returned by parseCABundle for data without any PEM
// certificate.
var errNoCertificates = errors.New("no PEM-encoded certificate (-----BEGIN CERTIFICATE-----) found")

// parseCABundle validates PEM data from a CA-bundle source and returns only
// its certificates: other blocks (a private key stored next to the CA, for
// example) are dropped so they never reach a pod. Every CERTIFICATE block
// must parse as an X.509 certificate.
func parseCABundle(data []byte) (*caBundle, error) {
	var out bytes.Buffer
	seen := map[string]bool{}
	var n int32
	for i := 1; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("failed to parse PEM block %d as an X.509 certificate: %w", i, err)
		}
		if seen[string(block.Bytes)] {
			continue
		}
		seen[string(block.Bytes)] = true
		n++
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}); err != nil {
			return nil, fmt.Errorf("failed to encode certificate %d: %w", n, err)
		}
	}
	if n == 0 {
		return nil, errNoCertificates
	}
	if out.Len() > maxCABundleSize {
		return nil, fmt.Errorf("the bundle is %d bytes, more than the %d bytes a ConfigMap can safely hold", out.Len(), maxCABundleSize)
	}
	return &caBundle{PEM: out.Bytes(), Certificates: n}, nil
}

// buildCABundleConfigMap returns the ConfigMap that the driver DaemonSet
// mounts at CABundleMountPath: the validated copy of the CA-bundle source,
// which may live in any namespace while a pod can only mount objects of its
// own.
func buildCABundleConfigMap(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, bundle *caBundle) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap(operand.CABundleConfigMapName(td.Name), opts.Namespace).
		WithLabels(childLabels(td.Name, operand.ComponentCABundle)).
		WithOwnerReferences(ownerReference(td)).
		WithData(map[string]string{CABundleKey: string(bundle.PEM)})
}
