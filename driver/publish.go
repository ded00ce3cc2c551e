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
	"errors"
	"fmt"
	"maps"

	"github.com/cert-manager/csi-lib/metadata"
	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

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
		if err := m.begin(ctx, v, pod.Token); err != nil {
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
