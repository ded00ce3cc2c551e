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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"net/http"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

var _ = Describe("The approver of a SpiffeTrustDomain", Ordered, func() {
	const name = "foo-bar"
	var p *process.Process

	BeforeAll(func(ctx SpecContext) {
		createTrustDomain(ctx, name)
		grantApprover(ctx, name, signerNames(defaultIssuer)...)
		p = startApprover(name)
	})

	It("is not ready and decides nothing until a configuration is published, then approves the driver's request", func(ctx SpecContext) {
		Eventually(ctx, func(g Gomega) {
			code, body, err := p.Readyz(ctx, "configuration")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(Equal(http.StatusInternalServerError))
			g.Expect(body).To(ContainSubstring(`SpiffeTrustDomain "foo-bar" has no published configuration yet (status.config is empty)`))
		}).Should(Succeed())
		cr := createAs(ctx, "app-a", newRequest("app-a", issuerRef(defaultIssuer)))
		expectUndecided(ctx, cr)

		publish(ctx, name, config(defaultIssuer))
		Eventually(ctx, func(g Gomega) {
			code, _, err := p.Readyz(ctx, "")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(Equal(http.StatusOK))
		}).Should(Succeed())
		cond := expectDecision(ctx, cr, cmapi.CertificateRequestConditionApproved,
			"approved spiffe://foo.bar/ns/sandbox/sa/app-a for ServiceAccount system:serviceaccount:sandbox:app-a")
		event := expectEvent(ctx, cr, corev1.EventTypeNormal, approver.EventReasonApproved)
		Expect(event.Note).To(Equal(cond.Message))
		expectDecisions(ctx, p, "approved", "none", 1)

		By("owning only its condition, through the status subresource")
		stored := &cmapi.CertificateRequest{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(cr), stored)).To(Succeed())
		var owned []string
		for _, mf := range stored.ManagedFields {
			if mf.Manager == approver.FieldManager {
				Expect(mf.Subresource).To(Equal("status"))
				Expect(mf.Operation).To(Equal(metav1.ManagedFieldsOperationApply))
				owned = append(owned, string(mf.FieldsV1.Raw))
			}
		}
		Expect(owned).To(HaveLen(1))
		Expect(owned[0]).To(ContainSubstring(`k:{\"type\":\"Approved\"}`))
	})

	DescribeTable("denies what a pod's ServiceAccount must not get, naming the rule",
		func(ctx SpecContext, mutate func(*cmapi.CertificateRequest), rule string, message string) {
			before := decisions(ctx, p, "denied", rule)
			cr := newRequest("app-a", issuerRef(defaultIssuer))
			mutate(cr)
			createAs(ctx, "app-a", cr)
			cond := expectDecision(ctx, cr, cmapi.CertificateRequestConditionDenied, "denied by the SPIFFE issuance policy: "+rule+": ", message)
			event := expectEvent(ctx, cr, corev1.EventTypeWarning, approver.EventReasonDenied)
			Expect(event.Note).To(Equal(cond.Message))
			expectDecisions(ctx, p, "denied", rule, before+1)
		},
		Entry("another ServiceAccount's SPIFFE ID",
			func(cr *cmapi.CertificateRequest) { cr.Spec.Request = csr.Driver(spiffeID("app-b")).MustPEM() },
			"uri-san", `URI SAN "spiffe://foo.bar/ns/sandbox/sa/app-b" does not match the requesting ServiceAccount system:serviceaccount:sandbox:app-a (want "spiffe://foo.bar/ns/sandbox/sa/app-a"`),
		Entry("another namespace's SPIFFE ID",
			func(cr *cmapi.CertificateRequest) {
				cr.Spec.Request = csr.Driver(spiffe.ID(trustDomain, "kube-system", "app-a").String()).MustPEM()
			},
			"uri-san", `namespace "kube-system" is not "sandbox"`),
		Entry("another trust domain",
			func(cr *cmapi.CertificateRequest) {
				cr.Spec.Request = csr.Driver(spiffe.ID("evil.example", sandbox, "app-a").String()).MustPEM()
			},
			"uri-san", `trust domain "evil.example" is not "foo.bar"`),
		Entry("a DNS name next to the URI",
			func(cr *cmapi.CertificateRequest) {
				cr.Spec.Request = csr.Spec{Extensions: []pkix.Extension{csr.SAN(true, csr.URI(spiffeID("app-a")), csr.DNS("kubernetes.default.svc"))}}.MustPEM()
			},
			"sans", `DNS name SAN "kubernetes.default.svc"`),
		Entry("a CA certificate",
			func(cr *cmapi.CertificateRequest) { cr.Spec.IsCA = true },
			"is-ca", "spec.isCA is true"),
		Entry("a longer lifetime",
			func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: 24 * time.Hour} },
			"duration", "spec.duration is 24h0m0s (want 1h0m0s"),
		Entry("a weaker key",
			func(cr *cmapi.CertificateRequest) {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				cr.Spec.Request = csr.Driver(spiffeID("app-a")).WithKey(k).MustPEM()
			},
			"key", "ECDSA P-256 (want ECDSA P-521"),
		Entry("a common name",
			func(cr *cmapi.CertificateRequest) {
				s := csr.Driver(spiffeID("app-a"))
				s.Subject = pkix.Name{CommonName: "admin"}
				cr.Spec.Request = s.MustPEM()
			},
			"subject", `"CN=admin"`),
		Entry("more usages",
			func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = append(cr.Spec.Usages, cmapi.UsageCodeSigning) },
			"usages", `"code signing"`),
		Entry("garbage instead of a CSR",
			func(cr *cmapi.CertificateRequest) { cr.Spec.Request = []byte("not a csr") },
			"request", "spec.request does not start with a PEM CERTIFICATE REQUEST block"),
		Entry("a PEM block of garbage",
			func(cr *cmapi.CertificateRequest) { cr.Spec.Request = csr.EncodePEM([]byte("garbage")) },
			"request", "is not a valid PKCS #10 certificate signing request"),
	)

	It("checks the identity the API server stamped, not the spec.username a client writes", func(ctx SpecContext) {
		cr := newRequest("app-b", issuerRef(defaultIssuer))
		cr.Spec.Username = spiffe.ServiceAccountUsername(sandbox, "app-b")
		createAs(ctx, "app-a", cr)
		Expect(cr.Spec.Username).To(Equal(spiffe.ServiceAccountUsername(sandbox, "app-a")), "the stand-in for cert-manager's webhook did not stamp the identity")
		expectDecision(ctx, cr, cmapi.CertificateRequestConditionDenied,
			`URI SAN "spiffe://foo.bar/ns/sandbox/sa/app-b" does not match the requesting ServiceAccount system:serviceaccount:sandbox:app-a`)
	})

	It("denies a request from a user that is not a ServiceAccount", func(ctx SpecContext) {
		cr := newRequest("app-a", issuerRef(defaultIssuer))
		Expect(admin.Create(ctx, cr)).To(Succeed())
		expectDecision(ctx, cr, cmapi.CertificateRequestConditionDenied, "username: ", "is not a ServiceAccount")
	})

	It("still decides after malformed requests", func(ctx SpecContext) {
		bad := newRequest("app-a", issuerRef(defaultIssuer))
		bad.Spec.Request = []byte{0x00, 0xff, 0x30, 0x82}
		bad.Spec.Usages = nil
		bad.Spec.Duration = nil
		createAs(ctx, "app-a", bad)
		good := createAs(ctx, "app-a", newRequest("app-a", issuerRef(defaultIssuer)))
		expectDecision(ctx, bad, cmapi.CertificateRequestConditionDenied, "request: ", "duration: ", "usages: ")
		expectDecision(ctx, good, cmapi.CertificateRequestConditionApproved)
	})

	It("leaves requests for other issuers alone, with an empty kind meaning Issuer", func(ctx SpecContext) {
		expectUndecided(ctx,
			createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: defaultIssuer.Name})),
			createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: defaultIssuer.Name, Kind: "Issuer", Group: "cert-manager.io"})),
			createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: "other-ca", Kind: "ClusterIssuer"})),
			createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: defaultIssuer.Name, Kind: "ClusterIssuer", Group: "other.example.com"})),
		)
		// An empty group is cert-manager.io.
		expectDecision(ctx, createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: defaultIssuer.Name, Kind: "ClusterIssuer"})),
			cmapi.CertificateRequestConditionApproved)
	})

	It("re-targets pending requests when the issuer in status.config changes", func(ctx SpecContext) {
		other := spiffev1alpha1.IssuerReference{Name: "other-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
		pending := createAs(ctx, "app-a", newRequest("app-a", issuerRef(other)))
		expectUndecided(ctx, pending)

		publish(ctx, name, config(other))
		expectDecision(ctx, pending, cmapi.CertificateRequestConditionApproved)
		forOld := createAs(ctx, "app-b", newRequest("app-b", issuerRef(defaultIssuer)))
		expectUndecided(ctx, forOld)

		publish(ctx, name, config(defaultIssuer))
		expectDecision(ctx, forOld, cmapi.CertificateRequestConditionApproved)
	})

	It("decides for an Issuer, in any namespace, requests that name it without kind and group", func(ctx SpecContext) {
		namespaced := spiffev1alpha1.IssuerReference{Name: "namespaced-ca", Kind: "Issuer", Group: "cert-manager.io"}
		publish(ctx, name, config(namespaced))
		DeferCleanup(func(ctx SpecContext) { publish(ctx, name, config(defaultIssuer)) })

		expectDecision(ctx, createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: "namespaced-ca"})),
			cmapi.CertificateRequestConditionApproved)
		expectUndecided(ctx, createAs(ctx, "app-a", newRequest("app-a", cmmeta.IssuerReference{Name: "namespaced-ca", Kind: "ClusterIssuer"})))
	})

	It("enforces a new duration and key type without a restart", func(ctx SpecContext) {
		cfg := config(defaultIssuer)
		cfg.Generation = 2
		cfg.Duration.Duration = 2 * time.Hour
		cfg.PrivateKey.Size = 256
		publish(ctx, name, cfg)
		DeferCleanup(func(ctx SpecContext) { publish(ctx, name, config(defaultIssuer)) })

		old := createAs(ctx, "app-a", newRequest("app-a", issuerRef(defaultIssuer)))
		expectDecision(ctx, old, cmapi.CertificateRequestConditionDenied, "want 2h0m0s", "want ECDSA P-256")

		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		Expect(err).NotTo(HaveOccurred())
		fresh := newRequest("app-a", issuerRef(defaultIssuer))
		fresh.Spec.Duration.Duration = 2 * time.Hour
		fresh.Spec.Request = csr.Driver(spiffeID("app-a")).WithKey(k).MustPEM()
		expectDecision(ctx, createAs(ctx, "app-a", fresh), cmapi.CertificateRequestConditionApproved)
	})

	It("reports another approver on the SpiffeTrustDomain, leaving the operator's conditions alone", func(ctx SpecContext) {
		By("letting another approver decide a request before it is for our issuer")
		racing := spiffev1alpha1.IssuerReference{Name: "racing-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
		cr := createAs(ctx, "app-b", newRequest("app-b", issuerRef(racing)))
		Expect(admin.Status().Apply(ctx, cmapplyv1.CertificateRequest(cr.Name, cr.Namespace).WithStatus(
			cmapplyv1.CertificateRequestStatus().WithConditions(cmapplyv1.CertificateRequestCondition().
				WithType(cmapi.CertificateRequestConditionApproved).WithStatus(cmmeta.ConditionTrue).
				WithReason("cert-manager.io").WithMessage("Certificate request has been approved by cert-manager.io").
				WithLastTransitionTime(metav1.Now()))),
			client.FieldOwner("cert-manager-certificaterequests-approver"), client.ForceOwnership)).To(Succeed())

		By("making that issuer ours")
		cfg := config(racing)
		cfg.Generation = 3
		publish(ctx, name, cfg)
		DeferCleanup(func(ctx SpecContext) { publish(ctx, name, config(defaultIssuer)) })

		var td *spiffev1alpha1.SpiffeTrustDomain
		Eventually(ctx, func(g Gomega) {
			cond, got, err := competingCondition(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond.Reason).To(Equal(spiffev1alpha1.ReasonCompetingApprover))
			g.Expect(cond.ObservedGeneration).To(Equal(int64(3)))
			g.Expect(cond.Message).To(ContainSubstring(`1 CertificateRequest(s) for ClusterIssuer "racing-ca" (cert-manager.io) were approved or denied by another approver, such as sandbox/` + cr.Name + ` (Approved by field manager "cert-manager-certificaterequests-approver" (Apply) with reason "cert-manager.io")`))
			td = got
		}).Should(Succeed())
		expectEvent(ctx, cr, corev1.EventTypeWarning, approver.EventReasonCompetingApprover)
		Expect(metric(ctx, p, "csi_driver_spiffe_approver_competing_decisions_total", map[string]string{"condition": "Approved"})).To(BeNumerically("==", 1))
		Expect(metric(ctx, p, "csi_driver_spiffe_approver_competing_requests", nil)).To(BeNumerically("==", 1))

		By("leaving the operator's condition and fields alone")
		Expect(meta.IsStatusConditionTrue(td.Status.Conditions, spiffev1alpha1.ConditionReady)).To(BeTrue())
		for _, mf := range td.ManagedFields {
			if mf.Manager != approver.FieldManager {
				continue
			}
			Expect(mf.Subresource).To(Equal("status"))
			fields := string(mf.FieldsV1.Raw)
			Expect(fields).To(ContainSubstring(`k:{\"type\":\"CompetingApprover\"}`))
			Expect(strings.Count(fields, `k:{\"type\"`)).To(Equal(1), "the approver owns other fields: %s", fields)
			Expect(fields).NotTo(ContainSubstring("f:config"))
		}

		By("never deciding the request itself")
		Consistently(ctx, func(g Gomega) {
			stored := &cmapi.CertificateRequest{}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(cr), stored)).To(Succeed())
			g.Expect(stored.Status.Conditions).To(HaveLen(1))
		}).Should(Succeed())

		By("clearing the condition once no such request is left")
		Expect(admin.Delete(ctx, cr)).To(Succeed())
		Eventually(ctx, func(g Gomega) {
			cond, _, err := competingCondition(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(spiffev1alpha1.ReasonNoCompetingApprover))
			g.Expect(cond.Message).To(Equal(`no CertificateRequest for ClusterIssuer "racing-ca" (cert-manager.io) was approved or denied by another approver`))
		}).Should(Succeed())
		Expect(metric(ctx, p, "csi_driver_spiffe_approver_competing_requests", nil)).To(BeNumerically("==", 0))
	})
})

var _ = Describe("Approver replicas", Ordered, func() {
	const name = "replicas"

	BeforeAll(func(ctx SpecContext) {
		createTrustDomain(ctx, name)
		publish(ctx, name, config(defaultIssuer))
	})

	It("do not decide a request again after a restart", func(ctx SpecContext) {
		first := startApprover(name)
		var decided []*cmapi.CertificateRequest
		for range 3 {
			decided = append(decided, createAs(ctx, "app-a", newRequest("app-a", issuerRef(defaultIssuer))))
		}
		versions := map[string]string{}
		for _, cr := range decided {
			expectDecision(ctx, cr, cmapi.CertificateRequestConditionApproved)
		}
		Expect(first.Stop(30 * time.Second)).To(Succeed())
		for _, cr := range decided {
			stored := &cmapi.CertificateRequest{}
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(cr), stored)).To(Succeed())
			versions[cr.Name] = stored.ResourceVersion
		}

		second := startApprover(name)
		expectDecision(ctx, createAs(ctx, "app-a", newRequest("app-a", issuerRef(defaultIssuer))), cmapi.CertificateRequestConditionApproved)
		expectDecisions(ctx, second, "approved", "none", 1, "the restarted approver decided more than the one new request")
		Eventually(ctx, func(g Gomega) {
			cond, _, err := competingCondition(ctx, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(spiffev1alpha1.ReasonNoCompetingApprover), "its own earlier decisions were reported: %s", cond.Message)
		}).Should(Succeed())
		Expect(metric(ctx, second, "csi_driver_spiffe_approver_competing_requests", nil)).To(BeNumerically("==", 0))
		for _, cr := range decided {
			stored := &cmapi.CertificateRequest{}
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(cr), stored)).To(Succeed())
			Expect(stored.ResourceVersion).To(Equal(versions[cr.Name]), "%s was written again", cr.Name)
		}
	})

	It("elect one leader, decide each request once, and fail over", func(ctx SpecContext) {
		args := []string{"--leader-elect", "--leader-election-namespace=" + approverNamespace}
		replicas := []*process.Process{startApprover(name, args...), startApprover(name, args...)}
		lease := &coordinationv1.Lease{}
		Eventually(ctx, func(g Gomega) {
			g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: approverNamespace, Name: operand.ApproverLeaseName(name)}, lease)).To(Succeed())
			g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
		}).Should(Succeed())
		// Both replicas serve their metrics before decisions are counted:
		// the follower may still be starting, and refuses a scrape.
		for _, r := range replicas {
			Eventually(ctx, func() error { _, err := r.Metrics(ctx); return err }).Should(Succeed())
		}

		var crs []*cmapi.CertificateRequest
		for range 10 {
			crs = append(crs, createAs(ctx, "app-b", newRequest("app-b", issuerRef(defaultIssuer))))
		}
		for _, cr := range crs {
			expectDecision(ctx, cr, cmapi.CertificateRequestConditionApproved)
		}
		counts := make([]float64, len(replicas))
		Eventually(ctx, func() float64 {
			for i, r := range replicas {
				counts[i] = decisions(ctx, r, "approved", "none")
			}
			return counts[0] + counts[1]
		}).Should(BeNumerically("==", 10), "decisions per replica: %v", counts)
		Expect(counts).To(ContainElement(BeNumerically("==", 0)), "both replicas decided: %v", counts)

		By("failing over to the other replica when the leader stops")
		leader, follower := replicas[0], replicas[1]
		if counts[1] > 0 {
			leader, follower = follower, leader
		}
		Expect(leader.Stop(30 * time.Second)).To(Succeed())
		expectDecision(ctx, createAs(ctx, "app-b", newRequest("app-b", issuerRef(defaultIssuer))), cmapi.CertificateRequestConditionApproved)
		expectDecisions(ctx, follower, "approved", "none", 1)
	})
})
