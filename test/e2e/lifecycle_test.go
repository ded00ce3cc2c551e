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

package e2e

import (
	"context"
	"strconv"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// The trust domain "short" is signed by stand-in issuers whose certificates
// live 30 seconds, so that renewal can be watched in a test (the CRD refuses
// durations under 10 minutes; the driver renews from the real NotAfter).
const (
	shortTD        = "short"
	shortDriver    = "short.spiffe.csi.cert-manager.io"
	shortNamespace = "short-apps"
	shortLifetime  = 30 * time.Second
	// renewal happens at 2/3 of the lifetime; allow for a few of them.
	renewalWait = 3 * shortLifetime
)

// shortIssuer creates what the documentation's demo issuer creates, named
// name: a self-signed root Certificate and a CA ClusterIssuer using it.
func shortIssuer(ctx context.Context, name string) {
	GinkgoHelper()
	root := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "cert-manager", Name: name},
		Spec: cmapi.CertificateSpec{
			CommonName: name, SecretName: name, IsCA: true,
			IssuerRef: cmmeta.IssuerReference{Name: "selfsigned", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
	issuer := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{certmanager.MaxLifetimeAnnotation: shortLifetime.String()}},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: name}}},
	}
	for _, obj := range []client.Object{root, issuer} {
		Expect(client.IgnoreAlreadyExists(c.Client().Create(ctx, obj))).To(Succeed())
	}
}

func shortPod() *corev1.Pod { return pod(shortNamespace, "app", shortDriver, nil) }

// serialOf reads the serial number of the volume's certificate.
func serialOf(ctx context.Context, v svidVolume) string {
	GinkgoHelper()
	return readSVID(ctx, v).leaf.SerialNumber.String()
}

// renewed waits until the volume holds a certificate other than serial, and
// returns it.
func renewed(ctx context.Context, v svidVolume, serial string) *svid {
	GinkgoHelper()
	var s *svid
	Eventually(func(g Gomega) {
		s = readSVID(ctx, v)
		g.Expect(s.leaf.SerialNumber.String()).NotTo(Equal(serial))
	}).WithContext(ctx).WithTimeout(renewalWait).WithPolling(500 * time.Millisecond).Should(Succeed())
	return s
}

// processes returns the local processes of the short trust domain's driver
// and approver.
func processes() []*process.Process {
	return append(local.h.Node.Processes("DaemonSet", shortTD+"-driver"), local.h.Node.Processes("Deployment", shortTD+"-approver")...)
}

// waitApplied waits until the short trust domain's driver and approver
// report, in their configuration-generation gauges, the configuration the
// operator published in td: from then on they issue and decide with it. The
// operator publishing a configuration does not mean its operands have it
// yet: each follows status.config through its own watch.
func waitApplied(ctx context.Context, td *spiffev1alpha1.SpiffeTrustDomain) {
	GinkgoHelper()
	want := float64(td.Status.Config.Generation)
	gauges := map[string]string{"DaemonSet": driver.ConfigGenerationMetric, "Deployment": approver.ConfigGenerationMetric}
	names := map[string]string{"DaemonSet": shortTD + "-driver", "Deployment": shortTD + "-approver"}
	Eventually(func(g Gomega) {
		for kind, metric := range gauges {
			ps := local.h.Node.Processes(kind, names[kind])
			g.Expect(ps).NotTo(BeEmpty(), "no %s %s is running", kind, names[kind])
			for _, p := range ps {
				got, err := p.Metric(ctx, metric, nil)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(want), "%s of %s", metric, p.Name)
			}
		}
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
}

var _ = Describe("A trust domain with short-lived SVIDs", Ordered, localOnly, func() {
	BeforeAll(func(ctx SpecContext) {
		shortIssuer(ctx, "short-a")
		shortIssuer(ctx, "short-b")
		// No Role for the pods' ServiceAccount: the operator binds the
		// requester role in namespaces matching the selector.
		Expect(client.IgnoreAlreadyExists(c.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: shortNamespace, Labels: map[string]string{"e2e.spiffe.csi.cert-manager.io/requesters": "true"},
		}}))).To(Succeed())
		Expect(client.IgnoreAlreadyExists(c.Client().Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: shortNamespace, Name: "app"}}))).To(Succeed())
		td := &spiffev1alpha1.SpiffeTrustDomain{
			ObjectMeta: metav1.ObjectMeta{Name: shortTD},
			Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
				TrustDomain: "short.test",
				IssuerRef:   spiffev1alpha1.IssuerReference{Name: "short-a"},
				CABundle: &spiffev1alpha1.CABundleSource{
					Secret: &spiffev1alpha1.KeySelector{Namespace: "cert-manager", Name: "short-a", Key: "ca.crt"},
				},
				RequesterNamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.spiffe.csi.cert-manager.io/requesters": "true"}},
				Driver:                     spiffev1alpha1.DriverSpec{Name: shortDriver},
			},
		}
		Expect(c.Client().Create(ctx, td)).To(Succeed())
		waitReady(ctx, shortTD)
	}, NodeTimeout(3*time.Minute))

	It("renews SVIDs before they expire", func(ctx SpecContext) {
		v := mount(ctx, shortPod())
		first := readSVID(ctx, v)
		Expect(first.leaf.URIs[0].String()).To(Equal("spiffe://short.test/ns/short-apps/sa/app"))
		Expect(first.leaf.NotAfter.Sub(first.leaf.NotBefore)).To(BeNumerically("<=", shortLifetime))
		next := renewed(ctx, v, first.leaf.SerialNumber.String())
		Expect(next.leaf.NotAfter).To(BeTemporally(">", first.leaf.NotAfter))
		Expect(next.verify(next.caPEM)).To(Succeed())
		Expect(next.keyPEM).NotTo(Equal(first.keyPEM), "each renewal uses a new key")
	}, SpecTimeout(2*time.Minute))

	It("rewrites the CA file of every live volume when the CA bundle source changes", func(ctx SpecContext) {
		v1 := mount(ctx, shortPod())
		v2 := mount(ctx, shortPod())

		By("rotating the CA in the Secret the trust domain's issuer and CA bundle use")
		ca, err := certmanager.NewCA("short-a")
		Expect(err).NotTo(HaveOccurred())
		keyPEM, err := pki.EncodePKCS8PrivateKey(ca.Key)
		Expect(err).NotTo(HaveOccurred())
		secret := &corev1.Secret{}
		Expect(c.Client().Get(ctx, client.ObjectKey{Namespace: "cert-manager", Name: "short-a"}, secret)).To(Succeed())
		secret.Data = map[string][]byte{"tls.crt": ca.PEM, "tls.key": keyPEM, "ca.crt": ca.PEM}
		Expect(c.Client().Update(ctx, secret)).To(Succeed())

		for _, v := range []svidVolume{v1, v2} {
			Eventually(func() ([]byte, error) { return v.ReadFile(ctx, "ca.crt") }).
				WithContext(ctx).WithTimeout(time.Minute).Should(Equal(ca.PEM))
		}
		By("renewed SVIDs chain to the new CA")
		s := renewed(ctx, v1, serialOf(ctx, v1))
		Eventually(func() error { s = readSVID(ctx, v1); return s.verify(ca.PEM) }).
			WithContext(ctx).WithTimeout(renewalWait).Should(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("follows an issuer change without restarting anything", func(ctx SpecContext) {
		before := processes()
		Expect(before).To(HaveLen(2))
		v1 := mount(ctx, shortPod())
		Expect(readSVID(ctx, v1).leaf.Issuer.CommonName).To(Equal("short-a"))

		By("switching the trust domain to issuer short-b and its CA")
		td := &spiffev1alpha1.SpiffeTrustDomain{}
		Expect(c.Client().Get(ctx, client.ObjectKey{Name: shortTD}, td)).To(Succeed())
		td.Spec.IssuerRef.Name = "short-b"
		td.Spec.CABundle.Secret.Name = "short-b"
		Expect(c.Client().Update(ctx, td)).To(Succeed())
		waitApplied(ctx, waitReady(ctx, shortTD))

		v2 := mount(ctx, shortPod())
		Expect(readSVID(ctx, v2).leaf.Issuer.CommonName).To(Equal("short-b"))
		Eventually(func() string { return readSVID(ctx, v1).leaf.Issuer.CommonName }).
			WithContext(ctx).WithTimeout(renewalWait).Should(Equal("short-b"), "a renewal of the older volume")

		after := processes()
		Expect(after).To(Equal(before), "the driver and the approver were restarted")
		for _, p := range after {
			exited, err := p.Exited()
			Expect(exited).To(BeFalse(), "%s exited: %v", p.Name, err)
		}
	}, SpecTimeout(3*time.Minute))

	It("keeps renewing existing volumes across a driver restart", func(ctx SpecContext) {
		v := mount(ctx, shortPod())
		serial := serialOf(ctx, v)
		Expect(local.h.Node.Restart(ctx, "DaemonSet", shortTD+"-driver")).To(Succeed())
		Eventually(func(g Gomega) {
			ps := local.h.Node.Processes("DaemonSet", shortTD+"-driver")
			g.Expect(ps).To(HaveLen(1))
			g.Expect(ps[0].Ready(ctx)).To(Succeed())
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		s := renewed(ctx, v, serial)
		Expect(s.verify(s.caPEM)).To(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("recovers by itself when the API server restarts", func(ctx SpecContext) {
		v := mount(ctx, shortPod())
		serial := serialOf(ctx, v)

		Expect(local.h.Env.RestartAPIServer()).To(Succeed())

		By("the operator: a spec change is published again")
		Eventually(func() error {
			td := &spiffev1alpha1.SpiffeTrustDomain{}
			if err := c.Client().Get(ctx, client.ObjectKey{Name: shortTD}, td); err != nil {
				return err
			}
			td.Spec.Certificate.Annotations = map[string]string{"e2e.example.com/after-restart": "true"}
			return c.Client().Update(ctx, td)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		var td *spiffev1alpha1.SpiffeTrustDomain
		Eventually(func(g Gomega) {
			td = waitReady(ctx, shortTD)
			g.Expect(td.Status.Config.Annotations).To(HaveKeyWithValue("e2e.example.com/after-restart", "true"))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("the driver and the approver: they follow the new configuration through their watches, which reconnect by themselves")
		waitApplied(ctx, td)

		By("the driver and the approver: a new pod gets its SVID, with the new annotation on its request")
		var v2 svidVolume
		Eventually(func() error {
			var err error
			v2, err = c.Mount(ctx, shortPod())
			return err
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(v2.Unmount(ctx)).To(Succeed()) })
		crs := requestsOf(ctx, v2.Pod())
		Expect(crs).NotTo(BeEmpty())
		Expect(crs[len(crs)-1].Annotations).To(HaveKeyWithValue("e2e.example.com/after-restart", "true"))
		Expect(crs[len(crs)-1].Annotations).To(HaveKeyWithValue(spiffe.ConfigGenerationAnnotation, strconv.FormatInt(td.Status.Config.Generation, 10)))

		By("existing volumes keep renewing")
		renewed(ctx, v, serial)
	}, SpecTimeout(4*time.Minute))
})
