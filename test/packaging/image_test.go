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

package packaging

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/buildimage/image"
)

// runtimeStage is the final stage of a Dockerfile: what ends up in the image.
type runtimeStage struct {
	base       string
	copies     [][2]string // source in the builder stage, destination
	labels     map[string]string
	user       string
	entrypoint []string
}

// instructions splits a Dockerfile into instructions, joining continued
// lines and dropping comments.
func instructions(df string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	for _, line := range strings.Split(df, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var labelRE = regexp.MustCompile(`([A-Za-z0-9_.-]+)="((?:[^"\\]|\\.)*)"`)

// parseRuntimeStage returns the final stage of df with ARGs substituted by
// args (or their defaults). Instructions the image tool does not reproduce
// fail the test.
func parseRuntimeStage(t *testing.T, df string, args map[string]string) (runtimeStage, map[string]string) {
	t.Helper()
	var st runtimeStage
	builderVars := map[string]string{}
	vars := map[string]string{}
	for _, in := range instructions(df) {
		op, arg := in[0], in[1]
		if op == "FROM" {
			st = runtimeStage{base: strings.Fields(arg)[0], labels: map[string]string{}}
			builderVars = maps.Clone(vars)
			vars = map[string]string{}
			continue
		}
		if op == "WORKDIR" {
			vars["WORKDIR"] = arg
		}
		expand := func(s string) string {
			return os.Expand(s, func(k string) string { return vars[k] })
		}
		switch op {
		case "ARG":
			k, def, _ := strings.Cut(arg, "=")
			if v, ok := args[k]; ok {
				def = v
			}
			vars[k] = def
		case "COPY":
			f := strings.Fields(arg)
			if !strings.HasPrefix(f[0], "--from=") || len(f) != 3 {
				st.copies = append(st.copies, [2]string{"(from the build context) " + arg, ""})
				continue
			}
			st.copies = append(st.copies, [2]string{f[1], f[2]})
		case "LABEL":
			for _, m := range labelRE.FindAllStringSubmatch(arg, -1) {
				st.labels[m[1]] = expand(m[2])
			}
		case "USER":
			st.user = expand(arg)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(arg), &st.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s is not in exec (JSON) form: %v", arg, err)
			}
		case "RUN", "WORKDIR", "ENV":
			// Allowed in the builder stage only; checked below.
			st.copies = append(st.copies, [2]string{op + " " + arg, "(not reproduced by hack/buildimage)"})
		default:
			t.Fatalf("Dockerfile instruction %s %s is not understood by this test: teach it and hack/buildimage", op, arg)
		}
	}
	return st, builderVars
}

// makeVar returns the value of `NAME ?= value` in the Makefile.
func makeVar(t *testing.T, makefile, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` \?= (.+)$`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatalf("the Makefile sets no %s", name)
	}
	return strings.TrimSpace(m[1])
}

// makeRecipe returns the first recipe line of target.
func makeRecipe(t *testing.T, makefile, target string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + target + `:.*\n\t(.+)$`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatalf("the Makefile has no %s target with a recipe", target)
	}
	return m[1]
}

// The Dockerfile and hack/buildimage (`make image`) describe the same image:
// the image the tool builds has the Dockerfile's base (scratch: exactly one
// layer), files, user, entrypoint and labels, for the version and the
// reference the Makefile and config/ use, and packs the binary `make build`
// writes.
func TestDockerfileEqualsBuiltImage(t *testing.T) {
	root := repoRoot(t)
	makefileData, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	makefile := string(makefileData)
	version := makeVar(t, makefile, "VERSION")
	img := makeVar(t, makefile, "IMG")
	dfData, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	st, builder := parseRuntimeStage(t, string(dfData), map[string]string{"VERSION": version})

	// The reference: the Makefile's IMG, the tool's default, config/'s image.
	if img != image.ProductReference {
		t.Errorf("Makefile IMG = %s, hack/buildimage builds %s", img, image.ProductReference)
	}
	var kust struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	kdata, err := os.ReadFile(filepath.Join(root, "config", "manager", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(kdata, &kust); err != nil {
		t.Fatal(err)
	}
	if len(kust.Images) != 1 || kust.Images[0].NewName+":"+kust.Images[0].NewTag != image.ProductReference {
		t.Errorf("config/manager installs images %+v, hack/buildimage builds %s", kust.Images, image.ProductReference)
	}
	// `make image` packs what `make build` writes, with the Makefile's
	// version and reference.
	buildOut := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(makeRecipe(t, makefile, "build"))
	imageRecipe := makeRecipe(t, makefile, "image")
	if buildOut == nil || !strings.Contains(imageRecipe, "-binary "+buildOut[1]+" ") ||
		!strings.Contains(imageRecipe, "-version $(VERSION) ") || !strings.Contains(imageRecipe, "-tag $(IMG) ") {
		t.Errorf("make image runs %q: want -binary <make build's output> -version $(VERSION) -tag $(IMG)", imageRecipe)
	}

	// The Dockerfile copies the builder's `go build -o` output to the
	// binary path, and nothing else.
	if len(st.copies) != 1 {
		t.Fatalf("the Dockerfile's runtime stage has %q; hack/buildimage makes one COPY --from=builder of the binary", st.copies)
	}
	if want := path.Join(builder["WORKDIR"], buildOut[1]); st.copies[0][0] != want {
		t.Errorf("the Dockerfile copies %s, the builder writes %s", st.copies[0][0], want)
	}

	// Build the image as `make image` does, from a small static binary
	// standing in for bin/csi-driver-spiffe (building the product here would
	// repeat `make build`; its command is compared with the Dockerfile's in
	// TestDockerfile), and read it back from the archive.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module standin\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "csi-driver-spiffe")
	cmd := exec.Command("go", "build", "-o", binary, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build a stand-in binary: %v\n%s", err, out)
	}
	built, err := image.Build(image.Product(binary, version, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := image.WriteArchive(archive, img, built); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatalf("failed to load the archive as %s: %v", img, err)
	}
	cf, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("image platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, st.entrypoint) {
		t.Errorf("image entrypoint = %q, Dockerfile ENTRYPOINT = %q", cf.Config.Entrypoint, st.entrypoint)
	}
	if len(cf.Config.Cmd) != 0 {
		t.Errorf("image cmd = %q, the Dockerfile sets no CMD", cf.Config.Cmd)
	}
	if cf.Config.User != st.user || st.user == "" || strings.HasPrefix(st.user, "0") {
		t.Errorf("image user = %q, Dockerfile USER = %q; want the same non-root user", cf.Config.User, st.user)
	}
	if diff := cmp.Diff(st.labels, cf.Config.Labels); diff != "" {
		t.Errorf("image labels differ from the Dockerfile's LABELs (-Dockerfile +image):\n%s", diff)
	}
	if st.labels["org.opencontainers.image.version"] != version {
		t.Errorf("version label = %q, want the Makefile's VERSION %s", st.labels["org.opencontainers.image.version"], version)
	}
	// Docker gives an image FROM scratch this environment and no more.
	if !slices.Equal(cf.Config.Env, []string{image.DefaultPath}) {
		t.Errorf("image env = %q, want Docker's default for FROM scratch %q", cf.Config.Env, image.DefaultPath)
	}

	// FROM scratch: the only layer is the COPY.
	if st.base != "scratch" {
		t.Fatalf("the Dockerfile's runtime base is %s; hack/buildimage builds FROM scratch", st.base)
	}
	layers, err := loaded.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("the image has %d layers, want 1 (FROM scratch plus one COPY)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	dest := strings.TrimPrefix(st.copies[0][1], "/")
	var entries []string
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, hdr.Name+" "+strconv.FormatInt(hdr.Mode, 8)+" "+strconv.Itoa(hdr.Uid)+":"+strconv.Itoa(hdr.Gid))
		if hdr.Name == dest {
			got, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s in the image differs from the binary packed", dest)
			}
		}
	}
	// Docker's COPY creates the parent directories root-owned, 0755, and
	// keeps the binary's mode (go build: 0755).
	wantEntries := []string{"usr/ 755 0:0", "usr/local/ 755 0:0", "usr/local/bin/ 755 0:0", dest + " 755 0:0"}
	if !slices.Equal(entries, wantEntries) || "/"+dest != image.ProductBinaryPath {
		t.Errorf("image files = %q, want %q (the Dockerfile copies to /%s)", entries, wantEntries, dest)
	}
}

// The tool refuses what cannot run in an image without a C library.
func TestBuildImageRefusesNonStaticBinary(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := image.Build(image.Product(script, "0.1.0", "amd64"))
	if err == nil || !strings.Contains(err.Error(), "not an ELF executable") {
		t.Errorf("packing a script: err = %v, want it refused as not an ELF executable", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	sh, err = filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	_, err = image.Build(image.Product(sh, "0.1.0", "amd64"))
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") && !strings.Contains(err.Error(), "built for") {
		t.Errorf("packing %s (dynamically linked): err = %v, want it refused", sh, err)
	}
}
