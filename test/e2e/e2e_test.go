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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
)

const defaultDriver = "spiffe.csi.cert-manager.io"

var podSeq atomic.Int64

// pod returns a pod like the documentation's examples: one container
// mounting the SPIFFE volume of driver at /var/run/secrets/spiffe.io.
func pod(ns, sa, driver string, attrs map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("app-%d", podSeq.Add(1))},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers: []corev1.Container{{
				Name: "app", Image: "busybox",
				VolumeMounts: []corev1.VolumeMount{{Name: "spiffe", MountPath: "/var/run/secrets/spiffe.io"}},
			}},
			Volumes: []corev1.Volume{{Name: "spiffe", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver: driver, ReadOnly: ptr.To(true), VolumeAttributes: attrs,
			}}}},
		},
	}
}

// podOfDeployment returns a pod of a Deployment of the reference manifests,
// as the ReplicaSet controller would make it.
func podOfDeployment(ctx context.Context, ns, name string) *corev1.Pod {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(c.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, podSeq.Add(1)), Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
}

// mount mounts the pod's volume and unmounts it when the spec ends.
func mount(ctx context.Context, p *corev1.Pod) svidVolume {
	GinkgoHelper()
	v, err := c.Mount(ctx, p)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(v.Unmount(ctx)).To(Succeed()) })
	return v
}

// svid is what a workload reads from its volume.
type svid struct {
	leaf    *x509.Certificate
	chain   []*x509.Certificate
	keyPEM  []byte
	certPEM []byte
	caPEM   []byte
}

func readSVID(ctx context.Context, v svidVolume) *svid {
	GinkgoHelper()
	s := &svid{}
	var err error
	s.certPEM, err = v.ReadFile(ctx, "tls.crt")
	Expect(err).NotTo(HaveOccurred())
	s.keyPEM, err = v.ReadFile(ctx, "tls.key")
	Expect(err).NotTo(HaveOccurred())
	s.caPEM, _ = v.ReadFile(ctx, "ca.crt")
	for rest := s.certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		Expect(err).NotTo(HaveOccurred())
		s.chain = append(s.chain, cert)
	}
	Expect(s.chain).NotTo(BeEmpty(), "tls.crt holds no certificate")
	s.leaf = s.chain[0]
	return s
}

// verify checks the chain against the PEM roots, as a TLS peer of the trust
// domain would.
func (s *svid) verify(rootsPEM []byte) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootsPEM) {
		return fmt.Errorf("no root certificate in %q", rootsPEM)
	}
	inter := x509.NewCertPool()
	for _, c := range s.chain[1:] {
		inter.AddCert(c)
	}
	_, err := s.leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// requestsOf lists the CertificateRequests the driver made for a pod (it
// owns them).
func requestsOf(ctx context.Context, p *corev1.Pod) []cmapi.CertificateRequest {
	GinkgoHelper()
	list := &cmapi.CertificateRequestList{}
	Expect(c.Client().List(ctx, list, client.InNamespace(p.Namespace))).To(Succeed())
	var out []cmapi.CertificateRequest
	for _, cr := range list.Items {
		for _, o := range cr.OwnerReferences {
			if o.UID == p.UID {
				out = append(out, cr)
			}
		}
	}
	return out
}

func condition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

var _ = Describe("A platform engineer", func() {
	It("sees the trust domain Ready in kubectl, with its issuer, driver and nodes", func(ctx SpecContext) {
		out := kubectl("get", "spiffetrustdomains")
		Expect(out).To(MatchRegexp(`(?m)^NAME\s+TRUST DOMAIN\s+ISSUER\s+DRIVER\s+NODES READY\s+NODES DESIRED\s+READY\s+AGE$`))
		Expect(out).To(MatchRegexp(`(?m)^foo-bar\s+foo\.bar\s+csi-driver-spiffe-ca\s+spiffe\.csi\.cert-manager\.io\s+[1-9]\d*\s+[1-9]\d*\s+True\s+`))
		desc := kubectl("describe", "spiffetrustdomain", "foo-bar")
		for _, cond := range []string{"IssuerReady", "CABundleReady", "DriverReady", "ApproverReady"} {
			Expect(desc).To(ContainSubstring(cond))
		}
	})

	It("installs the documentation's example apps unchanged", func(ctx SpecContext) {
		for _, f := range []string{"example-app.yaml", "fs-group-app.yaml"} {
			out := kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "test", "e2e", "testdata", f))
			Expect(out).To(ContainSubstring("deployment.apps/"))
		}
	})
})

var _ = Describe("A pod that mounts the volume", func() {
	BeforeEach(func() {
		kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "test", "e2e", "testdata", "example-app.yaml"))
		kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "test", "e2e", "testdata", "fs-group-app.yaml"))
	})

	It("gets the SVID of its ServiceAccount, signed by the trust domain's issuer", func(ctx SpecContext) {
		p := podOfDeployment(ctx, "sandbox", "my-csi-app")
		v := mount(ctx, p)

		names, err := v.Names(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(ConsistOf("ca.crt", "tls.crt", "tls.key"))
		s := readSVID(ctx, v)

		By("openssl x509 -text: Issuer CN = csi-driver-spiffe-ca, one URI SAN, nothing else")
		Expect(s.leaf.Issuer.CommonName).To(Equal("csi-driver-spiffe-ca"))
		Expect(s.leaf.URIs).To(HaveLen(1))
		Expect(s.leaf.URIs[0].String()).To(Equal("spiffe://foo.bar/ns/sandbox/sa/example-app"))
		Expect(s.leaf.DNSNames).To(BeEmpty())
		Expect(s.leaf.IPAddresses).To(BeEmpty())
		Expect(s.leaf.EmailAddresses).To(BeEmpty())
		Expect(s.leaf.Subject.String()).To(BeEmpty())
		Expect(s.leaf.IsCA).To(BeFalse())
		Expect(s.leaf.ExtKeyUsage).To(ConsistOf(x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth))
		Expect(s.leaf.KeyUsage & (x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment)).To(Equal(x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment))
		Expect(s.leaf.NotAfter.Sub(s.leaf.NotBefore)).To(Equal(time.Hour), "the trust domain's duration is 1h")
		pub, ok := s.leaf.PublicKey.(*ecdsa.PublicKey)
		Expect(ok).To(BeTrue(), "the key is %T, want ECDSA", s.leaf.PublicKey)
		Expect(pub.Curve).To(Equal(elliptic.P521()))

		By("openssl verify -CAfile ca.crt tls.crt; the key matches the certificate")
		Expect(s.verify(s.caPEM)).To(Succeed())
		_, err = tls.X509KeyPair(s.certPEM, s.keyPEM)
		Expect(err).NotTo(HaveOccurred())

		By("go-spiffe reads it as an X.509 SVID")
		dir := GinkgoT().TempDir()
		for name, data := range map[string][]byte{"tls.crt": s.certPEM, "tls.key": s.keyPEM} {
			Expect(os.WriteFile(filepath.Join(dir, name), data, 0o600)).To(Succeed())
		}
		sv, err := x509svid.Load(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
		Expect(err).NotTo(HaveOccurred())
		Expect(sv.ID.String()).To(Equal("spiffe://foo.bar/ns/sandbox/sa/example-app"))

		By("files are read-only for owner and group, nothing for others")
		for _, name := range names {
			mode, _, _, err := v.Stat(ctx, name)
			Expect(err).NotTo(HaveOccurred())
			Expect(mode).To(Equal(os.FileMode(0o440)), name)
		}

		By("the CertificateRequest was approved by the SPIFFE approver and asked as the pod's ServiceAccount")
		crs := requestsOf(ctx, v.Pod())
		Expect(crs).NotTo(BeEmpty())
		cr := crs[len(crs)-1]
		Expect(cr.Spec.Username).To(Equal("system:serviceaccount:sandbox:example-app"))
		approved := condition(&cr, cmapi.CertificateRequestConditionApproved)
		Expect(approved).NotTo(BeNil())
		Expect(approved.Reason).To(Equal(spiffe.ApprovalReason))
	})

	It("gives two pods of one ServiceAccount the same SPIFFE ID and different keys", func(ctx SpecContext) {
		a := readSVID(ctx, mount(ctx, podOfDeployment(ctx, "sandbox", "my-csi-app")))
		b := readSVID(ctx, mount(ctx, podOfDeployment(ctx, "sandbox", "my-csi-app")))
		Expect(a.leaf.URIs[0].String()).To(Equal(b.leaf.URIs[0].String()))
		Expect(a.keyPEM).NotTo(Equal(b.keyPEM))
		Expect(a.leaf.SerialNumber).NotTo(Equal(b.leaf.SerialNumber))
	})

	It("is readable by the group of the fs-group attribute, and by no one else", func(ctx SpecContext) {
		v := mount(ctx, podOfDeployment(ctx, "sandbox", "my-csi-app-fs-group"))
		for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
			mode, uid, gid, err := v.Stat(ctx, name)
			Expect(err).NotTo(HaveOccurred())
			Expect(mode).To(Equal(os.FileMode(0o440)), name)
			Expect(gid).To(Equal(uint32(456)), name)
			Expect(uid).To(Equal(uint32(0)), name)
		}
		s := readSVID(ctx, v)
		Expect(s.leaf.URIs[0].String()).To(Equal("spiffe://foo.bar/ns/sandbox/sa/fs-group-app"))
	})

	It("leaves no files and no CertificateRequests behind when it goes away", func(ctx SpecContext) {
		v, err := c.Mount(ctx, podOfDeployment(ctx, "sandbox", "my-csi-app"))
		Expect(err).NotTo(HaveOccurred())
		p := v.Pod()
		Expect(requestsOf(ctx, p)).NotTo(BeEmpty())
		Expect(v.Unmount(ctx)).To(Succeed())
		Eventually(func() []cmapi.CertificateRequest { return requestsOf(ctx, p) }).WithContext(ctx).
			WithTimeout(time.Minute).Should(BeEmpty())
	})

	It("is refused, with a reason, when its ServiceAccount may not request certificates", func(ctx SpecContext) {
		Expect(client.IgnoreAlreadyExists(c.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "no-rbac"}}))).To(Succeed())
		Expect(client.IgnoreAlreadyExists(c.Client().Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "no-rbac", Name: "app"}}))).To(Succeed())
		_, err := c.Mount(ctx, pod("no-rbac", "app", defaultDriver, nil))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("certificaterequests"))
		Expect(err.Error()).To(ContainSubstring("create"))
		list := &cmapi.CertificateRequestList{}
		Expect(c.Client().List(ctx, list, client.InNamespace("no-rbac"))).To(Succeed())
		Expect(list.Items).To(BeEmpty(), "nothing may be issued")
	})
})

var _ = Describe("The approver", func() {
	// A workload that talks to the API server itself instead of through the
	// driver gets nothing the policy does not allow, and is told why.
	var saClient client.Client
	BeforeEach(func() {
		kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "test", "e2e", "testdata", "example-app.yaml"))
		cfg := *c.Config()
		cfg.Impersonate.UserName = "system:serviceaccount:sandbox:example-app"
		cfg.Impersonate.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:sandbox", "system:authenticated"}
		var err error
		saClient, err = client.New(&cfg, client.Options{Scheme: c.Client().Scheme()})
		Expect(err).NotTo(HaveOccurred())
	})

	request := func(spec csr.Spec, mutate func(*cmapi.CertificateRequest)) *cmapi.CertificateRequest {
		GinkgoHelper()
		pemCSR, err := spec.PEM()
		Expect(err).NotTo(HaveOccurred())
		cr := &cmapi.CertificateRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", GenerateName: "hand-made-"},
			Spec: cmapi.CertificateRequestSpec{
				Request:   pemCSR,
				IssuerRef: cmmeta.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
				Duration:  &metav1.Duration{Duration: time.Hour},
				Usages:    operand.SVIDUsages(),
			},
		}
		if mutate != nil {
			mutate(cr)
		}
		return cr
	}
	const me = "spiffe://foo.bar/ns/sandbox/sa/example-app"
	rsaKey := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		Expect(err).NotTo(HaveOccurred())
		return k
	}

	DescribeTable("denies what the policy refuses, saying which rule and why",
		func(ctx SpecContext, make func() *cmapi.CertificateRequest, wantRule string) {
			cr := make()
			Expect(saClient.Create(ctx, cr)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(c.Client().Get(ctx, client.ObjectKeyFromObject(cr), cr)).To(Succeed())
				g.Expect(condition(cr, cmapi.CertificateRequestConditionDenied)).NotTo(BeNil())
			}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
			Expect(condition(cr, cmapi.CertificateRequestConditionApproved)).To(BeNil())
			denied := condition(cr, cmapi.CertificateRequestConditionDenied)
			Expect(denied.Reason).To(Equal(spiffe.ApprovalReason))
			Expect(denied.Message).To(ContainSubstring(wantRule))
			// What `kubectl describe certificaterequest` shows the user.
			Expect(kubectl("describe", "certificaterequest", "-n", "sandbox", cr.Name)).To(ContainSubstring(wantRule))
		},
		Entry("a duration other than the trust domain's", func() *cmapi.CertificateRequest {
			return request(csr.Driver(me), func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: 24 * time.Hour} })
		}, "duration"),
		Entry("the identity of another ServiceAccount", func() *cmapi.CertificateRequest {
			return request(csr.Driver("spiffe://foo.bar/ns/sandbox/sa/admin"), nil)
		}, "uri-san"),
		Entry("an extra usage", func() *cmapi.CertificateRequest {
			return request(csr.Driver(me), func(cr *cmapi.CertificateRequest) {
				cr.Spec.Usages = append(cr.Spec.Usages, cmapi.UsageCodeSigning)
			})
		}, "usages"),
		Entry("an RSA key instead of ECDSA P-521", func() *cmapi.CertificateRequest {
			return request(csr.Driver(me).WithKey(rsaKey()), nil)
		}, "key"),
	)
})

var _ = Describe("The operator", func() {
	It("reports a second trust domain claiming the same driver name, and leaves the first alone", func(ctx SpecContext) {
		td := &spiffev1alpha1.SpiffeTrustDomain{
			ObjectMeta: metav1.ObjectMeta{Name: "copycat"},
			Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
				TrustDomain: "copy.cat",
				IssuerRef:   spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca"},
			},
		}
		Expect(c.Client().Create(ctx, td)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(c.Client().Delete(ctx, td)).To(Succeed()) })
		Eventually(func() string {
			return kubectl("get", "spiffetrustdomain", "copycat", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Equal("DriverNameConflict"))
		waitReady(ctx, "foo-bar")
	})
})
