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

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

var _ = Describe("bad input", func() {
	It("keeps the last good configuration when an edit is invalid, and says why", func() {
		createClusterIssuer("invalid-ca", true, caIssuerConfig())
		createTrustDomain(newTrustDomain("invalid", "invalid-ca"))
		var good *spiffev1alpha1.TrustDomainConfig
		Eventually(func(g Gomega) {
			good = getTrustDomain("invalid").Status.Config
			g.Expect(good).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		ds := &appsv1.DaemonSet{}
		dsKey := types.NamespacedName{Namespace: operatorNamespace, Name: "invalid-driver"}
		Eventually(func() error { return cl.Get(ctx, dsKey, ds) }, timeout, interval).Should(Succeed())

		By("setting an annotation key Kubernetes refuses, with a driver change in the same edit")
		Eventually(func(g Gomega) {
			td := getTrustDomain("invalid")
			td.Spec.Certificate.Annotations = map[string]string{"not a valid key!": "x"}
			td.Spec.Certificate.Duration = &metav1.Duration{Duration: 3 * time.Hour}
			td.Spec.Driver.LogLevel = 7
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		ready := eventuallyCondition("invalid", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec)
		Expect(ready.Message).To(And(
			ContainSubstring("spec.certificate.annotations"),
			ContainSubstring("not a valid key!"),
			ContainSubstring("running pods keep the configuration of generation 1"),
		))
		eventuallyCondition("invalid", spiffev1alpha1.ConditionDegraded, metav1.ConditionTrue, spiffev1alpha1.ReasonInvalidSpec)
		td := getTrustDomain("invalid")
		Expect(td.Status.Config).To(Equal(good), "status.config is the last good one")
		Expect(td.Status.ObservedGeneration).To(Equal(td.Generation))
		Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
		Expect(ds.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--log-level=1"), "nothing of the invalid spec is applied")

		By("fixing it")
		Eventually(func(g Gomega) {
			td := getTrustDomain("invalid")
			td.Spec.Certificate.Annotations = map[string]string{"example.com/valid": "x"}
			g.Expect(cl.Update(ctx, td)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			td := getTrustDomain("invalid")
			g.Expect(td.Status.Config.Generation).To(Equal(td.Generation))
			g.Expect(td.Status.Config.Annotations).To(Equal(map[string]string{"example.com/valid": "x"}))
			g.Expect(td.Status.Config.Duration.Duration).To(Equal(3 * time.Hour))
			g.Expect(cl.Get(ctx, dsKey, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--log-level=7"))
		}, timeout, interval).Should(Succeed())
		eventuallyCondition("invalid", spiffev1alpha1.ConditionDegraded, metav1.ConditionFalse, spiffev1alpha1.ReasonAsExpected)
	})

	It("publishes nothing and creates nothing from a spec that was never valid", func() {
		createTrustDomain(newTrustDomain("never-valid", "never-valid-ca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.RequesterNamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "team", Operator: metav1.LabelSelectorOpIn, // In needs values
			}}}
		}))
		ready := eventuallyCondition("never-valid", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec)
		Expect(ready.Message).To(And(ContainSubstring("spec.requesterNamespaceSelector"), ContainSubstring("no configuration is published yet")))
		eventuallyCondition("never-valid", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionUnknown, spiffev1alpha1.ReasonInvalidSpec)
		eventuallyCondition("never-valid", spiffev1alpha1.ConditionDriverReady, metav1.ConditionFalse, spiffev1alpha1.ReasonInvalidSpec)
		Expect(getTrustDomain("never-valid").Status.Config).To(BeNil())
		for _, obj := range childrenOf("never-valid", "never-valid.spiffe.csi.cert-manager.io") {
			Expect(isNotFound(obj)()).To(BeTrue(), "%T %s must not exist", obj, obj.GetName())
		}
	})
})

var _ = Describe("issuer checks", func() {
	It("publishes the configuration for an issuer that does not exist yet, and follows it when it appears", func() {
		createTrustDomain(newTrustDomain("later-issuer", "later-ca"))
		eventuallyCondition("later-issuer", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound, `ClusterIssuer "later-ca" not found`)
		eventuallyCondition("later-issuer", spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound)
		Expect(getTrustDomain("later-issuer").Status.Config).NotTo(BeNil(), "GitOps may create the issuer later")

		iss := createClusterIssuer("later-ca", false, caIssuerConfig())
		eventuallyCondition("later-issuer", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotReady, "ErrGetKeyPair")
		setIssuerReady(iss, true)
		eventuallyCondition("later-issuer", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonReady)
	})

	DescribeTable("refuses issuers that cannot sign SPIFFE SVIDs",
		func(name string, config cmapi.IssuerConfig, want string) {
			createClusterIssuer(name+"-issuer", true, config)
			createTrustDomain(newTrustDomain(name, name+"-issuer"))
			eventuallyCondition(name, spiffev1alpha1.ConditionIssuerReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerUnsupported, want)
			eventuallyCondition(name, spiffev1alpha1.ConditionReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerUnsupported)
		},
		Entry("SelfSigned", "selfsigned", cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}, "is a SelfSigned issuer"),
		Entry("ACME", "acme", cmapi.IssuerConfig{ACME: &cmacme.ACMEIssuer{
			Server:     "https://acme.example.com/directory",
			PrivateKey: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "acme-key"}},
		}}, "is an ACME issuer"),
	)

	It("checks that an external issuer's kind is served, and grants approval for its signer once it is", func() {
		const group = "issuers.example.com"
		createTrustDomain(newTrustDomain("external", "my-pca", func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.IssuerRef = spiffev1alpha1.IssuerReference{Name: "my-pca", Kind: "ExampleClusterIssuer", Group: group}
		}))
		eventuallyCondition("external", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound, "serves no kind ExampleClusterIssuer in group "+group)
		Expect(getTrustDomain("external").Status.Config).NotTo(BeNil())
		approver := &rbacv1.ClusterRole{}
		Eventually(func() error {
			return cl.Get(ctx, types.NamespacedName{Name: operand.RBACName("external", "approver")}, approver)
		}, timeout, interval).Should(Succeed())
		for _, rule := range approver.Rules {
			Expect(rule.Resources).NotTo(ContainElement("signers"), "nothing to approve for")
		}

		By("installing the external issuer's CRD")
		crd := &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "exampleclusterissuers." + group},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: group,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "exampleclusterissuers", Kind: "ExampleClusterIssuer", ListKind: "ExampleClusterIssuerList", Singular: "exampleclusterissuer"},
				Scope: apiextensionsv1.ClusterScoped,
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: new(bool)}},
				}},
			},
		}
		*crd.Spec.Versions[0].Schema.OpenAPIV3Schema.XPreserveUnknownFields = true
		Expect(cl.Create(ctx, crd)).To(Succeed())
		cleanupDelete(crd)
		eventuallyCondition("external", spiffev1alpha1.ConditionIssuerReady, metav1.ConditionTrue, spiffev1alpha1.ReasonExternalIssuer, "does not check that it exists or is ready")
		Eventually(func() bool {
			return canI(operatorNamespace, "external-approver", "approve", "cert-manager.io", "signers", "exampleclusterissuers."+group+"/my-pca", "")
		}, timeout, interval).Should(BeTrue())
		Expect(canI(operatorNamespace, "external-approver", "approve", "cert-manager.io", "signers", "exampleclusterissuers."+group+"/other", "")).To(BeFalse())
	})
})
