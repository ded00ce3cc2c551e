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

package validation

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

var nameSeq atomic.Int64

// newObject returns a minimal valid SpiffeTrustDomain as unstructured, so that
// cases can set fields to values the Go types cannot express.
func newObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "spiffe.csi.cert-manager.io/v1alpha1",
		"kind":       "SpiffeTrustDomain",
		"metadata":   map[string]any{"name": fmt.Sprintf("validation-%d", nameSeq.Add(1))},
		"spec": map[string]any{
			"trustDomain": "foo.bar",
			"issuerRef":   map[string]any{"name": "csi-driver-spiffe-ca"},
		},
	}}
	return u
}

func set(path string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		Expect(unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...)).To(Succeed())
	}
}

func unset(path string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, strings.Split(path, ".")...)
	}
}

func createErr(ctx context.Context, mutate ...func(*unstructured.Unstructured)) error {
	u := newObject()
	for _, m := range mutate {
		m(u)
	}
	return cl.Create(ctx, u)
}

var _ = Describe("SpiffeTrustDomain CRD", func() {
	It("serves /version as v1.37, not v0.0.0-master", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(testEnv.Config)
		Expect(err).NotTo(HaveOccurred())
		v, err := dc.ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(v.GitVersion).To(HavePrefix("v1.37."))
		Expect(v.Minor).To(Equal("37"))
	})

	It("accepts the sample and returns it fully defaulted", func(ctx SpecContext) {
		data, err := os.ReadFile(filepath.Join(testEnv.RepoRoot, "config", "samples", "spiffe_v1alpha1_spiffetrustdomain.yaml"))
		Expect(err).NotTo(HaveOccurred())
		obj := &spiffev1alpha1.SpiffeTrustDomain{}
		Expect(yaml.UnmarshalStrict(data, obj)).To(Succeed())
		Expect(cl.Create(ctx, obj)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(cl.Delete(ctx, obj)).To(Succeed()) })

		got := &spiffev1alpha1.SpiffeTrustDomain{}
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		Expect(got.Spec).To(Equal(spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: "foo.bar",
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
			Certificate: spiffev1alpha1.CertificateSpec{
				Duration:              &metav1.Duration{Duration: time.Hour},
				RenewBeforePercentage: 33,
				PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
			},
			Files: spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
			CABundle: &spiffev1alpha1.CABundleSource{
				Secret: &spiffev1alpha1.KeySelector{Namespace: "cert-manager", Name: "csi-driver-spiffe-ca", Key: "ca.crt"},
			},
			Driver:   spiffev1alpha1.DriverSpec{Name: "spiffe.csi.cert-manager.io", LogLevel: 1},
			Approver: spiffev1alpha1.ApproverSpec{Replicas: 1, LogLevel: 1},
		}))
	})

	It("defaults a minimal object: ClusterIssuer of cert-manager.io, ECDSA P-521, 1h", func(ctx SpecContext) {
		u := newObject()
		Expect(cl.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(cl.Delete(ctx, u)).To(Succeed()) })
		got := &spiffev1alpha1.SpiffeTrustDomain{}
		Expect(cl.Get(ctx, client.ObjectKey{Name: u.GetName()}, got)).To(Succeed())
		Expect(got.Spec.IssuerRef).To(Equal(spiffev1alpha1.IssuerReference{Name: "csi-driver-spiffe-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}))
		Expect(got.Spec.Certificate.PrivateKey).To(Equal(spiffev1alpha1.PrivateKeySpec{Algorithm: "ECDSA", Size: 521}))
		Expect(got.Spec.Certificate.Duration.Duration).To(Equal(time.Hour))
		Expect(got.Spec.CABundle).To(BeNil())
	})

	DescribeTable("accepts valid input",
		func(ctx SpecContext, mutate ...func(*unstructured.Unstructured)) {
			u := newObject()
			for _, m := range mutate {
				m(u)
			}
			Expect(cl.Create(ctx, u)).To(Succeed())
			Expect(cl.Delete(ctx, u)).To(Succeed())
		},
		Entry("trust domain with digits, dashes and underscores", set("spec.trustDomain", "td-1_prod.example.org")),
		Entry("trust domain of 255 characters", set("spec.trustDomain", strings.Repeat("a", 255))),
		Entry("a namespaced Issuer", set("spec.issuerRef.kind", "Issuer")),
		Entry("an external issuer of any kind", set("spec.issuerRef.group", "awspca.cert-manager.io"), set("spec.issuerRef.kind", "AWSPCAClusterIssuer")),
		Entry("duration of 10m", set("spec.certificate.duration", "10m")),
		Entry("duration of one year", set("spec.certificate.duration", "8760h")),
		Entry("duration of 1h30m", set("spec.certificate.duration", "1h30m")),
		Entry("renewBeforePercentage 10", set("spec.certificate.renewBeforePercentage", int64(10))),
		Entry("renewBeforePercentage 90", set("spec.certificate.renewBeforePercentage", int64(90))),
		Entry("ECDSA P-256", set("spec.certificate.privateKey", map[string]any{"algorithm": "ECDSA", "size": int64(256)})),
		Entry("ECDSA P-384", set("spec.certificate.privateKey", map[string]any{"algorithm": "ECDSA", "size": int64(384)})),
		Entry("ECDSA without size (resolved to 521)", set("spec.certificate.privateKey", map[string]any{"algorithm": "ECDSA"})),
		Entry("RSA 2048", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA", "size": int64(2048)})),
		Entry("RSA 3072", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA", "size": int64(3072)})),
		Entry("RSA 4096", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA", "size": int64(4096)})),
		Entry("RSA without size (resolved to 2048)", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA"})),
		Entry("Ed25519 without size", set("spec.certificate.privateKey", map[string]any{"algorithm": "Ed25519"})),
		Entry("annotations of another prefix", set("spec.certificate.annotations", map[string]any{"example.com/team": "a", "plain": "b"})),
		Entry("custom file names", set("spec.files", map[string]any{"certificate": "svid.pem", "key": "svid_key.pem", "ca": "bundle.0.pem"})),
		Entry("a ConfigMap CA bundle", set("spec.caBundle", map[string]any{"configMap": map[string]any{"namespace": "cert-manager", "name": "roots"}})),
		Entry("a custom driver name", set("spec.driver.name", "spiffe.example.com")),
		Entry("an empty namespace selector (all namespaces)", set("spec.requesterNamespaceSelector", map[string]any{})),
		Entry("three approver replicas", set("spec.approver.replicas", int64(3))),
	)

	DescribeTable("refuses invalid input with a message naming the field",
		func(ctx SpecContext, wantField, wantMessage string, mutate ...func(*unstructured.Unstructured)) {
			err := createErr(ctx, mutate...)
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid object")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantField))
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("no trust domain", "spec.trustDomain", "Required value", unset("spec.trustDomain")),
		Entry("empty trust domain", "spec.trustDomain", "should be at least 1 chars long", set("spec.trustDomain", "")),
		Entry("trust domain with a scheme", "spec.trustDomain", `trustDomain must be a bare trust domain name such as "foo.bar", without a scheme such as "spiffe://"`, set("spec.trustDomain", "spiffe://foo.bar")),
		Entry("trust domain with a port", "spec.trustDomain", "trustDomain must not contain a port", set("spec.trustDomain", "foo.bar:8443")),
		Entry("trust domain with a path", "spec.trustDomain", "trustDomain must not contain a path", set("spec.trustDomain", "foo.bar/ns")),
		Entry("trust domain in uppercase", "spec.trustDomain", "trustDomain must be lowercase", set("spec.trustDomain", "Foo.Bar")),
		Entry("trust domain with a space", "spec.trustDomain", "trustDomain may contain only lowercase letters, digits, '.', '-' and '_'", set("spec.trustDomain", "foo bar")),
		Entry("trust domain with a percent sign", "spec.trustDomain", "trustDomain may contain only lowercase letters, digits, '.', '-' and '_'", set("spec.trustDomain", "foo%2fbar")),
		Entry("trust domain of 256 characters", "spec.trustDomain", "Too long: may not be more than 255 bytes", set("spec.trustDomain", strings.Repeat("a", 256))),
		Entry("no issuerRef", "spec.issuerRef", "Required value", unset("spec.issuerRef")),
		Entry("issuerRef without a name", "spec.issuerRef.name", "Required value", unset("spec.issuerRef.name")),
		Entry("a cert-manager.io issuer of an unknown kind", "spec.issuerRef", "issuerRef.kind must be Issuer or ClusterIssuer when issuerRef.group is cert-manager.io", set("spec.issuerRef.kind", "Certificate")),
		Entry("duration that is not a duration", "spec.certificate.duration", `duration must be a duration such as "1h" or "90m"`, set("spec.certificate.duration", "one hour")),
		Entry("duration in days", "spec.certificate.duration", `duration must be a duration such as "1h" or "90m"`, set("spec.certificate.duration", "1d")),
		Entry("duration of 9m59s", "spec.certificate.duration", "duration must be at least 10m and at most 8760h (one year)", set("spec.certificate.duration", "9m59s")),
		Entry("duration longer than a year", "spec.certificate.duration", "duration must be at least 10m and at most 8760h (one year)", set("spec.certificate.duration", "8761h")),
		Entry("renewBeforePercentage 9", "spec.certificate.renewBeforePercentage", "should be greater than or equal to 10", set("spec.certificate.renewBeforePercentage", int64(9))),
		Entry("renewBeforePercentage 91", "spec.certificate.renewBeforePercentage", "should be less than or equal to 90", set("spec.certificate.renewBeforePercentage", int64(91))),
		Entry("an unknown key algorithm", "spec.certificate.privateKey.algorithm", `Unsupported value: "DSA"`, set("spec.certificate.privateKey", map[string]any{"algorithm": "DSA"})),
		Entry("ECDSA of size 224", "spec.certificate.privateKey", "privateKey.size must be 256, 384 or 521 for ECDSA keys", set("spec.certificate.privateKey", map[string]any{"algorithm": "ECDSA", "size": int64(224)})),
		Entry("ECDSA of size 2048", "spec.certificate.privateKey", "privateKey.size must be 256, 384 or 521 for ECDSA keys", set("spec.certificate.privateKey", map[string]any{"algorithm": "ECDSA", "size": int64(2048)})),
		Entry("RSA of size 1024", "spec.certificate.privateKey", "privateKey.size must be 2048, 3072 or 4096 for RSA keys", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA", "size": int64(1024)})),
		Entry("RSA of size 521", "spec.certificate.privateKey", "privateKey.size must be 2048, 3072 or 4096 for RSA keys", set("spec.certificate.privateKey", map[string]any{"algorithm": "RSA", "size": int64(521)})),
		Entry("Ed25519 with a size", "spec.certificate.privateKey", "privateKey.size must not be set for Ed25519 keys", set("spec.certificate.privateKey", map[string]any{"algorithm": "Ed25519", "size": int64(256)})),
		Entry("an annotation with the reserved prefix", "spec.certificate.annotations", `annotations must not use the reserved prefix "spiffe.csi.cert-manager.io/"`, set("spec.certificate.annotations", map[string]any{"spiffe.csi.cert-manager.io/identity": "spoofed"})),
		Entry("a certificate file name with a slash", "spec.files.certificate", "must be a plain file name", set("spec.files.certificate", "../etc/passwd")),
		Entry("a key file name that is '..'", "spec.files.key", "must be a plain file name", set("spec.files.key", "..")),
		Entry("a CA file name that is '.'", "spec.files.ca", "must be a plain file name", set("spec.files.ca", ".")),
		Entry("an empty file name", "spec.files.key", "should be at least 1 chars long", set("spec.files.key", "")),
		Entry("the key written over the certificate", "spec.files", "files.certificate, files.key and files.ca must be distinct", set("spec.files", map[string]any{"certificate": "tls.pem", "key": "tls.pem"})),
		Entry("the CA written over the key", "spec.files", "files.certificate, files.key and files.ca must be distinct", set("spec.files", map[string]any{"key": "ca.crt"})),
		Entry("a CA bundle with both sources", "spec.caBundle", "caBundle must name exactly one source: secret or configMap", set("spec.caBundle", map[string]any{
			"secret":    map[string]any{"namespace": "cert-manager", "name": "ca"},
			"configMap": map[string]any{"namespace": "cert-manager", "name": "ca"},
		})),
		Entry("a CA bundle with no source", "spec.caBundle", "caBundle must name exactly one source: secret or configMap", set("spec.caBundle", map[string]any{})),
		Entry("a CA bundle Secret without a namespace", "spec.caBundle.secret.namespace", "Required value", set("spec.caBundle", map[string]any{"secret": map[string]any{"name": "ca"}})),
		Entry("a driver name with uppercase letters", "spec.driver.name", "driver.name must be a CSI driver name", set("spec.driver.name", "Spiffe.CSI")),
		Entry("a driver name ending in a dot", "spec.driver.name", "driver.name must be a CSI driver name", set("spec.driver.name", "spiffe.csi.")),
		Entry("a driver name of 64 characters", "spec.driver.name", "Too long: may not be more than 63 bytes", set("spec.driver.name", strings.Repeat("a", 64))),
		Entry("zero approver replicas", "spec.approver.replicas", "should be greater than or equal to 1", set("spec.approver.replicas", int64(0))),
		Entry("a driver log level of 11", "spec.driver.logLevel", "should be less than or equal to 10", set("spec.driver.logLevel", int64(11))),
		Entry("a name of 64 characters", "<nil>", "metadata.name must be at most 63 characters", func(u *unstructured.Unstructured) { u.SetName(strings.Repeat("a", 64)) }),
	)

	DescribeTable("refuses changes to immutable fields",
		func(ctx SpecContext, path string, value any, wantMessage string) {
			u := newObject()
			Expect(cl.Create(ctx, u)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(cl.Delete(ctx, u)).To(Succeed()) })
			Expect(cl.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
			set(path, value)(u)
			err := cl.Update(ctx, u)
			Expect(err).To(HaveOccurred(), "the API server accepted a change of %s", path)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(path))
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("trustDomain", "spec.trustDomain", "bar.baz", "trustDomain is immutable: create a new SpiffeTrustDomain for another trust domain"),
		Entry("driver.name", "spec.driver.name", "other.csi.example.com", "driver.name is immutable: pods reference the driver by this name"),
	)

	It("refuses removing a custom driver name, which would fall back to the default", func(ctx SpecContext) {
		u := newObject()
		set("spec.driver.name", "custom.csi.example.com")(u)
		Expect(cl.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(cl.Delete(ctx, u)).To(Succeed()) })
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		unset("spec.driver.name")(u)
		err := cl.Update(ctx, u)
		Expect(err).To(MatchError(ContainSubstring("driver.name is immutable")))
	})

	It("allows changing mutable fields", func(ctx SpecContext) {
		u := newObject()
		Expect(cl.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(cl.Delete(ctx, u)).To(Succeed()) })
		Expect(cl.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		set("spec.issuerRef.name", "another-ca")(u)
		set("spec.certificate.duration", "2h")(u)
		set("spec.certificate.privateKey", map[string]any{"algorithm": "Ed25519"})(u)
		Expect(cl.Update(ctx, u)).To(Succeed())
	})

	It("is cluster-scoped, with short names and printer columns", func(ctx SpecContext) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		Expect(cl.Get(ctx, client.ObjectKey{Name: "spiffetrustdomains.spiffe.csi.cert-manager.io"}, crd)).To(Succeed())
		scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
		Expect(scope).To(Equal("Cluster"))
		short, _, _ := unstructured.NestedStringSlice(crd.Object, "spec", "names", "shortNames")
		Expect(short).To(ContainElement("std"))
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		Expect(versions).To(HaveLen(1))
		cols, _, _ := unstructured.NestedSlice(versions[0].(map[string]any), "additionalPrinterColumns")
		var names []string
		for _, c := range cols {
			names = append(names, c.(map[string]any)["name"].(string))
		}
		Expect(names).To(Equal([]string{"Trust Domain", "Issuer", "Driver", "Nodes Ready", "Nodes Desired", "Ready", "Reason", "Age"}))
	})
})
