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
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// A pod's volume gets an SVID for its ServiceAccount, signed by the trust
// domain's CA, with the CA bundle, read-only, requested as the pod's
// ServiceAccount; unpublishing removes everything.
func TestPublishDeliversSVID(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{CABundle: true, Configure: nil})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "app-1", ServiceAccount: "app"})
	if err != nil {
		t.Fatalf("NodePublishVolume failed: %v", err)
	}
	svid := loadSVID(t, f, v, f.CA)
	if got := svid.Certificates[0]; got.NotAfter.Sub(got.NotBefore) != time.Hour {
		t.Errorf("certificate lifetime = %s, want the configured 1h", got.NotAfter.Sub(got.NotBefore))
	}
	ca, err := os.ReadFile(v.File("ca.crt"))
	if err != nil || !bytes.Equal(ca, f.CA.PEM) {
		t.Errorf("ca.crt = %q (%v), want the CA bundle", ca, err)
	}
	for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
		fi, err := os.Stat(v.File(name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o440 {
			t.Errorf("%s has mode %v, want 0440", name, fi.Mode().Perm())
		}
	}
	// The pod sees a read-only mount of a tmpfs.
	if err := os.WriteFile(v.File("x"), []byte("x"), 0o600); !errors.Is(err, syscall.EROFS) {
		t.Errorf("writing into the volume: err = %v, want EROFS", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(v.TargetPath, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Errorf("the volume is not on a tmpfs (type %x, %v)", st.Type, err)
	}

	// One CertificateRequest, created as the pod's ServiceAccount, shaped
	// as the approver expects.
	crs := volumeRequests(t, ns, v.ID)
	if len(crs) != 1 {
		t.Fatalf("got %d CertificateRequests for the volume, want 1", len(crs))
	}
	cr := crs[0]
	id := spiffe.ID(f.TrustDomain, ns, "app").String()
	checks := map[string]bool{
		"spec.username is the pod's ServiceAccount": cr.Spec.Username == spiffe.ServiceAccountUsername(ns, "app"),
		"issuerRef is the configured issuer":        cr.Spec.IssuerRef == f.IssuerRef,
		"duration is the configured duration":       cr.Spec.Duration != nil && cr.Spec.Duration.Duration == time.Hour,
		"usages are the four SVID usages":           slices.Equal(cr.Spec.Usages, operand.SVIDUsages()),
		"isCA is false":                             !cr.Spec.IsCA,
		"the identity annotation is the SPIFFE ID":  cr.Annotations[spiffe.IdentityAnnotation] == id,
		"the volume annotation is the volume ID":    cr.Annotations[spiffe.VolumeAnnotation] == v.ID,
		"the node label is the node":                cr.Labels[driver.NodeLabel] == f.NodeID,
		"the pod owns the request":                  len(cr.OwnerReferences) == 1 && cr.OwnerReferences[0].UID == v.Pod.UID,
		"the driver's credentials were not used":    cr.Spec.Username != "system:serviceaccount:"+driverenv.DriverNamespace+":driver-"+f.Name,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("CertificateRequest %s: not true that %s: %+v", cr.Name, what, cr)
		}
	}

	// Publishing again is idempotent: no new request, same files.
	before, _ := os.ReadFile(v.File("tls.crt"))
	if err := v.Republish(ctx); err != nil {
		t.Fatalf("second NodePublishVolume failed: %v", err)
	}
	after, _ := os.ReadFile(v.File("tls.crt"))
	if !bytes.Equal(before, after) || len(volumeRequests(t, ns, v.ID)) != 1 {
		t.Errorf("a second publish re-issued the SVID")
	}

	// The driver never logs a token.
	if logs := f.Driver.Logs(); strings.Contains(logs, v.Token.Token) || strings.Contains(logs, "eyJ") {
		t.Errorf("the driver logged a token")
	}

	// Unpublish unmounts and deletes files, metadata and requests.
	if err := v.Unpublish(ctx); err != nil {
		t.Fatalf("NodeUnpublishVolume failed: %v", err)
	}
	if mounts, _ := kubelet.MountsUnder(f.PodsDir); len(mounts) != 0 {
		t.Errorf("still mounted after unpublish: %v", mounts)
	}
	if _, err := os.Stat(filepath.Join(f.DataRoot, "inmemfs", v.ID)); !os.IsNotExist(err) {
		t.Errorf("the volume's data is still on the tmpfs: %v", err)
	}
	if crs := volumeRequests(t, ns, v.ID); len(crs) != 0 {
		t.Errorf("%d CertificateRequests of the volume remain after unpublish", len(crs))
	}
}
