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

package approver

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	spiffeac "github.com/cert-manager/csi-driver-spiffe-operator/api/applyconfiguration/api/v1alpha1"
	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// A decision is attributed to whoever wrote it, as the API server records it
// in the request's managedFields: the field managers owning any field of the
// Approved or Denied entry of status.conditions (a list map keyed by type,
// "f:status.f:conditions.k:{\"type\":\"Approved\"}"). Never by the
// condition's reason: csi-driver-spiffe's own approver writes the same reason
// as this one (spiffe.ApprovalReason), and during a migration from it both
// run side by side (issue 16).
//
// Every write that changes a field of the entry leaves its writer there: a
// server-side apply (Apply) owns what it applied, shared with this approver
// when the values are the same; an update (Update, as cert-manager's
// approver, `cmctl approve` or csi-driver-spiffe's approver write it) owns
// the fields it changed. A write that changes nothing in the entry leaves no
// trace, and decides nothing either. A decision no manager owns (its
// managedFields were cleared) cannot be attributed and is not reported: this
// approver's own decisions must never be, even after a restart.

// decisionWriter is a field manager that wrote part of a decision.
type decisionWriter struct {
	manager   string
	operation metav1.ManagedFieldsOperationType
}

// String names the writer in messages, e.g. `field manager "cmctl" (Update)`.
func (w decisionWriter) String() string {
	return fmt.Sprintf("field manager %q (%s)", w.manager, w.operation)
}

// foreignDecision returns the Approved or Denied condition of cr and the
// first field manager other than this approver's that wrote part of it, or
// nil when cr is undecided or only this approver wrote its decision.
func foreignDecision(cr *cmapi.CertificateRequest) (*cmapi.CertificateRequestCondition, *decisionWriter) {
	cond := decision(cr)
	if cond == nil {
		return nil, nil
	}
	for _, mf := range decisionEntries(cr.ManagedFields, cond.Type) {
		if mf.Manager != FieldManager {
			return cond, &decisionWriter{manager: mf.Manager, operation: mf.Operation}
		}
	}
	return nil, nil
}

// conditionPath is the path of the typ entry of status.conditions.
func conditionPath(typ cmapi.CertificateRequestConditionType) fieldpath.Path {
	return fieldpath.MakePathOrDie("status", "conditions", fieldpath.KeyByFields("type", string(typ)))
}

// decisionEntries returns the managedFields entries that own the typ
// condition entry or any field in it, in their order.
func decisionEntries(managed []metav1.ManagedFieldsEntry, typ cmapi.CertificateRequestConditionType) []metav1.ManagedFieldsEntry {
	path := conditionPath(typ)
	var owners []metav1.ManagedFieldsEntry
	for _, mf := range managed {
		if mf.FieldsV1 == nil || !bytes.Contains(mf.FieldsV1.Raw, []byte("f:conditions")) {
			// Cheap test first: most entries (spec, metadata) never
			// touch conditions.
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			// The API server wrote it; a malformed entry attributes
			// nothing.
			continue
		}
		under := set.WithPrefix(path[0]).WithPrefix(path[1])
		if under.Has(fieldpath.Path{path[2]}) || !under.WithPrefix(path[2]).Empty() {
			owners = append(owners, mf)
		}
	}
	return owners
}

// decisionAttribution returns the managedFields that attribute cr's
// decision, reduced to the condition entry itself: all the cache needs to
// tell whose decision it is. Nil when cr is undecided.
func decisionAttribution(cr *cmapi.CertificateRequest) []metav1.ManagedFieldsEntry {
	cond := decision(cr)
	if cond == nil {
		return nil
	}
	owners := decisionEntries(cr.ManagedFields, cond.Type)
	if len(owners) == 0 {
		return nil
	}
	raw, err := fieldpath.NewSet(conditionPath(cond.Type)).ToJSON()
	if err != nil {
		// A fixed path always serialises.
		panic(fmt.Sprintf("failed to serialise a condition path, this is a bug, please report: %v", err))
	}
	kept := make([]metav1.ManagedFieldsEntry, len(owners))
	for i, mf := range owners {
		kept[i] = metav1.ManagedFieldsEntry{
			Manager:     mf.Manager,
			Operation:   mf.Operation,
			APIVersion:  mf.APIVersion,
			FieldsType:  mf.FieldsType,
			FieldsV1:    &metav1.FieldsV1{Raw: raw},
			Subresource: mf.Subresource,
		}
	}
	return kept
}

// foreignRequest is a request decided by someone else.
type foreignRequest struct {
	cr     *cmapi.CertificateRequest
	cond   *cmapi.CertificateRequestCondition
	writer *decisionWriter
}

// retryInterval is when a failed update of the condition is tried again.
const retryInterval = 5 * time.Second

// competition maintains the CompetingApprover condition of the
// SpiffeTrustDomain. The condition is level-based: True while any
// CertificateRequest for the configured issuer in the cache was approved or
// denied by someone else, False otherwise. Each such request also gets one
// warning Event and counts once in competingDecisionsTotal, per process.
//
// It recomputes from the cache (never from a tally of events, which a restart
// or a missed delete would skew) when the reconciler sees a foreign decision
// or a deletion while competition exists, when the configuration changes, and
// every resync period; at most once per minInterval.
type competition struct {
	name        string
	cache       client.Reader
	apiReader   client.Reader
	client      client.Client
	source      trustdomain.Source
	recorder    events.EventRecorder
	clock       clock.PassiveClock
	resync      time.Duration
	minInterval time.Duration
	poke        chan struct{}

	// active is whether the last scan found foreign decisions; deletions
	// only matter then.
	active atomic.Bool

	// Only Start's goroutine uses these.
	reported map[types.UID]struct{}
	applied  *metav1.Condition
}

// foreignDecisionSeen is called by the reconciler for a request decided by
// someone else.
func (c *competition) foreignDecisionSeen() { c.notify() }

// requestDeleted is called by the reconciler for a deleted request.
func (c *competition) requestDeleted() {
	if c.active.Load() {
		c.notify()
	}
}

func (c *competition) notify() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: only the
// leader reports.
func (c *competition) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable.
func (c *competition) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("competing-approver").WithValues("spiffetrustdomain", c.name)
	ctx = logf.IntoContext(ctx, log)
	changes := c.source.Subscribe()
	ticker := time.NewTicker(c.resync)
	defer ticker.Stop()
	var retry <-chan time.Time
	force := true
	for {
		retry = nil
		if err := c.sync(ctx, force); err != nil {
			log.Error(err, "failed to report competing approvers; retrying", "after", retryInterval)
			retry = time.After(retryInterval)
		}
		force = false
		// Coalesce bursts of notifications into one scan.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.minInterval):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.poke:
		case <-changes:
		case <-retry:
			force = true
		case <-ticker.C:
			// Also re-reads the object, in case the condition was removed.
			force = true
		}
	}
}

// sync scans the cache and brings the condition, the events and the metrics
// up to date. With force it compares the condition with the object even
// when it was last applied unchanged.
func (c *competition) sync(ctx context.Context, force bool) error {
	cfg, err := c.source.Config()
	if err != nil {
		// Without a configuration there is no issuer to speak of.
		return nil
	}
	list := &cmapi.CertificateRequestList{}
	// The list is only read, so the cache's objects need not be copied.
	if err := c.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("failed to list CertificateRequests: %w", err)
	}
	var found []foreignRequest
	for i := range list.Items {
		cr := &list.Items[i]
		if !operand.IssuerMatches(cr.Spec.IssuerRef, cfg.IssuerRef) {
			continue
		}
		if cond, writer := foreignDecision(cr); writer != nil {
			found = append(found, foreignRequest{cr: cr, cond: cond, writer: writer})
		}
	}
	slices.SortFunc(found, func(a, b foreignRequest) int {
		return cmp.Or(cmp.Compare(a.cr.Namespace, b.cr.Namespace), cmp.Compare(a.cr.Name, b.cr.Name))
	})

	log := logf.FromContext(ctx)
	seen := make(map[types.UID]struct{}, len(found))
	for _, f := range found {
		seen[f.cr.UID] = struct{}{}
		if _, ok := c.reported[f.cr.UID]; ok {
			continue
		}
		competingDecisionsTotal.WithLabelValues(string(f.cond.Type)).Inc()
		c.recorder.Eventf(f.cr, nil, corev1.EventTypeWarning, EventReasonCompetingApprover, eventActionDetect, "%s", operand.EventNote(fmt.Sprintf(
			"this request for %s was %s by %s with reason %q, not by the csi-driver-spiffe approver: %s",
			operand.DescribeIssuer(cfg.IssuerRef), f.cond.Type, f.writer, f.cond.Reason, disableOtherApprovers)))
		log.Info("another approver decided a certificaterequest for the trust domain's issuer",
			"certificaterequest", client.ObjectKeyFromObject(f.cr), "condition", f.cond.Type, "fieldManager", f.writer.manager,
			"operation", f.writer.operation, "reason", f.cond.Reason)
	}
	c.reported = seen
	c.active.Store(len(found) > 0)
	competingRequests.Set(float64(len(found)))

	return c.apply(ctx, competingCondition(found, cfg), force)
}

// disableOtherApprovers tells how to stop the usual competing approvers.
const disableOtherApprovers = "disable every other approver of this issuer: cert-manager's built-in one with --controllers=*,-certificaterequests-approver, " +
	"csi-driver-spiffe's by removing its approver Deployment (docs/migration.md)"

// competingCondition is the condition for the requests decided by others.
func competingCondition(found []foreignRequest, cfg *spiffev1alpha1.TrustDomainConfig) metav1.Condition {
	issuer := operand.DescribeIssuer(cfg.IssuerRef)
	if len(found) == 0 {
		return metav1.Condition{
			Type:               spiffev1alpha1.ConditionCompetingApprover,
			Status:             metav1.ConditionFalse,
			ObservedGeneration: cfg.Generation,
			Reason:             spiffev1alpha1.ReasonNoCompetingApprover,
			Message:            fmt.Sprintf("no CertificateRequest for %s was approved or denied by another approver", issuer),
		}
	}
	first := found[0]
	return metav1.Condition{
		Type:               spiffev1alpha1.ConditionCompetingApprover,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: cfg.Generation,
		Reason:             spiffev1alpha1.ReasonCompetingApprover,
		Message: fmt.Sprintf("%d CertificateRequest(s) for %s were approved or denied by another approver, such as %s/%s (%s by %s with reason %q): "+
			"another approver races the csi-driver-spiffe approver, so the SPIFFE issuance policy is not enforced; %s",
			len(found), issuer, first.cr.Namespace, first.cr.Name, first.cond.Type, first.writer, first.cond.Reason, disableOtherApprovers),
	}
}

// apply writes want as the only condition owned by FieldManager, keeping the
// transition time when the status does not change.
func (c *competition) apply(ctx context.Context, want metav1.Condition, force bool) error {
	if !force && c.applied != nil && sameCondition(*c.applied, want) {
		return nil
	}
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	if err := c.apiReader.Get(ctx, client.ObjectKey{Name: c.name}, td); err != nil {
		if apierrors.IsNotFound(err) {
			c.applied = nil
			return nil
		}
		return fmt.Errorf("failed to get SpiffeTrustDomain %q: %w", c.name, err)
	}
	existing := meta.FindStatusCondition(td.Status.Conditions, want.Type)
	if existing != nil && sameCondition(*existing, want) {
		c.applied = &want
		return nil
	}
	transition := metav1.NewTime(c.clock.Now())
	if existing != nil && existing.Status == want.Status {
		transition = existing.LastTransitionTime
	}
	patch := spiffeac.SpiffeTrustDomain(c.name).WithStatus(spiffeac.SpiffeTrustDomainStatus().WithConditions(
		metav1ac.Condition().
			WithType(want.Type).
			WithStatus(want.Status).
			WithObservedGeneration(want.ObservedGeneration).
			WithReason(want.Reason).
			WithMessage(want.Message).
			WithLastTransitionTime(transition),
	))
	if err := c.client.Status().Apply(ctx, patch, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply the %s condition of SpiffeTrustDomain %q: %w", want.Type, c.name, err)
	}
	logf.FromContext(ctx).Info("reported competing approvers", "status", want.Status, "message", want.Message)
	c.applied = &want
	return nil
}

func sameCondition(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message && a.ObservedGeneration == b.ObservedGeneration
}
