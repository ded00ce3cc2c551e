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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Reconcile brings the children of one SpiffeTrustDomain to their desired
// state and writes its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx).WithValues("spiffetrustdomain", req.Name)
	ctx = logf.IntoContext(ctx, log)

	td := &spiffev1alpha1.SpiffeTrustDomain{}
	if err := r.Client.Get(ctx, req.NamespacedName, td); err != nil {
		if apierrors.IsNotFound(err) {
			// The garbage collector deletes the children.
			r.Sources.Forget(req.Name)
			r.forgetWritten(req.Name)
			r.forgetAppliedFor(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to get SpiffeTrustDomain %q: %w", req.Name, err)
	}
	if !td.DeletionTimestamp.IsZero() {
		r.Sources.Forget(td.Name)
		return ctrl.Result{}, nil
	}

	obs, result, reconcileErr := r.reconcile(ctx, td)
	statusErr := r.applyStatus(ctx, td, obs)
	if err := errors.Join(reconcileErr, statusErr); err != nil {
		// Retried with backoff; a result with an error is ignored.
		return ctrl.Result{}, err
	}
	return result, nil
}

// reconcile observes and applies; it returns what it saw for the status.
func (r *Reconciler) reconcile(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) (*observation, ctrl.Result, error) {
	log := logf.FromContext(ctx)
	obs := &observation{Config: r.publishedConfig(td)}
	r.Sources.TrackSpec(td)
	obs.DaemonSet, obs.Deployment = r.workloads(ctx, td)

	if errs := validateSpec(td); len(errs) > 0 {
		// Nothing is applied: running pods keep the last good
		// configuration, and status.config stays as it is.
		log.V(2).Info("spec is invalid, keeping the previous configuration", "errors", errs.ToAggregate().Error())
		obs.Invalid = errs
		return obs, ctrl.Result{}, nil
	}

	// An error from here on is retried and reported (Ready=False,
	// Degraded=True, reason ApplyFailed) with what failed.
	failed := func(err error) (*observation, ctrl.Result, error) {
		obs.ApplyErr = err
		return obs, ctrl.Result{}, err
	}
	conflict, err := r.driverNameConflict(ctx, td)
	if err != nil {
		return failed(err)
	}
	if conflict != "" {
		obs.Conflict = conflict
		// An object that may not use its driver name has no children.
		// It may have created some before the older object appeared in
		// the cache; remove them (never the other object's).
		if err := r.prune(ctx, td, nil); err != nil {
			return failed(err)
		}
		obs.DaemonSet, obs.Deployment = nil, nil
		return obs, ctrl.Result{}, nil
	}

	var result ctrl.Result
	ref := issuerRef(td)
	res, err := r.issuerResource(ref)
	if err != nil {
		return failed(err)
	}
	if res == nil {
		result.RequeueAfter = externalIssuerRecheck
	}
	namespaces, err := r.requesterNamespaces(ctx, td)
	if err != nil {
		return failed(err)
	}
	selectorSet := td.Spec.RequesterNamespaceSelector != nil
	issuer, err := issuerCondition(ref, res, selectorSet, namespaces, r.issuerLookup(ctx, ref))
	if err != nil {
		return failed(err)
	}
	obs.Issuer = &issuer

	in := installInputs{
		SignerNames:         operand.SignerNames(ref, res, !selectorSet, namespaces),
		RequesterNamespaces: namespaces,
	}
	var inUse *caBundle
	var ca cond
	in.CABundle, inUse, in.KeepCABundle, ca, err = r.caBundle(ctx, td)
	if err != nil {
		return failed(err)
	}
	obs.CABundle = &ca

	children := desiredChildren(td, r.Options, in)
	foreign, err := r.foreignChildren(ctx, td, children)
	if err != nil {
		return failed(err)
	}
	if len(foreign) > 0 {
		// Never taken over, nothing applied nor pruned: the running
		// children (if any) and status.config stay as they are. Foreign
		// objects are not watched (the caches hold the operator's own),
		// so their removal is noticed by looking again.
		obs.Conflict, obs.ConflictReason = foreignMessage(foreign), spiffev1alpha1.ReasonForeignObject
		return obs, ctrl.Result{RequeueAfter: foreignRecheck}, nil
	}
	applyErr := errors.Join(
		// Children of an earlier SpiffeTrustDomain of the same name (the
		// garbage collector has not deleted them yet) would refuse our
		// controller reference: delete them first.
		r.deleteChildren(ctx, td, func(obj client.Object) bool { return isStale(obj, td) }),
		r.apply(ctx, td, children),
		r.prune(ctx, td, children),
	)
	obs.ApplyErr = applyErr
	obs.Config = buildConfig(td, inUse)
	obs.DaemonSet, obs.Deployment = r.workloads(ctx, td)
	return obs, result, applyErr
}

// workloads returns the driver DaemonSet and approver Deployment of td from
// the cache, nil when absent or not controlled by td.
func (r *Reconciler) workloads(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) (*appsv1.DaemonSet, *appsv1.Deployment) {
	ds := &appsv1.DaemonSet{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: r.Options.Namespace, Name: operand.DriverDaemonSetName(td.Name)}, ds); err != nil || !isControlledBy(ds, td) {
		ds = nil
	}
	d := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: r.Options.Namespace, Name: operand.ApproverDeploymentName(td.Name)}, d); err != nil || !isControlledBy(d, td) {
		d = nil
	}
	return ds, d
}

// driverNameConflict says why td may not use its driver name, or "".
// Among SpiffeTrustDomains with the same driver name the oldest (by
// creation time, then name) keeps it. A CSIDriver of that name that another
// SpiffeTrustDomain controls blocks it too, until garbage collection.
func (r *Reconciler) driverNameConflict(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) (string, error) {
	name := DriverName(td)
	list := &spiffev1alpha1.SpiffeTrustDomainList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{driverNameIndex: name}); err != nil {
		return "", fmt.Errorf("failed to list SpiffeTrustDomains with driver name %q: %w", name, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == td.UID || !other.DeletionTimestamp.IsZero() {
			continue
		}
		if older(other, td) {
			return fmt.Sprintf("driver name %q is already used by SpiffeTrustDomain %q, which is older; spec.driver.name is immutable, so delete this SpiffeTrustDomain and create it again with a unique driver name", name, other.Name), nil
		}
	}

	csid := &storagev1.CSIDriver{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, csid); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("failed to get CSIDriver %q: %w", name, err)
	}
	if isControlledBy(csid, td) {
		return "", nil
	}
	if owner := metav1.GetControllerOfNoCopy(csid); owner != nil && !isStale(csid, td) &&
		owner.Kind == spiffev1alpha1.Kind && owner.APIVersion == spiffev1alpha1.GroupVersion.String() {
		return fmt.Sprintf("CSIDriver %q still belongs to SpiffeTrustDomain %q (uid %s); waiting for it to be deleted (by that object's cleanup or the garbage collector)", name, owner.Name, owner.UID), nil
	}
	// A CSIDriver left by an earlier object of the same name is garbage
	// that prune deletes; one of another product (a csi-driver-spiffe Helm
	// release's) is a foreign object, reported with its manager before
	// anything is applied (foreignChildren).
	return "", nil
}

// older reports whether a was created before b (by name on a tie).
func older(a, b *spiffev1alpha1.SpiffeTrustDomain) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// issuerResource resolves the issuer's kind; nil when it is not served.
func (r *Reconciler) issuerResource(ref spiffev1alpha1.IssuerReference) (*operand.IssuerResource, error) {
	if ref.Group == certManagerGroup {
		return operand.CertManagerIssuerResource(ref.Kind), nil
	}
	m, err := r.RESTMapper.RESTMapping(schema.GroupKind{Group: ref.Group, Kind: ref.Kind})
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to resolve issuer kind %s.%s: %w", ref.Kind, ref.Group, err)
	}
	return &operand.IssuerResource{Resource: m.Resource.Resource, Namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

// issuerLookup reads cert-manager issuers from the cache.
func (r *Reconciler) issuerLookup(ctx context.Context, ref spiffev1alpha1.IssuerReference) issuerLookup {
	return func(ns string) (cmapi.GenericIssuer, error) {
		var iss cmapi.GenericIssuer = &cmapi.ClusterIssuer{}
		if ns != "" {
			iss = &cmapi.Issuer{}
		}
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, iss); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("failed to get %s %q: %w", ref.Kind, ref.Name, err)
		}
		return iss, nil
	}
}

// requesterNamespaces lists the live namespaces that
// spec.requesterNamespaceSelector matches, sorted; nil without a selector.
func (r *Reconciler) requesterNamespaces(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) ([]string, error) {
	if td.Spec.RequesterNamespaceSelector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(td.Spec.RequesterNamespaceSelector)
	if err != nil {
		// validateSpec has checked it.
		return nil, fmt.Errorf("failed to parse spec.requesterNamespaceSelector: %w", err)
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.Client.List(ctx, list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("failed to list namespaces: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		if ns.DeletionTimestamp.IsZero() {
			names = append(names, ns.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// caBundle reads and validates the CA-bundle source. It returns the bundle
// to write into the ConfigMap (nil when there is nothing new), the bundle
// in use after this reconcile (for status.config), whether the existing
// ConfigMap must be kept untouched, and the CABundleReady condition.
//
// A missing or invalid source never removes a bundle already mounted: the
// previous one stays until the source is fixed.
func (r *Reconciler) caBundle(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) (write, inUse *caBundle, keep bool, c cond, err error) {
	src := caBundleSource(td)
	if src == nil {
		return nil, nil, false, cond{metav1.ConditionTrue, spiffev1alpha1.ReasonCABundleNotConfigured, "spec.caBundle is not set: volumes get no CA file"}, nil
	}
	what := fmt.Sprintf("key %q of %s %s/%s", src.Key, src.Kind, src.Namespace, src.Name)
	data, problem, err := r.readSource(ctx, src)
	if err != nil {
		return nil, nil, false, cond{}, err
	}
	reason := spiffev1alpha1.ReasonCABundleSourceNotFound
	if problem == "" {
		bundle, perr := parseCABundle(data)
		if perr == nil {
			return bundle, bundle, false, cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady,
				fmt.Sprintf("%d CA certificates from %s are mounted", bundle.Certificates, what)}, nil
		}
		reason = spiffev1alpha1.ReasonCABundleInvalid
		problem = fmt.Sprintf("%s is not a usable CA bundle: %v", what, perr)
	}

	kept := "; no CA bundle is mounted until it is fixed"
	existing := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: r.Options.Namespace, Name: operand.CABundleConfigMapName(td.Name)}, existing); err == nil && isControlledBy(existing, td) {
		if b, perr := parseCABundle([]byte(existing.Data[CABundleKey])); perr == nil {
			inUse, keep = b, true
			kept = fmt.Sprintf("; the previous bundle (%d certificates) stays mounted", b.Certificates)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return nil, nil, false, cond{}, fmt.Errorf("failed to get ConfigMap %q: %w", operand.CABundleConfigMapName(td.Name), err)
	}
	return nil, inUse, keep, cond{metav1.ConditionFalse, reason, problem + kept}, nil
}

// readSource reads the key of a CA-bundle source with a live GET. problem
// says what is missing, if anything.
func (r *Reconciler) readSource(ctx context.Context, src *sourceRef) (data []byte, problem string, err error) {
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	var ok bool
	switch src.Kind {
	case kindSecret:
		s := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, key, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Sprintf("Secret %s/%s not found: create it or fix spec.caBundle.secret", src.Namespace, src.Name), nil
			}
			return nil, "", fmt.Errorf("failed to get Secret %s/%s: %w", src.Namespace, src.Name, err)
		}
		data, ok = s.Data[src.Key]
	default:
		cm := &corev1.ConfigMap{}
		if err := r.APIReader.Get(ctx, key, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Sprintf("ConfigMap %s/%s not found: create it or fix spec.caBundle.configMap", src.Namespace, src.Name), nil
			}
			return nil, "", fmt.Errorf("failed to get ConfigMap %s/%s: %w", src.Namespace, src.Name, err)
		}
		var s string
		if s, ok = cm.Data[src.Key]; ok {
			data = []byte(s)
		} else {
			data, ok = cm.BinaryData[src.Key]
		}
	}
	if !ok {
		return nil, fmt.Sprintf("%s %s/%s has no key %q: fix the key in spec.caBundle", src.Kind, src.Namespace, src.Name, src.Key), nil
	}
	return data, "", nil
}

// apply writes every child with server-side apply under FieldOwner, taking
// ownership of any field someone else changed (drift is reverted).
//
// A child is skipped when the operator applied exactly the same content
// and the object has not changed since (the cache shows the resourceVersion
// the apply returned): an unchanged trust domain costs no write, however
// many namespaces its selector matches. Any change by anyone (drift,
// deletion, a status update) changes the resourceVersion and brings the
// apply back.
func (r *Reconciler) apply(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain, children []child) error {
	var errs []error
	for _, c := range children {
		if c.Apply == nil {
			continue
		}
		hash, err := contentHash(c.Apply)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.unchangedSinceApplied(ctx, c.Key, hash) {
			continue
		}
		if c.Key.Kind == kindCSIDriver {
			err = r.applyCSIDriver(ctx, c)
		} else {
			err = r.Client.Apply(ctx, c.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to apply %s %q: %w", c.Key.Kind, keyName(c.Key), err))
			r.forgetApplied(c.Key)
			continue
		}
		// The apply decoded the server's answer into c.Apply.
		r.rememberApplied(td.Name, c.Key, hash, resourceVersionOf(c.Apply))
	}
	return errors.Join(errs...)
}

// appliedState is what the operator last applied to a child, and the
// resourceVersion the API server answered.
type appliedState struct {
	owner           string
	hash            string
	resourceVersion string
}

// contentHash hashes an apply configuration.
func contentHash(ac runtime.ApplyConfiguration) (string, error) {
	data, err := json.Marshal(ac)
	if err != nil {
		return "", fmt.Errorf("failed to encode %T: %w", ac, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// resourceVersionOf reads metadata.resourceVersion of an applied object.
func resourceVersionOf(ac runtime.ApplyConfiguration) string {
	data, err := json.Marshal(ac)
	if err != nil {
		return ""
	}
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(data, &obj); err != nil {
		return ""
	}
	return obj.ResourceVersion
}

// unchangedSinceApplied reports whether the child at key was last applied
// with content hash and the cache still shows the version that apply made.
func (r *Reconciler) unchangedSinceApplied(ctx context.Context, key childKey, hash string) bool {
	r.appliedMu.Lock()
	last, ok := r.applied[key]
	r.appliedMu.Unlock()
	if !ok || last.hash != hash || last.resourceVersion == "" {
		return false
	}
	obj := newChildObject(key.Kind)
	if obj == nil || r.Client.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: key.Name}, obj) != nil {
		return false
	}
	return obj.GetResourceVersion() == last.resourceVersion
}

func (r *Reconciler) rememberApplied(owner string, key childKey, hash, resourceVersion string) {
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	if r.applied == nil {
		r.applied = map[childKey]appliedState{}
	}
	r.applied[key] = appliedState{owner: owner, hash: hash, resourceVersion: resourceVersion}
}

func (r *Reconciler) forgetApplied(key childKey) {
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	delete(r.applied, key)
}

// forgetAppliedFor drops the records of a deleted SpiffeTrustDomain's children.
func (r *Reconciler) forgetAppliedFor(owner string) {
	r.appliedMu.Lock()
	defer r.appliedMu.Unlock()
	for k, v := range r.applied {
		if v.owner == owner {
			delete(r.applied, k)
		}
	}
}

// newChildObject returns an empty object of a child kind.
func newChildObject(kind string) client.Object {
	switch kind {
	case kindServiceAccount:
		return &corev1.ServiceAccount{}
	case kindConfigMap:
		return &corev1.ConfigMap{}
	case kindClusterRole:
		return &rbacv1.ClusterRole{}
	case kindClusterRoleBinding:
		return &rbacv1.ClusterRoleBinding{}
	case kindRole:
		return &rbacv1.Role{}
	case kindRoleBinding:
		return &rbacv1.RoleBinding{}
	case kindCSIDriver:
		return &storagev1.CSIDriver{}
	case kindDaemonSet:
		return &appsv1.DaemonSet{}
	case kindDeployment:
		return &appsv1.Deployment{}
	}
	return nil
}

// applyCSIDriver applies the CSIDriver, deleting and recreating it when an
// immutable field (attachRequired, volumeLifecycleModes) must change: the
// API server refuses the patch as Invalid. foreignChildren has made sure
// the existing object is ours.
func (r *Reconciler) applyCSIDriver(ctx context.Context, c child) error {
	err := r.Client.Apply(ctx, c.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership)
	if !apierrors.IsInvalid(err) {
		return err
	}
	existing := &storagev1.CSIDriver{}
	if gerr := r.APIReader.Get(ctx, types.NamespacedName{Name: c.Key.Name}, existing); gerr != nil {
		return errors.Join(err, gerr)
	}
	logf.FromContext(ctx).Info("recreating CSIDriver to change immutable fields", "csiDriver", c.Key.Name, "reason", err.Error())
	if derr := r.Client.Delete(ctx, existing, client.Preconditions{UID: &existing.UID}); derr != nil && !apierrors.IsNotFound(derr) {
		return fmt.Errorf("failed to delete CSIDriver %q to recreate it: %w", c.Key.Name, derr)
	}
	return r.Client.Apply(ctx, c.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// prune deletes the children of td (those it controls) that are not in
// desired; with desired nil, all of them.
func (r *Reconciler) prune(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain, desired []child) error {
	want := map[childKey]bool{}
	for _, c := range desired {
		want[c.Key] = true
	}
	return r.deleteChildren(ctx, td, func(obj client.Object) bool {
		return isControlledBy(obj, td) && !want[childKey{kindOf(obj), obj.GetNamespace(), obj.GetName()}]
	})
}

// isStale reports whether obj is controlled by an earlier SpiffeTrustDomain
// with td's name: that owner is gone (names are unique), so obj is garbage.
func isStale(obj metav1.Object, td *spiffev1alpha1.SpiffeTrustDomain) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.Kind == spiffev1alpha1.Kind && ref.APIVersion == spiffev1alpha1.GroupVersion.String() &&
		ref.Name == td.Name && ref.UID != td.UID
}

// kindOf returns the kind of a child object.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return kindDeployment
	case *appsv1.DaemonSet:
		return kindDaemonSet
	case *storagev1.CSIDriver:
		return kindCSIDriver
	case *corev1.ConfigMap:
		return kindConfigMap
	case *rbacv1.RoleBinding:
		return kindRoleBinding
	case *rbacv1.ClusterRoleBinding:
		return kindClusterRoleBinding
	case *rbacv1.Role:
		return kindRole
	case *rbacv1.ClusterRole:
		return kindClusterRole
	case *corev1.ServiceAccount:
		return kindServiceAccount
	}
	return ""
}

// deleteChildren deletes the objects labelled as td's children for which
// match is true.
func (r *Reconciler) deleteChildren(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain, match func(client.Object) bool) error {
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{kindDeployment, &appsv1.DeploymentList{}},
		{kindDaemonSet, &appsv1.DaemonSetList{}},
		{kindCSIDriver, &storagev1.CSIDriverList{}},
		{kindConfigMap, &corev1.ConfigMapList{}},
		{kindRoleBinding, &rbacv1.RoleBindingList{}},
		{kindClusterRoleBinding, &rbacv1.ClusterRoleBindingList{}},
		{kindRole, &rbacv1.RoleList{}},
		{kindClusterRole, &rbacv1.ClusterRoleList{}},
		{kindServiceAccount, &corev1.ServiceAccountList{}},
	}
	var errs []error
	for _, l := range lists {
		if err := r.Client.List(ctx, l.list, client.MatchingLabels{LabelTrustDomainObject: td.Name}); err != nil {
			errs = append(errs, fmt.Errorf("failed to list %ss: %w", l.kind, err))
			continue
		}
		objs, err := meta.ExtractList(l.list)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to read %s list: %w", l.kind, err))
			continue
		}
		for _, o := range objs {
			obj, ok := o.(client.Object)
			if !ok || !match(obj) {
				continue
			}
			uid := obj.GetUID()
			if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("failed to delete %s %q: %w", l.kind, keyName(childKey{l.kind, obj.GetNamespace(), obj.GetName()}), err))
				continue
			}
			logf.FromContext(ctx).V(2).Info("deleted a child that is no longer needed", "kind", l.kind, "namespace", obj.GetNamespace(), "name", obj.GetName())
		}
	}
	return errors.Join(errs...)
}

func keyName(k childKey) string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// applyStatus writes the status with server-side apply, only when it
// changed, and emits an Event for each condition transition.
func (r *Reconciler) applyStatus(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain, obs *observation) error {
	prev := r.lastWritten(td)
	st, transitions := computeStatus(td, prev, obs, r.Clock.Now())
	if apiequality.Semantic.DeepEqual(st, td.Status) {
		r.rememberWritten(td, &st)
		return nil
	}
	if err := r.Client.Status().Apply(ctx, statusApplyConfiguration(td, &st), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Deleted, or recreated under the same name: a new event comes.
			return nil
		}
		return fmt.Errorf("failed to apply the status of SpiffeTrustDomain %q: %w", td.Name, err)
	}
	r.rememberWritten(td, &st)
	for _, t := range transitions {
		// The action is the condition type: the events library merges
		// Events with the same regarding object, action and reason into
		// one series, and different conditions may share a reason.
		r.Recorder.Eventf(td, nil, eventType(t), t.Condition.Reason, t.Type, "%s", eventNote(t))
	}
	return nil
}

// eventType is Warning for a condition that reports a problem.
func eventType(t transition) string {
	c := t.Condition
	bad := c.Status == metav1.ConditionFalse
	if t.Type == spiffev1alpha1.ConditionDegraded {
		bad = c.Status == metav1.ConditionTrue
	}
	if bad && c.Reason != spiffev1alpha1.ReasonProgressing {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}

// eventNote is the note of the Event of a condition transition, cut to
// fit (operand.EventNote).
func eventNote(t transition) string {
	return operand.EventNote(fmt.Sprintf("%s is %s: %s", t.Type, t.Condition.Status, t.Condition.Message))
}

// writtenStatus is what the operator last wrote on one SpiffeTrustDomain.
//
// The cache may not show the operator's last status write yet, and a
// status computed from a stale copy would undo it: report transitions
// twice, move lastTransitionTime, or put back an older status.config when
// the next spec is invalid. The operator is the only writer of these
// fields, so its own record is the truth; the cache is used when it has
// none (after a restart or a leader change).
type writtenStatus struct {
	uid        types.UID
	conditions []metav1.Condition
	config     *spiffev1alpha1.TrustDomainConfig
}

// lastWritten returns the operator's conditions as it last wrote them on
// td, or as the cache shows them.
func (r *Reconciler) lastWritten(td *spiffev1alpha1.SpiffeTrustDomain) []metav1.Condition {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	if w, ok := r.written[td.Name]; ok && w.uid == td.UID {
		return w.conditions
	}
	return ownedConditionsOf(td.Status.Conditions)
}

// publishedConfig returns the newest configuration published for td: the
// operator's last write or the cache's, whichever has the higher generation.
func (r *Reconciler) publishedConfig(td *spiffev1alpha1.SpiffeTrustDomain) *spiffev1alpha1.TrustDomainConfig {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	cfg := td.Status.Config
	if w, ok := r.written[td.Name]; ok && w.uid == td.UID && w.config != nil && (cfg == nil || w.config.Generation > cfg.Generation) {
		cfg = w.config
	}
	return cfg
}

func (r *Reconciler) rememberWritten(td *spiffev1alpha1.SpiffeTrustDomain, st *spiffev1alpha1.SpiffeTrustDomainStatus) {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	if r.written == nil {
		r.written = map[string]writtenStatus{}
	}
	r.written[td.Name] = writtenStatus{uid: td.UID, conditions: ownedConditionsOf(st.Conditions), config: st.Config.DeepCopy()}
}

func (r *Reconciler) forgetWritten(name string) {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	delete(r.written, name)
}
