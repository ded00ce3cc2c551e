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

// Package image builds container images of static binaries without a
// container engine, with go-containerregistry: one layer on an empty base
// ("FROM scratch"), written as a docker archive (`docker save` format) that
// `docker load` and containerd's `ctr -n k8s.io images import` both load.
//
// Build takes a Spec (files, symlinks, entrypoint, user, labels, platform);
// Product returns the Spec of the csi-driver-spiffe image that the
// repository's Dockerfile describes. Test images (a pause image, busybox) are
// Specs of their own:
//
//	img, err := image.Build(image.Spec{
//		Files: []image.File{
//			{Path: "/bin/busybox", Source: "/bin/busybox"},
//			{Path: "/bin/sh", Symlink: "busybox"},
//		},
//		Entrypoint: []string{"/bin/sh"},
//	})
//	err = image.WriteArchive("bin/images/busybox.tar", "docker.io/library/busybox:latest", img)
//
// Builds are reproducible: every file and the image config carry the same
// fixed time (Spec.Created, default the Unix epoch), so the same inputs give
// the same image digest.
package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultPath is the PATH Docker's builder sets in every Linux image whose
// base sets none, as for `FROM scratch`. Build uses it when Spec.Env has no
// PATH, so images built here equal Docker's.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// File is one entry of the image's single layer. Exactly one of Source,
// Data and Symlink is set. Parent directories are created (root-owned,
// 0755), as Docker's COPY does.
type File struct {
	// Path is the absolute path in the image.
	Path string
	// Source is a file on disk whose content Path gets.
	Source string
	// Data is the content Path gets.
	Data []byte
	// Symlink makes Path a symbolic link to this target.
	Symlink string
	// Mode is the permission bits of a regular file. Default: those of
	// Source, or 0644 for Data.
	Mode fs.FileMode
	// RequireStatic refuses a Source that is not a statically linked ELF
	// executable for the Spec's platform: the image has no C library.
	RequireStatic bool
}

// Spec describes an image.
type Spec struct {
	// Files are the image's files, in one layer.
	Files []File
	// Entrypoint and Cmd are the image's ENTRYPOINT and CMD.
	Entrypoint, Cmd []string
	// User is the image's USER (uid:gid). Default: root.
	User string
	// Env is the image's environment. Default: DefaultPath.
	Env []string
	// WorkingDir is the image's WORKDIR. Default: / (unset).
	WorkingDir string
	// Labels are the image's LABELs.
	Labels map[string]string
	// OS and Architecture are the platform. Default linux/amd64.
	OS, Architecture string
	// Created is the time of the image and of every file. Default the Unix
	// epoch, for reproducible builds.
	Created time.Time
}

// Build returns the image of spec.
func Build(spec Spec) (v1.Image, error) {
	if spec.OS == "" {
		spec.OS = "linux"
	}
	if spec.Architecture == "" {
		spec.Architecture = "amd64"
	}
	if spec.Created.IsZero() {
		spec.Created = time.Unix(0, 0).UTC()
	}
	if !slices.ContainsFunc(spec.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		spec.Env = append([]string{DefaultPath}, spec.Env...)
	}
	layerData, err := layerTar(spec)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerData)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to build the image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: spec.Created},
			CreatedBy: "hack/buildimage",
			Comment:   "files: " + strings.Join(filePaths(spec.Files), " "),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to add the image layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("failed to read the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = spec.OS
	cf.Architecture = spec.Architecture
	cf.Created = v1.Time{Time: spec.Created}
	cf.Config.Entrypoint = spec.Entrypoint
	cf.Config.Cmd = spec.Cmd
	cf.Config.User = spec.User
	cf.Config.Env = spec.Env
	cf.Config.WorkingDir = spec.WorkingDir
	cf.Config.Labels = spec.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("failed to set the image config: %w", err)
	}
	return img, nil
}

// WriteArchive writes img to path as a docker archive tagged ref (for
// example ghcr.io/cert-manager/csi-driver-spiffe-operator:v0.1.0), creating
// path's directory. The file is replaced atomically.
func WriteArchive(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("failed to parse image reference %q (want registry/repository:tag): %w", ref, err)
	}
	if err := os.MkdirAll(dir(path), 0o755); err != nil {
		return fmt.Errorf("failed to create the directory of %q: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("failed to write image archive %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("failed to write image archive %q: %w", path, err)
	}
	return nil
}

func dir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "."
}

func filePaths(files []File) []string {
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

// layerTar returns the uncompressed tar of spec's files: parent directories
// first, every entry root-owned and stamped with spec.Created.
func layerTar(spec Spec) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range spec.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("image file path %q must be absolute and clean", f.Path)
		}
		set := 0
		for _, s := range []bool{f.Source != "", f.Data != nil, f.Symlink != ""} {
			if s {
				set++
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("image file %q needs exactly one of Source, Data and Symlink", f.Path)
		}
		name := strings.TrimPrefix(f.Path, "/")
		// Parent directories, outermost first.
		var parents []string
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: spec.Created, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Name: name, ModTime: spec.Created, Format: tar.FormatPAX}
		var data []byte
		switch {
		case f.Symlink != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.Symlink, 0o777
		case f.Source != "":
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, fmt.Errorf("failed to read image file %q: %w", f.Path, err)
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("image file %q: source %q is not a regular file", f.Path, f.Source)
			}
			if f.RequireStatic {
				if err := checkStaticELF(f.Source, spec.Architecture); err != nil {
					return nil, err
				}
			}
			if data, err = os.ReadFile(f.Source); err != nil {
				return nil, fmt.Errorf("failed to read image file %q: %w", f.Path, err)
			}
			hdr.Mode = int64(fi.Mode().Perm())
		default:
			data = f.Data
			hdr.Mode = 0o644
		}
		if f.Mode != 0 {
			hdr.Mode = int64(f.Mode.Perm())
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// elfMachines maps GOARCH names to ELF machines.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkStaticELF returns an error unless file is a statically linked ELF
// executable for arch: an image without a C library cannot run anything
// else, and the error is clearer here than in a pod that never starts.
func checkStaticELF(file, arch string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%q is not an ELF executable (build it with `make build`): %w", file, err)
	}
	defer f.Close()
	if want, ok := elfMachines[arch]; !ok || f.Machine != want {
		return fmt.Errorf("%q is built for %s, not for the image's architecture %s", file, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New(file + " is dynamically linked; the image has no C library: build it with CGO_ENABLED=0 (`make build`)")
		}
	}
	return nil
}
