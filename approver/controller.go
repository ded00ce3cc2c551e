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
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// Event reasons and actions on CertificateRequests.
const (
	EventReasonApproved          = "Approved"
	EventReasonDenied            = "Denied"
	EventReasonCompetingApprover = "CompetingApprover"

	eventActionApprove = "Approve"
	eventActionDeny    = "Deny"
	eventActionDetect  = "DetectCompetingApprover"
)

// conflictRetry is when a request that changed while it was being decided is
// looked at again, should its watch event not arrive first.
const conflictRetry = time.Second

// reconciler decides one CertificateRequest at a time.
type reconciler struct {
	client    client.Client
	source    trustdomain.Source
	evaluator evaluator.Interface
	recorder  events.EventRecorder
	clock     clock.PassiveClock
	competing *competition
}

// Reconcile decides the request if it is for the configured issuer and
// undecided. It writes the decision with server-side apply, with the
// resourceVersion it evaluated as a precondition: if anyone decided the
// request meanwhile (another approver, or this one before its cache caught
// up), the write fails with a conflict instead of adding a second decision.
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	cr := &cmapi.CertificateRequest{}
	if err := r.client.Get(ctx, req.NamespacedName, cr); err != nil {
		if apierrors.IsNotFound(err) {
			// A deleted request may have been the last one another
			// approver decided.
			r.competing.requestDeleted()
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to get CertificateRequest %q: %w", req.NamespacedName, err)
	}

	cfg, err := r.source.Config()
	if err != nil {
		// Nothing is decided without a configuration; every undecided
		// request is enqueued again when one is published.
		log.V(2).Info("not deciding: no configuration", "reason", err.Error())
		return ctrl.Result{}, nil
	}
	if !operand.IssuerMatches(cr.Spec.IssuerRef, cfg.IssuerRef) {
		return ctrl.Result{}, nil
	}
	if _, writer := foreignDecision(cr); writer != nil {
		r.competing.foreignDecisionSeen()
		return ctrl.Result{}, nil
	}
	if decision(cr) != nil || finished(cr) {
		return ctrl.Result{}, nil
	}

	d := r.evaluator.Evaluate(cr, cfg)
	if err := r.writeDecision(ctx, cr, d); err != nil {
		switch {
		case apierrors.IsConflict(err):
			log.V(2).Info("the request changed while being decided; looking again")
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		}
		// Transient API errors are retried with the workqueue's backoff.
		return ctrl.Result{}, err
	}

	if d.Approved {
		decisionsTotal.WithLabelValues(resultApproved, string(evaluator.RuleNone)).Inc()
		r.recorder.Eventf(cr, nil, corev1.EventTypeNormal, EventReasonApproved, eventActionApprove, "%s", operand.EventNote(d.Message))
		log.V(1).Info("approved certificaterequest", "username", cr.Spec.Username)
	} else {
		decisionsTotal.WithLabelValues(resultDenied, string(d.Rule)).Inc()
		r.recorder.Eventf(cr, nil, corev1.EventTypeWarning, EventReasonDenied, eventActionDeny, "%s", operand.EventNote(d.Message))
		log.Info("denied certificaterequest", "username", cr.Spec.Username, "rule", d.Rule, "message", d.Message)
	}
	return ctrl.Result{}, nil
}

// writeDecision applies the Approved or Denied condition, and only it, to
// the request's status under FieldManager.
func (r *reconciler) writeDecision(ctx context.Context, cr *cmapi.CertificateRequest, d evaluator.Decision) error {
	typ := cmapi.CertificateRequestConditionApproved
	if !d.Approved {
		typ = cmapi.CertificateRequestConditionDenied
	}
	patch := cmapplyv1.CertificateRequest(cr.Name, cr.Namespace).
		WithResourceVersion(cr.ResourceVersion).
		WithStatus(cmapplyv1.CertificateRequestStatus().WithConditions(
			cmapplyv1.CertificateRequestCondition().
				WithType(typ).
				WithStatus(cmmeta.ConditionTrue).
				WithReason(spiffe.ApprovalReason).
				WithMessage(d.Message).
				WithLastTransitionTime(metav1.NewTime(r.clock.Now())),
		))
	if err := r.client.Status().Apply(ctx, patch, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply the %s condition of CertificateRequest %q: %w", typ, cr.Namespace+"/"+cr.Name, err)
	}
	return nil
}

// configChanges is a source that enqueues every pending request whenever the
// configuration changes: a new issuer, duration or key type applies to
// requests already waiting. Requests decided under the old configuration
// stay decided.
//
// It subscribes when the controller starts its sources, before any worker
// runs: a configuration published before then is seen by every reconcile,
// one published after is notified.
func configChanges(src trustdomain.Source, cache client.Reader) source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		changes := src.Subscribe()
		go func() {
			log := logf.FromContext(ctx).WithName("config-changes")
			for {
				select {
				case <-ctx.Done():
					return
				case <-changes:
				}
				for {
					n, err := enqueuePending(ctx, src, cache, q)
					if err == nil {
						log.V(1).Info("configuration changed: re-evaluating pending requests", "pending", n)
						break
					}
					log.Error(err, "failed to enqueue pending requests after a configuration change; retrying")
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
				}
			}
		}()
		return nil
	})
}

func enqueuePending(ctx context.Context, src trustdomain.Source, cache client.Reader, q workqueue.TypedRateLimitingInterface[reconcile.Request]) (int, error) {
	cfg, err := src.Config()
	if err != nil {
		return 0, nil
	}
	list := &cmapi.CertificateRequestList{}
	// The list is only read, so the cache's objects need not be copied.
	if err := cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("failed to list CertificateRequests: %w", err)
	}
	n := 0
	for i := range list.Items {
		cr := &list.Items[i]
		if pending(cr, cfg) {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: cr.Namespace, Name: cr.Name}})
			n++
		}
	}
	return n, nil
}
