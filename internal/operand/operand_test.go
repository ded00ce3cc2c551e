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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

func TestIssuerMatches(t *testing.T) {
	t.Parallel()
	clusterIssuer := spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	issuer := spiffev1alpha1.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}
	external := spiffev1alpha1.IssuerReference{Name: "ca", Kind: "AWSPCAClusterIssuer", Group: "awspca.cert-manager.io"}
	tests := map[string]struct {
		ref  cmmeta.IssuerReference
		want spiffev1alpha1.IssuerReference
		exp  bool
	}{
		"the same ClusterIssuer":                           {ref: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}, want: clusterIssuer, exp: true},
		"a ClusterIssuer without group":                    {ref: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, want: clusterIssuer, exp: true},
		"no kind is an Issuer, not a ClusterIssuer":        {ref: cmmeta.IssuerReference{Name: "ca"}, want: clusterIssuer},
		"no kind is an Issuer":                             {ref: cmmeta.IssuerReference{Name: "ca"}, want: issuer, exp: true},
		"an Issuer with group":                             {ref: cmmeta.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, want: issuer, exp: true},
		"another name":                                     {ref: cmmeta.IssuerReference{Name: "cb", Kind: "ClusterIssuer"}, want: clusterIssuer},
		"another group":                                    {ref: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "example.com"}, want: clusterIssuer},
		"an external issuer":                               {ref: cmmeta.IssuerReference{Name: "ca", Kind: "AWSPCAClusterIssuer", Group: "awspca.cert-manager.io"}, want: external, exp: true},
		"an external kind without its group":               {ref: cmmeta.IssuerReference{Name: "ca", Kind: "AWSPCAClusterIssuer"}, want: external},
		"kinds differ in case":                             {ref: cmmeta.IssuerReference{Name: "ca", Kind: "clusterissuer"}, want: clusterIssuer},
		"a configuration without kind means ClusterIssuer": {ref: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, want: spiffev1alpha1.IssuerReference{Name: "ca"}, exp: true},
		"a configuration without kind is no Issuer":        {ref: cmmeta.IssuerReference{Name: "ca", Kind: "Issuer"}, want: spiffev1alpha1.IssuerReference{Name: "ca"}},
		"neither has a kind: Issuer is not ClusterIssuer":  {ref: cmmeta.IssuerReference{Name: "ca"}, want: spiffev1alpha1.IssuerReference{Name: "ca"}},
		"a configuration without group means cert-manager": {ref: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}, want: spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, exp: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := IssuerMatches(tc.ref, tc.want); got != tc.exp {
				t.Errorf("IssuerMatches(%+v, %+v) = %v, want %v", tc.ref, tc.want, got, tc.exp)
			}
		})
	}
}

func TestApproverLeaseNameFitsALeaseName(t *testing.T) {
	t.Parallel()
	if got, want := ApproverLeaseName("foo-bar"), "csi-driver-spiffe-approver-foo-bar"; got != want {
		t.Errorf("ApproverLeaseName = %q, want %q", got, want)
	}
	a, b := ApproverLeaseName(strings.Repeat("a", 253)), ApproverLeaseName(strings.Repeat("a", 252)+"b")
	if len(a) > 253 || !strings.HasPrefix(a, "csi-driver-spiffe-approver-") {
		t.Errorf("ApproverLeaseName of a 253-character name = %q, want a Lease name with the prefix", a)
	}
	if a == b || a != ApproverLeaseName(strings.Repeat("a", 253)) {
		t.Errorf("ApproverLeaseName of long names is not a stable, distinct hash: %q, %q", a, b)
	}
}

func TestSignerNames(t *testing.T) {
	t.Parallel()
	ref := func(kind, group string) spiffev1alpha1.IssuerReference {
		return spiffev1alpha1.IssuerReference{Name: "ca", Kind: kind, Group: group}
	}
	tests := map[string]struct {
		ref           spiffev1alpha1.IssuerReference
		res           *IssuerResource
		allNamespaces bool
		namespaces    []string
		want          []string
	}{
		"a ClusterIssuer": {
			ref: ref("ClusterIssuer", "cert-manager.io"), res: CertManagerIssuerResource("ClusterIssuer"), allNamespaces: true,
			want: []string{"clusterissuers.cert-manager.io/ca"},
		},
		"a ClusterIssuer ignores the requester namespaces": {
			ref: ref("ClusterIssuer", "cert-manager.io"), res: CertManagerIssuerResource("ClusterIssuer"),
			namespaces: []string{"a", "b"},
			want:       []string{"clusterissuers.cert-manager.io/ca"},
		},
		"an empty kind and group are a cert-manager ClusterIssuer": {
			ref: ref("", ""), res: CertManagerIssuerResource(DefaultIssuerKind),
			want: []string{"clusterissuers.cert-manager.io/ca"},
		},
		"an Issuer in each requester namespace, as <namespace>.<name>": {
			ref: ref("Issuer", "cert-manager.io"), res: CertManagerIssuerResource("Issuer"),
			namespaces: []string{"team-b", "team-a"},
			want:       []string{"issuers.cert-manager.io/team-a.ca", "issuers.cert-manager.io/team-b.ca"},
		},
		"an Issuer without requester namespaces": {
			ref: ref("Issuer", "cert-manager.io"), res: CertManagerIssuerResource("Issuer"),
			want: []string{},
		},
		"an Issuer usable from any namespace needs the wildcard": {
			ref: ref("Issuer", "cert-manager.io"), res: CertManagerIssuerResource("Issuer"), allNamespaces: true,
			want: []string{"issuers.cert-manager.io/*"},
		},
		"a cluster-scoped external issuer, by its served resource": {
			ref: ref("AWSPCAClusterIssuer", "awspca.cert-manager.io"), res: &IssuerResource{Resource: "awspcaclusterissuers"},
			want: []string{"awspcaclusterissuers.awspca.cert-manager.io/ca"},
		},
		"a namespaced external issuer": {
			ref: ref("StepIssuer", "certmanager.step.sm"), res: &IssuerResource{Resource: "stepissuers", Namespaced: true},
			namespaces: []string{"app"},
			want:       []string{"stepissuers.certmanager.step.sm/app.ca"},
		},
		"an external issuer whose kind is not served": {
			ref: ref("Missing", "example.com"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := SignerNames(tc.ref, tc.res, tc.allNamespaces, tc.namespaces)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signer names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCertManagerIssuerResource(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind string
		want *IssuerResource
	}{
		"ClusterIssuer is cluster-scoped": {kind: cmapi.ClusterIssuerKind, want: &IssuerResource{Resource: "clusterissuers"}},
		"Issuer is namespaced":            {kind: cmapi.IssuerKind, want: &IssuerResource{Resource: "issuers", Namespaced: true}},
		"another kind needs discovery":    {kind: "AWSPCAClusterIssuer"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, CertManagerIssuerResource(tc.kind)); diff != "" {
				t.Errorf("resource (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventNote(t *testing.T) {
	t.Parallel()
	const cut = MaxEventNote - len("…")
	tests := map[string]struct {
		msg  string
		want string
	}{
		"a short note is unchanged":         {msg: "Ready is True", want: "Ready is True"},
		"a note of the maximum length fits": {msg: strings.Repeat("x", MaxEventNote), want: strings.Repeat("x", MaxEventNote)},
		"a long note is cut and marked": {
			msg: strings.Repeat("x", MaxEventNote+1), want: strings.Repeat("x", cut) + "…",
		},
		"a long note is never cut inside a character": {
			// "é" is two bytes: a cut at an odd offset would split one.
			msg: "x" + strings.Repeat("é", MaxEventNote), want: "x" + strings.Repeat("é", (cut-1)/2) + "…",
		},
		"a long note of four-byte characters": {
			msg: strings.Repeat("🔑", MaxEventNote), want: strings.Repeat("🔑", cut/4) + "…",
		},
		"invalid UTF-8 is dropped": {msg: "a\xffb", want: "ab"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := EventNote(tc.msg)
			if got != tc.want {
				t.Errorf("EventNote = %q (%d bytes), want %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
			if len(got) > MaxEventNote || !utf8.ValidString(got) {
				t.Errorf("EventNote = %d bytes, valid UTF-8 %v: want at most %d bytes of valid UTF-8", len(got), utf8.ValidString(got), MaxEventNote)
			}
		})
	}
}

func TestDefaultKey(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		key  spiffev1alpha1.PrivateKeySpec
		want spiffev1alpha1.PrivateKeySpec
	}{
		"nothing set is ECDSA P-521":    {want: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521}},
		"ECDSA without a size is P-521": {key: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm}, want: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521}},
		"RSA without a size is 2048":    {key: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm}, want: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 2048}},
		"a size set is kept":            {key: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 4096}, want: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 4096}},
		"Ed25519 has no size":           {key: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.Ed25519KeyAlgorithm, Size: 256}, want: spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.Ed25519KeyAlgorithm}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := DefaultKey(tc.key); got != tc.want {
				t.Errorf("DefaultKey(%+v) = %+v, want %+v", tc.key, got, tc.want)
			}
		})
	}
}

func TestSVIDUsages(t *testing.T) {
	t.Parallel()
	want := []cmapi.KeyUsage{cmapi.UsageKeyEncipherment, cmapi.UsageDigitalSignature, cmapi.UsageClientAuth, cmapi.UsageServerAuth}
	got := SVIDUsages()
	if !slices.Equal(got, want) {
		t.Fatalf("SVIDUsages = %v, want %v", got, want)
	}
	got[0] = cmapi.UsageCodeSigning
	if !slices.Equal(SVIDUsages(), want) {
		t.Errorf("changing a returned slice changed SVIDUsages")
	}
}

// TestCRDDefaultsAreTheOperandDefaults compares the defaults the CRD's
// markers state (which cannot import constants) with this package's.
func TestCRDDefaultsAreTheOperandDefaults(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "spiffe.csi.cert-manager.io_spiffetrustdomains.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	issuerRef := spec.Properties["issuerRef"]
	key := spec.Properties["certificate"].Properties["privateKey"]
	got := map[string]string{
		"spec.issuerRef.kind":                   string(issuerRef.Properties["kind"].Default.Raw),
		"spec.issuerRef.group":                  string(issuerRef.Properties["group"].Default.Raw),
		"spec.certificate.privateKey":           string(key.Default.Raw),
		"spec.certificate.privateKey.algorithm": string(key.Properties["algorithm"].Default.Raw),
	}
	want := map[string]string{
		"spec.issuerRef.kind":                   `"` + DefaultIssuerKind + `"`,
		"spec.issuerRef.group":                  `"` + DefaultIssuerGroup + `"`,
		"spec.certificate.privateKey":           `{"algorithm":"` + string(DefaultKeyAlgorithm) + `","size":521}`,
		"spec.certificate.privateKey.algorithm": `"` + string(DefaultKeyAlgorithm) + `"`,
	}
	if DefaultECDSAKeySize != 521 {
		t.Errorf("DefaultECDSAKeySize = %d; the CRD's privateKey default says 521", DefaultECDSAKeySize)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRD defaults (-operand +CRD):\n%s", diff)
	}
}
