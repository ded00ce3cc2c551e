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
	"crypto/sha256"
	"encoding/hex"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
)

var _ = Describe("the CA bundle", func() {
	const name = "cabundle"
	const sourceNamespace = "cabundle-source"
	var (
		cmKey = types.NamespacedName{Namespace: operatorNamespace, Name: name + "-ca-bundle"}
		dsKey = types.NamespacedName{Namespace: operatorNamespace, Name: name + "-driver"}
	)
	sha := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	bundleIs := func(pem []byte, n int32) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(cl.Get(ctx, cmKey, cm)).To(Succeed())
			g.Expect(cm.Data).To(Equal(map[string]string{"ca.crt": string(pem)}))
			g.Expect(getTrustDomain(name).Status.Config.CABundle).To(Equal(&spiffev1alpha1.CABundleStatus{SHA256: sha(pem), Certificates: n}))
		}, timeout, interval).Should(Succeed())
	}
	mountsBundle := func(g Gomega) {
		ds := &appsv1.DaemonSet{}
		g.Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
		g.Expect(ds.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--ca-bundle-file=/var/run/secrets/spiffe.csi.cert-manager.io/ca-bundle/ca.crt"))
		g.Expect(ds.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.ConfigMap.LocalObjectReference.Name", name+"-ca-bundle")))
	}

	It("copies only the certificates of a source in another namespace, follows it, and keeps the last good bundle when it breaks", func() {
		Expect(testEnv.EnsureNamespace(ctx, sourceNamespace, nil)).To(Succeed())
		createClusterIssuer("cabundle-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain(name, "cabundle-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.CABundle = &spiffev1alpha1.CABundleSource{Secret: &spiffev1alpha1.KeySelector{Namespace: sourceNamespace, Name: "root", Key: "ca.crt"}}
		}))

		By("reporting a missing source, mounting nothing")
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionFalse, spiffev1alpha1.ReasonCABundleSourceNotFound, "Secret "+sourceNamespace+"/root not found")
		Expect(getTrustDomain(name).Status.Config).To(HaveField("CABundle", BeNil()))
		Eventually(func(g Gomega) {
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Volumes).NotTo(ContainElement(HaveField("Name", "ca-bundle")))
		}, timeout, interval).Should(Succeed())
		Expect(isNotFound(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cmKey.Namespace, Name: cmKey.Name}})()).To(BeTrue())

		By("creating the source, with a private key next to the CA certificate")
		first := newCACertificatePEM("first root")
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: sourceNamespace, Name: "root"},
			Data: map[string][]byte{
				"ca.crt": append(newPrivateKeyPEM(), first...),
			},
		}
		Expect(cl.Create(ctx, secret)).To(Succeed())
		cleanupDelete(secret)
		bundleIs(first, 1)
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
		Eventually(mountsBundle, timeout, interval).Should(Succeed())
		ds := &appsv1.DaemonSet{}
		Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
		hash := ds.Spec.Template.Annotations[spiffetrustdomain.AnnotationRestartHash]
		cm := &corev1.ConfigMap{}
		Expect(cl.Get(ctx, cmKey, cm)).To(Succeed())
		Expect(cm.OwnerReferences).To(HaveLen(1))
		Expect(cm.OwnerReferences[0].Name).To(Equal(name))

		By("rotating: a second root is added to the source")
		second := newCACertificatePEM("second root")
		both := append(append([]byte{}, first...), second...)
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
			secret.Data["ca.crt"] = both
			g.Expect(cl.Update(ctx, secret)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		bundleIs(both, 2)
		Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
		Expect(ds.Spec.Template.Annotations).To(HaveKeyWithValue(spiffetrustdomain.AnnotationRestartHash, hash), "a new bundle's content does not restart the driver")

		By("breaking the source: no certificate in it")
		Eventually(func(g Gomega) {
			g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
			secret.Data["ca.crt"] = []byte("not a certificate")
			g.Expect(cl.Update(ctx, secret)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionFalse, spiffev1alpha1.ReasonCABundleInvalid, "the previous bundle (2 certificates) stays mounted")
		eventuallyCondition(name, spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonCABundleInvalid)
		bundleIs(both, 2)
		Eventually(mountsBundle, timeout, interval).Should(Succeed())

		By("deleting the source")
		Expect(cl.Delete(ctx, secret)).To(Succeed())
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionFalse, spiffev1alpha1.ReasonCABundleSourceNotFound, "stays mounted")
		bundleIs(both, 2)

		By("switching to a ConfigMap source, written by trust-manager for example")
		trust := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: sourceNamespace, Name: "trust-bundle"},
			Data:       map[string]string{"roots.pem": string(second)},
		}
		Expect(cl.Create(ctx, trust)).To(Succeed())
		cleanupDelete(trust)
		Eventually(func(g Gomega) {
			td := getTrustDomain(name)
			td.Spec.CABundle = &spiffev1alpha1.CABundleSource{ConfigMap: &spiffev1alpha1.KeySelector{Namespace: sourceNamespace, Name: "trust-bundle", Key: "roots.pem"}}
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		bundleIs(second, 1)
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)

		By("removing the CA bundle from the spec")
		Eventually(func(g Gomega) {
			td := getTrustDomain(name)
			td.Spec.CABundle = nil
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		eventuallyCondition(name, spiffev1alpha1.ConditionCABundleReady, metav1.ConditionTrue, spiffev1alpha1.ReasonCABundleNotConfigured)
		Eventually(isNotFound(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cmKey.Namespace, Name: cmKey.Name}}), timeout, interval).Should(BeTrue())
		Eventually(func(g Gomega) {
			g.Expect(getTrustDomain(name).Status.Config.CABundle).To(BeNil())
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement(HavePrefix("--ca-bundle-file")))
		}, timeout, interval).Should(Succeed())
	})
})
