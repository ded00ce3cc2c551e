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
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

var _ = Describe("drift", func() {
	const name = "drift"
	var td *spiffev1alpha1.SpiffeTrustDomain

	BeforeEach(func() {
		createClusterIssuer("drift-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain(name, "drift-ca"))
		Eventually(func(g Gomega) {
			td = getTrustDomain(name)
			g.Expect(td.Status.Config).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		// Each test recreates the object, and with no garbage collector
		// the previous one's children are still there until the operator
		// replaces them.
		for _, obj := range childrenOf(name, name+".spiffe.csi.cert-manager.io") {
			Eventually(func(g Gomega) {
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				expectControlledBy(g, obj, td)
			}, timeout, interval).Should(Succeed())
		}
	})

	It("reverts edits of the fields the operator owns", func() {
		By("editing the driver's arguments and image")
		ds := &appsv1.DaemonSet{}
		key := types.NamespacedName{Namespace: operatorNamespace, Name: name + "-driver"}
		Expect(cl.Get(ctx, key, ds)).To(Succeed())
		want := ds.Spec.Template.Spec.Containers[0].DeepCopy()
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, key, ds)).To(Succeed())
			ds.Spec.Template.Spec.Containers[0].Args = []string{"driver", "--log-level=10"}
			ds.Spec.Template.Spec.Containers[0].Image = "evil.example.com/driver:latest"
			g.Expect(cl.Update(ctx, ds, client.FieldOwner("someone"))).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, key, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Containers[0].Args).To(Equal(want.Args))
			g.Expect(ds.Spec.Template.Spec.Containers[0].Image).To(Equal(want.Image))
		}, timeout, interval).Should(Succeed())

		By("widening the driver's ClusterRole")
		cr := &rbacv1.ClusterRole{}
		crKey := types.NamespacedName{Name: operand.RBACName(name, "driver")}
		Expect(cl.Get(ctx, crKey, cr)).To(Succeed())
		wantRules := cr.Rules
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, crKey, cr)).To(Succeed())
			cr.Rules = append(cr.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
			g.Expect(cl.Update(ctx, cr, client.FieldOwner("someone"))).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, crKey, cr)).To(Succeed())
			g.Expect(cr.Rules).To(Equal(wantRules))
		}, timeout, interval).Should(Succeed())

		By("removing the owner reference of the CSIDriver")
		csid := &storagev1.CSIDriver{}
		csidKey := types.NamespacedName{Name: name + ".spiffe.csi.cert-manager.io"}
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, csidKey, csid)).To(Succeed())
			csid.OwnerReferences = nil
			g.Expect(cl.Update(ctx, csid, client.FieldOwner("someone"))).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, csidKey, csid)).To(Succeed())
			expectControlledBy(g, csid, td)
		}, timeout, interval).Should(Succeed())

		By("scaling the approver")
		dep := &appsv1.Deployment{}
		depKey := types.NamespacedName{Namespace: operatorNamespace, Name: name + "-approver"}
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, depKey, dep)).To(Succeed())
			dep.Spec.Replicas = new(int32)
			g.Expect(cl.Update(ctx, dep, client.FieldOwner("someone"))).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, depKey, dep)).To(Succeed())
			g.Expect(dep.Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))
		}, timeout, interval).Should(Succeed())
	})

	It("recreates deleted children", func() {
		for _, obj := range childrenOf(name, name+".spiffe.csi.cert-manager.io") {
			Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			oldUID := obj.GetUID()
			Expect(cl.Delete(ctx, obj)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				g.Expect(obj.GetUID()).NotTo(Equal(oldUID))
				expectControlledBy(g, obj, td)
			}, timeout, interval).Should(Succeed(), "%T %s is recreated", obj, obj.GetName())
		}
	})

	It("leaves objects alone that only look like its children", func() {
		// Same labels, but not controlled by the SpiffeTrustDomain: pruning
		// must never delete what the operator does not control.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: operatorNamespace,
			Name:      name + "-lookalike",
			Labels: map[string]string{
				spiffetrustdomain.LabelManagedBy:         spiffetrustdomain.ManagedBy,
				spiffetrustdomain.LabelTrustDomainObject: name,
			},
		}}
		Expect(cl.Create(ctx, cm)).To(Succeed())
		cleanupDelete(cm)
		// Make the operator reconcile and prune.
		Eventually(func(g Gomega) {
			td := getTrustDomain(name)
			td.Spec.Approver.LogLevel = 3
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getTrustDomain(name).Status.Config.Generation).To(BeEquivalentTo(2))
			dep := &appsv1.Deployment{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: name + "-approver"}, dep)).To(Succeed())
			g.Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--log-level=3"))
		}, timeout, interval).Should(Succeed())
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
	})
})
