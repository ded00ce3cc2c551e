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

// Package kustomize applies kustomizations to a test API server, as
// `kubectl apply -k` does.
package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/genbundle/bundle"
)

// Apply renders a kustomization with the kustomize Go API and
// applies every object with server-side apply, namespaces and CRDs first, as
// `kubectl apply -k` does. It returns the objects, and stops at the first
// object the API server refuses.
func Apply(ctx context.Context, cl client.Client, dir string) ([]*unstructured.Unstructured, error) {
	objs, err := bundle.Render(dir)
	if err != nil {
		return nil, err
	}
	return objs, apply(ctx, cl, objs)
}

// ApplyFile applies every object of a multi-document YAML file with
// server-side apply, namespaces and CRDs first.
func ApplyFile(ctx context.Context, cl client.Client, path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	objs, err := Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("failed to decode %q: %w", path, err)
	}
	return objs, apply(ctx, cl, objs)
}

// Decode reads every object of a multi-document YAML (or JSON) stream,
// skipping empty documents.
func Decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func apply(ctx context.Context, cl client.Client, objs []*unstructured.Unstructured) error {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return applyRank(a) - applyRank(b) })
	for _, u := range objs {
		if err := cl.Patch(ctx, u, client.Apply, client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			return fmt.Errorf("the API server refused %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

func applyRank(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	}
	return 2
}
