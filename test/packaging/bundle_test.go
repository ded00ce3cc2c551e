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

// Package packaging tests what users install: the kustomize install
// (config/default), the OLM bundle (bundle/) and the Dockerfile.
package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/genbundle/bundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := env.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadBundle(t *testing.T) *manifests.Bundle {
	t.Helper()
	b, err := manifests.GetBundleFromDir(filepath.Join(repoRoot(t), "bundle"))
	if err != nil {
		t.Fatalf("failed to load bundle/: %v", err)
	}
	return b
}

// The bundle passes operator-sdk's `bundle validate` checks: the default
// validators and the optional "operatorframework" suite.
func TestBundlePassesOperatorFrameworkValidators(t *testing.T) {
	b := loadBundle(t)
	validators := slices.Concat(validation.DefaultBundleValidators, validator.Validators{
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.GoodPracticesValidator,
	})
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.37"})
	results := validators.Validate(objs...)
	for _, r := range results {
		for _, e := range r.Errors {
			t.Errorf("%s: %s", r.Name, e.Error())
		}
		for _, w := range r.Warnings {
			if w.Level == errors.LevelWarn {
				t.Logf("warning: %s: %s", r.Name, w.Error())
			}
		}
	}
	if len(results) == 0 {
		t.Fatal("validators returned no results: nothing was validated")
	}
}

// The committed bundle is what `make bundle` generates now.
func TestBundleIsUpToDate(t *testing.T) {
	root := repoRoot(t)
	files, err := bundle.Generate(bundle.Options{Root: root, Version: csvVersion(t), Channels: "candidate", DefaultChannel: "candidate"})
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	err = filepath.Walk(filepath.Join(root, "bundle"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		onDisk = append(onDisk, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	onDisk = append(onDisk, "bundle.Dockerfile")
	var want []string
	for name, data := range files {
		want = append(want, name)
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Errorf("%s: %v (run make bundle)", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s is out of date: run make bundle", name)
		}
	}
	sort.Strings(want)
	sort.Strings(onDisk)
	if !slices.Equal(want, onDisk) {
		t.Errorf("bundle files = %v, want %v (run make bundle)", onDisk, want)
	}
}

func csvVersion(t *testing.T) string {
	t.Helper()
	return loadBundle(t).CSV.Spec.Version.String()
}

// The bundle.Dockerfile labels are exactly the metadata annotations.
func TestBundleDockerfileLabelsEqualAnnotations(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "bundle", "metadata", "annotations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ann struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(data, &ann); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(root, "bundle.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for _, line := range strings.Split(string(df), "\n") {
		if kv, ok := strings.CutPrefix(line, "LABEL "); ok {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
	}
	if len(labels) == 0 || len(labels) != len(ann.Annotations) {
		t.Fatalf("bundle.Dockerfile has %d labels, annotations.yaml has %d", len(labels), len(ann.Annotations))
	}
	for k, v := range ann.Annotations {
		if labels[k] != v {
			t.Errorf("label %s = %q, annotation = %q", k, labels[k], v)
		}
	}
	if ann.Annotations["operators.operatorframework.io.bundle.mediatype.v1"] != "registry+v1" {
		t.Errorf("mediatype = %q, want registry+v1", ann.Annotations["operators.operatorframework.io.bundle.mediatype.v1"])
	}
}

// The CSV says what OLM and OperatorHub users need, and installs only in
// AllNamespaces mode (the operator is cluster-scoped).
func TestCSVContent(t *testing.T) {
	csv := loadBundle(t).CSV
	for _, im := range csv.Spec.InstallModes {
		if want := im.Type == operatorsv1alpha1.InstallModeTypeAllNamespaces; im.Supported != want {
			t.Errorf("install mode %s supported = %v, want %v", im.Type, im.Supported, want)
		}
	}
	if csv.Spec.MinKubeVersion == "" || len(csv.Spec.Maintainers) == 0 || len(csv.Spec.Links) == 0 || len(csv.Spec.Keywords) == 0 || len(csv.Spec.Icon) == 0 {
		t.Errorf("CSV lacks minKubeVersion, maintainers, links, keywords or icon")
	}
	if csv.Annotations["alm-examples"] == "" || !strings.Contains(csv.Annotations["alm-examples"], `"trustDomain": "foo.bar"`) {
		t.Errorf("alm-examples does not hold the foo.bar sample: %q", csv.Annotations["alm-examples"])
	}
	owned := csv.Spec.CustomResourceDefinitions.Owned
	if len(owned) != 1 || owned[0].Kind != "SpiffeTrustDomain" || owned[0].DisplayName == "" || owned[0].Description == "" {
		t.Fatalf("owned CRDs = %+v, want one described SpiffeTrustDomain", owned)
	}
	var specPaths, statusPaths []string
	for _, d := range owned[0].SpecDescriptors {
		specPaths = append(specPaths, d.Path)
	}
	for _, d := range owned[0].StatusDescriptors {
		statusPaths = append(statusPaths, d.Path)
	}
	for _, p := range []string{"trustDomain", "issuerRef.name", "certificate.duration", "certificate.privateKey.algorithm", "driver.name", "approver.replicas"} {
		if !slices.Contains(specPaths, p) {
			t.Errorf("no spec descriptor for %s (have %v)", p, specPaths)
		}
	}
	for _, p := range []string{"conditions", "driver.readyNodes", "approver.readyReplicas"} {
		if !slices.Contains(statusPaths, p) {
			t.Errorf("no status descriptor for %s (have %v)", p, statusPaths)
		}
	}

	// relatedImages lists every operand image the operator deploys.
	deploy := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deploy) != 1 {
		t.Fatalf("install strategy has %d deployments, want 1", len(deploy))
	}
	related := map[string]bool{}
	for _, ri := range csv.Spec.RelatedImages {
		related[ri.Image] = true
	}
	n := 0
	for _, c := range deploy[0].Spec.Template.Spec.Containers {
		if !related[c.Image] {
			t.Errorf("operator image %s not in relatedImages", c.Image)
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "RELATED_IMAGE_") {
				n++
				if !related[e.Value] {
					t.Errorf("%s=%s not in relatedImages", e.Name, e.Value)
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("operator has %d RELATED_IMAGE_* variables, want 1 (csi-driver-spiffe: the driver needs no sidecar images)", n)
	}
}

// Everything the operator's RBAC markers ask for (config/rbac/role.yaml) is
// granted by the CSV's clusterPermissions: OLM grants only what the CSV says.
func TestCSVClusterPermissionsCoverOperatorRBAC(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	var granted []rbacv1.PolicyRule
	for _, p := range loadBundle(t).CSV.Spec.InstallStrategy.StrategySpec.ClusterPermissions {
		granted = append(granted, p.Rules...)
	}
	for _, want := range role.Rules {
		for _, g := range want.APIGroups {
			for _, r := range want.Resources {
				for _, v := range want.Verbs {
					if !covers(granted, g, r, v, want.ResourceNames) {
						t.Errorf("clusterPermissions do not grant %s %s.%s (names %v)", v, r, g, want.ResourceNames)
					}
				}
			}
		}
	}
}

func covers(rules []rbacv1.PolicyRule, group, resource, verb string, names []string) bool {
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			if len(r.ResourceNames) == 0 {
				return true
			}
			all := len(names) > 0
			for _, n := range names {
				all = all && slices.Contains(r.ResourceNames, n)
			}
			if all {
				return true
			}
		}
	}
	return false
}

var copyRE = regexp.MustCompile(`(?m)^COPY\s+(?:--from=\S+\s+)?(.+)$`)

// No Docker engine runs here, so the Dockerfile is checked statically: every
// COPY source exists, and it builds the binary exactly as `make build` does.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, m := range copyRE.FindAllStringSubmatch(df, -1) {
		if strings.Contains(m[0], "--from=") {
			continue
		}
		fields := strings.Fields(m[1])
		for _, src := range fields[:len(fields)-1] {
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				t.Errorf("COPY source %q does not exist: %v", src, err)
			}
		}
	}
	// Every Go package directory of the binary is copied.
	for _, dir := range []string{"api", "cmd", "controllers", "driver", "approver", "internal"} {
		if !strings.Contains(df, "COPY "+dir+"/ "+dir+"/") {
			t.Errorf("Dockerfile does not copy %s/", dir)
		}
	}

	goBuild := func(line string) string {
		_, cmd, ok := strings.Cut(line, "go build ")
		if !ok {
			return ""
		}
		return "go build " + strings.TrimSpace(cmd)
	}
	var dockerBuild string
	for _, line := range strings.Split(df, "\n") {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build ") {
			dockerBuild = goBuild(line)
		}
	}
	if dockerBuild == "" {
		t.Fatal("no `RUN ... go build` in the Dockerfile")
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var makeBuild string
	inBuild := false
	for _, line := range strings.Split(string(makefile), "\n") {
		if strings.HasPrefix(line, "build:") {
			inBuild = true
			continue
		}
		if inBuild && strings.HasPrefix(line, "\t") && strings.Contains(line, "go build ") || inBuild && strings.Contains(line, "$(GO) build ") {
			makeBuild = goBuild(strings.ReplaceAll(line, "$(GO) build ", "go build "))
			break
		}
	}
	if makeBuild == "" {
		t.Fatal("no go build command in the Makefile's build target")
	}
	norm := strings.NewReplacer("${VERSION}", "VERSION", "$(VERSION)", "VERSION").Replace
	if norm(dockerBuild) != norm(makeBuild) {
		t.Errorf("Dockerfile builds with\n  %s\nmake build runs\n  %s", dockerBuild, makeBuild)
	}
	for _, want := range []string{"USER 65532", "org.opencontainers.image.source", "CGO_ENABLED=0"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
