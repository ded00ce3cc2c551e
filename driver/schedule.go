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

// Scheduling: when a volume is looked at. The work queue holds volume IDs;
// a volume is queued by its CertificateRequests' watch events, at its
// renewal time (AddAfter), and for retries with backoff. What is done for
// it is in issuance.go.

import (
	"context"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

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

// reconcile moves one volume on: it advances the issuance under way (for a
// first publish or a renewal alike), or begins a renewal when it is due
// (the same begin as NodePublishVolume's), or schedules the next look. It
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
		outcome, err := m.advance(ctx, v)
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
		err = m.begin(ctx, v, token)
	}
	if err != nil {
		return m.fail(v, err)
	}
	return nil
}
