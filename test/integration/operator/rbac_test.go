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

package operator

import (
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// permission is one SubjectAccessReview: verb on group/resource[/sub],
// optionally of one named object, optionally in a namespace.
type permission struct {
	verb, group, resource, name, namespace string
}

func (p permission) String() string {
	return p.verb + " " + p.group + "/" + p.resource + " name=" + p.name + " namespace=" + p.namespace
}

// expectPermissions checks what a ServiceAccount may and may not do.
func expectPermissions(saNamespace, sa string, may, mayNot []permission) {
	GinkgoHelper()
	for _, p := range may {
		Expect(canI(saNamespace, sa, p.verb, p.group, p.resource, p.name, p.namespace)).To(BeTrue(), "%s may %s", sa, p)
	}
	for _, p := range mayNot {
		Expect(canI(saNamespace, sa, p.verb, p.group, p.resource, p.name, p.namespace)).To(BeFalse(), "%s may not %s", sa, p)
	}
}

// waitForRBAC waits until the driver's and approver's roles and bindings
// exist and belong to the current object of that name (an earlier one's may
// still be there: no garbage collector runs).
func waitForRBAC(name string) {
	GinkgoHelper()
	td := getTrustDomain(name)
	objs := []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operand.RBACName(name, "approver")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operand.RBACName(name, "approver")}},
	}
	for _, c := range []string{"driver", "approver"} {
		objs = append(objs,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: operand.RBACName(name, c)}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: operand.RBACName(name, c)}})
	}
	for _, obj := range objs {
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			expectControlledBy(g, obj, td)
		}, timeout, interval).Should(Succeed())
	}
}

const (
	cmGroup    = "cert-manager.io"
	spiffe     = "spiffe.csi.cert-manager.io"
	anyNS      = "some-namespace"
	crs        = "certificaterequests"
	crStatus   = "certificaterequests/status"
	tds        = "spiffetrustdomains"
	tdStatus   = "spiffetrustdomains/status"
	signers    = "signers"
	coordGroup = "coordination.k8s.io"
)

var _ = Describe("the RBAC the operator grants", func() {
	BeforeEach(func() {
		createClusterIssuer("rbac-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain("rbac", "rbac-ca"))
		createTrustDomain(newTrustDomain("rbac-other", "rbac-ca"))
		waitForRBAC("rbac")
	})

	It("lets the driver wait for and clean up requests, but not create them or read other trust domains", func() {
		expectPermissions(operatorNamespace, "rbac-driver",
			[]permission{
				{"get", cmGroup, crs, "", anyNS},
				{"list", cmGroup, crs, "", anyNS},
				{"watch", cmGroup, crs, "", ""},
				{"delete", cmGroup, crs, "some-request", anyNS},
				{"get", spiffe, tds, "rbac", ""},
				{"list", spiffe, tds, "rbac", ""},
				{"watch", spiffe, tds, "rbac", ""},
			},
			[]permission{
				{"create", cmGroup, crs, "", anyNS},
				{"update", cmGroup, crs, "some-request", anyNS},
				{"update", cmGroup, crStatus, "some-request", anyNS},
				{"approve", cmGroup, signers, "clusterissuers.cert-manager.io/rbac-ca", ""},
				{"get", spiffe, tds, "rbac-other", ""},
				{"list", spiffe, tds, "", ""},
				{"patch", spiffe, tdStatus, "rbac", ""},
				{"update", spiffe, tds, "rbac", ""},
				{"get", "", "secrets", "", anyNS},
				{"get", "", "secrets", "", operatorNamespace},
			})
	})

	It("lets the approver decide requests for its issuer's signer only", func() {
		expectPermissions(operatorNamespace, "rbac-approver",
			[]permission{
				{"get", cmGroup, crs, "", anyNS},
				{"list", cmGroup, crs, "", ""},
				{"watch", cmGroup, crs, "", ""},
				{"patch", cmGroup, crStatus, "some-request", anyNS},
				{"approve", cmGroup, signers, "clusterissuers.cert-manager.io/rbac-ca", ""},
				{"create", "", "events", "", operatorNamespace},
				{"create", "events.k8s.io", "events", "", anyNS},
				{"patch", "events.k8s.io", "events", "some-event", anyNS},
				{"get", spiffe, tds, "rbac", ""},
				{"watch", spiffe, tds, "rbac", ""},
				{"patch", spiffe, tdStatus, "rbac", ""},
				{"get", coordGroup, "leases", "csi-driver-spiffe-approver-rbac", operatorNamespace},
				{"create", coordGroup, "leases", "", operatorNamespace},
				{"update", coordGroup, "leases", "csi-driver-spiffe-approver-rbac", operatorNamespace},
			},
			[]permission{
				{"approve", cmGroup, signers, "clusterissuers.cert-manager.io/another-ca", ""},
				{"approve", cmGroup, signers, "clusterissuers.cert-manager.io/*", ""},
				{"approve", cmGroup, signers, "issuers.cert-manager.io/*", ""},
				{"approve", cmGroup, signers, "issuers.cert-manager.io/" + anyNS + ".rbac-ca", ""},
				{"create", cmGroup, crs, "", anyNS},
				{"delete", cmGroup, crs, "some-request", anyNS},
				{"update", cmGroup, crs, "some-request", anyNS},
				{"update", cmGroup, crStatus, "some-request", anyNS},
				{"create", "", "events", "", anyNS},
				{"get", spiffe, tdStatus, "rbac", ""},
				{"patch", spiffe, tdStatus, "rbac-other", ""},
				{"get", spiffe, tds, "rbac-other", ""},
				{"update", spiffe, tds, "rbac", ""},
				{"patch", spiffe, tds, "rbac", ""},
				{"create", coordGroup, "leases", "", "default"},
				{"delete", coordGroup, "leases", "csi-driver-spiffe-approver-rbac", operatorNamespace},
				{"update", coordGroup, "leases", "csi-driver-spiffe-operator.spiffe.csi.cert-manager.io", operatorNamespace},
				{"update", coordGroup, "leases", "csi-driver-spiffe-approver-rbac-other", operatorNamespace},
				{"get", "", "secrets", "", anyNS},
			})
	})

	It("grants exactly the rules internal/operand defines, which the approver's integration suite runs under", func() {
		signers := operand.SignerNames(spiffev1alpha1.IssuerReference{Name: "rbac-ca"}, operand.CertManagerIssuerResource(operand.DefaultIssuerKind), true, nil)
		Expect(signers).To(Equal([]string{"clusterissuers.cert-manager.io/rbac-ca"}))
		for _, want := range []struct {
			obj   client.Object
			rules []rbacv1.PolicyRule
		}{
			{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: operand.RBACName("rbac", operand.ComponentDriver)}}, operand.DriverClusterRules("rbac")},
			{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: operand.RBACName("rbac", operand.ComponentApprover)}}, operand.ApproverClusterRules("rbac", signers)},
			{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: operand.RBACName("rbac", operand.ComponentRequester)}}, operand.RequesterRules()},
			{&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operand.RBACName("rbac", operand.ComponentApprover)}}, operand.ApproverNamespaceRules("rbac")},
		} {
			Eventually(func(g Gomega) {
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(want.obj), want.obj)).To(Succeed())
				var got []rbacv1.PolicyRule
				switch o := want.obj.(type) {
				case *rbacv1.ClusterRole:
					got = o.Rules
				case *rbacv1.Role:
					got = o.Rules
				}
				g.Expect(got).To(Equal(want.rules), "rules of %T %s", want.obj, want.obj.GetName())
			}, timeout, interval).Should(Succeed())
		}
	})

	It("binds nothing for requesters without a namespace selector", func() {
		list := &rbacv1.RoleBindingList{}
		Expect(cl.List(ctx, list, client.MatchingLabels{spiffetrustdomain.LabelTrustDomainObject: "rbac", spiffetrustdomain.LabelComponent: "requester"})).To(Succeed())
		Expect(list.Items).To(BeEmpty())
		Expect(cl.Get(ctx, types.NamespacedName{Name: operand.RBACName("rbac", "requester")}, &rbacv1.ClusterRole{})).To(Succeed(),
			"the requester ClusterRole exists for the user to bind")
	})

	It("holds the operator itself to what role.yaml grants", func() {
		expectPermissions(operatorNamespace, operatorServiceAccount,
			[]permission{
				{"patch", "apps", "daemonsets", "x", operatorNamespace},
				{"get", "", "secrets", "x", anyNS},
			},
			[]permission{
				{"patch", "apps", "daemonsets", "x", anyNS},
				{"create", "apps", "deployments", "", "default"},
				{"create", "", "secrets", "", operatorNamespace},
				{"patch", "", "configmaps", "x", anyNS},
				{"create", "", "serviceaccounts", "", anyNS},
				{"escalate", "rbac.authorization.k8s.io", "clusterroles", "x", ""},
				{"bind", "rbac.authorization.k8s.io", "clusterroles", "x", ""},
				{"update", spiffe, tds, "x", ""},
				{"create", "", "serviceaccounts/token", "x", anyNS},
				{"create", "", "pods", "", operatorNamespace},
			})
	})
})

var _ = Describe("requester namespaces", func() {
	It("binds the requester ClusterRole in exactly the namespaces the selector matches, following their labels", func() {
		Expect(testEnv.EnsureNamespace(ctx, "req-a", map[string]string{"spiffe": "enabled"})).To(Succeed())
		Expect(testEnv.EnsureNamespace(ctx, "req-b", nil)).To(Succeed())
		createClusterIssuer("req-ca", true, caIssuerConfig())
		td := createTrustDomain(newTrustDomain("req", "req-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.RequesterNamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"spiffe": "enabled"}}
		}))
		binding := func(ns string) *rbacv1.RoleBinding {
			return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: operand.RBACName("req", "requester")}}
		}
		Eventually(func(g Gomega) {
			rb := binding("req-a")
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(rb), rb)).To(Succeed())
			expectControlledBy(g, rb, td)
			g.Expect(rb.Subjects).To(Equal([]rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: operand.RequesterGroup("req-a")}}))
		}, timeout, interval).Should(Succeed())
		expectPermissions("req-a", "app",
			[]permission{{"create", cmGroup, crs, "", "req-a"}},
			[]permission{
				{"get", cmGroup, crs, "x", "req-a"},
				{"delete", cmGroup, crs, "x", "req-a"},
				{"create", cmGroup, crs, "", "req-b"},
			})
		expectPermissions("req-b", "app", nil, []permission{{"create", cmGroup, crs, "", "req-b"}})

		By("labelling a second namespace")
		Eventually(func(g Gomega) {
			ns := &corev1.Namespace{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Name: "req-b"}, ns)).To(Succeed())
			ns.Labels["spiffe"] = "enabled"
			g.Expect(cl.Update(ctx, ns)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func() bool { return canI("req-b", "app", "create", cmGroup, crs, "", "req-b") }, timeout, interval).Should(BeTrue())

		By("unlabelling the first")
		Eventually(func(g Gomega) {
			ns := &corev1.Namespace{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Name: "req-a"}, ns)).To(Succeed())
			delete(ns.Labels, "spiffe")
			g.Expect(cl.Update(ctx, ns)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(isNotFound(binding("req-a")), timeout, interval).Should(BeTrue())
		Expect(canI("req-a", "app", "create", cmGroup, crs, "", "req-a")).To(BeFalse())
		Expect(canI("req-b", "app", "create", cmGroup, crs, "", "req-b")).To(BeTrue())
	})

	It("checks a namespaced Issuer in every selected namespace and grants approval for exactly those signers", func() {
		Expect(testEnv.EnsureNamespace(ctx, "iss-a", map[string]string{"team": "spiffe"})).To(Succeed())
		Expect(testEnv.EnsureNamespace(ctx, "iss-b", map[string]string{"team": "spiffe"})).To(Succeed())
		Expect(testEnv.EnsureNamespace(ctx, "iss-c", nil)).To(Succeed())
		issuerIn := func(ns string) *cmapi.Issuer {
			iss := &cmapi.Issuer{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ns-ca"},
				Spec:       cmapi.IssuerSpec{IssuerConfig: caIssuerConfig()},
			}
			Expect(cl.Create(ctx, iss)).To(Succeed())
			cleanupDelete(iss)
			setIssuerReady(iss, true)
			return iss
		}
		issuerIn("iss-a")
		createTrustDomain(newTrustDomain("nsissuer", "ns-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.IssuerRef.Kind = "Issuer"
			td.Spec.RequesterNamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "spiffe"}}
		}))
		eventuallyCondition("nsissuer", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound, `Issuer "ns-ca" not found in namespace iss-b`)
		Eventually(func() bool {
			return canI(operatorNamespace, "nsissuer-approver", "approve", cmGroup, signers, "issuers.cert-manager.io/iss-b.ns-ca", "")
		}, timeout, interval).Should(BeTrue())
		expectPermissions(operatorNamespace, "nsissuer-approver",
			[]permission{{"approve", cmGroup, signers, "issuers.cert-manager.io/iss-a.ns-ca", ""}},
			[]permission{
				{"approve", cmGroup, signers, "issuers.cert-manager.io/iss-c.ns-ca", ""},
				{"approve", cmGroup, signers, "issuers.cert-manager.io/*", ""},
				{"approve", cmGroup, signers, "clusterissuers.cert-manager.io/ns-ca", ""},
			})

		issuerIn("iss-b")
		eventuallyCondition("nsissuer", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
	})

	It("cannot check a namespaced Issuer without a selector, says so, and grants the wildcard signer", func() {
		createTrustDomain(newTrustDomain("nsissuer-any", "any-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.IssuerRef.Kind = "Issuer"
		}))
		eventuallyCondition("nsissuer-any", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionUnknown, spiffev1alpha1.ReasonIssuerNotChecked, "spec.requesterNamespaceSelector is not set")
		Eventually(func() bool {
			return canI(operatorNamespace, "nsissuer-any-approver", "approve", cmGroup, signers, "issuers.cert-manager.io/*", "")
		}, timeout, interval).Should(BeTrue())
		markDaemonSetReady("nsissuer-any", 1)
		markDeploymentReady("nsissuer-any")
		eventuallyCondition("nsissuer-any", spiffev1alpha1.ConditionReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
	})
})
