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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

var _ = Describe("Pod Security admission of the pods the operator runs", func() {
	const (
		restricted = "psa-restricted"
		privileged = "psa-privileged"
	)
	var driver, approver corev1.PodTemplateSpec

	BeforeEach(func() {
		Expect(testEnv.EnsureNamespace(ctx, restricted, map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		})).To(Succeed())
		Expect(testEnv.EnsureNamespace(ctx, privileged, map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged",
		})).To(Succeed())
		createClusterIssuer("psa-ca", true, caIssuerConfig())
		// With a CA bundle, resources and tolerations: every volume and
		// setting the templates can have.
		ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: privileged, Name: "roots"}, Data: map[string]string{"ca.crt": string(newCACertificatePEM("psa root"))}}
		Expect(cl.Create(ctx, ca)).To(Succeed())
		cleanupDelete(ca)
		createTrustDomain(newTrustDomain("psa", "psa-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.CABundle = &spiffev1alpha1.CABundleSource{ConfigMap: &spiffev1alpha1.KeySelector{Namespace: privileged, Name: "roots", Key: "ca.crt"}}
			td.Spec.Approver.Replicas = 2
			td.Spec.Driver.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		}))
		Eventually(func(g Gomega) {
			ds := &appsv1.DaemonSet{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "psa-driver"}, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("Name", "ca-bundle")))
			driver = ds.Spec.Template
			d := &appsv1.Deployment{}
			g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: "psa-approver"}, d)).To(Succeed())
			approver = d.Spec.Template
		}, timeout, interval).Should(Succeed())
	})

	podIn := func(ns string, tmpl corev1.PodTemplateSpec) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "psa-", Labels: tmpl.Labels, Annotations: tmpl.Annotations},
			Spec:       tmpl.Spec,
		}
	}

	It("admits the approver in a restricted namespace", func() {
		Expect(cl.Create(ctx, podIn(restricted, approver), client.DryRunAll)).To(Succeed())
	})

	It("refuses the driver in a restricted namespace and admits it in a privileged one", func() {
		err := cl.Create(ctx, podIn(restricted, driver), client.DryRunAll)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(And(ContainSubstring("violates PodSecurity"), ContainSubstring("privileged"), ContainSubstring("hostPath")))
		Expect(cl.Create(ctx, podIn(privileged, driver), client.DryRunAll)).To(Succeed())
	})
})
