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

package spiffetrustdomain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// Helm's marks on the objects of a release.
const (
	helmReleaseNameAnnotation      = "meta.helm.sh/release-name"
	helmReleaseNamespaceAnnotation = "meta.helm.sh/release-namespace"
)

// A foreign object is one the operator would create for a SpiffeTrustDomain
// (same kind, namespace and name) but did not: another product's, a Helm
// release's (csi-driver-spiffe's chart creates the CSIDriver of the same
// driver name), or a user's. Server-side apply with force would silently take
// its fields over, so the operator never applies anything while one is in
// the way; it says which object and who manages it (issue 16).

// foreignRecheck is when a SpiffeTrustDomain with foreign objects in its way
// looks again: they are not watched.
const foreignRecheck = 10 * time.Second

// foreignObject is an object in the way, and who manages it.
type foreignObject struct {
	Key childKey
	// Manager describes who manages it, e.g.
	// `Helm release cert-manager/csi-driver-spiffe, field manager "helm"`.
	Manager string
}

// String names it in condition messages.
func (f foreignObject) String() string {
	return fmt.Sprintf("%s %q (%s)", f.Key.Kind, keyName(f.Key), f.Manager)
}

// isForeign reports whether obj, found where the operator would create a
// child of td, was not created by the operator for td: neither controlled by
// td, nor left by an earlier object of td's name (garbage the operator
// replaces), nor labelled as td's child (the operator's own, whose owner
// reference was removed: adopted back).
func isForeign(obj metav1.Object, td *spiffev1alpha1.SpiffeTrustDomain) bool {
	if isControlledBy(obj, td) || isStale(obj, td) {
		return false
	}
	if metav1.GetControllerOfNoCopy(obj) != nil {
		return true
	}
	l := obj.GetLabels()
	return l[LabelManagedBy] != ManagedBy || l[LabelTrustDomainObject] != td.Name
}

// describeManager names who manages obj, from what Helm and the API server
// record on it: the Helm release, the app.kubernetes.io/managed-by label,
// the controller, and the field managers in managedFields.
func describeManager(obj metav1.Object) string {
	var parts []string
	a, l := obj.GetAnnotations(), obj.GetLabels()
	if name := a[helmReleaseNameAnnotation]; name != "" {
		parts = append(parts, "Helm release "+a[helmReleaseNamespaceAnnotation]+"/"+name)
	} else if by := l[LabelManagedBy]; by != "" {
		parts = append(parts, LabelManagedBy+": "+by)
	}
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		parts = append(parts, fmt.Sprintf("controlled by %s %q", ref.Kind, ref.Name))
	}
	var managers []string
	for _, mf := range obj.GetManagedFields() {
		if m := fmt.Sprintf("%q", mf.Manager); !slices.Contains(managers, m) {
			managers = append(managers, m)
		}
	}
	switch len(managers) {
	case 0:
	case 1:
		parts = append(parts, "field manager "+managers[0])
	default:
		parts = append(parts, "field managers "+strings.Join(managers, ", "))
	}
	if len(parts) == 0 {
		return "manager unknown"
	}
	return strings.Join(parts, ", ")
}

// foreignMessage is the Ready message while foreign objects are in the way.
func foreignMessage(found []foreignObject) string {
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.String()
	}
	verb, it := "exist and were", "them"
	if len(found) == 1 {
		verb, it = "exists and was", "it"
	}
	remedy := "remove " + it + ", or recreate this SpiffeTrustDomain under another name"
	if slices.ContainsFunc(found, func(f foreignObject) bool { return f.Key.Kind == kindCSIDriver }) {
		remedy = "remove " + it + " (for csi-driver-spiffe's Helm chart, follow docs/migration.md), or recreate this SpiffeTrustDomain with another spec.driver.name"
	}
	return fmt.Sprintf("%s already %s not created by this operator, which never takes over another's object: %s; nothing is applied until then",
		strings.Join(names, ", "), verb, remedy)
}

// foreignChildren returns the children of td that exist but are foreign, in
// the order of children. The cache holds only the operator's own objects
// (and every CSIDriver), so a child missing from it is looked up in the API
// server: once, when it is first created, and whenever it is missing.
func (r *Reconciler) foreignChildren(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain, children []child) ([]foreignObject, error) {
	var found []foreignObject
	for _, c := range children {
		if c.Apply == nil {
			continue
		}
		obj := newChildObject(c.Key.Kind)
		if obj == nil {
			return nil, fmt.Errorf("no object for kind %s, this is a bug, please report", c.Key.Kind)
		}
		key := types.NamespacedName{Namespace: c.Key.Namespace, Name: c.Key.Name}
		err := r.Client.Get(ctx, key, obj)
		if err == nil && !isForeign(obj, td) {
			continue
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("failed to get %s %q: %w", c.Key.Kind, keyName(c.Key), err)
		}
		// Not cached, or foreign: the API server has the whole object,
		// managedFields included (the cache strips them).
		if err := r.APIReader.Get(ctx, key, obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("failed to get %s %q: %w", c.Key.Kind, keyName(c.Key), err)
		}
		if isForeign(obj, td) {
			found = append(found, foreignObject{Key: c.Key, Manager: describeManager(obj)})
		}
	}
	return found, nil
}
