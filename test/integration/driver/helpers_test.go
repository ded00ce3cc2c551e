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

package driver

import (
	"context"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// newNamespace returns a fresh namespace name.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := "ns-" + utilrand.String(6)
	if err := testEnv.EnsureNamespace(t.Context(), ns, nil); err != nil {
		t.Fatal(err)
	}
	return ns
}

// loadSVID loads the volume's SVID with go-spiffe and verifies it against the
// CA, failing the test otherwise.
func loadSVID(t *testing.T, f *driverenv.Fixture, v *kubelet.Volume, ca *certmanager.CA) *x509svid.SVID {
	t.Helper()
	svid, err := x509svid.Load(v.File("tls.crt"), v.File("tls.key"))
	if err != nil {
		t.Fatalf("failed to load the SVID of pod %s/%s: %v", v.Pod.Namespace, v.Pod.Name, err)
	}
	td := spiffeid.RequireTrustDomainFromString(f.TrustDomain)
	if _, _, err := x509svid.Verify(svid.Certificates, x509bundle.FromX509Authorities(td, ca.Certs)); err != nil {
		t.Fatalf("the SVID of pod %s/%s does not verify against the CA: %v", v.Pod.Namespace, v.Pod.Name, err)
	}
	want := spiffe.ID(f.TrustDomain, v.Pod.Namespace, v.Pod.Spec.ServiceAccountName).String()
	if svid.ID.String() != want {
		t.Fatalf("SVID ID = %q, want %q", svid.ID, want)
	}
	return svid
}

// volumeRequests returns the CertificateRequests of a volume.
func volumeRequests(t *testing.T, ns, volumeID string) []cmapi.CertificateRequest {
	t.Helper()
	var list cmapi.CertificateRequestList
	if err := testEnv.Client.List(t.Context(), &list, client.InNamespace(ns), client.MatchingLabels{driver.VolumeLabel: driver.VolumeLabelValue(volumeID)}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// eventually polls cond every 50ms until it holds or 30s pass. Tests wait on
// state, never assert durations.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var last string
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %s", what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaf reads the first certificate of a file.
func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.DecodeX509CertificateChainBytes(data)
	if err != nil || len(certs) == 0 {
		t.Fatalf("failed to parse %s: %v", path, err)
	}
	return certs[0]
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func randSuffix() string { return utilrand.String(5) }
