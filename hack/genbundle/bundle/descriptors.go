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

package bundle

import (
	"fmt"
	"go/ast"
	"reflect"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"golang.org/x/tools/go/packages"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-tools/pkg/loader"
	"sigs.k8s.io/controller-tools/pkg/markers"
)

// csvMarkerName is operator-sdk's marker for CSV descriptors:
//
//	+operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Trust Domain",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
//
// On a root type it sets the CRD's displayName and resources.
const csvMarkerName = "operator-sdk:csv:customresourcedefinitions"

// csvMarker is the marker's arguments.
type csvMarker struct {
	Type         string     `marker:"type,optional"`
	DisplayName  string     `marker:"displayName,optional"`
	XDescriptors []string   `marker:"xDescriptors,optional"`
	Resources    [][]string `marker:"resources,optional"`
}

// apiPackage holds the API types.
const apiPackage = "./api/v1alpha1"

// typeInfos loads the API package and returns its types by name.
func typeInfos(root string) (map[string]*markers.TypeInfo, error) {
	pkgs, err := loader.LoadRootsWithConfig(&packages.Config{Dir: root}, apiPackage)
	if err != nil {
		return nil, fmt.Errorf("failed to load %s: %w", apiPackage, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("loading %s returned %d packages", apiPackage, len(pkgs))
	}
	reg := &markers.Registry{}
	for _, target := range []markers.TargetType{markers.DescribesType, markers.DescribesField} {
		def, err := markers.MakeDefinition(csvMarkerName, target, csvMarker{})
		if err != nil {
			return nil, fmt.Errorf("failed to define marker: %w", err)
		}
		if err := reg.Register(def); err != nil {
			return nil, fmt.Errorf("failed to register marker: %w", err)
		}
	}
	col := &markers.Collector{Registry: reg}
	infos := map[string]*markers.TypeInfo{}
	if err := markers.EachType(col, pkgs[0], func(info *markers.TypeInfo) { infos[info.Name] = info }); err != nil {
		return nil, fmt.Errorf("failed to read markers of %s: %w", apiPackage, err)
	}
	if loader.PrintErrors(pkgs) {
		return nil, fmt.Errorf("%s has errors", apiPackage)
	}
	return infos, nil
}

func setOwnedCRDs(csv *operatorsv1alpha1.ClusterServiceVersion, root string, crds []*apiextensionsv1.CustomResourceDefinition) error {
	infos, err := typeInfos(root)
	if err != nil {
		return err
	}
	var owned []operatorsv1alpha1.CRDDescription
	for _, crd := range crds {
		kind := crd.Spec.Names.Kind
		info, ok := infos[kind]
		if !ok {
			return fmt.Errorf("no Go type %s in %s for CRD %q", kind, apiPackage, crd.Name)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			desc := operatorsv1alpha1.CRDDescription{
				Name:        crd.Name,
				Version:     v.Name,
				Kind:        kind,
				Description: firstParagraph(info.Doc),
			}
			if m, ok := info.Markers.Get(csvMarkerName).(csvMarker); ok {
				desc.DisplayName = m.DisplayName
				for _, r := range m.Resources {
					if len(r) != 3 {
						return fmt.Errorf("type %s: marker resources entry %v must be {Kind,version,plural}", kind, r)
					}
					desc.Resources = append(desc.Resources, operatorsv1alpha1.APIResourceReference{Kind: r[0], Version: r[1], Name: r[2]})
				}
			}
			if desc.DisplayName == "" {
				return fmt.Errorf("type %s has no %s:displayName marker", kind, csvMarkerName)
			}
			for _, f := range info.Fields {
				name := jsonName(f.Tag)
				if name != "spec" && name != "status" {
					continue
				}
				if err := collectDescriptors(infos, typeName(f.RawField.Type), "", name, &desc); err != nil {
					return err
				}
			}
			owned = append(owned, desc)
		}
	}
	csv.Spec.CustomResourceDefinitions.Owned = owned
	return nil
}

// collectDescriptors walks the fields of the named type, recording a spec or
// status descriptor for every field with the marker.
func collectDescriptors(infos map[string]*markers.TypeInfo, typ, prefix, section string, desc *operatorsv1alpha1.CRDDescription) error {
	info, ok := infos[typ]
	if !ok {
		return nil
	}
	for _, f := range info.Fields {
		name := jsonName(f.Tag)
		if name == "" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		// Types shared by spec and status (issuerRef, privateKey) carry
		// spec markers; they describe only the spec.
		if m, ok := f.Markers.Get(csvMarkerName).(csvMarker); ok && m.Type == section {
			d := firstSentence(f.Doc)
			switch section {
			case "spec":
				desc.SpecDescriptors = append(desc.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{Path: path, DisplayName: m.DisplayName, Description: d, XDescriptors: m.XDescriptors})
			case "status":
				desc.StatusDescriptors = append(desc.StatusDescriptors, operatorsv1alpha1.StatusDescriptor{Path: path, DisplayName: m.DisplayName, Description: d, XDescriptors: m.XDescriptors})
			}
		}
		if err := collectDescriptors(infos, typeName(f.RawField.Type), path, section, desc); err != nil {
			return err
		}
	}
	return nil
}

// typeName returns the name of a same-package type expression (T or *T).
func typeName(expr ast.Expr) string {
	switch t := expr.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return typeName(t.X)
	}
	return ""
}

func jsonName(tag reflect.StructTag) string {
	name, _, _ := strings.Cut(tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func firstParagraph(doc string) string {
	p, _, _ := strings.Cut(strings.TrimSpace(doc), "\n\n")
	return strings.Join(strings.Fields(p), " ")
}

func firstSentence(doc string) string {
	p := firstParagraph(doc)
	if i := strings.Index(p, ". "); i >= 0 {
		return p[:i+1]
	}
	return p
}
