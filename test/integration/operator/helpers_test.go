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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
)

// newTrustDomain returns a SpiffeTrustDomain named name for trust domain
// <name>.example, signed by ClusterIssuer issuer, with driver name
// <name>.spiffe.csi.cert-manager.io (unique per test).
func newTrustDomain(name, issuer string, mutate ...func(*spiffev1alpha1.SpiffeTrustDomain)) *spiffev1alpha1.SpiffeTrustDomain {
	td := &spiffev1alpha1.SpiffeTrustDomain{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: name + ".example",
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: issuer},
			Driver:      spiffev1alpha1.DriverSpec{Name: name + ".spiffe.csi.cert-manager.io"},
		},
	}
	for _, m := range mutate {
		m(td)
	}
	return td
}

// createTrustDomain creates td and deletes it when the test ends.
func createTrustDomain(td *spiffev1alpha1.SpiffeTrustDomain) *spiffev1alpha1.SpiffeTrustDomain {
	Expect(cl.Create(ctx, td)).To(Succeed())
	cleanupDelete(td)
	return td
}

// cleanupDelete deletes obj when the test ends. With no garbage
// collector, a test that deletes a SpiffeTrustDomain also deletes children
// that would get in the way of later tests itself.
func cleanupDelete(obj client.Object) {
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(cl.Delete(ctx, obj))).To(Succeed())
	})
}

// createClusterIssuer creates a CA ClusterIssuer with the given Ready status.
func createClusterIssuer(name string, ready bool, config cmapi.IssuerConfig) *cmapi.ClusterIssuer {
	iss := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       cmapi.IssuerSpec{IssuerConfig: config},
	}
	Expect(cl.Create(ctx, iss)).To(Succeed())
	cleanupDelete(iss)
	setIssuerReady(iss, ready)
	return iss
}

func caIssuerConfig() cmapi.IssuerConfig {
	return cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca-key-pair"}}
}

// setIssuerReady writes the issuer's Ready condition, as cert-manager would.
func setIssuerReady(iss cmapi.GenericIssuer, ready bool) {
	status := cmmeta.ConditionTrue
	reason := "KeyPairVerified"
	if !ready {
		status, reason = cmmeta.ConditionFalse, "ErrGetKeyPair"
	}
	Expect(cl.Get(ctx, client.ObjectKeyFromObject(iss), iss)).To(Succeed())
	iss.GetStatus().Conditions = []cmapi.IssuerCondition{{
		Type:               cmapi.IssuerConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            "set by the test",
		ObservedGeneration: iss.GetGeneration(),
		LastTransitionTime: ptr.To(metav1.Now()),
	}}
	Expect(cl.Status().Update(ctx, iss)).To(Succeed())
}

// getTrustDomain reads a SpiffeTrustDomain.
func getTrustDomain(name string) *spiffev1alpha1.SpiffeTrustDomain {
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	Expect(cl.Get(ctx, types.NamespacedName{Name: name}, td)).To(Succeed())
	return td
}

// conditionOf returns a function for Eventually that reads a condition.
func conditionOf(name, condType string) func(g Gomega) metav1.Condition {
	return func(g Gomega) metav1.Condition {
		td := &spiffev1alpha1.SpiffeTrustDomain{}
		g.Expect(cl.Get(ctx, types.NamespacedName{Name: name}, td)).To(Succeed())
		c := meta.FindStatusCondition(td.Status.Conditions, condType)
		g.Expect(c).NotTo(BeNil(), "condition %s of %s", condType, name)
		return *c
	}
}

// haveCondition matches a condition's status and reason.
func haveCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(HaveField("Status", status), HaveField("Reason", reason))
}

// eventuallyCondition waits until the condition has status and reason, a
// message with every one of messageParts, and describes the object's
// current generation.
func eventuallyCondition(name, condType string, status metav1.ConditionStatus, reason string, messageParts ...string) metav1.Condition {
	GinkgoHelper()
	var c metav1.Condition
	Eventually(func(g Gomega) {
		c = conditionOf(name, condType)(g)
		g.Expect(c).To(haveCondition(status, reason), "message: %s", c.Message)
		for _, part := range messageParts {
			g.Expect(c.Message).To(ContainSubstring(part))
		}
		g.Expect(c.ObservedGeneration).To(Equal(getTrustDomain(name).Generation))
	}, timeout, interval).Should(Succeed())
	return c
}

// markDaemonSetReady writes the status the DaemonSet controller would
// write once the driver runs on nodes nodes.
func markDaemonSetReady(name string, nodes int32) {
	Eventually(func(g Gomega) {
		ds := &appsv1.DaemonSet{}
		g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: operand.DriverDaemonSetName(name)}, ds)).To(Succeed())
		ds.Status = appsv1.DaemonSetStatus{
			ObservedGeneration:     ds.Generation,
			CurrentNumberScheduled: nodes,
			DesiredNumberScheduled: nodes,
			NumberReady:            nodes,
			UpdatedNumberScheduled: nodes,
			NumberAvailable:        nodes,
		}
		g.Expect(cl.Status().Update(ctx, ds)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// markDeploymentReady writes the status the Deployment controller would
// write once every replica is ready.
func markDeploymentReady(name string) {
	Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(cl.Get(ctx, types.NamespacedName{Namespace: operatorNamespace, Name: operand.ApproverDeploymentName(name)}, d)).To(Succeed())
		n := ptr.Deref(d.Spec.Replicas, 1)
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           n,
			UpdatedReplicas:    n,
			ReadyReplicas:      n,
			AvailableReplicas:  n,
		}
		g.Expect(cl.Status().Update(ctx, d)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// expectControlledBy checks obj has exactly one owner reference: the
// controller reference to td that lets the garbage collector delete it.
func expectControlledBy(g Gomega, obj client.Object, td *spiffev1alpha1.SpiffeTrustDomain) {
	g.Expect(obj.GetOwnerReferences()).To(ConsistOf(metav1.OwnerReference{
		APIVersion:         spiffev1alpha1.GroupVersion.String(),
		Kind:               spiffev1alpha1.Kind,
		Name:               td.Name,
		UID:                td.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}), "owner references of %T %s", obj, obj.GetName())
}

// isNotFound reports whether obj does not exist.
func isNotFound(obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(obj), obj))
	}
}

// canI asks the API server whether a ServiceAccount (with the groups every
// ServiceAccount has) may do verb on resource.
func canI(saNamespace, saName, verb, group, resource, name, namespace string) bool {
	return allowed(authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + saNamespace + ":" + saName,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"},
		ResourceAttributes: splitSubresource(&authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: resource, Name: name, Namespace: namespace,
		}),
	})
}

func allowed(spec authorizationv1.SubjectAccessReviewSpec) bool {
	sar := &authorizationv1.SubjectAccessReview{Spec: spec}
	Expect(cl.Create(ctx, sar)).To(Succeed())
	return sar.Status.Allowed
}

// splitSubresource turns "resource/sub" into resource and subresource.
func splitSubresource(a *authorizationv1.ResourceAttributes) *authorizationv1.ResourceAttributes {
	for i := range a.Resource {
		if a.Resource[i] == '/' {
			a.Subresource = a.Resource[i+1:]
			a.Resource = a.Resource[:i]
			break
		}
	}
	return a
}

// eventsAbout lists the events.k8s.io Events about a SpiffeTrustDomain
// (cluster-scoped objects' Events live in the default namespace).
func eventsAbout(g Gomega, name string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	g.Expect(cl.List(ctx, list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == spiffev1alpha1.Kind && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// printerColumns returns the columns kubectl get shows for a
// SpiffeTrustDomain, by name, as the API server renders them.
func printerColumns(g Gomega, name string) map[string]any {
	cs, err := kubernetes.NewForConfig(testEnv.Config)
	g.Expect(err).NotTo(HaveOccurred())
	raw, err := cs.RESTClient().Get().
		AbsPath("/apis", spiffev1alpha1.GroupVersion.Group, spiffev1alpha1.GroupVersion.Version, "spiffetrustdomains", name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	table := &metav1.Table{}
	g.Expect(json.Unmarshal(raw, table)).To(Succeed())
	g.Expect(table.Rows).To(HaveLen(1))
	out := map[string]any{}
	for i, col := range table.ColumnDefinitions {
		out[col.Name] = table.Rows[0].Cells[i]
	}
	return out
}

// newCACertificatePEM returns a self-signed CA certificate in PEM.
func newCACertificatePEM(cn string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// newPrivateKeyPEM returns a PKCS#8 private key in PEM.
func newPrivateKeyPEM() []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	der, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
