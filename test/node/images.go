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

package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/buildimage/image"
)

// buildImages builds the node's own images as docker archives in the work
// directory: the pause image (test/node/pause, built static) and busybox
// (Debian's busybox-static with a link for every applet), and returns
// their paths. No registry can be reached from our machines.
func (c *Cluster) buildImages() ([]string, error) {
	dir := filepath.Join(c.WorkDir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pause := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", pause, "./test/node/pause")
	cmd.Dir = c.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("failed to build the pause binary: %w: %s", err, out)
	}
	applets, err := exec.Command("/bin/busybox", "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list-full: %w", err)
	}
	busybox := []image.File{{Path: "/bin/busybox", Source: "/bin/busybox", RequireStatic: true}}
	for _, a := range strings.Fields(string(applets)) {
		if p := "/" + a; p != "/bin/busybox" {
			busybox = append(busybox, image.File{Path: p, Symlink: "/bin/busybox"})
		}
	}
	var archives []string
	for _, b := range []struct {
		ref  string
		spec image.Spec
	}{
		{PauseImage, image.Spec{Files: []image.File{{Path: "/pause", Source: pause, RequireStatic: true}}, Entrypoint: []string{"/pause"}, User: "65535:65535"}},
		{BusyboxImage, image.Spec{Files: busybox, Cmd: []string{"sh"}}},
	} {
		img, err := image.Build(b.spec)
		if err != nil {
			return nil, fmt.Errorf("failed to build image %s: %w", b.ref, err)
		}
		archive := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(b.ref)+".tar")
		if err := image.WriteArchive(archive, b.ref, img); err != nil {
			return nil, err
		}
		archives = append(archives, archive)
	}
	return archives, nil
}
