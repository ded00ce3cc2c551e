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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cminformers "github.com/cert-manager/cert-manager/pkg/client/informers/externalversions"
	cmlisters "github.com/cert-manager/cert-manager/pkg/client/listers/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
)

const (
	// NodeLabel is set on every CertificateRequest the driver creates to the
	// node ID (or, when that is not a valid label value, a hash of it). Each
	// driver watches only the requests of its node.
	NodeLabel = spiffe.Prefix + "node"
	// VolumeLabel is set on every CertificateRequest the driver creates to a
	// hash of the volume ID (volume IDs are longer than label values may be);
	// the full ID is in the spiffe.VolumeAnnotation annotation.
	VolumeLabel = spiffe.Prefix + "volume"

	volumeIndex = "volume"
)

// NodeLabelValue returns the NodeLabel value of a node ID.
func NodeLabelValue(nodeID string) string {
	if len(validation.IsValidLabelValue(nodeID)) == 0 {
		return nodeID
	}
	return hashLabel(nodeID)
}

// VolumeLabelValue returns the VolumeLabel value of a volume ID.
func VolumeLabelValue(volumeID string) string { return hashLabel(volumeID) }

func hashLabel(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(sum[:])[:48]
}

// requestState is where a CertificateRequest stands.
type requestState int

const (
	statePending requestState = iota
	stateIssued
	stateDenied
	stateFailed
	stateInvalid
)

// classify tells where a CertificateRequest stands and, for a final failure,
// the message of the condition that says why.
func classify(cr *cmapi.CertificateRequest) (requestState, string) {
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionDenied); c != nil && c.Status == cmmeta.ConditionTrue {
		return stateDenied, c.Message
	}
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionInvalidRequest); c != nil && c.Status == cmmeta.ConditionTrue {
		return stateInvalid, c.Message
	}
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil {
		switch {
		case c.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0:
			return stateIssued, c.Message
		case c.Reason == cmapi.CertificateRequestReasonFailed || c.Reason == cmapi.CertificateRequestReasonDenied:
			return stateFailed, c.Message
		}
	}
	return statePending, describePending(cr)
}

// describePending says what a pending request waits for, for errors.
func describePending(cr *cmapi.CertificateRequest) string {
	if !apiutil.CertificateRequestIsApproved(cr) {
		return "waiting for approval"
	}
	if c := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil && c.Message != "" {
		return "approved, waiting for the issuer: " + c.Reason + ": " + c.Message
	}
	return "approved, waiting for the issuer to sign it"
}

// requestCache watches the CertificateRequests of this node (by NodeLabel),
// so waiting for a request costs no API reads.
type requestCache struct {
	factory  cminformers.SharedInformerFactory
	informer cache.SharedIndexInformer
	lister   cmlisters.CertificateRequestLister
}

// newRequestCache builds a cache of the requests labelled for nodeLabel;
// onChange gets the volume ID of every request that is added, changed or
// deleted.
func newRequestCache(client cmclient.Interface, nodeLabel string, onChange func(volumeID string)) (*requestCache, error) {
	selector := labels.SelectorFromSet(labels.Set{NodeLabel: nodeLabel}).String()
	factory := cminformers.NewSharedInformerFactoryWithOptions(client, 0, cminformers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = selector
	}))
	crs := factory.Certmanager().V1().CertificateRequests()
	informer := crs.Informer()
	// The cache keeps only what the driver reads (names, the volume label
	// and annotation, issuer, conditions, the signed chain): the CSR, the CA,
	// managedFields and the requester's identity are dropped, which keeps
	// the driver small on nodes with many volumes.
	if err := informer.SetTransform(func(obj any) (any, error) {
		if cr, ok := obj.(*cmapi.CertificateRequest); ok {
			cr.ManagedFields = nil
			cr.OwnerReferences = nil
			cr.Annotations = map[string]string{spiffe.VolumeAnnotation: cr.Annotations[spiffe.VolumeAnnotation]}
			cr.Spec.Request = nil
			cr.Spec.Username, cr.Spec.UID, cr.Spec.Groups, cr.Spec.Extra = "", "", nil, nil
			cr.Status.CA = nil
		}
		return obj, nil
	}); err != nil {
		return nil, fmt.Errorf("failed to set transform on the CertificateRequest informer: %w", err)
	}
	if err := informer.AddIndexers(cache.Indexers{volumeIndex: func(obj any) ([]string, error) {
		cr, ok := obj.(*cmapi.CertificateRequest)
		if !ok || cr.Labels[VolumeLabel] == "" {
			return nil, nil
		}
		return []string{cr.Labels[VolumeLabel]}, nil
	}}); err != nil {
		return nil, fmt.Errorf("failed to add the volume index to the CertificateRequest informer: %w", err)
	}
	notify := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if cr, ok := obj.(*cmapi.CertificateRequest); ok && cr.Annotations[spiffe.VolumeAnnotation] != "" {
			onChange(cr.Annotations[spiffe.VolumeAnnotation])
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	}); err != nil {
		return nil, fmt.Errorf("failed to add a handler to the CertificateRequest informer: %w", err)
	}
	return &requestCache{factory: factory, informer: informer, lister: crs.Lister()}, nil
}

func (c *requestCache) start(ctx context.Context) { c.factory.Start(ctx.Done()) }

func (c *requestCache) hasSynced() bool { return c.informer.HasSynced() }

// get returns the cached request, or nil when the cache does not hold it.
func (c *requestCache) get(namespace, name string) (*cmapi.CertificateRequest, error) {
	cr, err := c.lister.CertificateRequests(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cr, err
}

// forVolume returns the cached requests of a volume.
func (c *requestCache) forVolume(volumeID string) []*cmapi.CertificateRequest {
	objs, err := c.informer.GetIndexer().ByIndex(volumeIndex, VolumeLabelValue(volumeID))
	if err != nil {
		return nil
	}
	out := make([]*cmapi.CertificateRequest, 0, len(objs))
	for _, o := range objs {
		if cr, ok := o.(*cmapi.CertificateRequest); ok && cr.Annotations[spiffe.VolumeAnnotation] == volumeID {
			out = append(out, cr)
		}
	}
	return out
}

// requestName names a new CertificateRequest after its pod, so that
// `kubectl get certificaterequests` shows whose it is, with a random suffix.
func requestName(podName, suffix string) string {
	prefix := podName
	if len(prefix) > 52 {
		prefix = prefix[:52]
	}
	prefix = strings.TrimRight(prefix, "-.")
	if prefix == "" {
		prefix = "csi-spiffe"
	}
	return prefix + "-" + suffix
}
