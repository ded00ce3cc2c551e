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
	"fmt"
	"sync"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
)

// Messages cert-manager writes on the Ready condition of CertificateRequests
// (pkg/controller/certificaterequests/util/reporter.go).
const (
	// IssuedMessage is the Ready message of a signed request.
	IssuedMessage = "Certificate fetched from issuer successfully"
	// DeniedMessage is the Ready message of a denied request.
	DeniedMessage = "The CertificateRequest was denied by an approval controller"
)

// SignerOptions configure a Signer.
type SignerOptions struct {
	// Client reaches the API server; see NewClient. Required.
	Client cmclient.Interface
	// IssuerRef is the issuer the Signer stands in for, such as
	// {Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer"}; empty kind and
	// group mean Issuer and cert-manager.io, as in cert-manager. Required.
	IssuerRef cmmeta.IssuerReference
	// CA signs the requests. Required; SetCA replaces it.
	CA *CA
	// MaxLifetime, when set, caps the lifetime of the certificates it signs,
	// whatever duration is requested: tests of renewal need certificates of
	// seconds, and the SpiffeTrustDomain CRD refuses durations under 10m.
	MaxLifetime time.Duration
	// Workers sign requests concurrently. Default 32.
	Workers int
	// Clock is the time certificates start at. Default the real clock (as
	// cert-manager); tests of renewal with a fake clock set it.
	Clock clock.PassiveClock
}

// Signer is a TEST STAND-IN for a cert-manager CA ClusterIssuer (or Issuer):
// cert-manager's certificaterequests-issuer-ca controller does not run on the
// test control plane, so the Signer does what it does for the requests of one
// issuer, with cert-manager's own pki package:
//
//   - a Denied request is marked Ready=False, reason Denied, with a failure
//     time (cert-manager's reporter.Denied);
//   - an Approved request that is neither Issued nor Failed is signed with
//     pki.CertificateTemplateFromCertificateRequest and pki.SignCSRTemplate,
//     exactly as the CA issuer does: the chain (leaf first, without the root)
//     in status.certificate, the root in status.ca, Ready=True, reason
//     Issued;
//   - a request whose CSR cannot be signed is marked Ready=False, reason
//     Failed, with the error.
//
// Unlike cert-manager it does not read an Issuer object or a Secret: it is
// given its CA. It is watch-driven with several workers, so it signs as fast
// as the API server lets it.
type Signer struct {
	ctrl        controller
	maxLifetime time.Duration
	clock       clock.PassiveClock

	mu sync.RWMutex
	ca *CA
}

// NewSigner returns a Signer; call Start.
func NewSigner(opts SignerOptions) (*Signer, error) {
	if opts.Client == nil || opts.IssuerRef.Name == "" || opts.CA == nil {
		return nil, errors.New("failed to build the stand-in signer: Client, IssuerRef.Name and CA are required")
	}
	s := &Signer{maxLifetime: opts.MaxLifetime, ca: opts.CA, clock: opts.Clock}
	s.ctrl = controller{name: "stand-in-ca-issuer", client: opts.Client, issuerRef: opts.IssuerRef, workers: opts.Workers, sync: s.sync}
	return s, nil
}

// Start signs requests until ctx is done; it returns once its cache has
// synced. Wait blocks until it has stopped.
func (s *Signer) Start(ctx context.Context) error { return s.ctrl.start(ctx) }

// Wait blocks until the Signer has stopped after its context ended.
func (s *Signer) Wait() { s.ctrl.wait() }

// SetCA makes the Signer sign with ca from now on (a CA rotation).
func (s *Signer) SetCA(ca *CA) {
	s.mu.Lock()
	s.ca = ca
	s.mu.Unlock()
}

func (s *Signer) currentCA() *CA {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ca
}

func (s *Signer) sync(ctx context.Context, cr *cmapi.CertificateRequest) error {
	if apiutil.CertificateRequestIsDenied(cr) {
		if apiutil.CertificateRequestReadyReason(cr) == cmapi.CertificateRequestReasonDenied {
			return nil
		}
		setFailureTime(cr)
		apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied, DeniedMessage)
		return s.update(ctx, cr)
	}
	if apiutil.CertificateRequestHasInvalidRequest(cr) || !apiutil.CertificateRequestIsApproved(cr) {
		return nil
	}
	switch apiutil.CertificateRequestReadyReason(cr) {
	case cmapi.CertificateRequestReasonFailed, cmapi.CertificateRequestReasonIssued:
		return nil
	}
	if len(cr.Status.Certificate) > 0 {
		return nil
	}
	template, err := pki.CertificateTemplateFromCertificateRequest(cr)
	if err != nil {
		fail(cr, fmt.Errorf("Error generating certificate template: %w", err))
		return s.update(ctx, cr)
	}
	if s.clock != nil {
		lifetime := template.NotAfter.Sub(template.NotBefore)
		template.NotBefore = s.clock.Now()
		template.NotAfter = template.NotBefore.Add(lifetime)
	}
	if s.maxLifetime > 0 && template.NotAfter.Sub(template.NotBefore) > s.maxLifetime {
		template.NotAfter = template.NotBefore.Add(s.maxLifetime)
	}
	ca := s.currentCA()
	bundle, err := pki.SignCSRTemplate(ca.Certs, ca.Key, template)
	if err != nil {
		fail(cr, fmt.Errorf("Error signing certificate: %w", err))
		return s.update(ctx, cr)
	}
	cr.Status.Certificate = bundle.ChainPEM
	cr.Status.CA = bundle.CAPEM
	apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, IssuedMessage)
	return s.update(ctx, cr)
}

func (s *Signer) update(ctx context.Context, cr *cmapi.CertificateRequest) error {
	_, err := s.ctrl.client.CertmanagerV1().CertificateRequests(cr.Namespace).UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	return err
}

func setFailureTime(cr *cmapi.CertificateRequest) {
	if cr.Status.FailureTime == nil {
		now := metav1.Now()
		cr.Status.FailureTime = &now
	}
}

// fail marks cr Ready=False, reason Failed, as cert-manager's reporter.Failed.
func fail(cr *cmapi.CertificateRequest, err error) {
	setFailureTime(cr)
	apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, err.Error())
}
