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
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// childrenOf returns empty objects named like every child of a
// SpiffeTrustDomain without CA bundle or requester namespaces.
func childrenOf(name, driverName string) []client.Object {
	ns := operatorNamespace
	rbac := func(c string) string { return operand.RBACName(name, c) }
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-driver"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-approver"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: rbac("driver")}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: rbac("approver")}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: rbac("requester")}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: rbac("driver")}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: rbac("approver")}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rbac("approver")}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rbac("approver")}},
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driverName}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-driver"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-approver"}},
	}
}

var _ = Describe("a SpiffeTrustDomain reconciled from scratch", func() {
	It("gets every child, owned by it, a published configuration, and a status that follows its workloads", func() {
		createClusterIssuer("scratch-ca", true, caIssuerConfig())
		td := createTrustDomain(newTrustDomain("scratch", "scratch-ca"))
		driverName := "scratch.spiffe.csi.cert-manager.io"

		By("publishing the defaulted configuration")
		Eventually(func(g Gomega) {
			td = getTrustDomain("scratch")
			g.Expect(td.Status.Config).To(Equal(&spiffev1alpha1.TrustDomainConfig{
				Generation:            1,
				TrustDomain:           "scratch.example",
				IssuerRef:             spiffev1alpha1.IssuerReference{Name: "scratch-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:              metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
				Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
				DriverName:            driverName,
			}))
			g.Expect(td.Status.ObservedGeneration).To(Equal(td.Generation))
		}, timeout, interval).Should(Succeed())

		By("creating every child with a controller owner reference (the garbage collector deletes them with it)")
		for _, obj := range childrenOf("scratch", driverName) {
			Eventually(func(g Gomega) {
				g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				expectControlledBy(g, obj, td)
				g.Expect(obj.GetLabels()).To(HaveKeyWithValue(spiffetrustdomain.LabelTrustDomainObject, "scratch"))
				g.Expect(obj.GetLabels()).To(HaveKeyWithValue(spiffetrustdomain.LabelManagedBy, spiffetrustdomain.ManagedBy))
			}, timeout, interval).Should(Succeed(), "%T %s", obj, obj.GetName())
		}

		By("giving the CSIDriver exactly the driver's capabilities")
		csid := &storagev1.CSIDriver{}
		Expect(cl.Get(ctx, types.NamespacedName{Name: driverName}, csid)).To(Succeed())
		Expect(csid.Spec.AttachRequired).To(Equal(ptr.To(false)))
		Expect(csid.Spec.PodInfoOnMount).To(Equal(ptr.To(true)))
		Expect(csid.Spec.VolumeLifecycleModes).To(Equal([]storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}))
		Expect(csid.Spec.TokenRequests).To(Equal([]storagev1.TokenRequest{{Audience: "", ExpirationSeconds: ptr.To[int64](3600)}}))
		Expect(csid.Spec.RequiresRepublish).To(Equal(ptr.To(true)))
		Expect(csid.Spec.FSGroupPolicy).To(Equal(ptr.To(storagev1.NoneFSGroupPolicy)))

		By("running the driver and the approver for this object, with the operator's images")
		ds := &appsv1.DaemonSet{}
		Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "scratch-driver"}, ds)).To(Succeed())
		Expect(ds.Spec.Template.Spec.ServiceAccountName).To(Equal("scratch-driver"))
		Expect(ds.Spec.Template.Spec.Containers).To(HaveLen(1), "one container: no sidecars")
		driver := ds.Spec.Template.Spec.Containers[0]
		Expect(driver.Image).To(Equal(driverImage))
		Expect(driver.Args).To(Equal([]string{
			"driver",
			"--trust-domain-object=scratch",
			"--driver-name=" + driverName,
			"--node-id=$(NODE_NAME)",
			"--endpoint=unix:///plugin/csi.sock",
			"--plugin-registration-dir=/registration",
			"--kubelet-registration-path=/var/lib/kubelet/plugins/" + driverName + "/csi.sock",
			"--data-root=/csi-data-dir",
			"--log-level=1",
			"--metrics-bind-address=:9402",
			"--health-probe-bind-address=:9403",
		}))
		dep := &appsv1.Deployment{}
		Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "scratch-approver"}, dep)).To(Succeed())
		Expect(dep.Spec.Replicas).To(Equal(ptr.To[int32](1)))
		Expect(dep.Spec.Template.Spec.Containers[0].Args).To(Equal([]string{
			"approver", "--trust-domain-object=scratch", "--log-level=1", "--metrics-bind-address=:9402", "--health-probe-bind-address=:9403",
		}))

		By("reporting what is ready and what is not yet")
		eventuallyCondition("scratch", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionCABundleReady, metav1.ConditionTrue, spiffev1alpha1.ReasonCABundleNotConfigured)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionDriverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionApproverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionDegraded, metav1.ConditionFalse, spiffev1alpha1.ReasonAsExpected)

		By("following the DaemonSet and Deployment status")
		markDaemonSetReady("scratch", 3)
		markDeploymentReady("scratch")
		eventuallyCondition("scratch", spiffev1alpha1.ConditionDriverReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionApproverReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		eventuallyCondition("scratch", spiffev1alpha1.ConditionReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady, driverName)
		td = getTrustDomain("scratch")
		Expect(td.Status.Driver).To(Equal(&spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 3}))
		Expect(td.Status.Approver).To(Equal(&spiffev1alpha1.ApproverStatus{Replicas: 1, ReadyReplicas: 1}))

		By("showing it in kubectl get's columns")
		Eventually(func(g Gomega) {
			g.Expect(printerColumns(g, "scratch")).To(And(
				HaveKeyWithValue("Trust Domain", "scratch.example"),
				HaveKeyWithValue("Issuer", "scratch-ca"),
				HaveKeyWithValue("Driver", driverName),
				HaveKeyWithValue("Nodes Ready", BeEquivalentTo(3)),
				HaveKeyWithValue("Nodes Desired", BeEquivalentTo(3)),
				HaveKeyWithValue("Ready", "True"),
				HaveKeyWithValue("Reason", "Ready"),
			))
		}, timeout, interval).Should(Succeed())

		By("emitting an Event for the transition to Ready")
		Eventually(func(g Gomega) {
			g.Expect(eventsAbout(g, "scratch")).To(ContainElement(And(
				HaveField("Type", corev1.EventTypeNormal),
				HaveField("Reason", spiffev1alpha1.ReasonReady),
				HaveField("Note", HavePrefix("Ready is True: ")),
			)))
		}, timeout, interval).Should(Succeed())

		By("writing nothing when nothing changed")
		children := childrenOf("scratch", driverName)
		for _, obj := range children {
			Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		}
		_, mark := operatorRequests.since(0)
		Eventually(func(g Gomega) {
			td := getTrustDomain("scratch")
			td.Annotations = map[string]string{"example.com/touched": "yes"}
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())

		By("a node that stops being ready makes the driver, and the object, not ready")
		Eventually(func(g Gomega) {
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "scratch-driver"}, ds)).To(Succeed())
			ds.Status.NumberReady = 2
			ds.Status.NumberUnavailable = 1
			g.Expect(cl.Status().Update(ctx, ds)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		eventuallyCondition("scratch", spiffev1alpha1.ConditionDriverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonProgressing)
		Eventually(func(g Gomega) {
			g.Expect(getTrustDomain("scratch").Status.Driver).To(Equal(&spiffev1alpha1.DriverStatus{DesiredNodes: 3, ReadyNodes: 2}))
		}, timeout, interval).Should(Succeed())
		// The reconcile of the annotation came before the one of the
		// DaemonSet status: it sent no request for the unchanged children,
		// and the DaemonSet, whose status changed, got one no-op apply.
		writes, _ := operatorRequests.since(mark)
		Expect(writes).To(HaveEach(Or(
			ContainSubstring("/spiffetrustdomains/scratch/status"),
			ContainSubstring("/events"),
			HaveSuffix("/daemonsets/scratch-driver"),
		)), "requests of the operator")
		for _, obj := range children {
			if _, ok := obj.(*appsv1.DaemonSet); ok {
				continue // the test wrote its status
			}
			before := obj.GetResourceVersion()
			Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			Expect(obj.GetResourceVersion()).To(Equal(before), "%T %s was written", obj, obj.GetName())
		}
	})

	It("publishes a spec change without restarting the driver, and rolls it when something it was started with changes", func() {
		createClusterIssuer("rollout-ca", true, caIssuerConfig())
		createClusterIssuer("rollout-ca-2", true, caIssuerConfig())
		createTrustDomain(newTrustDomain("rollout", "rollout-ca"))
		eventuallyCondition("rollout", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		issuerReady := conditionOf("rollout", spiffev1alpha1.ConditionIssuerReady)(Default)
		ds := &appsv1.DaemonSet{}
		Eventually(func() error {
			return cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "rollout-driver"}, ds)
		}, timeout, interval).Should(Succeed())
		hash := ds.Spec.Template.Annotations[spiffetrustdomain.AnnotationRestartHash]
		Expect(hash).NotTo(BeEmpty())
		dsGeneration := ds.Generation

		By("changing what the driver reads from status.config: issuer, duration, key, annotations")
		Eventually(func(g Gomega) {
			td := getTrustDomain("rollout")
			td.Spec.IssuerRef.Name = "rollout-ca-2"
			td.Spec.Certificate.Duration = &metav1.Duration{Duration: 2 * time.Hour}
			td.Spec.Certificate.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 3072}
			td.Spec.Certificate.Annotations = map[string]string{"example.com/team": "payments"}
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			cfg := getTrustDomain("rollout").Status.Config
			g.Expect(cfg).NotTo(BeNil())
			g.Expect(cfg.Generation).To(BeEquivalentTo(2))
			g.Expect(cfg.IssuerRef.Name).To(Equal("rollout-ca-2"))
			g.Expect(cfg.Duration.Duration).To(Equal(2 * time.Hour))
			g.Expect(cfg.PrivateKey).To(Equal(spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.RSAKeyAlgorithm, Size: 3072}))
			g.Expect(cfg.Annotations).To(Equal(map[string]string{"example.com/team": "payments"}))
		}, timeout, interval).Should(Succeed())
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(ds), ds)).To(Succeed())
		Expect(ds.Generation).To(Equal(dsGeneration), "the DaemonSet's spec did not change")
		Expect(ds.Spec.Template.Annotations).To(HaveKeyWithValue(spiffetrustdomain.AnnotationRestartHash, hash))

		By("keeping an unchanged condition's lastTransitionTime while its observedGeneration follows")
		c := eventuallyCondition("rollout", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		Expect(c.ObservedGeneration).To(BeEquivalentTo(2))
		Expect(c.LastTransitionTime).To(Equal(issuerReady.LastTransitionTime))

		By("changing the driver image")
		Eventually(func(g Gomega) {
			td := getTrustDomain("rollout")
			td.Spec.Driver.Image = "example.com/csi-driver-spiffe:v2"
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(ds), ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/csi-driver-spiffe:v2"))
			g.Expect(ds.Spec.Template.Annotations[spiffetrustdomain.AnnotationRestartHash]).NotTo(Equal(hash))
		}, timeout, interval).Should(Succeed())
	})
})
