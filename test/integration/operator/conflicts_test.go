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
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
)

var _ = Describe("driver name conflicts", func() {
	It("lets the older object keep the name and gives the newer one no children until it is free", func() {
		const driverName = "contested.spiffe.csi.cert-manager.io"
		createClusterIssuer("contest-ca", true, caIssuerConfig())
		withName := func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Spec.Driver.Name = driverName }
		older := createTrustDomain(newTrustDomain("contest-a", "contest-ca", withName))
		csid := &storagev1.CSIDriver{}
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, types.NamespacedName{Name: driverName}, csid)).To(Succeed())
			expectControlledBy(g, csid, older)
		}, timeout, interval).Should(Succeed())
		// creationTimestamp has a one-second resolution: the two may tie,
		// and then the name decides ("contest-a" < "contest-b"), so the
		// first one created wins either way.

		By("creating a newer object with the same driver name")
		createTrustDomain(newTrustDomain("contest-b", "contest-ca", withName))
		eventuallyCondition("contest-b", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonDriverNameConflict, `already used by SpiffeTrustDomain "contest-a"`)
		eventuallyCondition("contest-b", spiffev1alpha1.ConditionDegraded, metav1.ConditionTrue, spiffev1alpha1.ReasonDriverNameConflict)
		eventuallyCondition("contest-b", spiffev1alpha1.ConditionDriverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonDriverNameConflict)
		Expect(getTrustDomain("contest-b").Status.Config).To(BeNil(), "a conflicting spec is not published")
		for _, obj := range childrenOf("contest-b", "unused") {
			if _, ok := obj.(*storagev1.CSIDriver); ok {
				continue
			}
			Expect(isNotFound(obj)()).To(BeTrue(), "%T %s must not exist", obj, obj.GetName())
		}
		Expect(cl.Get(ctx, types.NamespacedName{Name: driverName}, csid)).To(Succeed())
		expectControlledBy(Default, csid, older)
		Eventually(func(g Gomega) {
			g.Expect(eventsAbout(g, "contest-b")).To(ContainElement(And(
				HaveField("Type", "Warning"),
				HaveField("Reason", spiffev1alpha1.ReasonDriverNameConflict),
			)))
		}, timeout, interval).Should(Succeed())

		By("deleting the older object: its CSIDriver waits for the garbage collector")
		Expect(cl.Delete(ctx, older)).To(Succeed())
		Eventually(conditionOf("contest-b", spiffev1alpha1.ConditionReady), timeout, interval).Should(
			HaveField("Message", ContainSubstring(`CSIDriver "`+driverName+`" still belongs to SpiffeTrustDomain "contest-a"`)))

		By("the garbage collector (played by the test) deleting the older object's CSIDriver")
		Expect(cl.Delete(ctx, csid)).To(Succeed())
		newer := getTrustDomain("contest-b")
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, types.NamespacedName{Name: driverName}, csid)).To(Succeed())
			expectControlledBy(g, csid, newer)
			g.Expect(getTrustDomain("contest-b").Status.Config).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		eventuallyCondition("contest-b", spiffev1alpha1.ConditionDegraded, metav1.ConditionFalse, spiffev1alpha1.ReasonAsExpected)
		Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "contest-b-driver"}, &appsv1.DaemonSet{})).To(Succeed())
	})

	It("leaves a CSIDriver it does not manage alone", func() {
		const driverName = "foreign.example.com"
		foreign := &storagev1.CSIDriver{
			ObjectMeta: metav1.ObjectMeta{Name: driverName},
			Spec:       storagev1.CSIDriverSpec{AttachRequired: ptr.To(true)},
		}
		Expect(cl.Create(ctx, foreign)).To(Succeed())
		cleanupDelete(foreign)
		createClusterIssuer("foreign-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain("foreign", "foreign-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Spec.Driver.Name = driverName }))
		eventuallyCondition("foreign", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonForeignObject, `CSIDriver "foreign.example.com" (field manager`, "was not created by this operator")
		got := &storagev1.CSIDriver{}
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(foreign), got)).To(Succeed())
		Expect(got.ResourceVersion).To(Equal(foreign.ResourceVersion), "the foreign CSIDriver is untouched")
		Expect(isNotFound(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "foreign-driver"}})()).To(BeTrue())
	})

	It("recreates its CSIDriver when an immutable field must change", func() {
		const driverName = "immutable.spiffe.csi.cert-manager.io"
		// A CSIDriver the operator made earlier (its labels say so) with
		// values that cannot be patched: attachRequired and
		// volumeLifecycleModes are immutable.
		stale := &storagev1.CSIDriver{
			ObjectMeta: metav1.ObjectMeta{Name: driverName, Labels: map[string]string{
				spiffetrustdomain.LabelManagedBy:         spiffetrustdomain.ManagedBy,
				spiffetrustdomain.LabelTrustDomainObject: "immutable",
			}},
			Spec: storagev1.CSIDriverSpec{
				AttachRequired:       ptr.To(true),
				VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
			},
		}
		Expect(cl.Create(ctx, stale)).To(Succeed())
		cleanupDelete(stale)
		createClusterIssuer("immutable-ca", true, caIssuerConfig())
		td := createTrustDomain(newTrustDomain("immutable", "immutable-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) { td.Spec.Driver.Name = driverName }))
		Eventually(func(g Gomega) {
			got := &storagev1.CSIDriver{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Name: driverName}, got)).To(Succeed())
			g.Expect(got.UID).NotTo(Equal(stale.UID))
			g.Expect(got.Spec.AttachRequired).To(Equal(ptr.To(false)))
			g.Expect(got.Spec.VolumeLifecycleModes).To(Equal([]storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}))
			expectControlledBy(g, got, td)
		}, timeout, interval).Should(Succeed())
	})

	It("replaces the children an earlier object of the same name left for the garbage collector", func() {
		createClusterIssuer("reborn-ca", true, caIssuerConfig())
		first := newTrustDomain("reborn", "reborn-ca")
		Expect(cl.Create(ctx, first)).To(Succeed())
		ds := &appsv1.DaemonSet{}
		dsKey := types.NamespacedName{Namespace: operatorNamespace, Name: "reborn-driver"}
		Eventually(func() error { return cl.Get(ctx, dsKey, ds) }, timeout, interval).Should(Succeed())
		Expect(cl.Delete(ctx, first)).To(Succeed())
		Eventually(isNotFound(first), timeout, interval).Should(BeTrue())

		second := createTrustDomain(newTrustDomain("reborn", "reborn-ca"))
		for _, obj := range childrenOf("reborn", "reborn.spiffe.csi.cert-manager.io") {
			Eventually(func(g Gomega) {
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				expectControlledBy(g, obj, second)
			}, timeout, interval).Should(Succeed(), "%T %s", obj, obj.GetName())
		}
	})
})
