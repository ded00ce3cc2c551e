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

package operand

import (
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// svidUsages are the key usages of every SVID, in the order the driver
// requests them. The approver requires exactly these, in any order.
var svidUsages = []cmapi.KeyUsage{
	cmapi.UsageKeyEncipherment,
	cmapi.UsageDigitalSignature,
	cmapi.UsageClientAuth,
	cmapi.UsageServerAuth,
}

// SVIDUsages returns the key usages of every SVID, in the order the driver
// requests them (a new slice each time: callers may keep or change it).
func SVIDUsages() []cmapi.KeyUsage { return slices.Clone(svidUsages) }

// Key defaults, applied by the operator when it publishes status.config.
// The CRD's +kubebuilder:default markers on spec.certificate.privateKey
// state the same values (markers cannot import constants; a test in this
// package compares them with the generated CRD).
const (
	DefaultKeyAlgorithm = spiffev1alpha1.ECDSAKeyAlgorithm
	DefaultECDSAKeySize = 521
	DefaultRSAKeySize   = 2048
)

// DefaultKey returns key with its algorithm and size defaulted: ECDSA P-521
// when both are empty, RSA 2048 for RSA without a size, and no size for
// Ed25519 (its size is fixed).
func DefaultKey(key spiffev1alpha1.PrivateKeySpec) spiffev1alpha1.PrivateKeySpec {
	if key.Algorithm == "" {
		key.Algorithm = DefaultKeyAlgorithm
	}
	switch key.Algorithm {
	case spiffev1alpha1.ECDSAKeyAlgorithm:
		if key.Size == 0 {
			key.Size = DefaultECDSAKeySize
		}
	case spiffev1alpha1.RSAKeyAlgorithm:
		if key.Size == 0 {
			key.Size = DefaultRSAKeySize
		}
	case spiffev1alpha1.Ed25519KeyAlgorithm:
		key.Size = 0
	}
	return key
}
