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
	"fmt"
	"strings"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// Issue 16: during a migration from csi-driver-spiffe's Helm chart, its
// approver runs next to ours and writes the same condition reason. Who wrote
// a decision is told by managedFields, never by the reason.
var _ = Describe("Another approver of the same issuer", Ordered, func() {
	const name = "migrating"
	// The issuer of this container only, so that the requests of other
	// containers (in any order) never count here.
	issuer := spiffev1alpha1.IssuerReference{Name: "migration-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}

	BeforeAll(func(ctx SpecContext) {
		createTrustDomain(ctx, name)
		publish(ctx, name, config(issuer))
	})

	It("is reported whatever reason it writes, naming its field manager; this approver's own decisions never are, also after a restart", func(ctx SpecContext) {
		By("letting csi-driver-spiffe's approver (a stand-in) approve a request the SPIFFE policy denies, before our approver runs")
		standIn := startCSIDriverSPIFFEApprover(ctx)
		oldChart := annotated(newRequest("app-a", issuerRef(issuer)))
		oldChart.Spec.Duration.Duration = 24 * time.Hour // the configured duration is 1h
		oldChart = createAs(ctx, "app-a", oldChart)
		cond := expectForeignDecision(ctx, oldChart, certmanager.CSIDriverSPIFFEApproverMessage)
		Expect(cond.Reason).To(Equal(spiffe.ApprovalReason), "the stand-in writes the same reason as our approver")
		standIn.stop()

		By("approving one request as cmctl does and one as cert-manager's built-in approver does without server-side apply (both Update)")
		cmctl := createAs(ctx, "app-b", newRequest("app-b", issuerRef(issuer)))
		approveWithUpdate(ctx, cmctl, "cmctl", "KubectlCertManager", `manually approved by "cmctl"`)
		builtIn := createAs(ctx, "app-b", newRequest("app-b", issuerRef(issuer)))
		approveWithUpdate(ctx, builtIn, "cert-manager-certificaterequests-approver", "cert-manager.io", "Certificate request has been approved by cert-manager.io")

		By("starting our approver: it reports all three")
		p := startApprover(name)
		expectCompeting(ctx, name, p, 3, fmt.Sprintf(`(Approved by field manager %q (Update) with reason %q)`,
			certmanager.CSIDriverSPIFFEApproverFieldManager, spiffe.ApprovalReason))
		for cr, manager := range map[*cmapi.CertificateRequest]string{
			oldChart: certmanager.CSIDriverSPIFFEApproverFieldManager,
			cmctl:    "cmctl",
			builtIn:  "cert-manager-certificaterequests-approver",
		} {
			e := expectEvent(ctx, cr, corev1.EventTypeWarning, approver.EventReasonCompetingApprover)
			Expect(e.Note).To(ContainSubstring(fmt.Sprintf(`was Approved by field manager %q (Update) with reason`, manager)))
		}
		Expect(metric(ctx, p, "csi_driver_spiffe_approver_competing_decisions_total", map[string]string{"condition": "Approved"})).To(BeNumerically("==", 3))

		By("deciding new requests itself, which are never reported")
		ours := []*cmapi.CertificateRequest{
			createAs(ctx, "app-a", annotated(newRequest("app-a", issuerRef(issuer)))),
			createAs(ctx, "app-a", newRequest("app-b", issuerRef(issuer))), // another ServiceAccount's ID
		}
		expectDecision(ctx, ours[0], cmapi.CertificateRequestConditionApproved)
		expectDecision(ctx, ours[1], cmapi.CertificateRequestConditionDenied)
		expectDecisions(ctx, p, "approved", "none", 1)

		By("restarting our approver: a fresh process finds the same three, from managedFields alone")
		Expect(p.Stop(30 * time.Second)).To(Succeed())
		restarted := startApprover(name)
		Eventually(ctx, func() (float64, error) {
			// Scraped as soon as it serves its metrics.
			return restarted.Metric(ctx, "csi_driver_spiffe_approver_competing_decisions_total", map[string]string{"condition": "Approved"})
		}).Should(BeNumerically("==", 3))
		Expect(metric(ctx, restarted, "csi_driver_spiffe_approver_competing_decisions_total", map[string]string{"condition": "Denied"})).To(BeNumerically("==", 0))
		expectCompeting(ctx, name, restarted, 3, "")
		for _, cr := range ours {
			Expect(eventsOn(ctx, cr, approver.EventReasonCompetingApprover)).To(BeEmpty(), "our own decision on %s was reported", cr.Name)
		}
	})

	It("is told apart from our approver while both race on the same requests", func(ctx SpecContext) {
		p := startApprover(name)
		standIn := startCSIDriverSPIFFEApprover(ctx)
		DeferCleanup(standIn.stop)
		var raced []*cmapi.CertificateRequest
		for i := range 20 {
			cr := annotated(newRequest("app-a", issuerRef(issuer)))
			if i%2 == 1 {
				cr.Spec.Duration.Duration = 24 * time.Hour // ours denies it
			}
			raced = append(raced, createAs(ctx, "app-a", cr))
		}
		By("waiting for every request to be decided by one of the two")
		for _, cr := range raced {
			Eventually(ctx, func() (*cmapi.CertificateRequestCondition, error) { return decisionOf(ctx, cr) }).ShouldNot(BeNil())
		}

		By("counting the requests the stand-in decided, from the messages each approver writes")
		want := 0
		list := &cmapi.CertificateRequestList{}
		Expect(admin.List(ctx, list, client.InNamespace(sandbox))).To(Succeed())
		for _, cr := range list.Items {
			if !certmanager.IssuerRefMatches(cr.Spec.IssuerRef, issuerRef(issuer)) {
				continue
			}
			for _, c := range cr.Status.Conditions {
				if (c.Type == cmapi.CertificateRequestConditionApproved || c.Type == cmapi.CertificateRequestConditionDenied) &&
					!isOurMessage(c.Message) {
					want++
				}
			}
		}
		GinkgoWriter.Printf("the stand-in decided %d of the %d raced requests (plus the 3 of the previous spec)\n", want-3, len(raced))
		expectCompeting(ctx, name, p, want, "")
	})
})

// isOurMessage tells our approver's decision messages from others'.
func isOurMessage(m string) bool {
	return strings.HasPrefix(m, "approved spiffe://") || strings.HasPrefix(m, "denied by the SPIFFE issuance policy")
}

// annotated sets the SPIFFE identity annotation the driver sets.
func annotated(cr *cmapi.CertificateRequest) *cmapi.CertificateRequest {
	cr.Annotations = map[string]string{spiffe.IdentityAnnotation: spiffeID(cr.GenerateName[:len(cr.GenerateName)-1])}
	return cr
}

type standInApprover struct {
	cancel context.CancelFunc
	a      *certmanager.CSIDriverSPIFFEApprover
}

func (s *standInApprover) stop() {
	s.cancel()
	s.a.Wait()
}

// startCSIDriverSPIFFEApprover starts the stand-in for csi-driver-spiffe
// v0.9's approver; it stops at the end of the spec at the latest.
func startCSIDriverSPIFFEApprover(ctx context.Context) *standInApprover {
	GinkgoHelper()
	cl, err := certmanager.NewClient(testEnv.Config)
	Expect(err).NotTo(HaveOccurred())
	a, err := certmanager.NewCSIDriverSPIFFEApprover(cl)
	Expect(err).NotTo(HaveOccurred())
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	Expect(a.Start(runCtx)).To(Succeed())
	s := &standInApprover{cancel: cancel, a: a}
	DeferCleanup(s.stop)
	return s
}

// approveWithUpdate approves cr the way cmctl and cert-manager's approver
// (without its ServerSideApply feature) do: an update of the status
// subresource, under manager.
func approveWithUpdate(ctx context.Context, cr *cmapi.CertificateRequest, manager, reason, message string) {
	GinkgoHelper()
	Eventually(ctx, func() error {
		stored := &cmapi.CertificateRequest{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(cr), stored); err != nil {
			return err
		}
		apiutil.SetCertificateRequestCondition(stored, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, reason, message)
		return admin.Status().Update(ctx, stored, client.FieldOwner(manager))
	}).Should(Succeed())
	cond, err := decisionOf(ctx, cr)
	Expect(err).NotTo(HaveOccurred())
	Expect(cond.Message).To(Equal(message))
}

// expectForeignDecision waits for cr to be approved with message.
func expectForeignDecision(ctx context.Context, cr *cmapi.CertificateRequest, message string) *cmapi.CertificateRequestCondition {
	GinkgoHelper()
	var cond *cmapi.CertificateRequestCondition
	Eventually(ctx, func(g Gomega) {
		var err error
		cond, err = decisionOf(ctx, cr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cond).NotTo(BeNil())
	}).Should(Succeed())
	Expect(cond.Type).To(Equal(cmapi.CertificateRequestConditionApproved))
	Expect(cond.Message).To(Equal(message))
	return cond
}

// expectCompeting waits until the SpiffeTrustDomain name reports n requests
// decided by others (with the message holding detail), and p's gauge agrees.
func expectCompeting(ctx context.Context, name string, p *process.Process, n int, detail string) {
	GinkgoHelper()
	Eventually(ctx, func(g Gomega) {
		cond, _, err := competingCondition(ctx, name)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cond).NotTo(BeNil())
		if n == 0 {
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			return
		}
		g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(cond.Reason).To(Equal(spiffev1alpha1.ReasonCompetingApprover))
		g.Expect(cond.Message).To(HavePrefix(fmt.Sprintf(`%d CertificateRequest(s) for ClusterIssuer "migration-ca" (cert-manager.io) were approved or denied by another approver`, n)))
		g.Expect(cond.Message).To(ContainSubstring(detail))
		g.Expect(p.Metric(ctx, "csi_driver_spiffe_approver_competing_requests", nil)).To(BeNumerically("==", n))
	}).Should(Succeed())
}

// eventsOn lists the Events with reason regarding cr.
func eventsOn(ctx context.Context, cr *cmapi.CertificateRequest, reason string) []eventsv1.Event {
	GinkgoHelper()
	list := &eventsv1.EventList{}
	Expect(admin.List(ctx, list, client.InNamespace(cr.Namespace))).To(Succeed())
	var found []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == cr.Name && e.Reason == reason {
			found = append(found, e)
		}
	}
	return found
}
