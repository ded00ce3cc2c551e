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

// Package trustdomain delivers the published configuration (status.config)
// of one SpiffeTrustDomain to the driver and the approver. Both follow it
// through a watch, so a change applies to the next decision or issuance
// without a restart.
package trustdomain

import (
	"context"
	"fmt"
	"net/http"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/broadcast"
)

// Source gives the current published configuration and tells when it changes.
type Source interface {
	// Config returns the current configuration, or an error that says why
	// there is none (object missing, nothing published yet, not synced).
	// The returned value must not be modified.
	Config() (*spiffev1alpha1.TrustDomainConfig, error)

	// Subscribe returns a channel that receives a value (without blocking
	// the source; notifications coalesce) every time the configuration
	// changes, including from none to some.
	Subscribe() <-chan struct{}
}

// Generation returns the generation (status.config.generation) of the
// configuration src holds now, which is the one the component applies to its
// next issuance or decision; 0 when it holds none. The driver and the
// approver export it as a gauge, so that anyone can tell whether a
// published change has reached them.
func Generation(src Source) int64 {
	cfg, err := src.Config()
	if err != nil {
		return 0
	}
	return cfg.Generation
}

// Compile-time checks.
var (
	_ Source = &Watcher{}
	_ Source = &Memory{}
)

// state is the configuration, or nil and why there is none.
type state struct {
	cfg    *spiffev1alpha1.TrustDomainConfig
	reason error
}

// broadcaster holds the state and notifies subscribers when the
// configuration changes (a new reason alone is no change).
type broadcaster struct {
	value *broadcast.Value[state]
}

func newBroadcaster(reason error) broadcaster {
	return broadcaster{value: broadcast.New(state{reason: reason}, func(a, b state) bool {
		return apiequality.Semantic.DeepEqual(a.cfg, b.cfg)
	})}
}

func (b *broadcaster) Config() (*spiffev1alpha1.TrustDomainConfig, error) {
	s := b.value.Get()
	if s.cfg == nil {
		return nil, s.reason
	}
	return s.cfg, nil
}

func (b *broadcaster) Subscribe() <-chan struct{} { return b.value.Subscribe() }

// set stores cfg (nil with a reason when none) and notifies subscribers if
// the configuration changed.
func (b *broadcaster) set(cfg *spiffev1alpha1.TrustDomainConfig, reason error) {
	b.value.Set(state{cfg: cfg, reason: reason})
}

// Memory is an in-memory Source for tests and for callers that already hold
// a configuration.
type Memory struct{ broadcaster }

// NewMemory returns a Memory source holding cfg (which may be nil).
func NewMemory(cfg *spiffev1alpha1.TrustDomainConfig) *Memory {
	m := &Memory{broadcaster: newBroadcaster(nil)}
	m.Set(cfg)
	return m
}

// Set replaces the configuration; nil means none is published.
func (m *Memory) Set(cfg *spiffev1alpha1.TrustDomainConfig) {
	if cfg == nil {
		m.set(nil, fmt.Errorf("no configuration is published"))
		return
	}
	m.set(cfg.DeepCopy(), nil)
}

// Watcher is a Source that watches one SpiffeTrustDomain on the API server.
// It lists and watches with a metadata.name field selector, so RBAC with
// resourceNames of that one object is enough.
type Watcher struct {
	broadcaster
	name     string
	informer cache.SharedIndexInformer
}

// NewWatcher returns a Watcher for the SpiffeTrustDomain named name. Call Run.
func NewWatcher(c client.WithWatch, name string) *Watcher {
	w := &Watcher{
		broadcaster: newBroadcaster(fmt.Errorf("the configuration of SpiffeTrustDomain %q has not been read yet", name)),
		name:        name,
	}
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			list := &spiffev1alpha1.SpiffeTrustDomainList{}
			if err := c.List(ctx, list, &client.ListOptions{Raw: &opts}); err != nil {
				return nil, err
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return c.Watch(ctx, &spiffev1alpha1.SpiffeTrustDomainList{}, &client.ListOptions{Raw: &opts})
		},
	}
	w.informer = cache.NewSharedIndexInformer(lw, &spiffev1alpha1.SpiffeTrustDomain{}, 0, cache.Indexers{})
	_, _ = w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.observe(obj) },
		UpdateFunc: func(_, obj any) { w.observe(obj) },
		DeleteFunc: func(any) {
			w.set(nil, fmt.Errorf("SpiffeTrustDomain %q does not exist", w.name))
		},
	})
	return w
}

func (w *Watcher) observe(obj any) {
	td, ok := obj.(*spiffev1alpha1.SpiffeTrustDomain)
	if !ok || td.Name != w.name {
		return
	}
	if td.Status.Config == nil {
		w.set(nil, fmt.Errorf("SpiffeTrustDomain %q has no published configuration yet (status.config is empty): is the operator running? See `kubectl describe spiffetrustdomain %s`", w.name, w.name))
		return
	}
	w.set(td.Status.Config.DeepCopy(), nil)
}

// Run watches until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	go func() {
		// The informer's initial list tells whether the object exists.
		if cache.WaitForCacheSync(ctx.Done(), w.informer.HasSynced) {
			if _, exists, _ := w.informer.GetStore().GetByKey(w.name); !exists {
				w.set(nil, fmt.Errorf("SpiffeTrustDomain %q does not exist", w.name))
			}
		}
	}()
	w.informer.RunWithContext(ctx)
}

// HasSynced reports whether the initial list has completed.
func (w *Watcher) HasSynced() bool { return w.informer.HasSynced() }

// Start implements controller-runtime's manager.Runnable.
func (w *Watcher) Start(ctx context.Context) error {
	w.Run(ctx)
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every replica
// follows the configuration, leader or not.
func (w *Watcher) NeedLeaderElection() bool { return false }

// Ready is a health check (healthz.Checker) that fails, saying why, while no
// configuration is published.
func (w *Watcher) Ready(_ *http.Request) error {
	_, err := w.Config()
	return err
}
