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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

var (
	earlier = metav1.NewTime(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	now     = time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)
)

func readyDaemonSet(nodes int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "foo-bar-driver", Generation: 2, Labels: map[string]string{LabelInstance: "foo-bar"}},
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration: 2, DesiredNumberScheduled: nodes, NumberReady: nodes, UpdatedNumberScheduled: nodes, NumberAvailable: nodes,
		},
	}
}

func readyDeployment(replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "foo-bar-approver", Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, ReadyReplicas: replicas, UpdatedReplicas: replicas},
	}
}

// c is a condition of generation 3 (testTrustDomain's) that changed at t.
func c(condType string, status metav1.ConditionStatus, reason, message string, t metav1.Time) metav1.Condition {
	return metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: 3, LastTransitionTime: t}
}

func TestComputeStatus(t *testing.T) {
	t.Parallel()
	td := testTrustDomain()
	cfg := buildConfig(td, nil)
	oldCfg := buildConfig(td, nil)
	oldCfg.Generation = 2
	nowT := metav1.NewTime(now)
	issuerOK := &cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady, `ClusterIssuer "ca" is ready`}
	caOK := &cond{metav1.ConditionTrue, spiffev1alpha1.ReasonCABundleNotConfigured, "not set"}
	allReady := func() *observation {
		return &observation{Issuer: issuerOK, CABundle: caOK, DaemonSet: readyDaemonSet(3), Deployment: readyDeployment(1), Config: cfg}
	}
	readyConds := func(t metav1.Time) []metav1.Condition {
		return []metav1.Condition{
			c("Ready", "True", "Ready", "pods mounting CSI driver spiffe.csi.cert-manager.io get SVIDs of trust domain foo.bar", t),
			c("IssuerReady", "True", "Ready", `ClusterIssuer "ca" is ready`, t),
			c("CABundleReady", "True", "NotConfigured", "not set", t),
			c("DriverReady", "True", "Ready", "the driver is ready on all 3 nodes", t),
			c("ApproverReady", "True", "Ready", "all 1 approver replicas are ready", t),
			c("Degraded", "False", "AsExpected", "nothing needs attention", t),
		}
	}
	competing := metav1.Condition{Type: "CompetingApprover", Status: "True", Reason: "CompetingApprover", Message: "request ns/x was approved by someone else", ObservedGeneration: 3, LastTransitionTime: earlier}

	tests := map[string]struct {
		status          spiffev1alpha1.SpiffeTrustDomainStatus
		prev            []metav1.Condition
		obs             *observation
		wantConds       []metav1.Condition
		wantConfig      *spiffev1alpha1.TrustDomainConfig
		wantDriver      spiffev1alpha1.DriverStatus
		wantTransitions []string
	}{
		"a new object whose children are all ready": {
			obs:             allReady(),
			wantConds:       readyConds(nowT),
			wantConfig:      cfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
			wantTransitions: []string{"Ready", "IssuerReady", "CABundleReady", "DriverReady", "ApproverReady", "Degraded"},
		},
		"nothing changed: times are kept and nothing is reported": {
			status:     spiffev1alpha1.SpiffeTrustDomainStatus{Conditions: readyConds(earlier)},
			prev:       readyConds(earlier),
			obs:        allReady(),
			wantConds:  readyConds(earlier),
			wantConfig: cfg,
			wantDriver: spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
		},
		"a node is not ready: the driver and the object report it": {
			status: spiffev1alpha1.SpiffeTrustDomainStatus{Conditions: readyConds(earlier)},
			prev:   readyConds(earlier),
			obs: func() *observation {
				o := allReady()
				o.DaemonSet.Status.NumberReady = 2
				o.DaemonSet.Status.NumberUnavailable = 1
				return o
			}(),
			wantConds: []metav1.Condition{
				c("Ready", "False", "Progressing", "DriverReady: the driver is rolling out: 3 of 3 nodes run the current version, 2 are ready; see kubectl -n ns get pods -l app.kubernetes.io/instance=foo-bar,app.kubernetes.io/component=driver", nowT),
				c("IssuerReady", "True", "Ready", `ClusterIssuer "ca" is ready`, earlier),
				c("CABundleReady", "True", "NotConfigured", "not set", earlier),
				c("DriverReady", "False", "Progressing", "the driver is rolling out: 3 of 3 nodes run the current version, 2 are ready; see kubectl -n ns get pods -l app.kubernetes.io/instance=foo-bar,app.kubernetes.io/component=driver", nowT),
				c("ApproverReady", "True", "Ready", "all 1 approver replicas are ready", earlier),
				c("Degraded", "False", "AsExpected", "nothing needs attention", earlier),
			},
			wantConfig:      cfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 2},
			wantTransitions: []string{"Ready", "DriverReady"},
		},
		"no node matches": {
			obs: func() *observation {
				o := allReady()
				o.DaemonSet.Status = appsv1.DaemonSetStatus{ObservedGeneration: 2}
				return o
			}(),
			wantConds: []metav1.Condition{
				c("Ready", "False", "NoNodes", "DriverReady: DaemonSet ns/foo-bar-driver matches no node, so no pod can mount the volume: check spec.driver.nodeSelector and spec.driver.tolerations", nowT),
				c("IssuerReady", "True", "Ready", `ClusterIssuer "ca" is ready`, nowT),
				c("CABundleReady", "True", "NotConfigured", "not set", nowT),
				c("DriverReady", "False", "NoNodes", "DaemonSet ns/foo-bar-driver matches no node, so no pod can mount the volume: check spec.driver.nodeSelector and spec.driver.tolerations", nowT),
				c("ApproverReady", "True", "Ready", "all 1 approver replicas are ready", nowT),
				c("Degraded", "False", "AsExpected", "nothing needs attention", nowT),
			},
			wantConfig:      cfg,
			wantTransitions: []string{"Ready", "IssuerReady", "CABundleReady", "DriverReady", "ApproverReady", "Degraded"},
		},
		"an invalid edit keeps the configuration and what the last valid generation found": {
			status: spiffev1alpha1.SpiffeTrustDomainStatus{Conditions: readyConds(earlier), Config: oldCfg},
			prev: func() []metav1.Condition {
				cs := readyConds(earlier)
				for i := range cs {
					cs[i].ObservedGeneration = 2
				}
				return cs
			}(),
			obs: &observation{
				Invalid:    field.ErrorList{field.Invalid(field.NewPath("spec", "certificate", "annotations"), "a b", "bad key")},
				DaemonSet:  readyDaemonSet(3),
				Deployment: readyDeployment(1),
				Config:     oldCfg,
			},
			wantConds: []metav1.Condition{
				c("Ready", "False", "InvalidSpec", `the spec is invalid and was not applied (running pods keep the configuration of generation 2); fix it: spec.certificate.annotations: Invalid value: "a b": bad key`, nowT),
				{Type: "IssuerReady", Status: "True", Reason: "Ready", Message: `ClusterIssuer "ca" is ready`, ObservedGeneration: 2, LastTransitionTime: earlier},
				{Type: "CABundleReady", Status: "True", Reason: "NotConfigured", Message: "not set", ObservedGeneration: 2, LastTransitionTime: earlier},
				c("DriverReady", "True", "Ready", "the driver is ready on all 3 nodes", earlier),
				c("ApproverReady", "True", "Ready", "all 1 approver replicas are ready", earlier),
				c("Degraded", "True", "InvalidSpec", `the spec is invalid and was not applied (running pods keep the configuration of generation 2); fix it: spec.certificate.annotations: Invalid value: "a b": bad key`, nowT),
			},
			wantConfig:      oldCfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
			wantTransitions: []string{"Ready", "Degraded"},
		},
		"a spec that was never valid": {
			obs: &observation{Invalid: field.ErrorList{field.TooLong(field.NewPath("metadata", "name"), "", 63)}},
			wantConds: []metav1.Condition{
				c("Ready", "False", "InvalidSpec", "the spec is invalid and was not applied (no configuration is published yet); fix it: metadata.name: Too long: may not be more than 63 bytes", nowT),
				c("IssuerReady", "Unknown", "InvalidSpec", "not evaluated: the spec is invalid", nowT),
				c("CABundleReady", "Unknown", "InvalidSpec", "not evaluated: the spec is invalid", nowT),
				c("DriverReady", "False", "InvalidSpec", "the driver is not deployed: the spec is invalid", nowT),
				c("ApproverReady", "False", "InvalidSpec", "the approver is not deployed: the spec is invalid", nowT),
				c("Degraded", "True", "InvalidSpec", "the spec is invalid and was not applied (no configuration is published yet); fix it: metadata.name: Too long: may not be more than 63 bytes", nowT),
			},
			wantTransitions: []string{"Ready", "IssuerReady", "CABundleReady", "DriverReady", "ApproverReady", "Degraded"},
		},
		"a driver name conflict": {
			obs: &observation{Conflict: "driver name taken"},
			wantConds: []metav1.Condition{
				c("Ready", "False", "DriverNameConflict", "driver name taken", nowT),
				c("IssuerReady", "Unknown", "DriverNameConflict", "not evaluated: driver name taken", nowT),
				c("CABundleReady", "Unknown", "DriverNameConflict", "not evaluated: driver name taken", nowT),
				c("DriverReady", "False", "DriverNameConflict", "the driver is not deployed: driver name taken", nowT),
				c("ApproverReady", "False", "DriverNameConflict", "the approver is not deployed: driver name taken", nowT),
				c("Degraded", "True", "DriverNameConflict", "driver name taken", nowT),
			},
			wantTransitions: []string{"Ready", "IssuerReady", "CABundleReady", "DriverReady", "ApproverReady", "Degraded"},
		},
		"a competing approver degrades the object and its condition is kept": {
			status: spiffev1alpha1.SpiffeTrustDomainStatus{Conditions: append(readyConds(earlier), competing)},
			prev:   readyConds(earlier),
			obs:    allReady(),
			wantConds: append(func() []metav1.Condition {
				cs := readyConds(earlier)
				cs[5] = c("Degraded", "True", "CompetingApprover", "request ns/x was approved by someone else", nowT)
				return cs
			}(), competing),
			wantConfig:      cfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
			wantTransitions: []string{"Degraded"},
		},
		"failing to write children": {
			status: spiffev1alpha1.SpiffeTrustDomainStatus{Conditions: readyConds(earlier)},
			prev:   readyConds(earlier),
			obs: func() *observation {
				o := allReady()
				o.ApplyErr = errors.New(`failed to apply DaemonSet "ns/foo-bar-driver": forbidden`)
				return o
			}(),
			wantConds: func() []metav1.Condition {
				cs := readyConds(earlier)
				msg := `failed to reconcile the trust domain (retrying): failed to apply DaemonSet "ns/foo-bar-driver": forbidden`
				cs[0] = c("Ready", "False", "ApplyFailed", msg, nowT)
				cs[5] = c("Degraded", "True", "ApplyFailed", msg, nowT)
				return cs
			}(),
			wantConfig:      cfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
			wantTransitions: []string{"Ready", "Degraded"},
		},
		"an Issuer that cannot be checked does not hold Ready back": {
			obs: func() *observation {
				o := allReady()
				o.Issuer = &cond{metav1.ConditionUnknown, spiffev1alpha1.ReasonIssuerNotChecked, "cannot tell"}
				return o
			}(),
			wantConds: func() []metav1.Condition {
				cs := readyConds(nowT)
				cs[1] = c("IssuerReady", "Unknown", "NotChecked", "cannot tell", nowT)
				return cs
			}(),
			wantConfig:      cfg,
			wantDriver:      spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3},
			wantTransitions: []string{"Ready", "IssuerReady", "CABundleReady", "DriverReady", "ApproverReady", "Degraded"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			td := testTrustDomain()
			td.Status = tc.status
			got, transitions := computeStatus(td, tc.prev, tc.obs, now)
			if diff := cmp.Diff(tc.wantConds, got.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantConfig, got.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if got.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", got.ObservedGeneration)
			}
			if diff := cmp.Diff(&tc.wantDriver, got.Driver); diff != "" {
				t.Errorf("driver status (-want +got):\n%s", diff)
			}
			var types []string
			for _, tr := range transitions {
				types = append(types, tr.Type)
			}
			if diff := cmp.Diff(tc.wantTransitions, types); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusApplyConfiguration(t *testing.T) {
	t.Parallel()
	td := testTrustDomain()
	st := spiffev1alpha1.SpiffeTrustDomainStatus{
		ObservedGeneration: 3,
		Conditions: []metav1.Condition{
			c("Ready", "True", "Ready", "ok", earlier),
			{Type: "CompetingApprover", Status: "False", Reason: "NoCompetingApprover", Message: "the approver's own", ObservedGeneration: 3, LastTransitionTime: earlier},
		},
		Config:   buildConfig(td, &caBundle{PEM: []byte("x"), Certificates: 1}),
		Driver:   &spiffev1alpha1.DriverStatus{DesiredNodes: 2, ReadyNodes: 1},
		Approver: &spiffev1alpha1.ApproverStatus{Replicas: 1, ReadyReplicas: 0},
	}
	// The approver's CompetingApprover condition is not part of the
	// operator's apply, so server-side apply keeps it.
	expectYAML(t, statusApplyConfiguration(td, &st), `
apiVersion: spiffe.csi.cert-manager.io/v1alpha1
kind: SpiffeTrustDomain
metadata:
  name: foo-bar
  uid: uid-1
status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "True", reason: Ready, message: ok, observedGeneration: 3, lastTransitionTime: "2026-01-01T10:00:00Z"}
  config:
    generation: 3
    trustDomain: foo.bar
    issuerRef: {name: csi-driver-spiffe-ca, kind: ClusterIssuer, group: cert-manager.io}
    duration: 1h0m0s
    renewBeforePercentage: 33
    privateKey: {algorithm: ECDSA, size: 521}
    files: {certificate: tls.crt, key: tls.key, ca: ca.crt}
    caBundle: {sha256: 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881, certificates: 1}
    driverName: spiffe.csi.cert-manager.io
  driver: {desiredNodes: 2, readyNodes: 1}
  approver: {replicas: 1, readyReplicas: 0}
`)
}
