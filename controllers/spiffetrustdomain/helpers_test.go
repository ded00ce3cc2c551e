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
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// testOptions are the operator's settings in the builder tests.
var testOptions = Options{
	Namespace:      "csi-driver-spiffe",
	Image:          "quay.io/example/csi-driver-spiffe:v1",
	KubeletRootDir: "/var/lib/kubelet",
}

// testTrustDomain returns a SpiffeTrustDomain as the API server stores it
// after defaulting, changed by mutate.
func testTrustDomain(mutate ...func(*spiffev1alpha1.SpiffeTrustDomain)) *spiffev1alpha1.SpiffeTrustDomain {
	td := &spiffev1alpha1.SpiffeTrustDomain{
		ObjectMeta: metav1.ObjectMeta{Name: "foo-bar", UID: "uid-1", Generation: 3},
		Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: "foo.bar",
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
			Certificate: spiffev1alpha1.CertificateSpec{
				Duration:              &metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
			},
			Files:    spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
			Driver:   spiffev1alpha1.DriverSpec{Name: "spiffe.csi.cert-manager.io", LogLevel: 1},
			Approver: spiffev1alpha1.ApproverSpec{Replicas: 1, LogLevel: 1},
		},
	}
	for _, m := range mutate {
		m(td)
	}
	return td
}

// expectYAML compares an object (an apply configuration) with the manifest
// it must serialize to, field by field.
func expectYAML(t *testing.T, got any, want string) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("failed to encode %T: %v", got, err)
	}
	wantJSON, err := yaml.YAMLToJSON([]byte(want))
	if err != nil {
		t.Fatalf("failed to parse the expected YAML: %v", err)
	}
	var g, w any
	if err := json.Unmarshal(gotJSON, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		gotYAML, _ := yaml.JSONToYAML(gotJSON)
		t.Errorf("object differs (-want +got):\n%s\ngot:\n%s", diff, gotYAML)
	}
}

// ownerYAML is the owner reference of every child of testTrustDomain().
const ownerYAML = `
  ownerReferences:
  - apiVersion: spiffe.csi.cert-manager.io/v1alpha1
    kind: SpiffeTrustDomain
    name: foo-bar
    uid: uid-1
    controller: true
    blockOwnerDeletion: true`
