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
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
)

var _ = Describe("the CA-bundle source watcher", func() {
	It("watches exactly the named objects, one at a time, and tells every SpiffeTrustDomain that names a changed one", func() {
		const ns = "sources"
		Expect(testEnv.EnsureNamespace(ctx, ns, nil)).To(Succeed())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "root"}, Data: map[string][]byte{"ca.crt": []byte("a")}}
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unrelated"}, Data: map[string][]byte{"x": []byte("a")}}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundle"}, Data: map[string]string{"ca.crt": "a"}}
		for _, obj := range []client.Object{secret, other, cm} {
			Expect(cl.Create(ctx, obj)).To(Succeed())
			cleanupDelete(obj)
		}

		mc, err := metadata.NewForConfig(testEnv.Config)
		Expect(err).NotTo(HaveOccurred())
		w := spiffetrustdomain.NewSourceWatcher(mc)
		queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		DeferCleanup(queue.ShutDown)
		td := func(name string, src *spiffev1alpha1.CABundleSource) *spiffev1alpha1.SpiffeTrustDomain {
			return &spiffev1alpha1.SpiffeTrustDomain{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spiffev1alpha1.SpiffeTrustDomainSpec{CABundle: src}}
		}
		fromSecret := &spiffev1alpha1.CABundleSource{Secret: &spiffev1alpha1.KeySelector{Namespace: ns, Name: "root"}}
		fromConfigMap := &spiffev1alpha1.CABundleSource{ConfigMap: &spiffev1alpha1.KeySelector{Namespace: ns, Name: "bundle"}}

		By("tracking before the controller starts the source")
		w.TrackSpec(td("a", fromSecret))
		Expect(w.Watching()).To(BeEmpty())
		watchCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		Expect(w.Start(watchCtx, queue)).To(Succeed())
		w.TrackSpec(td("b", fromSecret))
		Expect(w.Watching()).To(Equal([]string{"Secret/" + ns + "/root"}))
		drain := func() []string {
			var names []string
			for queue.Len() > 0 {
				req, _ := queue.Get()
				names = append(names, req.Name)
				queue.Done(req)
				queue.Forget(req)
			}
			return names
		}
		// The initial list reports the object once.
		Eventually(drain, timeout, interval).Should(ContainElements("a", "b"))

		By("changing the named Secret")
		secret.Data["ca.crt"] = []byte("b")
		Expect(cl.Update(ctx, secret)).To(Succeed())
		Eventually(drain, timeout, interval).Should(ContainElements("a", "b"))

		By("moving one object to a ConfigMap and dropping the other")
		w.TrackSpec(td("a", fromConfigMap))
		Expect(w.Watching()).To(Equal([]string{"ConfigMap/" + ns + "/bundle", "Secret/" + ns + "/root"}))
		w.TrackSpec(td("b", nil))
		Expect(w.Watching()).To(Equal([]string{"ConfigMap/" + ns + "/bundle"}))
		drain()
		cm.Data["ca.crt"] = "b"
		Expect(cl.Update(ctx, cm)).To(Succeed())
		Eventually(drain, timeout, interval).Should(Equal([]string{"a"}))

		By("forgetting a deleted object")
		w.TrackSpec(td("a", nil))
		Expect(w.Watching()).To(BeEmpty())
	})
})
