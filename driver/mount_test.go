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
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The image has no mount binaries (see the Dockerfile): the driver's mounter
// mounts a tmpfs, bind-mounts it read-only, detects both and unmounts them
// with real mounts and without running any program. mount and umount on PATH
// are replaced by scripts that record being run.
func TestMounterRunsNoProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test makes real mounts: run it as root, as CI and make test do")
	}
	bin := t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	for _, name := range []string{"mount", "umount"} {
		script := "#!/bin/sh\necho " + name + " \"$@\" >> " + ran + "\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)

	dir := t.TempDir()
	tmpfs, target := filepath.Join(dir, "tmpfs"), filepath.Join(dir, "target")
	for _, d := range []string{tmpfs, target} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m := NewMounter()
	if err := m.Mount("tmpfs", tmpfs, "tmpfs", []string{"mode=0700", "nosuid", "nodev", "noexec"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(tmpfs, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(tmpfs, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Mount(tmpfs, target, "", []string{"bind", "ro"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })

	for _, p := range []string{tmpfs, target} {
		mounted, err := m.IsMountPoint(p)
		if err != nil || !mounted {
			t.Errorf("IsMountPoint(%s) = %v, %v; want true", p, mounted, err)
		}
	}
	if err := os.WriteFile(filepath.Join(target, "g"), []byte("x"), 0o600); err == nil {
		t.Error("the bind mount is writable, want read-only")
	}
	if err := m.Mount("/dev/null", target, "ext4", nil); err == nil {
		t.Error("an ext4 mount was accepted, want it refused (the driver only makes bind and tmpfs mounts)")
	}
	for _, p := range []string{target, tmpfs} {
		if err := m.Unmount(p); err != nil {
			t.Fatal(err)
		}
		if mounted, err := m.IsMountPoint(p); err != nil || mounted {
			t.Errorf("after Unmount, IsMountPoint(%s) = %v, %v; want false", p, mounted, err)
		}
	}

	if data, err := os.ReadFile(ran); err == nil {
		t.Errorf("the mounter ran programs:\n%s", data)
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
