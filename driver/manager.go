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
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cmv1 "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/cert-manager/csi-lib/metadata"
	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/cabundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/keys"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// CAFileKey is where the driver keeps, in a volume's stored context, the name
// of the CA file it last wrote, so it can replace that file alone when the
// CA bundle or its file name changes.
const CAFileKey = "internal.spiffe.csi.cert-manager.io/ca-file"

// internalKeys are the stored-context keys the driver owns; values of them
// in a request's volume context are dropped.
var internalKeys = []string{volume.MountGroupKey, CAFileKey}

// manager issues, renews and writes the SVIDs of the node's volumes. It is
// driven by a work queue of volume IDs: a volume is queued when one of its
// CertificateRequests changes (watched, never polled), when its renewal is
// due, and for retries with exponential backoff.
type manager struct {
	log            logr.Logger
	nodeLabel      string
	driverName     string
	store          store.Interface
	config         trustdomain.Source
	caBundle       cabundle.Source
	client         cmclient.Interface
	clientForToken func(token string) (cmv1.CertificateRequestsGetter, error)
	clock          clock.WithTicker
	metrics        *Metrics
	requests       *requestCache
	queue          workqueue.TypedRateLimitingInterface[string]
	workers        int
	// pendingWarnAfter is how long a renewal may wait for its request to
	// be decided before the driver says so (it keeps waiting on the same
	// request: re-creating it would not make an absent approver appear).
	pendingWarnAfter time.Duration

	mu      sync.Mutex
	volumes map[string]*managedVolume
}

// managedVolume is the state of one volume. mu serialises issuance, file
// writes and unpublishing of the volume.
//
// It holds no copy of the volume's metadata (and so of the pod's token): that
// lives in the store, on the tmpfs, and is read when needed, which keeps the
// driver small on nodes with many volumes.
type managedVolume struct {
	id string
	// pod is who the volume is for; its Token is always empty.
	pod volume.Pod

	mu sync.Mutex
	// issued: the volume's files hold an SVID; published: kubelet was told
	// the volume is ready (or it was, before a restart).
	issued, published bool
	removed           bool
	renewAt           time.Time
	pending           *pendingRequest
	lastErr           error
	waiters           []chan error
}

// pendingRequest is a CertificateRequest the driver created and waits for,
// with the key that only lives in memory.
type pendingRequest struct {
	namespace, name string
	key             crypto.Signer
	started         time.Time
	seen            bool
	warned          time.Time
	issuerRef       cmmeta.IssuerReference
	duration        time.Duration
	keySpec         spiffev1alpha1.PrivateKeySpec
}

// logFor returns the logger of a volume.
func (m *manager) logFor(v *managedVolume) logr.Logger {
	return m.log.WithValues("volumeID", v.id, "pod", v.pod.String())
}

// withoutToken returns pod without its token, for keeping in memory.
func withoutToken(pod volume.Pod) volume.Pod {
	pod.Token = ""
	return pod
}

// storedToken reads the pod's token from the volume's stored metadata.
func (m *manager) storedToken(v *managedVolume) (string, error) {
	meta, err := m.store.ReadMetadata(v.id)
	if err != nil {
		return "", newIssueError(codes.Internal, ReasonWriteFailed, fmt.Errorf("failed to read the metadata of volume %q: %w", v.id, err))
	}
	token, err := volume.EmptyAudienceToken(meta.VolumeContext)
	if err != nil {
		return "", newIssueError(codes.InvalidArgument, ReasonInvalidVolume, fmt.Errorf("volume %q has no usable ServiceAccount token; kubelet sends a fresh one on the next republish: %w", v.id, err))
	}
	return token, nil
}

func (m *manager) get(id string) *managedVolume {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.volumes[id]
}

func (m *manager) list() []*managedVolume {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*managedVolume, 0, len(m.volumes))
	for _, v := range m.volumes {
		out = append(out, v)
	}
	return out
}

func (m *manager) add(v *managedVolume) {
	m.mu.Lock()
	m.volumes[v.id] = v
	m.metrics.volumes.Set(float64(len(m.volumes)))
	m.mu.Unlock()
}

func (m *manager) remove(id string) *managedVolume {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.volumes[id]
	delete(m.volumes, id)
	m.metrics.volumes.Set(float64(len(m.volumes)))
	return v
}

// currentConfig returns the configuration, or an error saying why there is
// none usable.
func (m *manager) currentConfig() (*spiffev1alpha1.TrustDomainConfig, error) {
	cfg, err := m.config.Config()
	if err != nil {
		return nil, newIssueError(codes.Unavailable, ReasonNoConfiguration, fmt.Errorf("the driver has no configuration yet, retry later: %w", err))
	}
	if cfg.DriverName != m.driverName {
		return nil, newIssueError(codes.FailedPrecondition, ReasonDriverNameMismatch, fmt.Errorf("this driver runs as %q but the SpiffeTrustDomain's driver is %q: the driver's --driver-name must equal spec.driver.name", m.driverName, cfg.DriverName))
	}
	return cfg, nil
}

// ready reports why the driver cannot publish volumes yet, or nil.
func (m *manager) ready() error {
	if _, err := m.currentConfig(); err != nil {
		return err
	}
	if !m.requests.hasSynced() {
		return errors.New("the CertificateRequest cache has not synced yet")
	}
	return nil
}

// resume takes over the volumes found in the store after a restart: their
// files stay where they are and renewals go on. A volume whose first
// issuance never completed is removed (kubelet publishes it again); one
// whose files are missing is re-issued at once.
func (m *manager) resume() error {
	ids, err := m.store.ListVolumes()
	if err != nil {
		return err
	}
	now := m.clock.Now()
	for _, id := range ids {
		log := m.log.WithValues("volumeID", id)
		meta, err := m.store.ReadMetadata(id)
		if err != nil {
			log.Error(err, "failed to read the metadata of a volume; removing it, kubelet publishes it again")
			if err := m.store.RemoveVolume(id); err != nil {
				return err
			}
			continue
		}
		if meta.NextIssuanceTime == nil {
			log.Info("removing a volume whose first issuance never completed; kubelet publishes it again")
			if err := m.store.RemoveVolume(id); err != nil {
				return err
			}
			continue
		}
		pod, err := volume.ParsePod(meta.VolumeContext)
		if err != nil {
			// Renewals fail until kubelet republishes the volume with a
			// fresh token; keep the volume and its files.
			log.Error(err, "the stored volume context is invalid; renewals fail until kubelet republishes the volume")
		}
		v := &managedVolume{
			id:        id,
			pod:       withoutToken(pod),
			issued:    true,
			published: true,
			renewAt:   *meta.NextIssuanceTime,
		}
		if _, err := m.store.ReadFiles(id); err != nil {
			log.Info("the files of a volume are missing; issuing a new SVID")
			v.issued = false
			v.renewAt = now
		}
		m.add(v)
		m.queue.AddAfter(id, v.renewAt.Sub(now))
	}
	if len(ids) > 0 {
		m.log.Info("resumed volumes", "count", len(m.volumes))
	}
	return nil
}

// publish makes sure the volume holds an SVID: it registers a new volume and
// issues its first SVID, waiting until it is written or ctx ends, or, for a
// known volume, refreshes its stored token (kubelet republishes with fresh
// tokens when the CSIDriver has requiresRepublish).
func (m *manager) publish(ctx context.Context, meta metadata.Metadata, pod volume.Pod) error {
	if !m.requests.hasSynced() && !cache.WaitForCacheSync(ctx.Done(), m.requests.hasSynced) {
		return newIssueError(codes.Unavailable, ReasonNoConfiguration, errors.New("the driver's CertificateRequest cache has not synced yet, retry later"))
	}
	m.mu.Lock()
	v, known := m.volumes[meta.VolumeID]
	if !known {
		v = &managedVolume{id: meta.VolumeID, pod: withoutToken(pod)}
		m.volumes[v.id] = v
		m.metrics.volumes.Set(float64(len(m.volumes)))
	}
	m.mu.Unlock()

	v.mu.Lock()
	if v.removed {
		v.mu.Unlock()
		return newIssueError(codes.Aborted, ReasonInvalidVolume, fmt.Errorf("volume %q is being unpublished", v.id))
	}
	if !known {
		if _, err := m.store.RegisterMetadata(meta); err != nil {
			v.mu.Unlock()
			m.abandon(v.id)
			return newIssueError(codes.Internal, ReasonWriteFailed, fmt.Errorf("failed to store metadata of volume %q: %w", v.id, err))
		}
	} else if err := m.refresh(v, meta, pod); err != nil {
		v.mu.Unlock()
		return err
	}
	if v.issued {
		v.mu.Unlock()
		return nil
	}
	wait := make(chan error, 1)
	v.waiters = append(v.waiters, wait)
	if v.pending == nil {
		if err := m.request(ctx, v, pod.Token); err != nil {
			v.waiters = nil
			v.mu.Unlock()
			m.metrics.failures.WithLabelValues(reasonOf(err)).Inc()
			m.abandon(v.id)
			return err
		}
	}
	pending := v.pending
	v.mu.Unlock()
	// The request may have been decided before it was in the cache.
	m.queue.Add(v.id)

	select {
	case err := <-wait:
		if err != nil {
			m.abandon(v.id)
		}
		return err
	case <-ctx.Done():
		v.mu.Lock()
		for i, w := range v.waiters {
			if w == wait {
				v.waiters = append(v.waiters[:i], v.waiters[i+1:]...)
				break
			}
		}
		v.mu.Unlock()
		state := "not yet seen"
		if cr, _ := m.requests.get(pending.namespace, pending.name); cr != nil {
			_, state = classify(cr)
		}
		return newIssueError(codes.DeadlineExceeded, ReasonPendingTooLong, fmt.Errorf("CertificateRequest %s/%s is not signed yet (%s); kubelet retries", pending.namespace, pending.name, state))
	}
}

// refresh stores the volume context of a republish (a fresh token) for the
// next renewal, keeping the driver's own keys, and retries a failing renewal
// at once with the new token.
func (m *manager) refresh(v *managedVolume, meta metadata.Metadata, pod volume.Pod) error {
	if pod.Namespace != v.pod.Namespace || pod.ServiceAccount != v.pod.ServiceAccount {
		return newIssueError(codes.PermissionDenied, ReasonInvalidVolume, fmt.Errorf("volume %q was published for ServiceAccount %s/%s, not %s/%s", v.id, v.pod.Namespace, v.pod.ServiceAccount, pod.Namespace, pod.ServiceAccount))
	}
	existing, err := m.store.ReadMetadata(v.id)
	if err != nil {
		return newIssueError(codes.Internal, ReasonWriteFailed, fmt.Errorf("failed to read the metadata of volume %q: %w", v.id, err))
	}
	next := maps.Clone(meta.VolumeContext)
	if ca, ok := existing.VolumeContext[CAFileKey]; ok {
		next[CAFileKey] = ca
	}
	if maps.Equal(next, existing.VolumeContext) && meta.TargetPath == existing.TargetPath {
		return nil
	}
	oldToken, _ := volume.EmptyAudienceToken(existing.VolumeContext)
	existing.VolumeContext, existing.TargetPath = next, meta.TargetPath
	if err := m.store.WriteMetadata(v.id, existing); err != nil {
		return newIssueError(codes.Internal, ReasonWriteFailed, fmt.Errorf("failed to store metadata of volume %q: %w", v.id, err))
	}
	if pod.Token != oldToken && v.lastErr != nil && v.published {
		m.queue.Add(v.id)
	}
	return nil
}

// markPublished records that kubelet got the volume.
func (m *manager) markPublished(id string) {
	if v := m.get(id); v != nil {
		v.mu.Lock()
		v.published = true
		v.mu.Unlock()
	}
}

// abandon forgets a volume whose first publish failed: its files and
// metadata go (kubelet retries with a fresh publish); its failed
// CertificateRequest stays for `kubectl describe` until the next attempt or
// the pod is deleted.
func (m *manager) abandon(id string) {
	v := m.get(id)
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.published || v.pending != nil {
		return
	}
	v.removed = true
	m.remove(id)
	if err := m.store.RemoveVolume(id); err != nil {
		m.logFor(v).Error(err, "failed to remove the files of a volume whose publish failed")
	}
}

// unpublish forgets the volume and deletes its files, metadata and
// CertificateRequests.
func (m *manager) unpublish(ctx context.Context, id string) error {
	var pending *pendingRequest
	if v := m.remove(id); v != nil {
		v.mu.Lock()
		v.removed = true
		pending = v.pending
		v.pending = nil
		for _, w := range v.waiters {
			w <- fmt.Errorf("volume %q was unpublished", id)
		}
		v.waiters = nil
		v.mu.Unlock()
	}
	if err := m.store.RemoveVolume(id); err != nil {
		return err
	}
	var errs []error
	deleted := map[types.NamespacedName]bool{}
	del := func(namespace, name string) {
		key := types.NamespacedName{Namespace: namespace, Name: name}
		if deleted[key] {
			return
		}
		deleted[key] = true
		if err := m.deleteRequest(ctx, namespace, name); err != nil {
			errs = append(errs, err)
		}
	}
	if pending != nil {
		del(pending.namespace, pending.name)
	}
	for _, cr := range m.requests.forVolume(id) {
		del(cr.Namespace, cr.Name)
	}
	return errors.Join(errs...)
}

func (m *manager) deleteRequest(ctx context.Context, namespace, name string) error {
	err := m.client.CertmanagerV1().CertificateRequests(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to delete CertificateRequest %s/%s: %w", namespace, name, err)
	}
	return nil
}

// request generates a key and creates a CertificateRequest for it as the
// pod's ServiceAccount, with token. v.mu must be held.
func (m *manager) request(ctx context.Context, v *managedVolume, token string) error {
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
			Usages:   Usages,
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
		started:   started,
		issuerRef: cr.Spec.IssuerRef,
		duration:  cfg.Duration.Duration,
		keySpec:   cfg.PrivateKey,
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

// runWorker processes the queue until it shuts down.
func (m *manager) runWorker(ctx context.Context) {
	for {
		id, shutdown := m.queue.Get()
		if shutdown {
			return
		}
		func() {
			defer m.queue.Done(id)
			if err := m.reconcile(ctx, id); err != nil {
				m.queue.AddRateLimited(id)
			}
		}()
	}
}

// reconcile moves one volume on: it completes a decided request, or creates
// a request when the volume's renewal is due, or schedules the next look. It
// returns an error when the volume must be retried with backoff.
func (m *manager) reconcile(ctx context.Context, id string) error {
	v := m.get(id)
	if v == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed {
		return nil
	}
	if v.pending != nil {
		outcome, err := m.checkPending(ctx, v)
		switch {
		case err != nil:
			return m.fail(v, err)
		case outcome != superseded:
			return nil
		}
		// The configuration changed while the request was pending: go on
		// and create a new one.
	}
	if !v.published {
		// Only NodePublishVolume starts the first issuance.
		return nil
	}
	now := m.clock.Now()
	if v.issued && now.Before(v.renewAt) {
		m.queue.AddAfter(id, v.renewAt.Sub(now))
		return nil
	}
	m.logFor(v).V(1).Info("renewing SVID")
	token, err := m.storedToken(v)
	if err == nil {
		err = m.request(ctx, v, token)
	}
	if err != nil {
		return m.fail(v, err)
	}
	return nil
}

// pendingOutcome is what checkPending found.
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

// checkPending looks at the pending request.
func (m *manager) checkPending(ctx context.Context, v *managedVolume) (pendingOutcome, error) {
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
		return decided, m.complete(ctx, v, cr)
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
	if cfg, err := m.currentConfig(); err == nil && (cfg.IssuerRef.Name != p.issuerRef.Name || cfg.IssuerRef.Kind != p.issuerRef.Kind ||
		cfg.IssuerRef.Group != p.issuerRef.Group || cfg.Duration.Duration != p.duration || cfg.PrivateKey != p.keySpec) {
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

// complete writes the signed chain, the key and the CA bundle into the
// volume and schedules the renewal.
func (m *manager) complete(ctx context.Context, v *managedVolume, cr *cmapi.CertificateRequest) error {
	p := v.pending
	v.pending = nil
	chain, err := pki.DecodeX509CertificateChainBytes(cr.Status.Certificate)
	if err != nil || len(chain) == 0 {
		return newIssueError(codes.Internal, ReasonBadCertificate, fmt.Errorf("CertificateRequest %s/%s holds no valid certificate: %w", cr.Namespace, cr.Name, err))
	}
	leaf := chain[0]
	if !keys.PublicKeysEqual(leaf, p.key) {
		return newIssueError(codes.Internal, ReasonBadCertificate, fmt.Errorf("the certificate of CertificateRequest %s/%s is not for the key the driver generated", cr.Namespace, cr.Name))
	}
	cfg, err := m.currentConfig()
	if err != nil {
		return err
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

// updateCAFiles rewrites the CA file of every issued volume that does not
// hold the current bundle, carrying the certificate and key over unchanged.
func (m *manager) updateCAFiles() {
	cfg, err := m.currentConfig()
	if err != nil {
		return
	}
	name, bundle := m.caFile(cfg)
	for _, v := range m.list() {
		if err := m.updateCAFile(v, name, bundle); err != nil {
			m.metrics.failures.WithLabelValues(ReasonWriteFailed).Inc()
			m.logFor(v).Error(err, "failed to update the CA file of a volume")
		}
	}
}

func (m *manager) updateCAFile(v *managedVolume, name string, bundle []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed || !v.issued {
		return nil
	}
	meta, err := m.store.ReadMetadata(v.id)
	if err != nil {
		return err
	}
	old := meta.VolumeContext[CAFileKey]
	files, err := m.store.ReadFiles(v.id)
	if err != nil {
		return err
	}
	if old == name && (name == "" || bytes.Equal(files[name], bundle)) {
		return nil
	}
	if old != "" {
		delete(files, old)
	}
	delete(meta.VolumeContext, CAFileKey)
	if name != "" {
		if _, clash := files[name]; clash {
			return fmt.Errorf("the CA file name %q is the name of another file of the volume; the CA file follows at the next renewal", name)
		}
		files[name] = bundle
		meta.VolumeContext[CAFileKey] = name
	}
	if err := m.store.WriteFiles(meta, files); err != nil {
		return err
	}
	if err := m.store.WriteMetadata(v.id, meta); err != nil {
		return err
	}
	m.metrics.caFileUpdates.Inc()
	m.logFor(v).V(1).Info("updated the CA file", "file", name)
	return nil
}

// renewalTime is when a certificate valid from notBefore to notAfter is
// renewed: when renewBeforePercentage of its lifetime is left.
func renewalTime(notBefore, notAfter time.Time, renewBeforePercentage int32) time.Time {
	if renewBeforePercentage <= 0 || renewBeforePercentage >= 100 {
		renewBeforePercentage = 33
	}
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-lifetime * time.Duration(renewBeforePercentage) / 100)
}
