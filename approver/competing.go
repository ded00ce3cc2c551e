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

	spiffeac "github.com/cert-manager/csi-driver-spiffe-operator/api/applyconfiguration/api/v1alpha1"
	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

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
	var found []*cmapi.CertificateRequest
	for i := range list.Items {
		cr := &list.Items[i]
		if IssuerMatches(cr.Spec.IssuerRef, cfg.IssuerRef) && foreignDecision(cr) != nil {
			found = append(found, cr)
		}
	}
	slices.SortFunc(found, func(a, b *cmapi.CertificateRequest) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})

	log := logf.FromContext(ctx)
	seen := make(map[types.UID]struct{}, len(found))
	for _, cr := range found {
		seen[cr.UID] = struct{}{}
		if _, ok := c.reported[cr.UID]; ok {
			continue
		}
		cond := foreignDecision(cr)
		competingDecisionsTotal.WithLabelValues(string(cond.Type)).Inc()
		c.recorder.Eventf(cr, nil, corev1.EventTypeWarning, EventReasonCompetingApprover, eventActionDetect,
			"this request for %s was %s by another approver (reason %q), not by the csi-driver-spiffe approver: disable every other approver of this issuer, such as cert-manager's built-in one (--controllers=*,-certificaterequests-approver)",
			describeIssuer(cfg.IssuerRef), cond.Type, cond.Reason)
		log.Info("another approver decided a certificaterequest for the trust domain's issuer",
			"certificaterequest", client.ObjectKeyFromObject(cr), "condition", cond.Type, "reason", cond.Reason)
	}
	c.reported = seen
	c.active.Store(len(found) > 0)
	competingRequests.Set(float64(len(found)))

	return c.apply(ctx, competingCondition(found, cfg), force)
}

// competingCondition is the condition for the requests decided by others.
func competingCondition(found []*cmapi.CertificateRequest, cfg *spiffev1alpha1.TrustDomainConfig) metav1.Condition {
	issuer := describeIssuer(cfg.IssuerRef)
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
	cond := foreignDecision(first)
	return metav1.Condition{
		Type:               spiffev1alpha1.ConditionCompetingApprover,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: cfg.Generation,
		Reason:             spiffev1alpha1.ReasonCompetingApprover,
		Message: fmt.Sprintf("%d CertificateRequest(s) for %s were approved or denied by another approver, such as %s/%s (%s with reason %q): "+
			"another approver races the csi-driver-spiffe approver, so the SPIFFE issuance policy is not enforced; "+
			"disable it (for cert-manager's built-in approver: --controllers=*,-certificaterequests-approver)",
			len(found), issuer, first.Namespace, first.Name, cond.Type, cond.Reason),
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
