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

package driver

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/keys"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
)

// An issuance is one path for a first publish and for a renewal; only who
// starts it differs (NodePublishVolume in publish.go, the renewal queue in
// schedule.go):
//
//  1. begin takes one snapshot of the configuration, generates the key,
//     builds the CSR and creates the CertificateRequest as the pod. The
//     snapshot and the key travel with the request (pendingRequest).
//  2. The request's watch events queue the volume; advance looks at the
//     request in the cache, without polling the API server.
//  3. finish checks the signed chain against the key and writes the files
//     named by the same snapshot, then schedules the renewal.
//
// The configuration is read again only to ask whether a renewal still
// waiting for its request has been superseded by a new one.

// begin starts an issuance: it takes the configuration snapshot, generates a
// key and creates a CertificateRequest for it as the pod's ServiceAccount,
// with token. v.mu must be held.
func (m *manager) begin(ctx context.Context, v *managedVolume, token string) error {
	cfg, err := m.currentConfig()
	if err != nil {
		return err
	}
	started := m.clock.Now()
	id := spiffe.ID(cfg.TrustDomain, v.pod.Namespace, v.pod.ServiceAccount)
	key, err := keys.Generate(cfg.PrivateKey)
	if err != nil {
		return newIssueError(codes.Internal, ReasonKeyGeneration, fmt.Errorf("failed to generate a private key: %w", err))
	}
	csrPEM, err := keys.CSR(key, id)
	if err != nil {
		return newIssueError(codes.Internal, ReasonKeyGeneration, err)
	}
	// Requests that failed or that nobody waits for any more go first; the
	// one behind the current files goes once the new one is issued.
	m.deleteStale(ctx, v)

	annotations := make(map[string]string, len(cfg.Annotations)+3)
	maps.Copy(annotations, cfg.Annotations)
	annotations[spiffe.IdentityAnnotation] = id.String()
	annotations[spiffe.VolumeAnnotation] = v.id
	annotations[spiffe.ConfigGenerationAnnotation] = strconv.FormatInt(cfg.Generation, 10)
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   v.pod.Namespace,
			Annotations: annotations,
			Labels:      map[string]string{NodeLabel: m.nodeLabel, VolumeLabel: VolumeLabelValue(v.id)},
		},
		Spec: cmapi.CertificateRequestSpec{
			Request: csrPEM,
			IssuerRef: cmmeta.IssuerReference{
				Name:  cfg.IssuerRef.Name,
				Kind:  cfg.IssuerRef.Kind,
				Group: cfg.IssuerRef.Group,
			},
			Duration: &metav1.Duration{Duration: cfg.Duration.Duration},
			IsCA:     false,
			Usages:   operand.SVIDUsages(),
		},
	}
	if v.pod.UID != "" {
		// The garbage collector deletes the pod's requests with the pod,
		// should the driver miss the unpublish.
		cr.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: v.pod.Name, UID: types.UID(v.pod.UID)}}
	}
	cl, err := m.clientForToken(token)
	if err != nil {
		return newIssueError(codes.Internal, ReasonCreateFailed, fmt.Errorf("failed to build a client for the pod's ServiceAccount: %w", err))
	}
	var created *cmapi.CertificateRequest
	for attempt := 0; ; attempt++ {
		cr.Name = requestName(v.pod.Name, utilrand.String(10))
		created, err = cl.CertificateRequests(cr.Namespace).Create(ctx, cr, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) || attempt == 2 {
			break
		}
	}
	switch {
	case err == nil:
	case apierrors.IsForbidden(err):
		return newIssueError(codes.PermissionDenied, ReasonCreateForbidden, fmt.Errorf("ServiceAccount %s/%s may not create CertificateRequests in its namespace; grant it \"create\" on certificaterequests.cert-manager.io (the SpiffeTrustDomain's requester ClusterRole): %w", v.pod.Namespace, v.pod.ServiceAccount, err))
	case apierrors.IsUnauthorized(err):
		return newIssueError(codes.Unauthenticated, ReasonCreateUnauthorized, fmt.Errorf("the API server refused the ServiceAccount token of pod %s (expired?); kubelet sends a fresh one on the next republish: %w", v.pod, err))
	default:
		return newIssueError(codes.Unavailable, ReasonCreateFailed, fmt.Errorf("failed to create a CertificateRequest in namespace %q: %w", cr.Namespace, err))
	}
	v.pending = &pendingRequest{
		namespace: created.Namespace,
		name:      created.Name,
		key:       key,
		cfg:       cfg,
		started:   started,
	}
	m.logFor(v).V(2).Info("created CertificateRequest", "certificateRequest", created.Name, "spiffeID", id.String())
	return nil
}

// deleteStale deletes the volume's requests that are neither pending for
// this driver nor issued (failed, denied, or left by a driver that lost its
// key). Failures are logged: they do not stop the issuance.
func (m *manager) deleteStale(ctx context.Context, v *managedVolume) {
	for _, cr := range m.requests.forVolume(v.id) {
		if v.pending != nil && cr.Name == v.pending.name && cr.Namespace == v.pending.namespace {
			continue
		}
		if state, _ := classify(cr); state == stateIssued {
			continue
		}
		if err := m.deleteRequest(ctx, cr.Namespace, cr.Name); err != nil {
			m.logFor(v).Error(err, "failed to clean up an old CertificateRequest")
		}
	}
}

// deleteOthers deletes all requests of the volume but keep.
func (m *manager) deleteOthers(ctx context.Context, v *managedVolume, keep string) {
	for _, cr := range m.requests.forVolume(v.id) {
		if cr.Name == keep && cr.Namespace == v.pod.Namespace {
			continue
		}
		if err := m.deleteRequest(ctx, cr.Namespace, cr.Name); err != nil {
			m.logFor(v).Error(err, "failed to clean up an old CertificateRequest")
		}
	}
}

// pendingOutcome is what advance found.
type pendingOutcome int

const (
	// waiting: the request is undecided; the informer queues the volume
	// again when it changes.
	waiting pendingOutcome = iota
	// decided: the request was issued and written, or failed (with an
	// error).
	decided
	// superseded: the configuration changed; the request was dropped.
	superseded
)

// advance looks at the pending request and finishes the issuance when the
// request is signed.
func (m *manager) advance(ctx context.Context, v *managedVolume) (pendingOutcome, error) {
	p := v.pending
	cr, err := m.requests.get(p.namespace, p.name)
	if err != nil {
		return decided, newIssueError(codes.Internal, ReasonCreateFailed, fmt.Errorf("failed to read CertificateRequest %s/%s from the cache: %w", p.namespace, p.name, err))
	}
	now := m.clock.Now()
	if cr == nil {
		if p.seen {
			v.pending = nil
			return decided, newIssueError(codes.Aborted, ReasonRequestDeleted, fmt.Errorf("CertificateRequest %s/%s was deleted before it was signed", p.namespace, p.name))
		}
		// Created but not in the cache yet: its add event queues us.
		return waiting, nil
	}
	p.seen = true
	state, msg := classify(cr)
	switch state {
	case stateIssued:
		return decided, m.finish(ctx, v, cr)
	case stateDenied:
		v.pending = nil
		return decided, newIssueError(codes.PermissionDenied, ReasonDenied, fmt.Errorf("CertificateRequest %s/%s was denied: %s", cr.Namespace, cr.Name, msg))
	case stateInvalid:
		v.pending = nil
		return decided, newIssueError(codes.FailedPrecondition, ReasonInvalidRequest, fmt.Errorf("CertificateRequest %s/%s is invalid: %s", cr.Namespace, cr.Name, msg))
	case stateFailed:
		v.pending = nil
		return decided, newIssueError(codes.FailedPrecondition, ReasonFailed, fmt.Errorf("CertificateRequest %s/%s failed: %s", cr.Namespace, cr.Name, msg))
	}
	if !v.published {
		// NodePublishVolume waits with kubelet's deadline.
		return waiting, nil
	}
	if cfg, err := m.currentConfig(); err == nil && requestChanged(p.cfg, cfg) {
		m.logFor(v).Info("the configuration changed while a renewal was pending; requesting again", "certificateRequest", p.name)
		v.pending = nil
		if err := m.deleteRequest(ctx, p.namespace, p.name); err != nil {
			m.logFor(v).Error(err, "failed to delete a superseded CertificateRequest")
		}
		return superseded, nil
	}
	if waited := now.Sub(p.started); waited >= m.pendingWarnAfter && now.Sub(p.warned) >= m.pendingWarnAfter {
		p.warned = now
		m.metrics.failures.WithLabelValues(ReasonPendingTooLong).Inc()
		m.logFor(v).Info("still waiting for a renewal CertificateRequest", "certificateRequest", p.name, "waited", waited.Round(time.Second).String(), "state", msg)
	}
	m.queue.AddAfter(v.id, m.pendingWarnAfter)
	return waiting, nil
}

// finish writes the signed chain, the key and the CA bundle into the volume,
// under the names of the issuance's configuration snapshot, and schedules
// the renewal.
func (m *manager) finish(ctx context.Context, v *managedVolume, cr *cmapi.CertificateRequest) error {
	p := v.pending
	cfg := p.cfg
	v.pending = nil
	chain, err := pki.DecodeX509CertificateChainBytes(cr.Status.Certificate)
	if err != nil || len(chain) == 0 {
		return newIssueError(codes.Internal, ReasonBadCertificate, fmt.Errorf("CertificateRequest %s/%s holds no valid certificate: %w", cr.Namespace, cr.Name, err))
	}
	leaf := chain[0]
	if !keys.PublicKeysEqual(leaf, p.key) {
		return newIssueError(codes.Internal, ReasonBadCertificate, fmt.Errorf("the certificate of CertificateRequest %s/%s is not for the key the driver generated", cr.Namespace, cr.Name))
	}
	keyPEM, err := keys.EncodePKCS8(p.key)
	if err != nil {
		return newIssueError(codes.Internal, ReasonKeyGeneration, err)
	}
	files := map[string][]byte{cfg.Files.Certificate: cr.Status.Certificate, cfg.Files.Key: keyPEM}
	meta, err := m.store.ReadMetadata(v.id)
	if err != nil {
		return newIssueError(codes.Internal, ReasonWriteFailed, fmt.Errorf("failed to read the metadata of volume %q: %w", v.id, err))
	}
	delete(meta.VolumeContext, CAFileKey)
	if name, bundle := m.caFile(cfg); name != "" {
		files[name] = bundle
		meta.VolumeContext[CAFileKey] = name
	}
	renewAt := renewalTime(leaf.NotBefore, leaf.NotAfter, cfg.RenewBeforePercentage)
	meta.NextIssuanceTime = &renewAt
	if err := m.store.WriteFiles(meta, files); err != nil {
		return newIssueError(codes.Internal, ReasonWriteFailed, err)
	}
	if err := m.store.WriteMetadata(v.id, meta); err != nil {
		return newIssueError(codes.Internal, ReasonWriteFailed, err)
	}
	now := m.clock.Now()
	kind := "issuance"
	if v.published {
		kind = "renewal"
		m.metrics.renewals.Inc()
	} else {
		m.metrics.issuances.Inc()
	}
	m.metrics.timeToIssue.WithLabelValues(kind).Observe(now.Sub(p.started).Seconds())
	v.issued, v.renewAt, v.lastErr = true, renewAt, nil
	m.queue.Forget(v.id)
	m.queue.AddAfter(v.id, renewAt.Sub(now))
	for _, w := range v.waiters {
		w <- nil
	}
	v.waiters = nil
	m.logFor(v).V(1).Info("wrote SVID", "type", kind, "certificateRequest", cr.Name, "notAfter", leaf.NotAfter, "renewAt", renewAt)
	m.deleteOthers(ctx, v, cr.Name)
	return nil
}

// fail records a failed attempt. Before the first publish the waiting
// NodePublishVolume gets the error (kubelet retries); after it, the error is
// logged here and returned so that the volume is retried with backoff.
func (m *manager) fail(v *managedVolume, err error) error {
	m.metrics.failures.WithLabelValues(reasonOf(err)).Inc()
	v.lastErr = err
	if !v.published {
		for _, w := range v.waiters {
			w <- err
		}
		v.waiters = nil
		return nil
	}
	m.logFor(v).Error(err, "failed to renew SVID; retrying with backoff", "attempts", m.queue.NumRequeues(v.id)+1)
	return err
}

// caFile returns the name and content of the CA file volumes must hold, or
// "" when none: a CA bundle is configured and its file was given and read.
func (m *manager) caFile(cfg *spiffev1alpha1.TrustDomainConfig) (string, []byte) {
	if cfg.CABundle == nil || m.caBundle == nil {
		return "", nil
	}
	bundle := m.caBundle.Bundle()
	if len(bundle) == 0 {
		return "", nil
	}
	return cfg.Files.CA, bundle
}

// requestChanged reports whether a request built from old would differ, in
// what the issuer signs, from one built from cur: the issuer, the duration
// or the key. (Annotations and file names apply from the next issuance.)
func requestChanged(old, cur *spiffev1alpha1.TrustDomainConfig) bool {
	return old.IssuerRef != cur.IssuerRef || old.Duration != cur.Duration || old.PrivateKey != cur.PrivateKey
}

// renewalTime is when a certificate valid from notBefore to notAfter is
// renewed: when renewBeforePercentage of its lifetime is left (a third when
// it is not in (0, 100)), truncated to the second, as cert-manager renews
// Certificates (pki.RenewalTime).
func renewalTime(notBefore, notAfter time.Time, renewBeforePercentage int32) time.Time {
	return pki.RenewalTime(notBefore, notAfter, nil, &renewBeforePercentage).Time
}
