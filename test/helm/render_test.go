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

// Package helm tests the Helm chart in deploy/charts with the Helm Go SDK (no
// helm binary): lint, rendering against config/default and with every value,
// the values schema, and install, upgrade and uninstall on a real API server.
// It is a package of its own because the Helm SDK is a big dependency: only
// this package pays for its build (about 6 minutes from a cold build cache on
// 2 shared cores, measured with `time go test ./test/helm`; seconds when
// cached).
package helm

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/genbundle/bundle"
	helmchart "github.com/cert-manager/csi-driver-spiffe-operator/hack/helmchart/chart"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
)

const (
	releaseName = "csi-driver-spiffe"
	// namespace is config/default's namespace, so that the chart's objects
	// can equal the kustomize build's.
	namespace = "csi-driver-spiffe-system"
)

// helmOnlyLabels are the labels the chart adds to every object, on top of
// config/default's (documented in the chart's README, "What differs from
// config/default"). app.kubernetes.io/managed-by is Helm's instead of
// kustomize's.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := env.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func chartDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), helmchart.Dir)
}

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := loader.LoadDir(chartDir(t))
	if err != nil {
		t.Fatalf("failed to load the chart: %v", err)
	}
	return ch
}

// rendered is a chart rendered as `helm template` does.
type rendered struct {
	objs  []*unstructured.Unstructured
	hooks []*release.Hook
}

// render renders the chart with vals client-side, as `helm template` does,
// validating vals against values.schema.json.
func render(t testing.TB, vals map[string]any) (*rendered, error) {
	t.Helper()
	in := action.NewInstall(action.NewConfiguration())
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName = releaseName
	in.Namespace = namespace
	in.KubeVersion = kubeVersion(t)
	rel, err := in.Run(loadChart(t), vals)
	if err != nil {
		return nil, err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		t.Fatalf("Install returned a %T, want a *release.Release", rel)
	}
	objs, err := decode(r.Manifest)
	if err != nil {
		t.Fatalf("the rendered manifest is not valid YAML: %v\n%s", err, r.Manifest)
	}
	return &rendered{objs: objs, hooks: r.Hooks}, nil
}

// kubeVersion is the Kubernetes version of our k8s.io modules and of the
// API server of the install test, instead of Helm's client-side default.
func kubeVersion(t testing.TB) *common.KubeVersion {
	t.Helper()
	v, err := common.ParseKubeVersion("v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustRender(t testing.TB, vals map[string]any) *rendered {
	t.Helper()
	r, err := render(t, vals)
	if err != nil {
		t.Fatalf("failed to render the chart: %v", err)
	}
	return r
}

func decode(manifest string) ([]*unstructured.Unstructured, error) {
	return kustomize.Decode(strings.NewReader(manifest))
}

func key(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
}

func (r *rendered) get(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range r.objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("the chart renders no %s %s", kind, name)
	return nil
}

func (r *rendered) has(kind string) bool {
	return slices.ContainsFunc(r.objs, func(u *unstructured.Unstructured) bool { return u.GetKind() == kind })
}

// normalize removes what the chart adds on purpose (Helm's labels, the CRD's
// resource policy) and empty label and annotation maps.
func normalize(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	labels := u.GetLabels()
	for _, l := range helmOnlyLabels {
		delete(labels, l)
	}
	if len(labels) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "labels")
	} else {
		u.SetLabels(labels)
	}
	annotations := u.GetAnnotations()
	delete(annotations, "helm.sh/resource-policy")
	if len(annotations) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	} else {
		u.SetAnnotations(annotations)
	}
	return u
}

// With default values the chart renders config/default's objects, field by
// field, except the Namespace and the documented Helm-only metadata.
func TestDefaultValuesRenderConfigDefault(t *testing.T) {
	t.Parallel()
	kustomized, err := bundle.Render(filepath.Join(repoRoot(t), "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*unstructured.Unstructured{}
	for _, u := range kustomized {
		if u.GetKind() == "Namespace" {
			// Helm installs into the release namespace and does not own it.
			continue
		}
		want[key(u)] = normalize(roundTrip(t, u))
	}
	r := mustRender(t, nil)
	if len(r.hooks) != 0 {
		t.Errorf("the chart renders %d hooks with default values, want none", len(r.hooks))
	}
	got := map[string]*unstructured.Unstructured{}
	for _, u := range r.objs {
		if _, dup := got[key(u)]; dup {
			t.Errorf("the chart renders %s twice", key(u))
		}
		got[key(u)] = normalize(u)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))); diff != "" {
		t.Fatalf("the chart's objects differ from config/default's (-config/default +chart):\n%s", diff)
	}
	for k, w := range want {
		if diff := cmp.Diff(w.Object, got[k].Object); diff != "" {
			t.Errorf("%s differs from config/default's (-config/default +chart):\n%s", k, diff)
		}
	}
	// The Helm-only labels really are there (normalize does not hide a
	// missing one).
	for _, u := range r.objs {
		labels := u.GetLabels()
		for _, l := range helmOnlyLabels {
			if labels[l] == "" {
				t.Errorf("%s lacks the label %s", key(u), l)
			}
		}
		if labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("%s: app.kubernetes.io/managed-by = %q, want Helm", key(u), labels["app.kubernetes.io/managed-by"])
		}
	}
}

// roundTrip gives kustomize's objects the number types of decoded YAML
// (int64), like the chart's.
func roundTrip(t testing.TB, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	data, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(string(data))
	if err != nil || len(objs) != 1 {
		t.Fatalf("failed to decode %s: %v", key(u), err)
	}
	return objs[0]
}

func TestLint(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{
		"default values":     nil,
		"every value set":    everyValue(),
		"metrics turned off": {"metrics": map[string]any{"enabled": false}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			lint.KubeVersion = kubeVersion(t)
			res := lint.Run([]string{chartDir(t)}, vals)
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
			for _, err := range res.Errors {
				t.Errorf("lint: %v", err)
			}
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
		})
	}
}

// The generated files of the chart are up to date (as `make verify` checks).
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	version, err := makefileVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := helmchart.Generate(helmchart.Options{Root: root, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, helmchart.Dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run make helm-chart\n%s", name, cmp.Diff(string(want), string(got)))
		}
	}
}

func makefileVersion(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VERSION ?= "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("the Makefile sets no VERSION")
}
