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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

func TestValidateSpec(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(*spiffev1alpha1.SpiffeTrustDomain)
		want   []string // substrings of the errors, one per error
	}{
		"a defaulted spec": {mutate: func(*spiffev1alpha1.SpiffeTrustDomain) {}},
		"valid request annotations": {mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Certificate.Annotations = map[string]string{"example.com/team": "a b c"}
		}},
		"an external issuer": {mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.IssuerRef = spiffev1alpha1.IssuerReference{Name: "pca", Kind: "AWSPCAClusterIssuer", Group: "awspca.cert-manager.io"}
		}},
		"an empty namespace selector": {mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.RequesterNamespaceSelector = &metav1.LabelSelector{}
		}},
		"a name of exactly 63 characters": {mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Name = strings.Repeat("a", 63) }},
		"a name too long for a label value": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Name = strings.Repeat("a", 64) },
			want:   []string{"metadata.name: Too long"},
		},
		"an annotation key Kubernetes refuses": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Certificate.Annotations = map[string]string{"not valid!": "x"}
			},
			want: []string{`spec.certificate.annotations: Invalid value: "not valid!"`},
		},
		"an issuer name that is no object name": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Spec.IssuerRef.Name = "Not_A_Name" },
			want:   []string{"spec.issuerRef.name: Invalid value"},
		},
		"an external issuer kind that is no kind": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.IssuerRef = spiffev1alpha1.IssuerReference{Name: "x", Kind: "awspca-issuer", Group: "awspca.cert-manager.io"}
			},
			want: []string{"spec.issuerRef.kind: Invalid value"},
		},
		"an external issuer group that no CRD can have": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.IssuerRef = spiffev1alpha1.IssuerReference{Name: "x", Kind: "Issuer", Group: "awspca"}
			},
			want: []string{"spec.issuerRef.group: Invalid value"},
		},
		"a namespace selector with an operator that needs values": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.RequesterNamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpIn}}}
			},
			want: []string{"spec.requesterNamespaceSelector.matchExpressions[0].values: Required value"},
		},
		"node selectors and priority classes that are no labels or names": {
			mutate: func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Driver.NodeSelector = map[string]string{"bad key!": "x"}
				td.Spec.Approver.NodeSelector = map[string]string{"ok": "bad value!"}
				td.Spec.Driver.PriorityClassName = "Bad_Class"
			},
			want: []string{"spec.driver.nodeSelector: Invalid value", "spec.approver.nodeSelector: Invalid value", "spec.driver.priorityClassName: Invalid value"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			td := testTrustDomain(tc.mutate)
			errs := validateSpec(td)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestBuildConfig(t *testing.T) {
	t.Parallel()
	bundle := &caBundle{PEM: []byte("pem"), Certificates: 2}
	tests := map[string]struct {
		td   *spiffev1alpha1.SpiffeTrustDomain
		ca   *caBundle
		want *spiffev1alpha1.TrustDomainConfig
	}{
		"a defaulted spec": {
			td: testTrustDomain(),
			want: &spiffev1alpha1.TrustDomainConfig{
				Generation:            3,
				TrustDomain:           "foo.bar",
				IssuerRef:             spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:              metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
				Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
				DriverName:            "spiffe.csi.cert-manager.io",
			},
		},
		"a spec stored before the defaults existed": {
			td: &spiffev1alpha1.SpiffeTrustDomain{
				ObjectMeta: metav1.ObjectMeta{Name: "old", Generation: 1},
				Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
					TrustDomain: "old.example",
					IssuerRef:   spiffev1alpha1.IssuerReference{Name: "ca"},
				},
			},
			want: &spiffev1alpha1.TrustDomainConfig{
				Generation:            1,
				TrustDomain:           "old.example",
				IssuerRef:             spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:              metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
				Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
				DriverName:            "spiffe.csi.cert-manager.io",
			},
		},
		"RSA without a size, annotations, custom files and a CA bundle": {
			td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Certificate = spiffev1alpha1.CertificateSpec{
					Duration:              &metav1.Duration{Duration: 90 * time.Minute},
					RenewBeforePercentage: 50,
					PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm},
					Annotations:           map[string]string{"example.com/a": "b"},
				}
				td.Spec.Files = spiffev1alpha1.FilesSpec{Certificate: "svid.pem", Key: "svid_key.pem", CA: "bundle.pem"}
			}),
			ca: bundle,
			want: &spiffev1alpha1.TrustDomainConfig{
				Generation:            3,
				TrustDomain:           "foo.bar",
				IssuerRef:             spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:              metav1.Duration{Duration: 90 * time.Minute},
				RenewBeforePercentage: 50,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 2048},
				Annotations:           map[string]string{"example.com/a": "b"},
				Files:                 spiffev1alpha1.FilesSpec{Certificate: "svid.pem", Key: "svid_key.pem", CA: "bundle.pem"},
				CABundle:              bundle.status(),
				DriverName:            "spiffe.csi.cert-manager.io",
			},
		},
		"Ed25519 has no size": {
			td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Certificate.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.Ed25519KeyAlgorithm}
			}),
			want: &spiffev1alpha1.TrustDomainConfig{
				Generation:            3,
				TrustDomain:           "foo.bar",
				IssuerRef:             spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:              metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.Ed25519KeyAlgorithm},
				Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
				DriverName:            "spiffe.csi.cert-manager.io",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := buildConfig(tc.td, tc.ca)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
