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
	"fmt"
	"strings"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// The operator's own permissions, generated into config/rbac/role.yaml by
// `make manifests`: a ClusterRole, and a Role in the operator's namespace
// (the "system" placeholder that config/default renames) for what only
// happens there.
//
// The operator grants its operands their permissions, and Kubernetes
// refuses to let anyone create a role with permissions they do not hold
// (RBAC escalation prevention), so it holds every verb it grants:
// certificaterequests create/delete, certificaterequests/status, signers
// approve, events and leases. It has no escalate or bind verb. The
// integration test runs the operator as a ServiceAccount bound to exactly
// role.yaml.
//
// Secrets and ConfigMaps are read cluster-wide because a CA-bundle source
// may live in any namespace; only the referenced objects are watched, one
// at a time, without their data (see SourceWatcher).
// spiffetrustdomains/finalizers update lets the operator set
// blockOwnerDeletion on owner references where the
// OwnerReferencesPermissionEnforcement admission plugin is on.
//
// +kubebuilder:rbac:groups=spiffe.csi.cert-manager.io,resources=spiffetrustdomains,verbs=get;list;watch
// +kubebuilder:rbac:groups=spiffe.csi.cert-manager.io,resources=spiffetrustdomains/status,verbs=get;patch
// +kubebuilder:rbac:groups=spiffe.csi.cert-manager.io,resources=spiffetrustdomains/finalizers,verbs=update
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/status,verbs=patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=signers,verbs=approve
// +kubebuilder:rbac:groups=storage.k8s.io,resources=csidrivers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings;rolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,namespace=system,resources=daemonsets;deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",namespace=system,resources=serviceaccounts,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",namespace=system,resources=configmaps,verbs=create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,namespace=system,resources=roles,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=system,resources=leases,verbs=get;create;update

// driverNameIndex indexes SpiffeTrustDomains by their CSI driver name.
const driverNameIndex = "spec.driver.name"

// externalIssuerRecheck is how often a SpiffeTrustDomain whose external
// issuer kind is not served is checked again. The CRD watch normally brings
// the change first; API discovery may lag the CRD's events.
const externalIssuerRecheck = time.Minute

// Reconciler reconciles SpiffeTrustDomains.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server: the CA-bundle sources, which
	// are deliberately not cached.
	APIReader client.Reader
	// RESTMapper resolves external issuer kinds to their resources.
	RESTMapper meta.RESTMapper
	// Recorder emits an Event on each condition transition.
	Recorder events.EventRecorder
	// Clock stamps condition transitions.
	Clock clock.PassiveClock
	// Sources watches the CA-bundle sources.
	Sources *SourceWatcher
	// Options are the operator's settings.
	Options Options

	writtenMu sync.Mutex
	written   map[string]writtenStatus
	appliedMu sync.Mutex
	applied   map[childKey]appliedState
}

// NewReconciler returns a Reconciler that uses mgr's clients.
func NewReconciler(mgr ctrl.Manager, opts Options) (*Reconciler, error) {
	mc, err := metadata.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("failed to build a metadata client: %w", err)
	}
	return &Reconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		RESTMapper: mgr.GetRESTMapper(),
		Recorder:   mgr.GetEventRecorder(FieldOwner),
		Clock:      clock.RealClock{},
		Sources:    NewSourceWatcher(mc),
		Options:    opts,
	}, nil
}

// CacheOptions restrict the manager's cache to what the operator owns:
// children carry the managed-by label, and the namespaced ones live in the
// operator's namespace (which also lets a Role, not a ClusterRole, grant
// access to them). Managed fields are dropped to save memory.
func CacheOptions(namespace string) cache.Options {
	owned := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	inNamespace := map[string]cache.Config{namespace: {}}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.DaemonSet{}:          {Namespaces: inNamespace, Label: owned},
			&appsv1.Deployment{}:         {Namespaces: inNamespace, Label: owned},
			&corev1.ServiceAccount{}:     {Namespaces: inNamespace, Label: owned},
			&corev1.ConfigMap{}:          {Namespaces: inNamespace, Label: owned},
			&rbacv1.Role{}:               {Namespaces: inNamespace, Label: owned},
			&rbacv1.RoleBinding{}:        {Label: owned},
			&rbacv1.ClusterRole{}:        {Label: owned},
			&rbacv1.ClusterRoleBinding{}: {Label: owned},
			// CSIDrivers are few and all are cached: a foreign one with
			// our driver name must be seen to be left alone.
		},
	}
}

// SetupWithManager registers the controller and its index.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &spiffev1alpha1.SpiffeTrustDomain{}, driverNameIndex, func(o client.Object) []string {
		td, ok := o.(*spiffev1alpha1.SpiffeTrustDomain)
		if !ok {
			return nil
		}
		return []string{DriverName(td)}
	}); err != nil {
		return fmt.Errorf("failed to index SpiffeTrustDomains by driver name: %w", err)
	}
	workloads := builder.WithPredicates(workloadChanged{})
	return ctrl.NewControllerManagedBy(mgr).
		Named("spiffetrustdomain").
		For(&spiffev1alpha1.SpiffeTrustDomain{}, builder.WithPredicates(trustDomainChanged{})).
		// Another object with the same driver name may take or release it
		// when it is created or deleted (the name is immutable).
		Watches(&spiffev1alpha1.SpiffeTrustDomain{}, handler.EnqueueRequestsFromMapFunc(r.sameDriverName),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }})).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&appsv1.DaemonSet{}, workloads).
		Owns(&appsv1.Deployment{}, workloads).
		// By name, not owner: an object waiting for a CSIDriver that
		// another one still holds must hear of its deletion.
		Watches(&storagev1.CSIDriver{}, handler.EnqueueRequestsFromMapFunc(r.byCSIDriver)).
		Watches(&cmapi.ClusterIssuer{}, handler.EnqueueRequestsFromMapFunc(r.byIssuer)).
		Watches(&cmapi.Issuer{}, handler.EnqueueRequestsFromMapFunc(r.byIssuer)).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.byNamespace),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, deletionStarted{}))).
		// An external issuer's kind appears when its CRD is installed.
		WatchesMetadata(&apiextensionsv1.CustomResourceDefinition{}, handler.EnqueueRequestsFromMapFunc(r.byCRD)).
		WatchesRawSource(r.Sources).
		Complete(r)
}

// sameDriverName maps a SpiffeTrustDomain to the others with its driver name.
func (r *Reconciler) sameDriverName(ctx context.Context, o client.Object) []reconcile.Request {
	td, ok := o.(*spiffev1alpha1.SpiffeTrustDomain)
	if !ok {
		return nil
	}
	return r.requestsForDriverName(ctx, DriverName(td), td.Name)
}

// byCSIDriver maps a CSIDriver to the SpiffeTrustDomains that use its name.
func (r *Reconciler) byCSIDriver(ctx context.Context, o client.Object) []reconcile.Request {
	return r.requestsForDriverName(ctx, o.GetName(), "")
}

func (r *Reconciler) requestsForDriverName(ctx context.Context, name, except string) []reconcile.Request {
	list := &spiffev1alpha1.SpiffeTrustDomainList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{driverNameIndex: name}); err != nil {
		// The cache's List cannot fail for a registered index; if it ever
		// does, the periodic resync catches up.
		ctrl.LoggerFrom(ctx).Error(err, "failed to list SpiffeTrustDomains by driver name", "driverName", name)
		return nil
	}
	var reqs []reconcile.Request
	for _, td := range list.Items {
		if td.Name != except {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: td.Name}})
		}
	}
	return reqs
}

// byIssuer maps a cert-manager Issuer or ClusterIssuer to the
// SpiffeTrustDomains that name it.
func (r *Reconciler) byIssuer(ctx context.Context, o client.Object) []reconcile.Request {
	kind := cmapi.ClusterIssuerKind
	if o.GetNamespace() != "" {
		kind = cmapi.IssuerKind
	}
	return r.requestsFor(ctx, func(td *spiffev1alpha1.SpiffeTrustDomain) bool {
		ref := issuerRef(td)
		return ref.Group == certManagerGroup && ref.Kind == kind && ref.Name == o.GetName()
	})
}

// byCRD maps a CustomResourceDefinition (named <plural>.<group>) to the
// SpiffeTrustDomains whose external issuer is in its group.
func (r *Reconciler) byCRD(ctx context.Context, o client.Object) []reconcile.Request {
	_, group, ok := strings.Cut(o.GetName(), ".")
	if !ok {
		return nil
	}
	return r.requestsFor(ctx, func(td *spiffev1alpha1.SpiffeTrustDomain) bool {
		ref := issuerRef(td)
		return ref.Group != certManagerGroup && ref.Group == group
	})
}

// byNamespace maps a Namespace to the SpiffeTrustDomains that select
// namespaces: their requester bindings, approver signers and Issuer checks
// follow the set of matching namespaces.
func (r *Reconciler) byNamespace(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.requestsFor(ctx, func(td *spiffev1alpha1.SpiffeTrustDomain) bool {
		return td.Spec.RequesterNamespaceSelector != nil
	})
}

func (r *Reconciler) requestsFor(ctx context.Context, match func(*spiffev1alpha1.SpiffeTrustDomain) bool) []reconcile.Request {
	list := &spiffev1alpha1.SpiffeTrustDomainList{}
	if err := r.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "failed to list SpiffeTrustDomains")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if match(&list.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
		}
	}
	return reqs
}

// trustDomainChanged passes the changes of a SpiffeTrustDomain the
// operator acts on: its spec (generation), metadata, deletion, and the
// approver's CompetingApprover condition. The operator's own status writes
// are not among them, so they cause no further reconcile.
type trustDomainChanged struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (trustDomainChanged) Update(e event.UpdateEvent) bool {
	oldTD, ok1 := e.ObjectOld.(*spiffev1alpha1.SpiffeTrustDomain)
	newTD, ok2 := e.ObjectNew.(*spiffev1alpha1.SpiffeTrustDomain)
	if !ok1 || !ok2 {
		return true
	}
	if oldTD.Generation != newTD.Generation ||
		!oldTD.DeletionTimestamp.Equal(newTD.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(oldTD.Labels, newTD.Labels) ||
		!equality.Semantic.DeepEqual(oldTD.Annotations, newTD.Annotations) {
		return true
	}
	oldC := meta.FindStatusCondition(oldTD.Status.Conditions, spiffev1alpha1.ConditionCompetingApprover)
	newC := meta.FindStatusCondition(newTD.Status.Conditions, spiffev1alpha1.ConditionCompetingApprover)
	if (oldC == nil) != (newC == nil) {
		return true
	}
	return oldC != nil && (oldC.Status != newC.Status || oldC.Reason != newC.Reason || oldC.Message != newC.Message)
}

// workloadChanged passes changes of a DaemonSet or Deployment that matter:
// to its spec (generation), labels or annotations (drift), or to the status
// fields the operator reports. Other status churn is ignored.
type workloadChanged struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (workloadChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
		!equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		!equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(e.ObjectOld.GetOwnerReferences(), e.ObjectNew.GetOwnerReferences()) {
		return true
	}
	return !equality.Semantic.DeepEqual(workloadCounts(e.ObjectOld), workloadCounts(e.ObjectNew))
}

// workloadCounts are the status fields the operator reads.
func workloadCounts(o client.Object) any {
	switch w := o.(type) {
	case *appsv1.DaemonSet:
		s := w.Status
		return []int64{s.ObservedGeneration, int64(s.DesiredNumberScheduled), int64(s.NumberReady), int64(s.UpdatedNumberScheduled), int64(s.NumberUnavailable)}
	case *appsv1.Deployment:
		s := w.Status
		return []int64{s.ObservedGeneration, int64(s.Replicas), int64(s.ReadyReplicas), int64(s.UpdatedReplicas)}
	}
	return nil
}

// deletionStarted passes the update that marks an object for deletion: a
// terminating namespace gets no new bindings.
type deletionStarted struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil &&
		e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
}
