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
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	spiffev1alpha1ac "github.com/cert-manager/csi-driver-spiffe-operator/api/applyconfiguration/api/v1alpha1"
	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// ownedConditions are the condition types the operator writes, in the order
// it writes them. CompetingApprover belongs to the approver.
var ownedConditions = []string{
	spiffev1alpha1.ConditionReady,
	spiffev1alpha1.ConditionIssuerReady,
	spiffev1alpha1.ConditionCABundleReady,
	spiffev1alpha1.ConditionDriverReady,
	spiffev1alpha1.ConditionApproverReady,
	spiffev1alpha1.ConditionDegraded,
}

// observation is everything one reconcile learned about a SpiffeTrustDomain.
type observation struct {
	// Invalid lists what is wrong with the spec; when non-empty nothing was
	// applied and Config is the previous one.
	Invalid field.ErrorList
	// Conflict says why this object may not use its driver name, or which
	// foreign objects are in its way; when non-empty nothing is applied.
	Conflict string
	// ConflictReason is the reason of the conditions while Conflict is
	// set: DriverNameConflict when empty, ForeignObject for foreign objects.
	ConflictReason string
	// Issuer and CABundle are the evaluated conditions, nil when they were
	// not evaluated (invalid spec, conflict): the previous ones are kept.
	Issuer   *cond
	CABundle *cond
	// ApplyErr is the error of reading what the reconcile needs or of
	// writing or deleting children, if any.
	ApplyErr error
	// DaemonSet and Deployment are the driver's and approver's workloads,
	// nil when absent.
	DaemonSet  *appsv1.DaemonSet
	Deployment *appsv1.Deployment
	// Config is status.config: new when the spec is valid, else the
	// previous one (possibly nil).
	Config *spiffev1alpha1.TrustDomainConfig
}

// transition is a change of a condition's status or reason.
type transition struct {
	Type      string
	Condition metav1.Condition
}

// computeStatus returns the status the operator wants, built from the
// current status (other writers' conditions are kept) and what the
// reconcile observed, and the condition transitions to report as Events.
//
// prev are the operator's conditions as it last wrote them. The cache may
// not show that write yet; comparing with it would report transitions
// twice and move lastTransitionTime. The operator is the only writer of
// these conditions, so its own record is the truth.
func computeStatus(td *spiffev1alpha1.SpiffeTrustDomain, prev []metav1.Condition, obs *observation, now time.Time) (spiffev1alpha1.SpiffeTrustDomainStatus, []transition) {
	old := td.Status
	st := *old.DeepCopy()
	st.ObservedGeneration = td.Generation
	st.Config = obs.Config.DeepCopy()
	st.Driver = &spiffev1alpha1.DriverStatus{}
	if ds := obs.DaemonSet; ds != nil {
		st.Driver.DesiredNodes = ds.Status.DesiredNumberScheduled
		st.Driver.ReadyNodes = ds.Status.NumberReady
	}
	st.Approver = &spiffev1alpha1.ApproverStatus{}
	if d := obs.Deployment; d != nil {
		st.Approver.Replicas = d.Status.Replicas
		st.Approver.ReadyReplicas = d.Status.ReadyReplicas
	}

	notEvaluated := func(t string) cond {
		if c := meta.FindStatusCondition(prev, t); c != nil {
			// Keep what the last valid generation found.
			return cond{c.Status, c.Reason, c.Message}
		}
		if obs.Conflict != "" {
			return cond{metav1.ConditionUnknown, obs.conflictReason(), "not evaluated: " + obs.Conflict}
		}
		return cond{metav1.ConditionUnknown, spiffev1alpha1.ReasonInvalidSpec, "not evaluated: the spec is invalid"}
	}

	conds := map[string]cond{}
	var keepGeneration = map[string]bool{}
	if obs.Issuer != nil {
		conds[spiffev1alpha1.ConditionIssuerReady] = *obs.Issuer
	} else {
		conds[spiffev1alpha1.ConditionIssuerReady] = notEvaluated(spiffev1alpha1.ConditionIssuerReady)
		keepGeneration[spiffev1alpha1.ConditionIssuerReady] = true
	}
	if obs.CABundle != nil {
		conds[spiffev1alpha1.ConditionCABundleReady] = *obs.CABundle
	} else {
		conds[spiffev1alpha1.ConditionCABundleReady] = notEvaluated(spiffev1alpha1.ConditionCABundleReady)
		keepGeneration[spiffev1alpha1.ConditionCABundleReady] = true
	}
	conds[spiffev1alpha1.ConditionDriverReady] = driverCondition(obs)
	conds[spiffev1alpha1.ConditionApproverReady] = approverCondition(td, obs)
	conds[spiffev1alpha1.ConditionDegraded] = degradedCondition(td, obs)
	conds[spiffev1alpha1.ConditionReady] = readyCondition(td, obs, conds)

	var transitions []transition
	for _, t := range ownedConditions {
		c := conds[t]
		gen := td.Generation
		p := meta.FindStatusCondition(prev, t)
		if keepGeneration[t] && p != nil {
			gen = p.ObservedGeneration
		}
		next := metav1.Condition{
			Type:               t,
			Status:             c.Status,
			Reason:             c.Reason,
			Message:            c.Message,
			ObservedGeneration: gen,
			LastTransitionTime: metav1.NewTime(now),
		}
		if p != nil && p.Status == next.Status {
			next.LastTransitionTime = p.LastTransitionTime
		}
		if p == nil || p.Status != next.Status || p.Reason != next.Reason {
			transitions = append(transitions, transition{Type: t, Condition: next})
		}
		putCondition(&st.Conditions, next)
	}
	return st, transitions
}

// putCondition replaces the condition of c's type in conds, in place, or
// appends it.
func putCondition(conds *[]metav1.Condition, c metav1.Condition) {
	for i := range *conds {
		if (*conds)[i].Type == c.Type {
			(*conds)[i] = c
			return
		}
	}
	*conds = append(*conds, c)
}

// ownedConditionsOf returns the operator's conditions among conds.
func ownedConditionsOf(conds []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, t := range ownedConditions {
		if c := meta.FindStatusCondition(conds, t); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// conflictReason is the reason of the conditions while obs.Conflict is set.
func (obs *observation) conflictReason() string {
	if obs.ConflictReason != "" {
		return obs.ConflictReason
	}
	return spiffev1alpha1.ReasonDriverNameConflict
}

func driverCondition(obs *observation) cond {
	ds := obs.DaemonSet
	switch {
	case obs.Conflict != "":
		return cond{metav1.ConditionFalse, obs.conflictReason(), "the driver is not deployed: " + obs.Conflict}
	case ds == nil && len(obs.Invalid) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec, "the driver is not deployed: the spec is invalid"}
	case ds == nil:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing, "the driver DaemonSet is being created"}
	case ds.Status.ObservedGeneration < ds.Generation:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing,
			fmt.Sprintf("the DaemonSet controller has not yet seen the latest change of DaemonSet %s/%s", ds.Namespace, ds.Name)}
	case ds.Status.DesiredNumberScheduled == 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonNoNodes,
			fmt.Sprintf("DaemonSet %s/%s matches no node, so no pod can mount the volume: check spec.driver.nodeSelector and spec.driver.tolerations", ds.Namespace, ds.Name)}
	case ds.Status.UpdatedNumberScheduled < ds.Status.DesiredNumberScheduled || ds.Status.NumberReady < ds.Status.DesiredNumberScheduled || ds.Status.NumberUnavailable > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing,
			fmt.Sprintf("the driver is rolling out: %d of %d nodes run the current version, %d are ready; see kubectl -n %s get pods -l %s=%s,%s=%s",
				ds.Status.UpdatedNumberScheduled, ds.Status.DesiredNumberScheduled, ds.Status.NumberReady,
				ds.Namespace, LabelInstance, ds.Labels[LabelInstance], LabelComponent, operand.ComponentDriver)}
	}
	return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady,
		fmt.Sprintf("the driver is ready on all %d nodes", ds.Status.DesiredNumberScheduled)}
}

func approverCondition(td *spiffev1alpha1.SpiffeTrustDomain, obs *observation) cond {
	d := obs.Deployment
	switch {
	case obs.Conflict != "":
		return cond{metav1.ConditionFalse, obs.conflictReason(), "the approver is not deployed: " + obs.Conflict}
	case d == nil && len(obs.Invalid) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec, "the approver is not deployed: the spec is invalid"}
	case d == nil:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing, "the approver Deployment is being created"}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch {
	case d.Status.ObservedGeneration < d.Generation:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing,
			fmt.Sprintf("the Deployment controller has not yet seen the latest change of Deployment %s/%s", d.Namespace, d.Name)}
	case d.Status.UpdatedReplicas < want || d.Status.ReadyReplicas < want || d.Status.Replicas > d.Status.UpdatedReplicas:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing,
			fmt.Sprintf("the approver is rolling out: %d of %d replicas run the current version, %d are ready; see kubectl -n %s get pods -l %s=%s,%s=%s",
				d.Status.UpdatedReplicas, want, d.Status.ReadyReplicas, d.Namespace, LabelInstance, td.Name, LabelComponent, operand.ComponentApprover)}
	}
	return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady, fmt.Sprintf("all %d approver replicas are ready", want)}
}

func degradedCondition(td *spiffev1alpha1.SpiffeTrustDomain, obs *observation) cond {
	switch {
	case len(obs.Invalid) > 0:
		return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonInvalidSpec, invalidMessage(obs)}
	case obs.Conflict != "":
		return cond{metav1.ConditionTrue, obs.conflictReason(), obs.Conflict}
	case obs.ApplyErr != nil:
		return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonApplyFailed, "failed to reconcile the trust domain (retrying): " + obs.ApplyErr.Error()}
	}
	if c := meta.FindStatusCondition(td.Status.Conditions, spiffev1alpha1.ConditionCompetingApprover); c != nil && c.Status == metav1.ConditionTrue {
		return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonCompetingApprover, c.Message}
	}
	return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonAsExpected, "nothing needs attention"}
}

func readyCondition(td *spiffev1alpha1.SpiffeTrustDomain, obs *observation, conds map[string]cond) cond {
	switch {
	case len(obs.Invalid) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec, invalidMessage(obs)}
	case obs.Conflict != "":
		return cond{metav1.ConditionFalse, obs.conflictReason(), obs.Conflict}
	case obs.ApplyErr != nil:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonApplyFailed, "failed to reconcile the trust domain (retrying): " + obs.ApplyErr.Error()}
	}
	for _, t := range []string{
		spiffev1alpha1.ConditionIssuerReady,
		spiffev1alpha1.ConditionCABundleReady,
		spiffev1alpha1.ConditionDriverReady,
		spiffev1alpha1.ConditionApproverReady,
	} {
		c := conds[t]
		// An issuer the operator cannot check (Unknown) does not hold
		// Ready back; a known problem does.
		if c.Status == metav1.ConditionFalse || (c.Status == metav1.ConditionUnknown && t != spiffev1alpha1.ConditionIssuerReady) {
			return cond{metav1.ConditionFalse, c.Reason, t + ": " + c.Message}
		}
	}
	return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady,
		fmt.Sprintf("pods mounting CSI driver %s get SVIDs of trust domain %s", DriverName(td), td.Spec.TrustDomain)}
}

func invalidMessage(obs *observation) string {
	kept := "no configuration is published yet"
	if obs.Config != nil {
		kept = fmt.Sprintf("running pods keep the configuration of generation %d", obs.Config.Generation)
	}
	return fmt.Sprintf("the spec is invalid and was not applied (%s); fix it: %s", kept, obs.Invalid.ToAggregate().Error())
}

// statusApplyConfiguration returns the apply configuration of the fields of
// st the operator owns. Conditions of other writers are left out, so server-
// side apply keeps them.
func statusApplyConfiguration(td *spiffev1alpha1.SpiffeTrustDomain, st *spiffev1alpha1.SpiffeTrustDomainStatus) *spiffev1alpha1ac.SpiffeTrustDomainApplyConfiguration {
	status := spiffev1alpha1ac.SpiffeTrustDomainStatus().WithObservedGeneration(st.ObservedGeneration)
	for _, t := range ownedConditions {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c == nil {
			continue
		}
		status.WithConditions(metav1ac.Condition().
			WithType(c.Type).
			WithStatus(c.Status).
			WithReason(c.Reason).
			WithMessage(c.Message).
			WithObservedGeneration(c.ObservedGeneration).
			WithLastTransitionTime(c.LastTransitionTime))
	}
	if cfg := st.Config; cfg != nil {
		status.WithConfig(configApplyConfiguration(cfg))
	}
	if d := st.Driver; d != nil {
		status.WithDriver(spiffev1alpha1ac.DriverStatus().WithDesiredNodes(d.DesiredNodes).WithReadyNodes(d.ReadyNodes))
	}
	if a := st.Approver; a != nil {
		status.WithApprover(spiffev1alpha1ac.ApproverStatus().WithReplicas(a.Replicas).WithReadyReplicas(a.ReadyReplicas))
	}
	return spiffev1alpha1ac.SpiffeTrustDomain(td.Name).WithUID(td.UID).WithStatus(status)
}

func configApplyConfiguration(cfg *spiffev1alpha1.TrustDomainConfig) *spiffev1alpha1ac.TrustDomainConfigApplyConfiguration {
	key := spiffev1alpha1ac.PrivateKeySpec().WithAlgorithm(cfg.PrivateKey.Algorithm)
	if cfg.PrivateKey.Size != 0 {
		key.WithSize(cfg.PrivateKey.Size)
	}
	ac := spiffev1alpha1ac.TrustDomainConfig().
		WithGeneration(cfg.Generation).
		WithTrustDomain(cfg.TrustDomain).
		WithIssuerRef(spiffev1alpha1ac.IssuerReference().
			WithName(cfg.IssuerRef.Name).
			WithKind(cfg.IssuerRef.Kind).
			WithGroup(cfg.IssuerRef.Group)).
		WithDuration(cfg.Duration).
		WithRenewBeforePercentage(cfg.RenewBeforePercentage).
		WithPrivateKey(key).
		WithFiles(spiffev1alpha1ac.FilesSpec().
			WithCertificate(cfg.Files.Certificate).
			WithKey(cfg.Files.Key).
			WithCA(cfg.Files.CA)).
		WithDriverName(cfg.DriverName)
	if len(cfg.Annotations) > 0 {
		ac.WithAnnotations(cfg.Annotations)
	}
	if ca := cfg.CABundle; ca != nil {
		ac.WithCABundle(spiffev1alpha1ac.CABundleStatus().WithSHA256(ca.SHA256).WithCertificates(ca.Certificates))
	}
	return ac
}
