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

// Command driver benchmarks the CSI driver against a local control plane,
// with the stand-in CA issuer and approver and the stand-in kubelet (see
// test/driverenv): publish → files on disk for one pod at a time and for many
// pods at once, the driver's RSS with many volumes, and the API requests one
// renewal costs. It prints a Markdown report. It is a benchmark, not a test:
// it asserts nothing.
//
//	KUBEBUILDER_ASSETS=$PWD/bin go run ./test/bench/driver
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

func main() {
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	sequential := flag.Int("sequential", 50, "pods published one after another")
	concurrent := flag.Int("concurrent", 100, "pods published at once")
	volumes := flag.Int("volumes", 1000, "volumes for the RSS measurement")
	renewing := flag.Int("renewing", 100, "volumes for the renewal measurement")
	flag.StringVar(&driverLog, "driver-log", "", "copy the driver's log of the latency run to this file")
	flag.Parse()
	if err := run(*sequential, *concurrent, *volumes, *renewing); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var driverLog string

func run(sequential, concurrent, volumes, renewing int) error {
	e, err := env.Start()
	if err != nil {
		return err
	}
	defer e.Stop()
	defer process.RemoveBinary()
	ctx := context.Background()
	fmt.Printf("# Driver benchmark\n\n%s, %d CPUs, load average at start: %s\n\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), loadAverage())
	defer func() { fmt.Printf("Load average at the end: %s\n", loadAverage()) }()

	if err := latency(ctx, e, sequential, concurrent); err != nil {
		return err
	}
	if err := memory(ctx, e, volumes); err != nil {
		return err
	}
	return renewals(ctx, e, renewing)
}

// latency measures NodePublishVolume (key, request, approval, signature,
// files written, bind mount) for pods one at a time, then for many at once.
// Pods and their tokens are created beforehand, as kubelet has them before it
// calls the driver.
func latency(ctx context.Context, e *env.Environment, sequential, concurrent int) error {
	f, err := driverenv.Start(ctx, e, driverenv.Options{NodeID: "bench-latency"})
	defer closeFixture(f)
	if err != nil {
		return err
	}
	ns := "bench-latency"
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		return err
	}
	prepare := func(prefix string, n int) ([]*kubelet.Volume, error) {
		vols := make([]*kubelet.Volume, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 20)
		for i := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				pod, err := f.Kubelet.CreatePod(ctx, kubelet.PodOptions{Namespace: ns, Name: fmt.Sprintf("%s-%d", prefix, i), ServiceAccount: "app"})
				if err != nil {
					errs[i] = err
					return
				}
				v, err := f.Kubelet.Volume(pod)
				if err == nil {
					v.Token, err = e.PodToken(ctx, pod, 3600)
				}
				vols[i], errs[i] = v, err
			})
		}
		wg.Wait()
		return vols, firstError(errs)
	}
	publish := func(v *kubelet.Volume) (time.Duration, error) {
		start := time.Now()
		if err := v.PublishWithToken(ctx, v.Token); err != nil {
			return 0, err
		}
		d := time.Since(start)
		if _, err := os.Stat(v.File("tls.crt")); err != nil {
			return 0, err
		}
		return d, nil
	}

	// Warm up the API server's token cache and the driver's connections.
	warm, err := prepare("warm", 3)
	if err != nil {
		return err
	}
	for _, v := range warm {
		if _, err := publish(v); err != nil {
			return err
		}
	}

	vols, err := prepare("seq", sequential)
	if err != nil {
		return err
	}
	var seq []time.Duration
	for _, v := range vols {
		d, err := publish(v)
		if err != nil {
			return err
		}
		seq = append(seq, d)
	}

	vols, err = prepare("par", concurrent)
	if err != nil {
		return err
	}
	par := make([]time.Duration, concurrent)
	errs := make([]error, concurrent)
	var wg sync.WaitGroup
	cpuBefore, err := f.Driver.CPUTime()
	if err != nil {
		return err
	}
	start := time.Now()
	for i, v := range vols {
		wg.Go(func() { par[i], errs[i] = publish(v) })
	}
	wg.Wait()
	total := time.Since(start)
	if err := firstError(errs); err != nil {
		return err
	}
	cpuAfter, err := f.Driver.CPUTime()
	if err != nil {
		return err
	}
	if driverLog != "" {
		if err := os.WriteFile(driverLog, []byte(f.Driver.Logs()), 0o600); err != nil {
			return err
		}
	}

	fmt.Printf("## Publish → files on disk\n\n| scenario | pods | p50 | p99 | max | all served after |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| one pod at a time | %d | %s | %s | %s | |\n", sequential, pct(seq, 50), pct(seq, 99), pct(seq, 100))
	fmt.Printf("| all at once | %d | %s | %s | %s | %s |\n\n", concurrent, pct(par, 50), pct(par, 99), pct(par, 100), total.Round(time.Millisecond))
	fmt.Printf("The driver used %s of CPU for the %d pods at once.\n\n", (cpuAfter - cpuBefore).Round(10*time.Millisecond), concurrent)

	return nil
}

// memory measures the driver's RSS with many live volumes.
func memory(ctx context.Context, e *env.Environment, volumes int) error {
	f, err := driverenv.Start(ctx, e, driverenv.Options{NodeID: "bench-memory"})
	defer closeFixture(f)
	if err != nil {
		return err
	}
	ns := "bench-memory"
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		return err
	}
	idle, err := f.Driver.RSS()
	if err != nil {
		return err
	}
	errs := make([]error, volumes)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	start := time.Now()
	for i := range volumes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: fmt.Sprintf("mem-%d", i), ServiceAccount: "app"})
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := firstError(errs); err != nil {
		return err
	}
	live, err := f.Driver.Metric(ctx, "csi_driver_spiffe_volumes", nil)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	rss, err := f.Driver.RSS()
	if err != nil {
		return err
	}
	heap, err := f.Driver.Metric(ctx, "go_memstats_heap_inuse_bytes", nil)
	if err != nil {
		return err
	}
	fmt.Printf("## Driver memory\n\n| live volumes | RSS | anonymous | file-backed (binary) | Go heap in use |\n|---|---|---|---|---|\n")
	fmt.Printf("| 0 | %.1f MiB | %.1f MiB | %.1f MiB | |\n", mib(idle.RSS), mib(idle.Anon), mib(idle.File))
	fmt.Printf("| %.0f | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n\n", live, mib(rss.RSS), mib(rss.Anon), mib(rss.File), heap/(1<<20))
	fmt.Printf("Publishing the %d volumes (32 at a time, pod and token creation included) took %s.\n\n", volumes, took.Round(time.Millisecond))
	return nil
}

// renewals counts the API requests on CertificateRequests (from the API
// server's metrics) while the driver renews volumes whose certificates the
// signer caps at 30s.
func renewals(ctx context.Context, e *env.Environment, n int) error {
	const lifetime = 30 * time.Second
	f, err := driverenv.Start(ctx, e, driverenv.Options{NodeID: "bench-renewal", MaxLifetime: lifetime})
	defer closeFixture(f)
	if err != nil {
		return err
	}
	ns := "bench-renewal"
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		return err
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: fmt.Sprintf("renew-%d", i), ServiceAccount: "app"})
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return err
	}
	// Let publish-time requests settle, then measure one renewal round.
	time.Sleep(2 * time.Second)
	before, err := apiRequests(ctx, e.Config)
	if err != nil {
		return err
	}
	renewedBefore, err := f.Driver.Metric(ctx, "csi_driver_spiffe_renewals_total", nil)
	if err != nil {
		return err
	}
	time.Sleep(lifetime)
	after, err := apiRequests(ctx, e.Config)
	if err != nil {
		return err
	}
	renewedAfter, err := f.Driver.Metric(ctx, "csi_driver_spiffe_renewals_total", nil)
	if err != nil {
		return err
	}
	renewed := renewedAfter - renewedBefore
	if renewed == 0 {
		return fmt.Errorf("no renewal happened in %s", lifetime)
	}
	fmt.Printf("## API requests per renewal\n\n%d volumes, certificates capped at %s (renewed after %s), %.0f renewals measured.\n\n", n, lifetime, lifetime*2/3, renewed)
	fmt.Printf("| request on certificaterequests | by | per renewal |\n|---|---|---|\n")
	rows := []struct{ verb, sub, by string }{
		{"POST", "", "driver, as the pod's ServiceAccount"},
		{"DELETE", "", "driver (the previous request)"},
		{"PUT", "status", "approver and CA issuer (not the driver)"},
		{"GET", "", "anyone"},
		{"LIST", "", "anyone"},
	}
	for _, r := range rows {
		key := r.verb + "/" + r.sub
		fmt.Printf("| %s %s | %s | %.2f |\n", r.verb, r.sub, r.by, (after[key]-before[key])/renewed)
	}
	fmt.Println()
	return nil
}

// apiRequests reads apiserver_request_total for certificaterequests, by
// verb/subresource.
func apiRequests(ctx context.Context, cfg *rest.Config) (map[string]float64, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to read the API server's metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("failed to parse the API server's metrics: %w", err)
	}
	out := map[string]float64{}
	for _, m := range families["apiserver_request_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["resource"] != "certificaterequests" {
			continue
		}
		out[labels["verb"]+"/"+labels["subresource"]] += m.GetCounter().GetValue()
	}
	return out, nil
}

func closeFixture(f *driverenv.Fixture) {
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pct returns the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1].Round(100 * time.Microsecond).String()
}

// loadAverage returns the machine's 1, 5 and 15 minute load averages: the
// numbers mean little when other work shares the CPUs.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
