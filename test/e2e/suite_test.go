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

// Package e2e is the end-to-end suite: each spec is what a user does and
// sees. By default it runs the whole product on a local control plane
// (test/harness: the operator installed from config/default, the driver and
// approver it deploys run as local processes, cert-manager stand-ins sign);
// with USE_EXISTING_CLUSTER=true it runs against the cluster of KUBECONFIG.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/harness"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
)

// localOnly labels specs that need the local control plane: certificates of
// seconds from the stand-in issuer, restarting the API server.
var localOnly = Label("local-control-plane")

var (
	c        cluster
	local    *localCluster // nil on an existing cluster
	repoRoot string
)

func TestMain(m *testing.M) {
	// Every mount the driver makes lives in a private mount namespace and
	// disappears with the test process, even if it is killed.
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	suite, reporter := GinkgoConfiguration()
	if env.UseExistingCluster() && suite.LabelFilter == "" {
		// An existing cluster's API server cannot be restarted by the suite,
		// and its issuers sign full-length certificates.
		suite.LabelFilter = "!local-control-plane"
	}
	RunSpecs(t, "csi-driver-spiffe end to end", suite, reporter)
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	repoRoot, err = env.RepoRoot()
	Expect(err).NotTo(HaveOccurred())

	if env.UseExistingCluster() {
		cfg, err := config.GetConfig()
		Expect(err).NotTo(HaveOccurred())
		cl, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		kubeconfig := os.Getenv("KUBECONFIG")
		if kubeconfig == "" {
			kubeconfig = filepath.Join(os.Getenv("HOME"), ".kube", "config")
		}
		c = &existingCluster{cfg: cfg, cl: cl, cs: cs, kubeconfig: kubeconfig}
	} else {
		h, err := harness.Start(ctx, harness.Options{Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(h.Stop()).To(Succeed()) })
		local = &localCluster{h: h, kubelets: map[string]*kubelet.Kubelet{}}
		DeferCleanup(local.close)
		c = local
		// What a user does after installing cert-manager: the demo
		// ClusterIssuer of the documentation.
		kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot, "test", "e2e", "testdata", "clusterissuer.yaml"))
	}

	By("creating the sample SpiffeTrustDomain foo-bar and waiting for it to be Ready")
	_, err = kustomize.Apply(ctx, c.Client(), filepath.Join(repoRoot, "config", "samples"))
	Expect(err).NotTo(HaveOccurred())
	waitReady(ctx, "foo-bar")
}, NodeTimeout(5*time.Minute))

// kubectl runs the kubectl built by hack/build-controlplane.sh (or the one on
// PATH for an existing cluster) and returns its output.
func kubectl(args ...string) string {
	GinkgoHelper()
	bin := filepath.Join(repoRoot, "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		bin = "kubectl"
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", c.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "kubectl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// waitReady waits until the SpiffeTrustDomain is Ready for its current
// generation.
func waitReady(ctx context.Context, name string) *spiffev1alpha1.SpiffeTrustDomain {
	GinkgoHelper()
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	Eventually(func(g Gomega) {
		g.Expect(c.Client().Get(ctx, client.ObjectKey{Name: name}, td)).To(Succeed())
		cond := meta.FindStatusCondition(td.Status.Conditions, spiffev1alpha1.ConditionReady)
		g.Expect(cond).NotTo(BeNil(), "no Ready condition yet")
		g.Expect(cond.Status).To(Equal(metav1.ConditionTrue), "Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
		g.Expect(cond.ObservedGeneration).To(Equal(td.Generation))
		g.Expect(td.Status.Config).NotTo(BeNil())
		g.Expect(td.Status.Config.Generation).To(Equal(td.Generation))
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	return td
}

func fieldSelectorFor(pod *corev1.Pod) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + pod.Name}
}
