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

package approver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	fakeevaluator "github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator/fake"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

var (
	testIssuer = spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	testConfig = &spiffev1alpha1.TrustDomainConfig{Generation: 4, TrustDomain: "foo.bar", IssuerRef: testIssuer, Duration: metav1.Duration{Duration: time.Hour}}
	testNow    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func testRequest(mutate ...func(*cmapi.CertificateRequest)) *cmapi.CertificateRequest {
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "req", ResourceVersion: "7"},
		Spec: cmapi.CertificateRequestSpec{
			IssuerRef: cmmeta.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
			Request:   []byte("csr"),
			Username:  "system:serviceaccount:sandbox:app",
		},
	}
	for _, m := range mutate {
		m(cr)
	}
	return cr
}

func withCondition(typ cmapi.CertificateRequestConditionType, status cmmeta.ConditionStatus, reason string) func(*cmapi.CertificateRequest) {
	return func(cr *cmapi.CertificateRequest) {
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{Type: typ, Status: status, Reason: reason})
	}
}

// decidedBy returns a mutation that records, as the API server does in
// managedFields, that manager wrote fields of the typ condition entry (all
// of them, or only those named) with operation op.
func decidedBy(manager string, op metav1.ManagedFieldsOperationType, typ cmapi.CertificateRequestConditionType, fields ...string) func(*cmapi.CertificateRequest) {
	return func(cr *cmapi.CertificateRequest) {
		if len(fields) == 0 {
			fields = []string{".", "f:lastTransitionTime", "f:message", "f:reason", "f:status", "f:type"}
		}
		entry := map[string]any{}
		for _, f := range fields {
			entry[f] = map[string]any{}
		}
		raw, err := json.Marshal(map[string]any{"f:status": map[string]any{"f:conditions": map[string]any{
			".": map[string]any{}, `k:{"type":"` + string(typ) + `"}`: entry,
		}}})
		if err != nil {
			panic(err)
		}
		cr.ManagedFields = append(cr.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: manager, Operation: op, APIVersion: "cert-manager.io/v1", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: raw}, Subresource: "status",
		})
	}
}

// spec records, as the API server does, that manager wrote the spec.
func spec(manager string) func(*cmapi.CertificateRequest) {
	return func(cr *cmapi.CertificateRequest) {
		cr.ManagedFields = append(cr.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "cert-manager.io/v1", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:issuerRef":{".":{},"f:name":{}},"f:request":{}}}`)},
		})
	}
}

// Metrics are process-wide, so these cases run one after another and
// compare the counters before and after.
func TestReconcile(t *testing.T) {
	approve := evaluator.Decision{Approved: true, Rule: evaluator.RuleNone, Message: "approved spiffe://foo.bar/ns/sandbox/sa/app"}
	deny := evaluator.Decision{Rule: evaluator.RuleURISAN, Message: "denied by the SPIFFE issuance policy: uri-san: wrong",
		Violations: []evaluator.Violation{{Rule: evaluator.RuleURISAN, Message: "wrong"}}}
	serverErr := apierrors.NewInternalError(errors.New("etcd is down"))
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "cert-manager.io", Resource: "certificaterequests"}, "req", errors.New("changed"))

	tests := map[string]struct {
		request   *cmapi.CertificateRequest // nil: deleted
		config    *spiffev1alpha1.TrustDomainConfig
		decision  evaluator.Decision
		applyErr  error
		competing bool // competition was found before

		wantApply     cmapi.CertificateRequestConditionType // "" when nothing is written
		wantEvent     string
		wantErr       bool
		wantRequeue   bool
		wantMetric    []string // result, rule incremented by one
		wantEvaluated bool
		wantPoke      bool
	}{
		"a pending request is approved": {
			request: testRequest(), config: testConfig, decision: approve,
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true,
			wantEvent:  "Normal Approved approved spiffe://foo.bar/ns/sandbox/sa/app",
			wantMetric: []string{"approved", "none"},
		},
		"a pending request is denied": {
			request: testRequest(), config: testConfig, decision: deny,
			wantApply: cmapi.CertificateRequestConditionDenied, wantEvaluated: true,
			wantEvent:  "Warning Denied denied by the SPIFFE issuance policy: uri-san: wrong",
			wantMetric: []string{"denied", "uri-san"},
		},
		"a request whose issuerRef has no group is decided": {
			request: testRequest(func(cr *cmapi.CertificateRequest) { cr.Spec.IssuerRef.Group = "" }), config: testConfig, decision: approve,
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true, wantEvent: "Normal Approved", wantMetric: []string{"approved", "none"},
		},
		"nothing is decided without a configuration": {
			request: testRequest(), decision: approve,
		},
		"a request for another issuer is left alone": {
			request: testRequest(func(cr *cmapi.CertificateRequest) { cr.Spec.IssuerRef.Name = "other" }), config: testConfig, decision: approve,
		},
		"a request without kind is for an Issuer, not our ClusterIssuer": {
			request: testRequest(func(cr *cmapi.CertificateRequest) { cr.Spec.IssuerRef.Kind = "" }), config: testConfig, decision: approve,
		},
		"a request this approver decided is not decided again": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, spiffe.ApprovalReason),
				decidedBy(FieldManager, metav1.ManagedFieldsOperationApply, cmapi.CertificateRequestConditionDenied)),
			config: testConfig, decision: approve,
		},
		"a request someone else approved is reported, not decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "cert-manager.io"),
				decidedBy("cert-manager-certificaterequests-approver", metav1.ManagedFieldsOperationApply, cmapi.CertificateRequestConditionApproved)),
			config: testConfig, decision: deny, wantPoke: true,
		},
		"a request csi-driver-spiffe's approver approved with our reason is reported, not decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, spiffe.ApprovalReason),
				decidedBy("cert-manager-csi-driver-spiffe-approver", metav1.ManagedFieldsOperationUpdate, cmapi.CertificateRequestConditionApproved)),
			config: testConfig, decision: deny, wantPoke: true,
		},
		"an issued request is not decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)),
			config:  testConfig, decision: approve,
		},
		"a failed request is not decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed)),
			config:  testConfig, decision: approve,
		},
		"an invalid request is not decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionInvalidRequest, cmmeta.ConditionTrue, "")),
			config:  testConfig, decision: approve,
		},
		"a pending request (Ready=False, Pending) is decided": {
			request: testRequest(withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending)),
			config:  testConfig, decision: approve,
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true, wantEvent: "Normal Approved", wantMetric: []string{"approved", "none"},
		},
		"a transient API error is returned, to be retried": {
			request: testRequest(), config: testConfig, decision: approve, applyErr: serverErr,
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true, wantErr: true,
		},
		"a request that changed while being decided is looked at again": {
			request: testRequest(), config: testConfig, decision: approve, applyErr: conflict,
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true, wantRequeue: true,
		},
		"a request deleted while being decided is forgotten": {
			request: testRequest(), config: testConfig, decision: approve,
			applyErr:  apierrors.NewNotFound(schema.GroupResource{Group: "cert-manager.io", Resource: "certificaterequests"}, "req"),
			wantApply: cmapi.CertificateRequestConditionApproved, wantEvaluated: true,
		},
		"a deleted request rescans competition when some was found": {
			config: testConfig, competing: true, wantPoke: true,
		},
		"a deleted request does nothing when there is no competition": {
			config: testConfig,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var applied *cmapplyv1.CertificateRequestApplyConfiguration
			var applyOpts client.SubResourceApplyOptions
			builder := fake.NewClientBuilder().WithScheme(testScheme(t)).WithReturnManagedFields().WithInterceptorFuncs(interceptor.Funcs{
				SubResourceApply: func(_ context.Context, _ client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
					if sub != "status" {
						t.Errorf("applied subresource %q, want status", sub)
					}
					applied = obj.(*cmapplyv1.CertificateRequestApplyConfiguration)
					applyOpts.ApplyOpts(opts)
					return tc.applyErr
				},
			})
			if tc.request != nil {
				builder = builder.WithObjects(tc.request)
			}
			evaluated := false
			recorder := events.NewFakeRecorder(10)
			comp := &competition{poke: make(chan struct{}, 1)}
			comp.active.Store(tc.competing)
			r := &reconciler{
				client: builder.Build(),
				source: trustdomain.NewMemory(tc.config),
				evaluator: fakeevaluator.New().WithEvaluate(func(*cmapi.CertificateRequest, *spiffev1alpha1.TrustDomainConfig) evaluator.Decision {
					evaluated = true
					return tc.decision
				}),
				recorder:  recorder,
				clock:     clocktesting.NewFakePassiveClock(testNow),
				competing: comp,
			}
			var before float64
			if tc.wantMetric != nil {
				before = counterValue(t, decisionsTotal.WithLabelValues(tc.wantMetric...))
			}

			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "sandbox", Name: "req"}})

			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if (res.RequeueAfter > 0) != tc.wantRequeue {
				t.Errorf("result = %+v, want requeue %v", res, tc.wantRequeue)
			}
			if evaluated != tc.wantEvaluated {
				t.Errorf("evaluated = %v, want %v", evaluated, tc.wantEvaluated)
			}
			checkApplied(t, applied, applyOpts, tc.wantApply, tc.decision)
			select {
			case e := <-recorder.Events:
				if tc.wantEvent == "" || !strings.HasPrefix(e, tc.wantEvent) {
					t.Errorf("event %q, want %q", e, tc.wantEvent)
				}
			default:
				if tc.wantEvent != "" {
					t.Errorf("no event, want %q", tc.wantEvent)
				}
			}
			if tc.wantMetric != nil {
				if got := counterValue(t, decisionsTotal.WithLabelValues(tc.wantMetric...)) - before; got != 1 {
					t.Errorf("decisions %v grew by %v, want 1", tc.wantMetric, got)
				}
			}
			select {
			case <-comp.poke:
				if !tc.wantPoke {
					t.Errorf("competition rescan requested")
				}
			default:
				if tc.wantPoke {
					t.Errorf("no competition rescan requested")
				}
			}
		})
	}
}

// checkApplied checks the apply patch holds exactly the decision's
// condition, guarded by the resourceVersion the decision was made on.
func checkApplied(t *testing.T, applied *cmapplyv1.CertificateRequestApplyConfiguration, opts client.SubResourceApplyOptions, want cmapi.CertificateRequestConditionType, d evaluator.Decision) {
	t.Helper()
	if want == "" {
		if applied != nil {
			t.Errorf("applied %+v, want nothing written", applied)
		}
		return
	}
	if applied == nil {
		t.Fatalf("nothing applied, want %s", want)
	}
	if *applied.Name != "req" || *applied.Namespace != "sandbox" || applied.ResourceVersion == nil || *applied.ResourceVersion != "7" {
		t.Errorf("applied to %v/%v at resourceVersion %v, want sandbox/req at 7", *applied.Namespace, *applied.Name, applied.ResourceVersion)
	}
	if opts.FieldManager != FieldManager || opts.Force == nil || !*opts.Force {
		t.Errorf("applied with field manager %q force %v, want %q forced", opts.FieldManager, opts.Force, FieldManager)
	}
	if applied.Status == nil || len(applied.Status.Conditions) != 1 {
		t.Fatalf("applied status %+v, want one condition", applied.Status)
	}
	c := applied.Status.Conditions[0]
	if *c.Type != want || *c.Status != cmmeta.ConditionTrue || *c.Reason != spiffe.ApprovalReason || *c.Message != d.Message || !c.LastTransitionTime.Time.Equal(testNow) {
		t.Errorf("applied condition %s=%s reason %q message %q at %v, want %s=True reason %q message %q at %v",
			*c.Type, *c.Status, *c.Reason, *c.Message, c.LastTransitionTime, want, spiffe.ApprovalReason, d.Message, testNow)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := cmapi.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForeignDecision(t *testing.T) {
	t.Parallel()
	approved := withCondition(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, spiffe.ApprovalReason)
	denied := withCondition(cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, spiffe.ApprovalReason)
	const (
		apply  = metav1.ManagedFieldsOperationApply
		update = metav1.ManagedFieldsOperationUpdate
	)
	tests := map[string]struct {
		in   *cmapi.CertificateRequest
		want *decisionWriter // nil: not foreign
	}{
		"an undecided request": {in: testRequest(spec("kube-controller-manager"))},
		"an undecided request with a foreign Ready condition": {
			in: testRequest(withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending),
				decidedBy("cert-manager-certificaterequests-issuer-ca", update, cmapi.CertificateRequestConditionReady)),
		},
		"approved by this approver": {in: testRequest(spec("csi-driver-spiffe"), approved, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionApproved))},
		"denied by this approver":   {in: testRequest(denied, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionDenied))},
		"approved by this approver, then issued by the signer": {
			in: testRequest(approved, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionApproved),
				withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued),
				decidedBy("cert-manager-certificaterequests-issuer-ca", update, cmapi.CertificateRequestConditionReady)),
		},
		"approved by csi-driver-spiffe's approver with the same reason": {
			in:   testRequest(approved, decidedBy("cert-manager-csi-driver-spiffe-approver", update, cmapi.CertificateRequestConditionApproved)),
			want: &decisionWriter{manager: "cert-manager-csi-driver-spiffe-approver", operation: update},
		},
		"approved by cmctl": {
			in:   testRequest(withCondition(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "cmctl"), decidedBy("cmctl", update, cmapi.CertificateRequestConditionApproved)),
			want: &decisionWriter{manager: "cmctl", operation: update},
		},
		"denied by someone applying": {
			in:   testRequest(denied, decidedBy("policy", apply, cmapi.CertificateRequestConditionDenied)),
			want: &decisionWriter{manager: "policy", operation: apply},
		},
		"approved by this approver and applied again, identically, by another": {
			in: testRequest(approved, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionApproved),
				decidedBy("other", apply, cmapi.CertificateRequestConditionApproved)),
			want: &decisionWriter{manager: "other", operation: apply},
		},
		"approved by this approver, its message rewritten by another": {
			in: testRequest(approved, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionApproved),
				decidedBy("cert-manager-csi-driver-spiffe-approver", update, cmapi.CertificateRequestConditionApproved, "f:message")),
			want: &decisionWriter{manager: "cert-manager-csi-driver-spiffe-approver", operation: update},
		},
		"a foreign manager owning only another condition type": {
			in: testRequest(approved, decidedBy(FieldManager, apply, cmapi.CertificateRequestConditionApproved),
				decidedBy("other", apply, cmapi.CertificateRequestConditionDenied)),
		},
		"a decision nobody owns (managedFields cleared) is not attributed": {in: testRequest(approved)},
		"a malformed entry attributes nothing": {
			in: testRequest(approved, func(cr *cmapi.CertificateRequest) {
				cr.ManagedFields = append(cr.ManagedFields, metav1.ManagedFieldsEntry{Manager: "other", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:conditions":`)}})
			}),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, in := range []*cmapi.CertificateRequest{tc.in, trimmed(t, tc.in)} {
				cond, writer := foreignDecision(in)
				if (writer == nil) != (tc.want == nil) || (writer != nil && *writer != *tc.want) {
					t.Errorf("foreignDecision writer = %v, want %v (managedFields %d)", writer, tc.want, len(in.ManagedFields))
				}
				if (cond == nil) != (tc.want == nil) {
					t.Errorf("foreignDecision condition = %+v, want one: %v", cond, tc.want != nil)
				}
			}
		})
	}
}

// trimmed is what the cache keeps of in.
func trimmed(t *testing.T, in *cmapi.CertificateRequest) *cmapi.CertificateRequest {
	t.Helper()
	out, err := TrimCertificateRequest(in.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	return out.(*cmapi.CertificateRequest)
}

func TestCompetingCondition(t *testing.T) {
	t.Parallel()
	cr := testRequest(withCondition(cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, "policy.cert-manager.io"))
	foreign := foreignRequest{cr: cr, cond: &cr.Status.Conditions[0], writer: &decisionWriter{manager: "approver-policy", operation: metav1.ManagedFieldsOperationApply}}
	tests := map[string]struct {
		found []foreignRequest
		want  metav1.Condition
	}{
		"none": {want: metav1.Condition{
			Type: spiffev1alpha1.ConditionCompetingApprover, Status: metav1.ConditionFalse, ObservedGeneration: 4,
			Reason:  spiffev1alpha1.ReasonNoCompetingApprover,
			Message: `no CertificateRequest for ClusterIssuer "csi-driver-spiffe-ca" (cert-manager.io) was approved or denied by another approver`,
		}},
		"some": {found: []foreignRequest{foreign, foreign}, want: metav1.Condition{
			Type: spiffev1alpha1.ConditionCompetingApprover, Status: metav1.ConditionTrue, ObservedGeneration: 4,
			Reason: spiffev1alpha1.ReasonCompetingApprover,
			Message: `2 CertificateRequest(s) for ClusterIssuer "csi-driver-spiffe-ca" (cert-manager.io) were approved or denied by another approver, such as sandbox/req (Denied by field manager "approver-policy" (Apply) with reason "policy.cert-manager.io"): ` +
				`another approver races the csi-driver-spiffe approver, so the SPIFFE issuance policy is not enforced; ` +
				`disable every other approver of this issuer: cert-manager's built-in one with --controllers=*,-certificaterequests-approver, csi-driver-spiffe's by removing its approver Deployment (docs/migration.md)`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := competingCondition(tc.found, testConfig); got != tc.want {
				t.Errorf("competingCondition =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestTrimCertificateRequest(t *testing.T) {
	t.Parallel()
	full := func(mutate ...func(*cmapi.CertificateRequest)) *cmapi.CertificateRequest {
		cr := testRequest(mutate...)
		cr.UID = "uid"
		cr.Labels = map[string]string{"a": "b"}
		cr.Annotations = map[string]string{spiffe.IdentityAnnotation: "spiffe://foo.bar/ns/sandbox/sa/app"}
		spec("csi-driver-spiffe")(cr)
		cr.Spec.Duration = &metav1.Duration{Duration: time.Hour}
		cr.Spec.Usages = []cmapi.KeyUsage{cmapi.UsageServerAuth}
		cr.Spec.Groups = []string{"system:serviceaccounts"}
		cr.Spec.UID = "user-uid"
		cr.Status.Certificate = []byte("cert")
		cr.Status.CA = []byte("ca")
		return cr
	}
	tests := map[string]struct {
		in          *cmapi.CertificateRequest
		wantSpec    bool
		wantConds   int
		wantManaged []string // managers kept
	}{
		"a pending request keeps what the evaluator reads": {in: full(), wantSpec: true},
		"a decided request keeps only its identity, its decision and who wrote it": {
			in: full(withCondition(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, spiffe.ApprovalReason),
				decidedBy("other", metav1.ManagedFieldsOperationUpdate, cmapi.CertificateRequestConditionApproved, "f:message"),
				decidedBy(FieldManager, metav1.ManagedFieldsOperationApply, cmapi.CertificateRequestConditionApproved)),
			wantConds: 1, wantManaged: []string{"other", FieldManager},
		},
		"an issued request keeps only its identity and conditions": {
			in: full(withCondition(cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued)), wantConds: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for i := range tc.in.Status.Conditions {
				tc.in.Status.Conditions[i].Message = "a long message"
			}
			out, err := TrimCertificateRequest(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			cr := out.(*cmapi.CertificateRequest)
			if cr.Name != "req" || cr.Namespace != "sandbox" || cr.UID != "uid" || cr.ResourceVersion != "7" ||
				cr.Spec.IssuerRef.Name != "csi-driver-spiffe-ca" || cr.Spec.Username == "" {
				t.Errorf("trimmed what the approver reads: %+v", cr)
			}
			var managers []string
			for _, mf := range cr.ManagedFields {
				managers = append(managers, mf.Manager)
				if got, want := string(mf.FieldsV1.Raw), `{"f:status":{"f:conditions":{"k:{\"type\":\"Approved\"}":{}}}}`; got != want {
					t.Errorf("kept fields %s of %s, want only the decision %s", got, mf.Manager, want)
				}
			}
			if !slices.Equal(managers, tc.wantManaged) {
				t.Errorf("kept managedFields of %v, want %v", managers, tc.wantManaged)
			}
			if cr.Labels != nil || cr.Annotations != nil || cr.Spec.Groups != nil || cr.Spec.UID != "" ||
				cr.Status.Certificate != nil || cr.Status.CA != nil {
				t.Errorf("kept what the approver never reads: %+v", cr)
			}
			if got := cr.Spec.Request != nil && cr.Spec.Duration != nil && cr.Spec.Usages != nil; got != tc.wantSpec {
				t.Errorf("kept the evaluated spec = %v, want %v", got, tc.wantSpec)
			}
			if len(cr.Status.Conditions) != tc.wantConds {
				t.Fatalf("conditions = %+v, want %d", cr.Status.Conditions, tc.wantConds)
			}
			for _, c := range cr.Status.Conditions {
				if c.Message != "" || c.Type == "" || c.Reason == "" {
					t.Errorf("condition %+v, want type, status and reason only", c)
				}
			}
		})
	}
	if out, err := TrimCertificateRequest("not a request"); out != "not a request" || err != nil {
		t.Errorf("TrimCertificateRequest(other) = %v, %v", out, err)
	}
}
