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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1ac "github.com/cert-manager/csi-driver-spiffe-operator/api/applyconfiguration/api/v1alpha1"
	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

var _ = Describe("the approver's CompetingApprover condition", func() {
	It("is written by the approver with its own RBAC, kept by the operator's status writes, and degrades the object", func() {
		const name = "competing"
		createClusterIssuer("competing-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain(name, "competing-ca"))
		waitForRBAC(name)
		markDaemonSetReady(name, 1)
		markDeploymentReady(name)
		eventuallyCondition(name, spiffev1alpha1.ConditionReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)

		By("the approver, as its ServiceAccount, applying its condition with server-side apply")
		approver, err := client.New(testEnv.ImpersonationConfig(operatorNamespace, name+"-approver"), client.Options{Scheme: cl.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		apply := func(status metav1.ConditionStatus, reason, message string) {
			Expect(approver.Status().Apply(ctx, spiffev1alpha1ac.SpiffeTrustDomain(name).WithStatus(spiffev1alpha1ac.SpiffeTrustDomainStatus().
				WithConditions(metav1ac.Condition().
					WithType(spiffev1alpha1.ConditionCompetingApprover).
					WithStatus(status).
					WithReason(reason).
					WithMessage(message).
					WithObservedGeneration(getTrustDomain(name).Generation).
					WithLastTransitionTime(metav1.Now()))),
				client.FieldOwner("csi-driver-spiffe-approver"))).To(Succeed())
		}
		apply(metav1.ConditionTrue, spiffev1alpha1.ReasonCompetingApprover, "CertificateRequest team-a/web-1 was approved by cert-manager: disable cert-manager's approver")
		eventuallyCondition(name, spiffev1alpha1.ConditionDegraded, metav1.ConditionTrue, spiffev1alpha1.ReasonCompetingApprover, "disable cert-manager's approver")

		By("the operator writing its status again, after a node changes")
		Eventually(func(g Gomega) {
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: name + "-driver"}, ds)).To(Succeed())
			ds.Status.DesiredNumberScheduled, ds.Status.NumberReady, ds.Status.UpdatedNumberScheduled, ds.Status.NumberAvailable = 2, 2, 2, 2
			g.Expect(cl.Status().Update(ctx, ds)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getTrustDomain(name).Status.Driver).To(Equal(&spiffev1alpha1.DriverStatus{DesiredNodes: 2, ReadyNodes: 2}))
		}, timeout, interval).Should(Succeed())
		td := getTrustDomain(name)
		Expect(meta.FindStatusCondition(td.Status.Conditions, spiffev1alpha1.ConditionCompetingApprover)).To(
			HaveField("Status", metav1.ConditionTrue), "the operator's writes keep the approver's condition")

		By("the approver clearing it")
		apply(metav1.ConditionFalse, spiffev1alpha1.ReasonNoCompetingApprover, "no request was decided by anyone else")
		eventuallyCondition(name, spiffev1alpha1.ConditionDegraded, metav1.ConditionFalse, spiffev1alpha1.ReasonAsExpected)
	})
})
