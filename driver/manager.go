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
	"crypto"
	"errors"
	"fmt"
	"sync"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cmv1 "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/cabundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// CAFileKey is where the driver keeps, in a volume's stored context, the name
// of the CA file it last wrote, so it can replace that file alone when the
// CA bundle or its file name changes.
const CAFileKey = "internal.spiffe.csi.cert-manager.io/ca-file"

// internalKeys are the stored-context keys the driver owns; values of them
// in a request's volume context are dropped.
var internalKeys = []string{volume.MountGroupKey, CAFileKey}

// manager issues, renews and writes the SVIDs of the node's volumes. Its
// parts: the volumes it knows (this file), what kubelet asks (publish.go),
// issuance, one path for first publish and renewal (issuance.go),
// scheduling: the work queue of volume IDs, where a volume is queued when
// one of its CertificateRequests changes (watched, never polled), when its
// renewal is due, and for retries with exponential backoff (schedule.go),
// and the CA file of live volumes (cafile.go).
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

// pendingRequest is an issuance under way: the CertificateRequest the driver
// created and waits for, the key that only lives in memory, and the
// configuration snapshot the request was built from and its files are
// written with.
type pendingRequest struct {
	namespace, name string
	key             crypto.Signer
	cfg             *spiffev1alpha1.TrustDomainConfig
	started         time.Time
	seen            bool
	warned          time.Time
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
