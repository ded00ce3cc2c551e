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

package certmanager

import (
	"context"
	"errors"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApproverReason is the reason of the conditions the stand-in approver
// writes, so they are never mistaken for the real approver's.
const ApproverReason = "StandInApprover"

// ApproverOptions configure an Approver.
type ApproverOptions struct {
	// Client reaches the API server; see NewClient. Required.
	Client cmclient.Interface
	// IssuerRef is the issuer whose requests it decides. Required.
	IssuerRef cmmeta.IssuerReference
	// Decide returns whether to approve a request, and the message of the
	// condition. Default: approve every request.
	Decide func(cr *cmapi.CertificateRequest) (approve bool, message string)
	// Workers decide requests concurrently. Default 32.
	Workers int
}

// Approver is a TEST STAND-IN for "an approver": it sets Approved or Denied
// (reason StandInApprover) on every undecided CertificateRequest of one
// issuer, by a rule the test gives (default: approve everything). It does not
// enforce the SPIFFE policy: that is the real approver's job.
type Approver struct {
	ctrl   controller
	decide func(cr *cmapi.CertificateRequest) (bool, string)
}

// NewApprover returns an Approver; call Start.
func NewApprover(opts ApproverOptions) (*Approver, error) {
	if opts.Client == nil || opts.IssuerRef.Name == "" {
		return nil, errors.New("failed to build the stand-in approver: Client and IssuerRef.Name are required")
	}
	a := &Approver{decide: opts.Decide}
	if a.decide == nil {
		a.decide = func(*cmapi.CertificateRequest) (bool, string) { return true, "approved by the test approver" }
	}
	a.ctrl = controller{name: "stand-in-approver", client: opts.Client, issuerRef: opts.IssuerRef, workers: opts.Workers, sync: a.sync}
	return a, nil
}

// Start decides requests until ctx is done; it returns once its cache has
// synced.
func (a *Approver) Start(ctx context.Context) error { return a.ctrl.start(ctx) }

// Wait blocks until the Approver has stopped after its context ended.
func (a *Approver) Wait() { a.ctrl.wait() }

func (a *Approver) sync(ctx context.Context, cr *cmapi.CertificateRequest) error {
	if apiutil.CertificateRequestIsApproved(cr) || apiutil.CertificateRequestIsDenied(cr) {
		return nil
	}
	approve, msg := a.decide(cr)
	if approve {
		apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, ApproverReason, msg)
	} else {
		apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, ApproverReason, msg)
	}
	_, err := a.ctrl.client.CertmanagerV1().CertificateRequests(cr.Namespace).UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	return err
}
