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
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	approvertest "github.com/cert-manager/csi-driver-spiffe-operator/test/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// defaultIssuer is the issuer of the default configuration.
var defaultIssuer = spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}

// createTrustDomain creates a SpiffeTrustDomain named name for trustDomain,
// without a published configuration.
func createTrustDomain(ctx context.Context, name string) {
	GinkgoHelper()
	Expect(admin.Create(ctx, &spiffev1alpha1.SpiffeTrustDomain{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: trustDomain,
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: defaultIssuer.Name},
		},
	})).To(Succeed())
}

// config returns the configuration the operator publishes for the defaults
// with issuer.
func config(issuer spiffev1alpha1.IssuerReference) *spiffev1alpha1.TrustDomainConfig {
	return approvertest.Config(trustDomain, issuer)
}

// signerNames are the signer names the operator grants the approver for
// issuer when the requester namespaces are the sandbox (a
// requesterNamespaceSelector that matches it): for an Issuer
// "issuers.cert-manager.io/sandbox.<name>", exactly what cert-manager's
// approval check asks for a request in the sandbox.
func signerNames(issuer spiffev1alpha1.IssuerReference) []string {
	return operand.SignerNames(issuer, operand.CertManagerIssuerResource(issuer.Kind), false, []string{sandbox})
}

// publish does what the operator does when the configuration changes: it
// grants the approver "approve" on the configuration's issuer, then applies
// status.config with its own Ready condition under its field manager.
func publish(ctx context.Context, name string, cfg *spiffev1alpha1.TrustDomainConfig) {
	GinkgoHelper()
	grantApprover(ctx, name, signerNames(cfg.IssuerRef)...)
	Expect(approvertest.Publish(ctx, admin, name, cfg)).To(Succeed())
}

// spiffeID is the SPIFFE ID of a ServiceAccount of the sandbox.
func spiffeID(sa string) string { return spiffe.ID(trustDomain, sandbox, sa).String() }

// issuerRef converts a configured issuer to a request's issuerRef.
func issuerRef(ref spiffev1alpha1.IssuerReference) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Name: ref.Name, Kind: ref.Kind, Group: ref.Group}
}

// newRequest returns the request the driver creates for the ServiceAccount
// sa of the sandbox, to issuer.
func newRequest(sa string, issuer cmmeta.IssuerReference) *cmapi.CertificateRequest {
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: sa + "-", Namespace: sandbox},
		Spec: cmapi.CertificateRequestSpec{
			Duration:  &metav1.Duration{Duration: time.Hour},
			IssuerRef: issuer,
			Request:   csr.Driver(spiffeID(sa)).MustPEM(),
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth, cmapi.UsageClientAuth},
		},
	}
}

// createAs creates cr as the ServiceAccount sa of the sandbox.
func createAs(ctx context.Context, sa string, cr *cmapi.CertificateRequest) *cmapi.CertificateRequest {
	GinkgoHelper()
	c, err := client.New(testEnv.ImpersonationConfig(sandbox, sa), client.Options{Scheme: env.Scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(c.Create(ctx, cr)).To(Succeed())
	return cr
}

// decisionOf returns the Approved or Denied condition of the stored cr.
func decisionOf(ctx context.Context, cr *cmapi.CertificateRequest) (*cmapi.CertificateRequestCondition, error) {
	got := &cmapi.CertificateRequest{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(cr), got); err != nil {
		return nil, err
	}
	for _, c := range got.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionApproved || c.Type == cmapi.CertificateRequestConditionDenied {
			return &c, nil
		}
	}
	return nil, nil
}

// expectDecision waits for cr to be decided by the approver as typ, with a
// message holding each of messages.
func expectDecision(ctx context.Context, cr *cmapi.CertificateRequest, typ cmapi.CertificateRequestConditionType, messages ...string) *cmapi.CertificateRequestCondition {
	GinkgoHelper()
	var cond *cmapi.CertificateRequestCondition
	Eventually(ctx, func(g Gomega) {
		var err error
		cond, err = decisionOf(ctx, cr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cond).NotTo(BeNil(), "CertificateRequest %s is not decided", cr.Name)
	}).Should(Succeed())
	Expect(cond.Type).To(Equal(typ), "message: %s", cond.Message)
	Expect(cond.Status).To(Equal(cmmeta.ConditionTrue))
	Expect(cond.Reason).To(Equal(spiffe.ApprovalReason))
	for _, m := range messages {
		Expect(cond.Message).To(ContainSubstring(m))
	}
	return cond
}

// expectUndecided checks that none of crs gets decided.
func expectUndecided(ctx context.Context, crs ...*cmapi.CertificateRequest) {
	GinkgoHelper()
	Consistently(ctx, func(g Gomega) {
		for _, cr := range crs {
			cond, err := decisionOf(ctx, cr)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cond).To(BeNil(), "CertificateRequest %s was decided", cr.Name)
		}
	}).Should(Succeed())
}

// expectEvent waits for an Event with reason on cr and returns it.
func expectEvent(ctx context.Context, cr *cmapi.CertificateRequest, eventType, reason string) *eventsv1.Event {
	GinkgoHelper()
	var found *eventsv1.Event
	Eventually(ctx, func(g Gomega) {
		list := &eventsv1.EventList{}
		g.Expect(admin.List(ctx, list, client.InNamespace(cr.Namespace))).To(Succeed())
		for i, e := range list.Items {
			if e.Regarding.Name == cr.Name && e.Reason == reason {
				found = &list.Items[i]
			}
		}
		g.Expect(found).NotTo(BeNil(), "no %s event on %s", reason, cr.Name)
	}).Should(Succeed())
	Expect(found.Type).To(Equal(eventType))
	Expect(found.ReportingController).To(Equal(approver.ControllerName))
	return found
}

// metric reads the metric name, summed over its series with labels, from
// the approver's /metrics.
func metric(ctx context.Context, p *process.Process, name string, labels map[string]string) float64 {
	GinkgoHelper()
	v, err := p.Metric(ctx, name, labels)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// decisions reads the approver's count of decisions with result and rule.
func decisions(ctx context.Context, p *process.Process, result, rule string) float64 {
	GinkgoHelper()
	return metric(ctx, p, "csi_driver_spiffe_approver_decisions_total", map[string]string{"result": result, "rule": rule})
}

// expectDecisions waits until the decision counter of p for result and rule
// is want: the approver counts a decision once its write returns, a moment
// after the request shows it.
func expectDecisions(ctx context.Context, p *process.Process, result, rule string, want float64, explain ...any) {
	GinkgoHelper()
	Eventually(ctx, func() float64 { return decisions(ctx, p, result, rule) }).Should(BeNumerically("==", want), explain...)
}

// competingCondition returns the CompetingApprover condition of the
// SpiffeTrustDomain name.
func competingCondition(ctx context.Context, name string) (*metav1.Condition, *spiffev1alpha1.SpiffeTrustDomain, error) {
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	if err := admin.Get(ctx, client.ObjectKey{Name: name}, td); err != nil {
		return nil, nil, err
	}
	return meta.FindStatusCondition(td.Status.Conditions, spiffev1alpha1.ConditionCompetingApprover), td, nil
}
