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

// Package command runs the operator subcommand as a user would, against a
// real API server: flags, kubeconfig, health and readiness endpoints,
// metrics, leader election, clean shutdown. It has its own control plane:
// controller-runtime allows one controller of a name per process.
package command

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// freeAddress returns a loopback address with a port nobody listens on.
func freeAddress() string {
	addr, err := process.FreeAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url) //nolint:noctx // a test against a local server
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
)

var (
	testEnv *env.Environment
	ctx     context.Context
)

func TestCommand(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "the operator command")
}

var _ = BeforeSuite(func() {
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	var err error
	testEnv, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
})

var _ = Describe("the operator command", func() {
	It("serves health, readiness and metrics, elects a leader, and stops cleanly", func() {
		const ns = "cli-operator"
		Expect(testEnv.EnsureNamespace(ctx, ns, nil)).To(Succeed())
		kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, testEnv.KubeConfig(), 0o600)).To(Succeed())
		metrics, health := freeAddress(), freeAddress()

		runCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		var stderr bytes.Buffer
		code := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			code <- cmd.Execute(runCtx, []string{
				"operator",
				"--namespace=" + ns,
				"--image=example.com/csi-driver-spiffe:v1",
				"--kubeconfig=" + kubeconfig,
				"--metrics-bind-address=" + metrics,
				"--health-probe-bind-address=" + health,
				"--leader-elect",
				"--log-level=0",
			}, &stderr)
		}()

		Eventually(func(g Gomega) {
			status, _, err := httpGet("http://" + health + "/readyz")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status).To(Equal(http.StatusOK))
		}, timeout, interval).Should(Succeed(), func() string { return stderr.String() })
		status, _, err := httpGet("http://" + health + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusOK))
		Eventually(func(g Gomega) {
			status, body, err := httpGet("http://" + metrics + "/metrics")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status).To(Equal(http.StatusOK))
			g.Expect(body).To(ContainSubstring(`controller_runtime_active_workers{controller="spiffetrustdomain"}`))
		}, timeout, interval).Should(Succeed())
		Eventually(func() error {
			return testEnv.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "csi-driver-spiffe-operator.spiffe.csi.cert-manager.io"}, &coordinationv1.Lease{})
		}, timeout, interval).Should(Succeed())

		stop()
		Eventually(code, timeout).Should(Receive(Equal(0)), "stderr: %s", stderr.String())
	})
})
