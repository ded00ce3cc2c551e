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
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

func TestOlder(t *testing.T) {
	t.Parallel()
	at := func(name string, sec int) *spiffev1alpha1.SpiffeTrustDomain {
		return &spiffev1alpha1.SpiffeTrustDomain{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(sec), 0))}}
	}
	tests := map[string]struct {
		a, b *spiffev1alpha1.SpiffeTrustDomain
		want bool
	}{
		"created earlier wins over a smaller name": {a: at("zz", 1), b: at("aa", 2), want: true},
		"created later loses":                      {a: at("aa", 2), b: at("zz", 1), want: false},
		"a tie goes to the smaller name":           {a: at("aa", 1), b: at("zz", 1), want: true},
		"and not the other way":                    {a: at("zz", 1), b: at("aa", 1), want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := older(tc.a, tc.b); got != tc.want {
				t.Errorf("older = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStale(t *testing.T) {
	t.Parallel()
	td := testTrustDomain()
	owned := func(name, uid string) *appsv1.DaemonSet {
		ds := &appsv1.DaemonSet{}
		yes := true
		ds.OwnerReferences = []metav1.OwnerReference{{APIVersion: spiffev1alpha1.GroupVersion.String(), Kind: spiffev1alpha1.Kind, Name: name, UID: types.UID(uid), Controller: &yes}}
		return ds
	}
	tests := map[string]struct {
		obj  *appsv1.DaemonSet
		want bool
	}{
		"controlled by this object":                        {obj: owned("foo-bar", "uid-1")},
		"controlled by an earlier object of the same name": {obj: owned("foo-bar", "uid-0"), want: true},
		"controlled by another SpiffeTrustDomain":          {obj: owned("other", "uid-9")},
		"controlled by nothing":                            {obj: &appsv1.DaemonSet{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := isStale(tc.obj, td); got != tc.want {
				t.Errorf("isStale = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWorkloadChanged(t *testing.T) {
	t.Parallel()
	base := readyDaemonSet(3)
	tests := map[string]struct {
		mutate func(*appsv1.DaemonSet)
		want   bool
	}{
		"no change":                           {mutate: func(*appsv1.DaemonSet) {}, want: false},
		"a status field the operator ignores": {mutate: func(ds *appsv1.DaemonSet) { ds.Status.CollisionCount = new(int32) }, want: false},
		"a ready count":                       {mutate: func(ds *appsv1.DaemonSet) { ds.Status.NumberReady = 2 }, want: true},
		"the observed generation":             {mutate: func(ds *appsv1.DaemonSet) { ds.Status.ObservedGeneration = 3 }, want: true},
		"the spec (generation)":               {mutate: func(ds *appsv1.DaemonSet) { ds.Generation = 3 }, want: true},
		"a label":                             {mutate: func(ds *appsv1.DaemonSet) { ds.Labels = map[string]string{} }, want: true},
		"an annotation":                       {mutate: func(ds *appsv1.DaemonSet) { ds.Annotations = map[string]string{"a": "b"} }, want: true},
		"the owner references":                {mutate: func(ds *appsv1.DaemonSet) { ds.OwnerReferences = []metav1.OwnerReference{{Name: "x"}} }, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			updated := base.DeepCopy()
			tc.mutate(updated)
			if got := (workloadChanged{}).Update(event.UpdateEvent{ObjectOld: base, ObjectNew: updated}); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tr := func(condType string, status metav1.ConditionStatus, reason, msg string) transition {
		return transition{Type: condType, Condition: metav1.Condition{Type: condType, Status: status, Reason: reason, Message: msg}}
	}
	tests := map[string]struct {
		t        transition
		wantType string
		wantNote string
	}{
		"Ready":                                        {t: tr("Ready", "True", "Ready", "ok"), wantType: "Normal", wantNote: "Ready is True: ok"},
		"progressing is no warning":                    {t: tr("DriverReady", "False", "Progressing", "rolling"), wantType: "Normal", wantNote: "DriverReady is False: rolling"},
		"a problem is a warning":                       {t: tr("IssuerReady", "False", "IssuerNotFound", "missing"), wantType: "Warning", wantNote: "IssuerReady is False: missing"},
		"Degraded True is a warning":                   {t: tr("Degraded", "True", "InvalidSpec", "bad"), wantType: "Warning", wantNote: "Degraded is True: bad"},
		"Degraded False is normal":                     {t: tr("Degraded", "False", "AsExpected", "fine"), wantType: "Normal", wantNote: "Degraded is False: fine"},
		"a long message fits an Event note":            {t: tr("Ready", "False", "InvalidSpec", strings.Repeat("x", 2000)), wantType: "Warning", wantNote: "Ready is False: " + strings.Repeat("x", operand.MaxEventNote-len("Ready is False: ")-len("…")) + "…"},
		"a long message is not cut inside a character": {t: tr("Ready", "False", "InvalidSpec", strings.Repeat("é", 1000)), wantType: "Warning", wantNote: "Ready is False: " + strings.Repeat("é", (operand.MaxEventNote-len("Ready is False: ")-len("…"))/2) + "…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := eventType(tc.t); got != tc.wantType {
				t.Errorf("type = %s, want %s", got, tc.wantType)
			}
			if got := eventNote(tc.t); got != tc.wantNote {
				t.Errorf("note = %q, want %q", got, tc.wantNote)
			}
		})
	}
}
