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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Issue 16: a SpiffeTrustDomain whose driver name or children's names are
// taken by objects the operator did not create (here a stand-in for the
// objects of csi-driver-spiffe's Helm chart, written as Helm writes them)
// never takes them over.
var _ = Describe("objects the operator did not create", func() {
	It("are reported by name and manager and left exactly as they are until removed", func() {
		const name = "handover"
		driverName := name + ".spiffe.csi.cert-manager.io"
		helmMeta := func(objName, namespace string) metav1.ObjectMeta {
			return metav1.ObjectMeta{
				Name: objName, Namespace: namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/name": "cert-manager-csi-driver-spiffe"},
				Annotations: map[string]string{
					"meta.helm.sh/release-name":      "cert-manager-csi-driver-spiffe",
					"meta.helm.sh/release-namespace": "cert-manager",
				},
			}
		}
		labels := map[string]string{"app": "cert-manager-csi-driver-spiffe"}
		// What csi-driver-spiffe's chart installs, with the names this
		// SpiffeTrustDomain's children would have.
		foreign := []client.Object{
			&storagev1.CSIDriver{
				ObjectMeta: helmMeta(driverName, ""),
				Spec: storagev1.CSIDriverSpec{
					PodInfoOnMount:       ptr.To(true),
					VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral},
					TokenRequests:        []storagev1.TokenRequest{{Audience: "", ExpirationSeconds: ptr.To[int64](3600)}},
					RequiresRepublish:    ptr.To(true),
				},
			},
			&appsv1.DaemonSet{
				ObjectMeta: helmMeta(operand.DriverDaemonSetName(name), operatorNamespace),
				Spec: appsv1.DaemonSetSpec{
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "cert-manager-csi-driver-spiffe", Image: "quay.io/jetstack/cert-manager-csi-driver-spiffe:v0.9.2"}}},
					},
				},
			},
			&corev1.ServiceAccount{ObjectMeta: helmMeta(operand.ApproverServiceAccountName(name), operatorNamespace)},
		}
		for _, obj := range foreign {
			Expect(cl.Create(ctx, obj, client.FieldOwner("helm"))).To(Succeed())
			cleanupDelete(obj)
		}
		before := make([]client.Object, len(foreign))
		for i, obj := range foreign {
			before[i] = obj.DeepCopyObject().(client.Object)
			Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), before[i])).To(Succeed())
			Expect(before[i].GetManagedFields()).To(ContainElement(HaveField("Manager", "helm")))
		}

		createClusterIssuer("handover-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain(name, "handover-ca"))

		By("reporting each foreign object with its manager")
		c := eventuallyCondition(name, spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonForeignObject,
			`CSIDriver "handover.spiffe.csi.cert-manager.io" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field manager "helm")`,
			`DaemonSet "csi-driver-spiffe-system/handover-driver" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field manager "helm")`,
			`ServiceAccount "csi-driver-spiffe-system/handover-approver" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field manager "helm")`,
			"never takes over another's object", "docs/migration.md")
		GinkgoWriter.Printf("Ready: %s: %s\n", c.Reason, c.Message)
		eventuallyCondition(name, spiffev1alpha1.ConditionDegraded, metav1.ConditionTrue, spiffev1alpha1.ReasonForeignObject)
		eventuallyCondition(name, spiffev1alpha1.ConditionDriverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonForeignObject)

		By("changing not one field of them, managedFields included, and creating nothing")
		Consistently(func(g Gomega) {
			for i, obj := range foreign {
				now := obj.DeepCopyObject().(client.Object)
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), now)).To(Succeed())
				g.Expect(now).To(Equal(before[i]), "%T %s changed", obj, obj.GetName())
			}
			g.Expect(isNotFound(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operand.ApproverDeploymentName(name)}})()).To(BeTrue())
			g.Expect(isNotFound(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operand.DriverServiceAccountName(name)}})()).To(BeTrue())
		}, 3*time.Second, interval).Should(Succeed())

		By("naming what is left once some are removed")
		Expect(cl.Delete(ctx, foreign[1])).To(Succeed())
		Expect(cl.Delete(ctx, foreign[2])).To(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(name, spiffev1alpha1.ConditionReady)(g)
			g.Expect(c).To(haveCondition(metav1.ConditionFalse, spiffev1alpha1.ReasonForeignObject))
			g.Expect(c.Message).To(HavePrefix(`CSIDriver "handover.spiffe.csi.cert-manager.io" (Helm release cert-manager/cert-manager-csi-driver-spiffe, field manager "helm") already exists and was not created by this operator`))
			g.Expect(c.Message).NotTo(ContainSubstring("DaemonSet"))
		}, timeout, interval).Should(Succeed())

		By("taking the driver name once the last one is removed")
		Expect(cl.Delete(ctx, foreign[0])).To(Succeed())
		td := getTrustDomain(name)
		Eventually(func(g Gomega) {
			csid := &storagev1.CSIDriver{}
			g.Expect(cl.Get(ctx, client.ObjectKey{Name: driverName}, csid)).To(Succeed())
			expectControlledBy(g, csid, td)
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operand.DriverDaemonSetName(name)}, ds)).To(Succeed())
			expectControlledBy(g, ds, td)
			g.Expect(conditionOf(name, spiffev1alpha1.ConditionReady)(g).Reason).NotTo(Equal(spiffev1alpha1.ReasonForeignObject))
		}, timeout, interval).Should(Succeed())
	})
})
