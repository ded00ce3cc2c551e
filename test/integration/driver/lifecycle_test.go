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
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"k8s.io/utils/ptr"
)

// shortLifetime is the lifetime the stand-in signer gives certificates in
// renewal tests; the driver renews after two thirds of it.
const shortLifetime = 6 * time.Second

// The driver renews from the certificate's real NotBefore/NotAfter (the
// signer caps the requested hour at seconds), with a new key each time, and
// keeps at most the latest CertificateRequest of the volume.
func TestRenewal(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{MaxLifetime: shortLifetime})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "app-1", ServiceAccount: "app"})
	if err != nil {
		t.Fatal(err)
	}
	// kubelet republishes with fresh tokens (requiresRepublish) meanwhile.
	republishCtx, stopRepublishing := context.WithCancel(ctx)
	republished := make(chan struct{})
	go func() {
		defer close(republished)
		f.Kubelet.RepublishEvery(republishCtx, time.Second, func(v *kubelet.Volume, err error) {
			t.Errorf("republishing %s failed: %v", v.Pod.Name, err)
		})
	}()
	t.Cleanup(func() { stopRepublishing(); <-republished })
	first := loadSVID(t, f, v, f.CA)
	if got := first.Certificates[0].NotAfter.Sub(first.Certificates[0].NotBefore); got != shortLifetime {
		t.Fatalf("lifetime %s, want the signer's cap %s", got, shortLifetime)
	}
	// Two renewals show that renewals go on.
	seen := map[string]bool{first.Certificates[0].SerialNumber.String(): true}
	eventually(t, "two renewals", func() (bool, string) {
		svid := loadSVID(t, f, v, f.CA)
		seen[svid.Certificates[0].SerialNumber.String()] = true
		return len(seen) >= 3, fmt.Sprintf("%d certificates seen", len(seen))
	})
	renewed := loadSVID(t, f, v, f.CA)
	if renewed.PrivateKey.Public().(*ecdsa.PublicKey).Equal(first.PrivateKey.Public()) {
		t.Errorf("renewal kept the private key")
	}
	eventually(t, "old requests to be deleted", func() (bool, string) {
		n := len(volumeRequests(t, ns, v.ID))
		return n == 1, fmt.Sprintf("%d requests", n)
	})
	if n, err := f.Driver.Metric(ctx, "csi_driver_spiffe_renewals_total", nil); err != nil || n < 2 {
		t.Errorf("csi_driver_spiffe_renewals_total = %v (%v), want at least 2", n, err)
	}
	if n, err := f.Driver.Metric(ctx, "csi_driver_spiffe_volumes", nil); err != nil || n != 1 {
		t.Errorf("csi_driver_spiffe_volumes = %v (%v), want 1", n, err)
	}
}

// When the CA bundle file changes (as kubelet updates a ConfigMap volume),
// the CA file of every live volume is rewritten, keys untouched and no new
// request made; new SVIDs follow a configuration change (key type) without a
// restart.
func TestCABundleRotationAndConfigChange(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{CABundle: true})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	var vols []*kubelet.Volume
	for i := range 3 {
		v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: fmt.Sprintf("app-%d", i), ServiceAccount: "app"})
		if err != nil {
			t.Fatal(err)
		}
		vols = append(vols, v)
	}
	keysBefore := map[string][]byte{}
	for _, v := range vols {
		keysBefore[v.ID], _ = os.ReadFile(v.File("tls.key"))
	}

	newCA, err := certmanager.NewCA("rotated")
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(append([]byte{}, f.CA.PEM...), newCA.PEM...)
	if err := f.WriteCABundle(bundle); err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		eventually(t, "the CA file of "+v.Pod.Name+" to hold the new bundle", func() (bool, string) {
			got, err := os.ReadFile(v.File("ca.crt"))
			return err == nil && bytes.Equal(got, bundle), string(got)
		})
		key, _ := os.ReadFile(v.File("tls.key"))
		if !bytes.Equal(key, keysBefore[v.ID]) {
			t.Errorf("the key of %s changed with the CA bundle", v.Pod.Name)
		}
		if n := len(volumeRequests(t, ns, v.ID)); n != 1 {
			t.Errorf("%s has %d requests, want 1 (no re-issuance)", v.Pod.Name, n)
		}
	}

	// The signer moves to the new CA and the key type changes: the next
	// issuance follows both, without restarting the driver.
	f.Signer.SetCA(newCA)
	if err := f.SetConfig(ctx, func(c *spiffev1alpha1.TrustDomainConfig) {
		c.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 2048}
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an RSA SVID signed by the new CA", func() (bool, string) {
		v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "rsa-" + randSuffix(), ServiceAccount: "app"})
		if err != nil {
			return false, err.Error()
		}
		svid := loadSVID(t, f, v, newCA)
		_, isRSA := svid.PrivateKey.Public().(*rsa.PublicKey)
		return isRSA, fmt.Sprintf("key %T", svid.PrivateKey)
	})
}

// The files belong to the group of the fs-group attribute, else to the pod's
// fsGroup (volume_mount_group), readable by that group only.
func TestFSGroup(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		attrs   map[string]string
		fsGroup *int64
		wantGID uint32
	}{
		"no group":                             {wantGID: 0},
		"the fs-group attribute":               {attrs: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "456"}, wantGID: 456},
		"the pod's fsGroup":                    {fsGroup: ptr.To[int64](789), wantGID: 789},
		"the attribute over the pod's fsGroup": {attrs: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "456"}, fsGroup: ptr.To[int64](789), wantGID: 456},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: fmt.Sprintf("group-%d", i), ServiceAccount: "app", VolumeAttributes: tc.attrs, FSGroup: tc.fsGroup})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{v.TargetPath, v.File("tls.crt"), v.File("tls.key")} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if st.Gid != tc.wantGID || st.Uid != 0 {
					t.Errorf("%s is owned by %d:%d, want 0:%d", filepath.Base(p), st.Uid, st.Gid, tc.wantGID)
				}
				wantMode := os.FileMode(0o440)
				if p == v.TargetPath {
					wantMode = 0o550 | os.ModeDir
				}
				if fi.Mode()&(os.ModeDir|os.ModePerm) != wantMode {
					t.Errorf("%s has mode %v, want %v", filepath.Base(p), fi.Mode(), wantMode)
				}
			}
		})
	}
}

// After the driver is killed, pods keep their files; when it starts again it
// resumes every volume: renewals go on, a volume whose files vanished is
// re-issued, and unpublishing works.
func TestDriverRestart(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{MaxLifetime: shortLifetime})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	a, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "a", ServiceAccount: "app"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "b", ServiceAccount: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Driver.Kill(); err != nil {
		t.Fatal(err)
	}
	// The pod still reads its SVID while the driver is down.
	before := loadSVID(t, f, a, f.CA).Certificates[0]
	// b's files disappear while the driver is down.
	if err := os.RemoveAll(filepath.Join(f.DataRoot, "inmemfs", b.ID, "data", "..data")); err != nil {
		t.Fatal(err)
	}
	if err := f.Driver.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's SVID to be renewed after the restart", func() (bool, string) {
		svid, err := loadSVIDErr(a)
		if err != nil {
			return false, err.Error()
		}
		return !svid.Certificates[0].Equal(before), "not renewed yet"
	})
	eventually(t, "b's SVID to be re-issued", func() (bool, string) {
		_, err := loadSVIDErr(b)
		return err == nil, fmt.Sprint(err)
	})
	loadSVID(t, f, b, f.CA)
	if err := a.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	if crs := volumeRequests(t, ns, a.ID); len(crs) != 0 {
		t.Errorf("%d requests remain after unpublish", len(crs))
	}
}

// loadSVIDErr loads the volume's SVID, returning the error.
func loadSVIDErr(v *kubelet.Volume) (*x509svid.SVID, error) {
	return x509svid.Load(v.File("tls.crt"), v.File("tls.key"))
}
