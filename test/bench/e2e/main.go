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

// Command e2e benchmarks the whole product as a user runs it, on the local
// control plane of the end-to-end suite (test/harness): the operator
// installed from config/default, the driver and the approver it deploys
// (each with exactly the RBAC the operator grants), the cert-manager stand-in
// CA issuer and the stand-in kubelet. It measures publish → files for pods
// one after another and for many pods at once, and the driver's and the
// approver's CPU time and memory during the concurrent run. It prints a
// Markdown report; it is a benchmark, not a test: it asserts nothing.
//
//	make controlplane && go run ./test/bench/e2e
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/harness"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

func main() {
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	sequential := flag.Int("sequential", 30, "pods published one after another")
	concurrent := flag.Int("concurrent", 100, "pods published at once")
	flag.Parse()
	if err := run(*sequential, *concurrent); err != nil {
		fmt.Fprintf(os.Stderr, "benchmark failed: %v\n", err)
		os.Exit(1)
	}
}

func run(sequential, concurrent int) (err error) {
	ctx := context.Background()
	h, err := harness.Start(ctx, harness.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.Stop()) }()
	cl := h.Env.Client
	root := h.Env.RepoRoot
	if _, err := kustomize.Apply(ctx, cl, filepath.Join(root, "config", "samples")); err != nil {
		return err
	}
	if err := applyManifest(ctx, h, filepath.Join(root, "test", "e2e", "testdata", "clusterissuer.yaml")); err != nil {
		return err
	}
	if err := applyManifest(ctx, h, filepath.Join(root, "test", "e2e", "testdata", "example-app.yaml")); err != nil {
		return err
	}
	if err := harness.WaitFor(ctx, 3*time.Minute, "foo-bar Ready", func(ctx context.Context) (bool, error) {
		td := &spiffev1alpha1.SpiffeTrustDomain{}
		if err := cl.Get(ctx, client.ObjectKey{Name: "foo-bar"}, td); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(td.Status.Conditions, spiffev1alpha1.ConditionReady), nil
	}); err != nil {
		return err
	}
	k, err := h.Kubelet(ctx, "spiffe.csi.cert-manager.io")
	if err != nil {
		return err
	}
	defer k.Close()
	defer func() { err = errors.Join(err, k.UnpublishAll(ctx)) }()

	fmt.Printf("# End-to-end benchmark (%s, %d CPUs, load average %s)\n\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), loadAverage())
	fmt.Printf("Operator from config/default, driver and approver as deployed by it, stand-in CA issuer, stand-in kubelet; ECDSA P-521 keys, 1h SVIDs.\n\n")

	// Warm up: the first publish connects caches.
	if _, err := publish(ctx, k, "warm-up"); err != nil {
		return err
	}

	var seq []time.Duration
	for i := range sequential {
		d, err := publish(ctx, k, fmt.Sprintf("seq-%d", i))
		if err != nil {
			return err
		}
		seq = append(seq, d)
	}

	driver := h.Node.Processes("DaemonSet", "foo-bar-driver")
	approver := h.Node.Processes("Deployment", "foo-bar-approver")
	if len(driver) != 1 || len(approver) != 1 {
		return fmt.Errorf("want one driver and one approver process, have %d and %d", len(driver), len(approver))
	}
	cpuBefore := map[string]time.Duration{}
	for _, p := range []*process.Process{driver[0], approver[0]} {
		if cpuBefore[p.Name], err = p.CPUTime(); err != nil {
			return err
		}
	}

	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		conc []time.Duration
		errs []error
	)
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := publish(ctx, k, fmt.Sprintf("conc-%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			conc = append(conc, d)
		}()
	}
	wg.Wait()
	total := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}

	fmt.Printf("| run | pods | p50 | p99 | max | all served in |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| one at a time | %d | %s | %s | %s | |\n", len(seq), pct(seq, 50), pct(seq, 99), pct(seq, 100))
	fmt.Printf("| all at once | %d | %s | %s | %s | %s |\n\n", len(conc), pct(conc, 50), pct(conc, 99), pct(conc, 100), total.Round(time.Millisecond))

	fmt.Printf("During the concurrent run (%d live volumes at the end):\n\n| process | CPU time | RSS | peak RSS |\n|---|---|---|---|\n", sequential+concurrent+1)
	for _, p := range []*process.Process{driver[0], approver[0]} {
		cpu, err := p.CPUTime()
		if err != nil {
			return err
		}
		m, err := p.RSS()
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %s | %.1f MiB | %.1f MiB |\n", strings.TrimSuffix(p.Name, "-node-1-0"), (cpu - cpuBefore[p.Name]).Round(time.Millisecond), mib(m.RSS), mib(m.Peak))
	}
	return nil
}

// publish creates a pod of the example app and publishes its volume, timing
// NodePublishVolume (kubelet's view: from the call to the files).
func publish(ctx context.Context, k *kubelet.Kubelet, name string) (time.Duration, error) {
	pod, err := k.CreatePod(ctx, kubelet.PodOptions{Namespace: "sandbox", Name: name, ServiceAccount: "example-app"})
	if err != nil {
		return 0, err
	}
	v, err := k.Volume(pod)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := v.Republish(ctx); err != nil {
		return 0, fmt.Errorf("failed to publish the volume of %s: %w", name, err)
	}
	d := time.Since(start)
	if _, err := os.Stat(v.File("tls.crt")); err != nil {
		return 0, fmt.Errorf("no tls.crt after publish: %w", err)
	}
	return d, nil
}

func applyManifest(ctx context.Context, h *harness.Harness, path string) error {
	_, err := kustomize.ApplyFile(ctx, h.Env.Client, path)
	return err
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i].Round(time.Millisecond).String()
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
