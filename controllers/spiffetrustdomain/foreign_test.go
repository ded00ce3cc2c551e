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
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// helmCSIDriver is the CSIDriver csi-driver-spiffe's Helm chart installs.
func helmCSIDriver() *storagev1.CSIDriver {
	return &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{
		Name:        "spiffe.csi.cert-manager.io",
		Labels:      map[string]string{LabelManagedBy: "Helm", "app.kubernetes.io/name": "cert-manager-csi-driver-spiffe"},
		Annotations: map[string]string{helmReleaseNameAnnotation: "cert-manager-csi-driver-spiffe", helmReleaseNamespaceAnnotation: "cert-manager"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate},
			{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate},
			{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate},
		},
	}}
}

func TestForeignObjects(t *testing.T) {
	t.Parallel()
	td := testTrustDomain()
	ours := func(mutate ...func(*metav1.ObjectMeta)) *metav1.ObjectMeta {
		m := &metav1.ObjectMeta{Name: "x", Labels: childLabels(td.Name, operand.ComponentDriver)}
		for _, f := range mutate {
			f(m)
		}
		return m
	}
	controller := func(kind, name, uid string) func(*metav1.ObjectMeta) {
		return func(m *metav1.ObjectMeta) {
			m.OwnerReferences = []metav1.OwnerReference{{APIVersion: spiffev1alpha1.GroupVersion.String(), Kind: kind, Name: name, UID: types.UID(uid), Controller: ptr.To(true)}}
		}
	}
	tests := map[string]struct {
		obj         metav1.Object
		wantForeign bool
		wantManager string
	}{
		"a child td controls":                                    {obj: ours(controller(spiffev1alpha1.Kind, td.Name, string(td.UID)))},
		"a child of an earlier object of the same name":          {obj: ours(controller(spiffev1alpha1.Kind, td.Name, "uid-0"))},
		"the operator's child whose owner reference was removed": {obj: ours()},
		"a Helm release's CSIDriver": {
			obj: helmCSIDriver(), wantForeign: true,
			wantManager: `Helm release cert-manager/cert-manager-csi-driver-spiffe, field managers "helm", "kubectl-edit"`,
		},
		"another SpiffeTrustDomain's child": {
			obj: ours(controller(spiffev1alpha1.Kind, "other", "uid-9")), wantForeign: true,
			wantManager: `app.kubernetes.io/managed-by: csi-driver-spiffe-operator, controlled by SpiffeTrustDomain "other"`,
		},
		"labelled for another SpiffeTrustDomain": {
			obj:         ours(func(m *metav1.ObjectMeta) { m.Labels[LabelTrustDomainObject] = "other" }),
			wantForeign: true, wantManager: `app.kubernetes.io/managed-by: csi-driver-spiffe-operator`,
		},
		"a user's, created with kubectl": {
			obj:         &metav1.ObjectMeta{Name: "x", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-create"}}},
			wantForeign: true, wantManager: `field manager "kubectl-create"`,
		},
		"nothing known": {obj: &metav1.ObjectMeta{Name: "x"}, wantForeign: true, wantManager: "manager unknown"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := isForeign(tc.obj, td); got != tc.wantForeign {
				t.Errorf("isForeign = %v, want %v", got, tc.wantForeign)
			}
			if tc.wantManager != "" {
				if got := describeManager(tc.obj); got != tc.wantManager {
					t.Errorf("describeManager =\n%s\nwant\n%s", got, tc.wantManager)
				}
			}
		})
	}
}

func TestForeignMessage(t *testing.T) {
	t.Parallel()
	csid := foreignObject{Key: childKey{kindCSIDriver, "", "spiffe.csi.cert-manager.io"}, Manager: describeManager(helmCSIDriver())}
	ds := foreignObject{Key: childKey{kindDaemonSet, "csi-driver-spiffe", "foo-bar-driver"}, Manager: `field manager "helm"`}
	tests := map[string]struct {
		found []foreignObject
		want  string
	}{
		"a Helm release's CSIDriver": {found: []foreignObject{csid}, want: `CSIDriver "spiffe.csi.cert-manager.io" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field managers "helm", "kubectl-edit") ` +
			`already exists and was not created by this operator, which never takes over another's object: ` +
			`remove it (for csi-driver-spiffe's Helm chart, follow docs/migration.md), or recreate this SpiffeTrustDomain with another spec.driver.name; nothing is applied until then`},
		"a DaemonSet of the same name": {found: []foreignObject{ds}, want: `DaemonSet "csi-driver-spiffe/foo-bar-driver" (field manager "helm") ` +
			`already exists and was not created by this operator, which never takes over another's object: ` +
			`remove it, or recreate this SpiffeTrustDomain under another name; nothing is applied until then`},
		"both": {found: []foreignObject{csid, ds}, want: `CSIDriver "spiffe.csi.cert-manager.io" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field managers "helm", "kubectl-edit"), ` +
			`DaemonSet "csi-driver-spiffe/foo-bar-driver" (field manager "helm") already exist and were not created by this operator, which never takes over another's object: ` +
			`remove them (for csi-driver-spiffe's Helm chart, follow docs/migration.md), or recreate this SpiffeTrustDomain with another spec.driver.name; nothing is applied until then`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := foreignMessage(tc.found); got != tc.want {
				t.Errorf("foreignMessage =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
