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
	"errors"
	"strings"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

func testIssuer(ns string, config cmapi.IssuerConfig, ready cmmeta.ConditionStatus) cmapi.GenericIssuer {
	spec := cmapi.IssuerSpec{IssuerConfig: config}
	var conds []cmapi.IssuerCondition
	if ready != "" {
		conds = []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: ready, Reason: "Checked", Message: "by the test", ObservedGeneration: 1}}
	}
	meta := metav1.ObjectMeta{Name: "ca", Namespace: ns, Generation: 1}
	if ns == "" {
		return &cmapi.ClusterIssuer{ObjectMeta: meta, Spec: spec, Status: cmapi.IssuerStatus{Conditions: conds}}
	}
	return &cmapi.Issuer{ObjectMeta: meta, Spec: spec, Status: cmapi.IssuerStatus{Conditions: conds}}
}

var caConfig = cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}

func TestIssuerCondition(t *testing.T) {
	t.Parallel()
	clusterRef := spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	nsRef := spiffev1alpha1.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}
	extRef := spiffev1alpha1.IssuerReference{Name: "pca", Kind: "AWSPCAClusterIssuer", Group: "awspca.cert-manager.io"}
	stale := testIssuer("", caConfig, cmmeta.ConditionTrue)
	stale.SetGeneration(2)

	tests := map[string]struct {
		ref         spiffev1alpha1.IssuerReference
		res         *operand.IssuerResource
		selectorSet bool
		namespaces  []string
		issuers     map[string]cmapi.GenericIssuer
		want        metav1.ConditionStatus
		reason      string
		message     string
	}{
		"a ready ClusterIssuer": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": testIssuer("", caConfig, cmmeta.ConditionTrue)},
			want: metav1.ConditionTrue, reason: spiffev1alpha1.ReasonReady, message: `ClusterIssuer "ca" is ready`,
		},
		"a missing ClusterIssuer": {
			ref:  clusterRef,
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotFound, message: "the configuration is published and takes effect once the issuer exists",
		},
		"a ClusterIssuer that is not ready": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": testIssuer("", caConfig, cmmeta.ConditionFalse)},
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotReady, message: `ClusterIssuer "ca" is not ready (Checked): by the test`,
		},
		"a ClusterIssuer without status": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": testIssuer("", caConfig, "")},
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotReady, message: "is cert-manager running?",
		},
		"a ClusterIssuer changed since cert-manager checked it": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": stale},
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotReady, message: "has not been checked by cert-manager since its last change",
		},
		"a SelfSigned ClusterIssuer, even when ready": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": testIssuer("", cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}, cmmeta.ConditionTrue)},
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerUnsupported, message: "is a SelfSigned issuer",
		},
		"an ACME ClusterIssuer": {
			ref: clusterRef, issuers: map[string]cmapi.GenericIssuer{"": testIssuer("", cmapi.IssuerConfig{ACME: &cmacme.ACMEIssuer{}}, cmmeta.ConditionTrue)},
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerUnsupported, message: "is an ACME issuer",
		},
		"an Issuer without a namespace selector cannot be checked": {
			ref:  nsRef,
			want: metav1.ConditionUnknown, reason: spiffev1alpha1.ReasonIssuerNotChecked, message: "spec.requesterNamespaceSelector is not set",
		},
		"an Issuer with a selector that matches nothing": {
			ref: nsRef, selectorSet: true,
			want: metav1.ConditionUnknown, reason: spiffev1alpha1.ReasonIssuerNotChecked, message: "no namespace matches",
		},
		"an Issuer ready in every selected namespace": {
			ref: nsRef, selectorSet: true, namespaces: []string{"a", "b"},
			issuers: map[string]cmapi.GenericIssuer{"a": testIssuer("a", caConfig, cmmeta.ConditionTrue), "b": testIssuer("b", caConfig, cmmeta.ConditionTrue)},
			want:    metav1.ConditionTrue, reason: spiffev1alpha1.ReasonReady, message: "ready in all 2 namespaces",
		},
		"an Issuer missing from some namespaces, named": {
			ref: nsRef, selectorSet: true, namespaces: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
			issuers: map[string]cmapi.GenericIssuer{"a": testIssuer("a", caConfig, cmmeta.ConditionTrue)},
			want:    metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotFound, message: `Issuer "ca" not found in namespace b, c, d, e, f and 2 more`,
		},
		"an unsupported Issuer wins over a missing one": {
			ref: nsRef, selectorSet: true, namespaces: []string{"a", "b"},
			issuers: map[string]cmapi.GenericIssuer{"b": testIssuer("b", cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}, cmmeta.ConditionTrue)},
			want:    metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerUnsupported, message: `Issuer "ca" in namespace b is a SelfSigned issuer`,
		},
		"an Issuer not ready in one namespace": {
			ref: nsRef, selectorSet: true, namespaces: []string{"a", "b"},
			issuers: map[string]cmapi.GenericIssuer{"a": testIssuer("a", caConfig, cmmeta.ConditionTrue), "b": testIssuer("b", caConfig, cmmeta.ConditionFalse)},
			want:    metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotReady, message: `Issuer "ca" in namespace b is not ready`,
		},
		"a served external issuer is not checked further": {
			ref: extRef, res: &operand.IssuerResource{Resource: "awspcaclusterissuers"},
			want: metav1.ConditionTrue, reason: spiffev1alpha1.ReasonExternalIssuer, message: "does not check that it exists or is ready",
		},
		"an external issuer whose kind is not served": {
			ref:  extRef,
			want: metav1.ConditionFalse, reason: spiffev1alpha1.ReasonIssuerNotFound, message: "serves no kind AWSPCAClusterIssuer in group awspca.cert-manager.io",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := tc.res
			if tc.ref.Group == certManagerGroup {
				res = operand.CertManagerIssuerResource(tc.ref.Kind)
			}
			got, err := issuerCondition(tc.ref, res, tc.selectorSet, tc.namespaces, func(ns string) (cmapi.GenericIssuer, error) {
				return tc.issuers[ns], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want || got.Reason != tc.reason || !strings.Contains(got.Message, tc.message) {
				t.Errorf("got %s/%s %q, want %s/%s containing %q", got.Status, got.Reason, got.Message, tc.want, tc.reason, tc.message)
			}
		})
	}
}

func TestIssuerConditionReturnsLookupErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("cache not synced")
	_, err := issuerCondition(spiffev1alpha1.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		operand.CertManagerIssuerResource("ClusterIssuer"), false, nil,
		func(string) (cmapi.GenericIssuer, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
}
