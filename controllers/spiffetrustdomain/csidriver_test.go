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
	"testing"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

func TestBuildCSIDriver(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		td   *spiffev1alpha1.SpiffeTrustDomain
		want string
	}{
		"the reference driver name": {
			td: testTrustDomain(),
			want: `
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: spiffe.csi.cert-manager.io
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: foo-bar
    app.kubernetes.io/component: driver
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: foo-bar` + ownerYAML + `
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Ephemeral]
  tokenRequests:
  - audience: ""
    expirationSeconds: 3600
  requiresRepublish: true
  fsGroupPolicy: None
`,
		},
		"an empty driver name falls back to the reference one": {
			td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Name = "other"
				td.UID = "uid-2"
				td.Spec.Driver.Name = ""
			}),
			want: `
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: spiffe.csi.cert-manager.io
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: other
    app.kubernetes.io/component: driver
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: other
  ownerReferences:
  - apiVersion: spiffe.csi.cert-manager.io/v1alpha1
    kind: SpiffeTrustDomain
    name: other
    uid: uid-2
    controller: true
    blockOwnerDeletion: true
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Ephemeral]
  tokenRequests:
  - audience: ""
    expirationSeconds: 3600
  requiresRepublish: true
  fsGroupPolicy: None
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectYAML(t, buildCSIDriver(tc.td), tc.want)
		})
	}
}
