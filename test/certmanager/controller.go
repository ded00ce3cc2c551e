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
	"fmt"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cminformers "github.com/cert-manager/cert-manager/pkg/client/informers/externalversions"
	cmlisters "github.com/cert-manager/cert-manager/pkg/client/listers/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// controller is the watch-driven scaffold of the stand-ins: an informer on
// every CertificateRequest, a work queue, and workers that call sync for the
// requests of one issuer (or of all, with anyIssuer).
type controller struct {
	name      string
	client    cmclient.Interface
	issuerRef cmmeta.IssuerReference
	// anyIssuer makes it act on the requests of every issuer.
	anyIssuer bool
	workers   int
	sync      func(ctx context.Context, cr *cmapi.CertificateRequest) error

	lister cmlisters.CertificateRequestLister
	queue  workqueue.TypedRateLimitingInterface[string]
	wg     sync.WaitGroup
}

// start runs the controller until ctx is done and returns once its cache has
// synced.
func (c *controller) start(ctx context.Context) error {
	if c.workers <= 0 {
		c.workers = 32
	}
	factory := cminformers.NewSharedInformerFactory(c.client, 0)
	informer := factory.Certmanager().V1().CertificateRequests().Informer()
	c.lister = factory.Certmanager().V1().CertificateRequests().Lister()
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 5*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: c.name},
	)
	enqueue := func(obj any) {
		cr, ok := obj.(*cmapi.CertificateRequest)
		if !ok || (!c.anyIssuer && !IssuerRefMatches(cr.Spec.IssuerRef, c.issuerRef)) {
			return
		}
		if key, err := cache.MetaNamespaceKeyFunc(cr); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return fmt.Errorf("failed to watch CertificateRequests: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		c.queue.ShutDown()
		factory.Shutdown()
		return fmt.Errorf("%s: the CertificateRequest cache did not sync: %w", c.name, ctx.Err())
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		<-ctx.Done()
		c.queue.ShutDown()
		factory.Shutdown()
	}()
	for range c.workers {
		c.wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	return nil
}

// wait blocks until the controller has stopped.
func (c *controller) wait() { c.wg.Wait() }

func (c *controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.queue.Forget(key)
		return true
	}
	cr, err := c.lister.CertificateRequests(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.queue.Forget(key)
		return true
	}
	if err == nil {
		err = c.sync(ctx, cr.DeepCopy())
	}
	if err != nil {
		// Conflicts (a stale cached copy) and transient errors: retry.
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// IssuerRefMatches reports whether ref names want, with cert-manager's
// defaults for an empty kind (Issuer) and group (cert-manager.io).
func IssuerRefMatches(ref, want cmmeta.IssuerReference) bool {
	norm := func(r cmmeta.IssuerReference) cmmeta.IssuerReference {
		if r.Kind == "" {
			r.Kind = cmapi.IssuerKind
		}
		if r.Group == "" {
			r.Group = "cert-manager.io"
		}
		return r
	}
	return norm(ref) == norm(want)
}
