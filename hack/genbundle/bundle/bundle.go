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

// Package bundle generates the OLM registry+v1 bundle from config/.
package bundle

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// PackageName is the OLM package of the operator.
const PackageName = "csi-driver-spiffe-operator"

// Options configure the generation.
type Options struct {
	// Root is the repository root.
	Root string
	// Version is the operator's semantic version, without "v".
	Version string
	// Channels is a comma-separated list of OLM channels.
	Channels string
	// DefaultChannel is the default OLM channel.
	DefaultChannel string
}

// Annotations returns the bundle's metadata annotations, which the
// bundle.Dockerfile repeats as labels.
func Annotations(opts Options) map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         PackageName,
		"operators.operatorframework.io.bundle.channels.v1":        opts.Channels,
		"operators.operatorframework.io.bundle.channel.default.v1": opts.DefaultChannel,
		"operators.operatorframework.io.metrics.builder":           "genbundle",
		"operators.operatorframework.io.metrics.mediatype.v1":      "metrics+v1",
		"operators.operatorframework.io.metrics.project_layout":    "go.kubebuilder.io/v4",
	}
}

// Write generates the bundle and replaces bundle/ and bundle.Dockerfile.
func Write(opts Options) error {
	files, err := Generate(opts)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(opts.Root, "bundle")); err != nil {
		return fmt.Errorf("failed to remove old bundle: %w", err)
	}
	for name, data := range files {
		path := filepath.Join(opts.Root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("failed to create directory for %q: %w", name, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("failed to write %q: %w", name, err)
		}
	}
	return nil
}

// Generate returns the bundle's files by path relative to the repository
// root: bundle/manifests/*, bundle/metadata/annotations.yaml and
// bundle.Dockerfile.
func Generate(opts Options) (map[string][]byte, error) {
	v, err := semver.Parse(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("failed to parse version %q: %w", opts.Version, err)
	}
	objs, err := render(filepath.Join(opts.Root, "config", "manifests"))
	if err != nil {
		return nil, err
	}
	csv, err := readBaseCSV(opts.Root)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}

	parts, err := classify(objs)
	if err != nil {
		return nil, err
	}
	csv.Name = fmt.Sprintf("%s.v%s", PackageName, v)
	csv.Namespace = ""
	csv.Spec.Version = version.OperatorVersion{Version: v}

	if err := setInstallStrategy(csv, parts); err != nil {
		return nil, err
	}
	if err := setOwnedCRDs(csv, opts.Root, parts.crds); err != nil {
		return nil, err
	}
	if err := setExamples(csv, parts.samples); err != nil {
		return nil, err
	}
	icon, err := os.ReadFile(filepath.Join(opts.Root, "config", "manifests", "bases", "icon.svg"))
	if err != nil {
		return nil, fmt.Errorf("failed to read icon: %w", err)
	}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}}

	data, err := marshalClean(csv)
	if err != nil {
		return nil, err
	}
	files["bundle/manifests/"+PackageName+".clusterserviceversion.yaml"] = data

	for _, crd := range parts.crds {
		data, err := marshalClean(crd)
		if err != nil {
			return nil, err
		}
		files[fmt.Sprintf("bundle/manifests/%s_%s.yaml", crd.Spec.Group, crd.Spec.Names.Plural)] = data
	}
	for _, u := range parts.extra {
		data, err := marshalClean(u)
		if err != nil {
			return nil, err
		}
		gv := strings.ReplaceAll(u.GetAPIVersion(), "/", "_")
		files[fmt.Sprintf("bundle/manifests/%s_%s_%s.yaml", u.GetName(), gv, strings.ToLower(u.GetKind()))] = data
	}

	ann := Annotations(opts)
	data, err = yaml.Marshal(map[string]any{"annotations": ann})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal annotations: %w", err)
	}
	files["bundle/metadata/annotations.yaml"] = data
	files["bundle.Dockerfile"] = dockerfile(ann)
	return files, nil
}

// dockerfile returns the bundle image's Dockerfile, whose labels equal the
// metadata annotations.
func dockerfile(ann map[string]string) []byte {
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Generated by `make bundle` (hack/genbundle). DO NOT EDIT.\n")
	b.WriteString("FROM scratch\n\n")
	b.WriteString("# Core bundle labels: the same as bundle/metadata/annotations.yaml.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "LABEL %s=%s\n", k, ann[k])
	}
	b.WriteString("\n# Copy files to locations specified by labels.\n")
	b.WriteString("COPY bundle/manifests /manifests/\n")
	b.WriteString("COPY bundle/metadata /metadata/\n")
	return []byte(b.String())
}

// render builds a kustomization with the kustomize Go API.
func render(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("failed to render %q: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("failed to convert %s: %w", r.CurId(), err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// Render renders a kustomization directory with the kustomize Go API.
func Render(dir string) ([]*unstructured.Unstructured, error) { return render(dir) }

func readBaseCSV(root string) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	path := filepath.Join(root, "config", "manifests", "bases", PackageName+".clusterserviceversion.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read base CSV: %w", err)
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(data, csv); err != nil {
		return nil, fmt.Errorf("failed to parse base CSV %q: %w", path, err)
	}
	return csv, nil
}

// parts are the rendered objects, sorted by their role in the bundle.
type parts struct {
	deployment     *appsv1.Deployment
	serviceAccount string
	clusterRoles   map[string]*rbacv1.ClusterRole
	roles          map[string]*rbacv1.Role
	clusterBinds   []*rbacv1.ClusterRoleBinding
	roleBinds      []*rbacv1.RoleBinding
	crds           []*apiextensionsv1.CustomResourceDefinition
	samples        []*unstructured.Unstructured
	extra          []*unstructured.Unstructured
}

func classify(objs []*unstructured.Unstructured) (*parts, error) {
	p := &parts{clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}}
	var unbound []*unstructured.Unstructured
	for _, u := range objs {
		var err error
		switch u.GroupVersionKind().GroupKind().String() {
		case "Namespace":
			// OLM creates the namespace of the OperatorGroup.
		case "Deployment.apps":
			if p.deployment != nil {
				return nil, fmt.Errorf("more than one Deployment in config/manifests: %q and %q", p.deployment.Name, u.GetName())
			}
			p.deployment = &appsv1.Deployment{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p.deployment)
		case "ServiceAccount":
			if p.serviceAccount != "" {
				return nil, fmt.Errorf("more than one ServiceAccount in config/manifests: %q and %q", p.serviceAccount, u.GetName())
			}
			p.serviceAccount = u.GetName()
		case "ClusterRole.rbac.authorization.k8s.io":
			cr := &rbacv1.ClusterRole{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cr)
			p.clusterRoles[cr.Name] = cr
			unbound = append(unbound, u)
		case "Role.rbac.authorization.k8s.io":
			r := &rbacv1.Role{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r)
			p.roles[r.Name] = r
		case "ClusterRoleBinding.rbac.authorization.k8s.io":
			b := &rbacv1.ClusterRoleBinding{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b)
			p.clusterBinds = append(p.clusterBinds, b)
		case "RoleBinding.rbac.authorization.k8s.io":
			b := &rbacv1.RoleBinding{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b)
			p.roleBinds = append(p.roleBinds, b)
		case "CustomResourceDefinition.apiextensions.k8s.io":
			crd := &apiextensionsv1.CustomResourceDefinition{}
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd)
			p.crds = append(p.crds, crd)
		case "SpiffeTrustDomain.spiffe.csi.cert-manager.io":
			p.samples = append(p.samples, u)
		default:
			p.extra = append(p.extra, u)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to convert %s %q: %w", u.GetKind(), u.GetName(), err)
		}
	}
	if p.deployment == nil || p.serviceAccount == "" {
		return nil, fmt.Errorf("config/manifests must render exactly one operator Deployment and ServiceAccount")
	}
	// ClusterRoles that are not bound to the operator (for example the
	// editor and viewer roles) ship as plain bundle objects.
	bound := map[string]bool{}
	for _, b := range p.clusterBinds {
		if p.bindsOperator(b.Subjects) {
			bound[b.RoleRef.Name] = true
		}
	}
	for _, u := range unbound {
		if !bound[u.GetName()] {
			u.SetNamespace("")
			p.extra = append(p.extra, u)
		}
	}
	for _, u := range p.extra {
		// OLM installs namespaced bundle objects into the operator's namespace.
		u.SetNamespace("")
	}
	return p, nil
}

func (p *parts) bindsOperator(subjects []rbacv1.Subject) bool {
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == p.serviceAccount {
			return true
		}
	}
	return false
}

func setInstallStrategy(csv *operatorsv1alpha1.ClusterServiceVersion, p *parts) error {
	var clusterPerms []operatorsv1alpha1.StrategyDeploymentPermissions
	for _, b := range p.clusterBinds {
		if !p.bindsOperator(b.Subjects) {
			continue
		}
		cr, ok := p.clusterRoles[b.RoleRef.Name]
		if !ok {
			return fmt.Errorf("ClusterRoleBinding %q refers to ClusterRole %q, which config/manifests does not render", b.Name, b.RoleRef.Name)
		}
		clusterPerms = append(clusterPerms, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: p.serviceAccount, Rules: cr.Rules})
	}
	var perms []operatorsv1alpha1.StrategyDeploymentPermissions
	for _, b := range p.roleBinds {
		if !p.bindsOperator(b.Subjects) {
			continue
		}
		r, ok := p.roles[b.RoleRef.Name]
		if !ok {
			return fmt.Errorf("RoleBinding %q refers to Role %q, which config/manifests does not render", b.Name, b.RoleRef.Name)
		}
		perms = append(perms, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: p.serviceAccount, Rules: r.Rules})
	}
	if len(clusterPerms) == 0 {
		return fmt.Errorf("no ClusterRole is bound to the operator's ServiceAccount %q", p.serviceAccount)
	}
	d := p.deployment
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: operatorsv1alpha1.StrategyDetailsDeployment{
			DeploymentSpecs:    []operatorsv1alpha1.StrategyDeploymentSpec{{Name: d.Name, Spec: d.Spec, Label: d.Labels}},
			ClusterPermissions: clusterPerms,
			Permissions:        perms,
		},
	}

	// relatedImages: the operator image and every RELATED_IMAGE_* operand.
	related := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			related[PackageName] = c.Image
			if csv.Annotations == nil {
				csv.Annotations = map[string]string{}
			}
			csv.Annotations["containerImage"] = c.Image
		}
		for _, e := range c.Env {
			if name, ok := strings.CutPrefix(e.Name, "RELATED_IMAGE_"); ok {
				related[strings.ReplaceAll(strings.ToLower(name), "_", "-")] = e.Value
			}
		}
	}
	if _, ok := related[PackageName]; !ok {
		return fmt.Errorf("the operator Deployment %q has no container named manager", d.Name)
	}
	names := make([]string, 0, len(related))
	for n := range related {
		names = append(names, n)
	}
	sort.Strings(names)
	csv.Spec.RelatedImages = nil
	for _, n := range names {
		csv.Spec.RelatedImages = append(csv.Spec.RelatedImages, operatorsv1alpha1.RelatedImage{Name: n, Image: related[n]})
	}
	return nil
}

func setExamples(csv *operatorsv1alpha1.ClusterServiceVersion, samples []*unstructured.Unstructured) error {
	if len(samples) == 0 {
		return fmt.Errorf("config/samples rendered no SpiffeTrustDomain for alm-examples")
	}
	list := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		list = append(list, s.Object)
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("failed to marshal alm-examples: %w", err)
	}
	csv.Annotations["alm-examples"] = string(data)
	return nil
}

// marshalClean marshals obj to YAML without status and creationTimestamp.
func marshalClean(obj any) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			m = u.Object
		} else {
			return nil, fmt.Errorf("failed to convert %T: %w", obj, err)
		}
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		if len(md) == 0 {
			delete(m, "metadata")
		}
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal %T: %w", obj, err)
	}
	return data, nil
}
