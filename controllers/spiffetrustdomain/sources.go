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

package spiffetrustdomain

import (
	"context"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// Kinds of CA-bundle sources.
const (
	kindSecret = "Secret"
)

// sourceRef identifies the Secret or ConfigMap a CA bundle is read from.
type sourceRef struct {
	Kind      string
	Namespace string
	Name      string
	Key       string
}

// caBundleSource returns the CA-bundle source of td, or nil.
func caBundleSource(td *spiffev1alpha1.SpiffeTrustDomain) *sourceRef {
	src := td.Spec.CABundle
	if src == nil {
		return nil
	}
	kind, sel := kindSecret, src.Secret
	if sel == nil {
		kind, sel = kindConfigMap, src.ConfigMap
	}
	if sel == nil {
		return nil
	}
	return &sourceRef{Kind: kind, Namespace: sel.Namespace, Name: sel.Name, Key: orDefault(sel.Key, CABundleKey)}
}

// objectRef is a sourceRef without the key: what is watched.
type objectRef struct {
	Kind      string
	Namespace string
	Name      string
}

// SourceWatcher watches the Secrets and ConfigMaps that SpiffeTrustDomains
// name as CA-bundle sources, and enqueues the SpiffeTrustDomains that name
// one when it changes.
//
// A source may live in any namespace, but the operator must not cache
// every Secret of the cluster: that would keep every credential of every
// tenant in its memory, and cost memory in proportion to the cluster. So
// each referenced object gets its own informer, restricted by a
// metadata.name field selector to that one object and metadata-only (no
// data is cached even for it). The reconciler reads the data with a live
// GET when it needs it. Informers start when the first SpiffeTrustDomain
// names an object and stop when the last one stops naming it.
type SourceWatcher struct {
	client metadata.Interface

	mu      sync.Mutex
	ctx     context.Context
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	refs    map[string]objectRef
	watches map[objectRef]context.CancelFunc
}

var _ source.Source = &SourceWatcher{}

// NewSourceWatcher returns a SourceWatcher that lists and watches with c.
func NewSourceWatcher(c metadata.Interface) *SourceWatcher {
	return &SourceWatcher{
		client:  c,
		refs:    map[string]objectRef{},
		watches: map[objectRef]context.CancelFunc{},
	}
}

// Start implements source.Source: the controller calls it once, before its
// workers run. Watches tracked before Start begin now.
func (w *SourceWatcher) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ctx, w.queue = ctx, queue
	for _, ref := range w.refs {
		w.ensureWatchLocked(ref)
	}
	return nil
}

// String implements fmt.Stringer for controller-runtime's logs.
func (w *SourceWatcher) String() string { return "ca-bundle sources" }

// TrackSpec records the CA-bundle source td names, if any, starting a watch
// of a newly named object and stopping the watch of an object nobody names
// any more.
func (w *SourceWatcher) TrackSpec(td *spiffev1alpha1.SpiffeTrustDomain) {
	w.track(td.Name, caBundleSource(td))
}

// Forget drops what the SpiffeTrustDomain named name tracked: it is gone.
func (w *SourceWatcher) Forget(name string) { w.track(name, nil) }

func (w *SourceWatcher) track(td string, src *sourceRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, had := w.refs[td]
	if src == nil {
		delete(w.refs, td)
	} else {
		ref := objectRef{src.Kind, src.Namespace, src.Name}
		w.refs[td] = ref
		w.ensureWatchLocked(ref)
	}
	if had && !w.namedLocked(old) {
		if cancel, ok := w.watches[old]; ok {
			cancel()
			delete(w.watches, old)
		}
	}
}

// Watching returns the objects watched now, sorted, as kind/namespace/name.
func (w *SourceWatcher) Watching() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.watches))
	for ref := range w.watches {
		out = append(out, ref.Kind+"/"+ref.Namespace+"/"+ref.Name)
	}
	sort.Strings(out)
	return out
}

func (w *SourceWatcher) namedLocked(ref objectRef) bool {
	for _, r := range w.refs {
		if r == ref {
			return true
		}
	}
	return false
}

func (w *SourceWatcher) ensureWatchLocked(ref objectRef) {
	if w.ctx == nil {
		return // not started yet: Start will watch it
	}
	if _, ok := w.watches[ref]; ok {
		return
	}
	gvr := corev1.SchemeGroupVersion.WithResource("secrets")
	if ref.Kind == kindConfigMap {
		gvr = corev1.SchemeGroupVersion.WithResource("configmaps")
	}
	selector := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	informer := metadatainformer.NewFilteredMetadataInformer(w.client, gvr, ref.Namespace, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = selector }).Informer()
	enqueue := func(any) { w.enqueue(ref) }
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		// Only possible on a stopped informer; this one has not started.
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.watches[ref] = cancel
	go informer.RunWithContext(ctx)
}

// enqueue queues every SpiffeTrustDomain that names ref.
func (w *SourceWatcher) enqueue(ref objectRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for td, r := range w.refs {
		if r == ref {
			w.queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: td}})
		}
	}
}
