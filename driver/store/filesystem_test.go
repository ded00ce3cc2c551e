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

package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cert-manager/csi-lib/metadata"
	"k8s.io/mount-utils"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

func newFilesystem(t *testing.T) (*Filesystem, *mount.FakeMounter) {
	t.Helper()
	m := mount.NewFakeMounter(nil)
	fsys, mounted, err := OpenFilesystem(t.TempDir(), m)
	if err != nil {
		t.Fatal(err)
	}
	// The test directory is not a tmpfs, so the store mounts one.
	if !mounted || len(m.GetLog()) != 1 || m.GetLog()[0].FSType != "tmpfs" || m.GetLog()[0].Target != fsys.Root() {
		t.Fatalf("OpenFilesystem mounted %v (%+v), want a tmpfs on %s", mounted, m.GetLog(), fsys.Root())
	}
	return fsys, m
}

// Files are written with mode 0440, owned by root and the volume's group,
// with the atomic writer's layout; a rewrite replaces them all at once.
func TestWriteFilesModesAndGroup(t *testing.T) {
	t.Parallel()
	fsys, _ := newFilesystem(t)
	tests := map[string]struct {
		ctx     map[string]string
		wantGID uint32
	}{
		"no group":      {ctx: map[string]string{}, wantGID: 0},
		"an fs-group":   {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "2345"}, wantGID: 2345},
		"a mount group": {ctx: map[string]string{volume.MountGroupKey: "3456"}, wantGID: 3456},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			meta := metadata.Metadata{VolumeID: "csi-" + tc.ctx["spiffe.csi.cert-manager.io/fs-group"] + tc.ctx[volume.MountGroupKey], VolumeContext: tc.ctx}
			if _, err := fsys.RegisterMetadata(meta); err != nil {
				t.Fatal(err)
			}
			if err := fsys.WriteFiles(meta, map[string][]byte{"tls.crt": []byte("cert"), "tls.key": []byte("key")}); err != nil {
				t.Fatal(err)
			}
			dir := fsys.PathForVolume(meta.VolumeID)
			for _, name := range []string{"tls.crt", "tls.key"} {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if fi.Mode().Perm() != FileMode || st.Uid != 0 || st.Gid != tc.wantGID {
					t.Errorf("%s: mode %v owner %d:%d, want %v 0:%d", name, fi.Mode().Perm(), st.Uid, st.Gid, os.FileMode(FileMode), tc.wantGID)
				}
				if link, err := os.Readlink(filepath.Join(dir, name)); err != nil || link != filepath.Join("..data", name) {
					t.Errorf("%s is not a link into ..data: %q, %v", name, link, err)
				}
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o550 || st.Gid != tc.wantGID {
				t.Errorf("data directory mode %v group %d, want 0550 %d", fi.Mode().Perm(), st.Gid, tc.wantGID)
			}

			// A rewrite with other names replaces the whole set.
			if err := fsys.WriteFiles(meta, map[string][]byte{"tls.crt": []byte("cert2"), "ca.crt": []byte("ca")}); err != nil {
				t.Fatal(err)
			}
			files, err := fsys.ReadFiles(meta.VolumeID)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 2 || string(files["tls.crt"]) != "cert2" || string(files["ca.crt"]) != "ca" {
				t.Errorf("ReadFiles after rewrite = %q", files)
			}
			if _, err := os.Lstat(filepath.Join(dir, "tls.key")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file dropped from the set is still visible: %v", err)
			}
		})
	}
}

func TestWriteFilesRefusesBadGroup(t *testing.T) {
	t.Parallel()
	fsys, _ := newFilesystem(t)
	meta := metadata.Metadata{VolumeID: "csi-bad", VolumeContext: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "0"}}
	if _, err := fsys.RegisterMetadata(meta); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFiles(meta, map[string][]byte{"tls.crt": []byte("x")}); err == nil {
		t.Error("WriteFiles with group 0 succeeded")
	}
}

// Metadata round-trips with mode 0600; a changed context is rewritten;
// ListVolumes drops directories without metadata; RemoveVolume removes all.
func TestMetadataAndListing(t *testing.T) {
	t.Parallel()
	fsys, _ := newFilesystem(t)
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	meta := metadata.Metadata{VolumeID: "csi-a", TargetPath: "/pods/x/mount", VolumeContext: map[string]string{"k": "v"}}
	if wrote, err := fsys.RegisterMetadata(meta); err != nil || !wrote {
		t.Fatalf("RegisterMetadata = %v, %v", wrote, err)
	}
	if wrote, err := fsys.RegisterMetadata(meta); err != nil || wrote {
		t.Fatalf("RegisterMetadata of the same context = %v, %v; want no write", wrote, err)
	}
	meta.NextIssuanceTime = &next
	if err := fsys.WriteMetadata(meta.VolumeID, meta); err != nil {
		t.Fatal(err)
	}
	meta.VolumeContext = map[string]string{"k": "v2"}
	if wrote, err := fsys.RegisterMetadata(meta); err != nil || !wrote {
		t.Fatalf("RegisterMetadata of a new context = %v, %v", wrote, err)
	}
	got, err := fsys.ReadMetadata("csi-a")
	if err != nil || got.VolumeContext["k"] != "v2" || got.NextIssuanceTime == nil || !got.NextIssuanceTime.Equal(next) || got.TargetPath != meta.TargetPath {
		t.Errorf("ReadMetadata = %+v, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(fsys.Root(), "csi-a", "metadata.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("metadata.json mode %v (%v), want 0600: it holds the pod's token", fi.Mode(), err)
	}
	if err := os.MkdirAll(filepath.Join(fsys.Root(), "csi-leftover", "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	ids, err := fsys.ListVolumes()
	if err != nil || len(ids) != 1 || ids[0] != "csi-a" {
		t.Errorf("ListVolumes = %v, %v; want [csi-a]", ids, err)
	}
	if _, err := os.Stat(filepath.Join(fsys.Root(), "csi-leftover")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a directory without metadata was kept: %v", err)
	}
	if err := fsys.RemoveVolume("csi-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadMetadata("csi-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadMetadata after RemoveVolume: %v, want ErrNotFound", err)
	}
	if _, err := fsys.ReadFiles("csi-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadFiles after RemoveVolume: %v, want ErrNotFound", err)
	}
}

func TestValidateVolumeID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"csi-0123abcd":            true,
		"":                        false,
		".":                       false,
		"..":                      false,
		"../etc":                  false,
		"a/b":                     false,
		".hidden":                 false,
		"a\x00b":                  false,
		string(make([]byte, 300)): false,
	} {
		if err := ValidateVolumeID(id); (err == nil) != ok {
			t.Errorf("ValidateVolumeID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

// A data root that is already on a tmpfs is used as it is (a restart).
func TestOpenFilesystemReusesTmpfs(t *testing.T) {
	t.Parallel()
	dir := "/dev/shm"
	if ok, err := IsTmpfs(dir); err != nil || !ok {
		t.Fatalf("%s is not a tmpfs here (%v): the test needs one", dir, err)
	}
	root, err := os.MkdirTemp(dir, "store-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	m := mount.NewFakeMounter(nil)
	if _, mounted, err := OpenFilesystem(root, m); err != nil || mounted || len(m.GetLog()) != 0 {
		t.Errorf("OpenFilesystem on a tmpfs mounted %v (%v, %+v), want no mount", mounted, err, m.GetLog())
	}
	if _, _, err := OpenFilesystem("relative/path", m); err == nil {
		t.Error("OpenFilesystem accepted a relative data root")
	}
}
