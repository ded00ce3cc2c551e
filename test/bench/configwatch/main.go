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

// Command configwatch measures how long the driver takes to see a new
// status.config after the API server restarts: the real driver binary (see
// test/driverenv) follows a SpiffeTrustDomain on a local control plane whose
// kube-apiserver is killed and started again (test/env.RestartAPIServer);
// as soon as the API server answers, a new configuration is published, and
// the driver's csi_driver_spiffe_config_generation gauge is polled every
// 20 ms until it shows it. It prints a Markdown report. It is a benchmark,
// not a test: it asserts nothing.
//
//	KUBEBUILDER_ASSETS=$PWD/bin go run ./test/bench/configwatch
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// poll is how often the driver's gauge is read: the resolution of the
// numbers.
const poll = 20 * time.Millisecond

func main() {
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	calm := flag.Int("calm", 5, "restarts, each seen by a freshly started driver (no API failure in its last 2 minutes)")
	flapping := flag.Int("flapping", 3, "restarts in a row, seen by one driver")
	steady := flag.Int("steady", 5, "configuration changes without a restart, for comparison")
	flag.Parse()
	if err := run(*calm, *flapping, *steady); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// sample is one published configuration and when the driver had it.
type sample struct {
	down time.Duration // API server killed → answering again
	lag  time.Duration // configuration published → the driver has it
}

func run(calm, flapping, steady int) error {
	e, err := env.Start()
	if err != nil {
		return err
	}
	defer e.Stop()
	defer process.RemoveBinary()
	ctx := context.Background()
	f, err := driverenv.Start(ctx, e, driverenv.Options{NodeID: "bench-configwatch"})
	defer func() {
		if f != nil {
			_ = f.Close()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Printf("# Configuration after an API-server restart\n\n%s, %d CPUs\n\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())

	var steadyLags, calmLags, flappingLags []sample
	for range steady {
		s, err := publish(ctx, f, 0)
		if err != nil {
			return err
		}
		steadyLags = append(steadyLags, s)
		fmt.Printf("- no restart: lag %s\n", s.lag.Round(time.Millisecond))
	}
	for range calm {
		// A new driver process: its watch has no backoff to carry over.
		if err := f.Driver.Stop(5 * time.Second); err != nil {
			return err
		}
		if err := f.Driver.Start(ctx); err != nil {
			return err
		}
		s, err := restartAndPublish(ctx, e, f)
		if err != nil {
			return err
		}
		calmLags = append(calmLags, s)
		fmt.Printf("- restart, fresh driver: API server down %s, lag %s\n", s.down.Round(time.Millisecond), s.lag.Round(time.Millisecond))
	}
	for range flapping {
		s, err := restartAndPublish(ctx, e, f)
		if err != nil {
			return err
		}
		flappingLags = append(flappingLags, s)
		fmt.Printf("- restart in a row: API server down %s, lag %s\n", s.down.Round(time.Millisecond), s.lag.Round(time.Millisecond))
	}

	fmt.Println()
	fmt.Println("| scenario | runs | API server down (median) | published → driver has it: min | median | max |")
	fmt.Println("|---|---|---|---|---|---|")
	row("no restart", steadyLags)
	row("restart, driver calm before", calmLags)
	row("restarts in a row, same driver", flappingLags)
	return nil
}

// restartAndPublish kills and restarts the API server, publishes a new
// configuration as soon as it is accepted, and waits for the driver to have
// it.
func restartAndPublish(ctx context.Context, e *env.Environment, f *driverenv.Fixture) (sample, error) {
	start := time.Now()
	if err := e.RestartAPIServer(); err != nil {
		return sample{}, err
	}
	return publish(ctx, f, time.Since(start))
}

// publish publishes a new configuration (retrying while the API server does
// not serve the kind yet) and measures until the driver's gauge shows it.
func publish(ctx context.Context, f *driverenv.Fixture, down time.Duration) (sample, error) {
	var gen int64
	deadline := time.Now().Add(time.Minute)
	for {
		err := f.SetConfig(ctx, func(c *spiffev1alpha1.TrustDomainConfig) {
			gen = c.Generation + 1
			c.Annotations = map[string]string{"bench.example.com/generation": strconv.FormatInt(gen, 10)}
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return sample{}, err
		}
		time.Sleep(poll)
	}
	published := time.Now()
	for {
		got, err := f.Driver.Metric(ctx, driver.ConfigGenerationMetric, nil)
		if err == nil && int64(got) == gen {
			return sample{down: down, lag: time.Since(published)}, nil
		}
		if time.Since(published) > 5*time.Minute {
			return sample{}, errors.Join(fmt.Errorf("the driver did not see generation %d in 5 minutes (it has %v)", gen, got), err)
		}
		time.Sleep(poll)
	}
}

func row(name string, s []sample) {
	if len(s) == 0 {
		return
	}
	lags := make([]time.Duration, len(s))
	downs := make([]time.Duration, len(s))
	for i, x := range s {
		lags[i], downs[i] = x.lag, x.down
	}
	slices.Sort(lags)
	slices.Sort(downs)
	down := "–"
	if downs[len(downs)/2] > 0 {
		down = downs[len(downs)/2].Round(time.Millisecond).String()
	}
	fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", name, len(s), down,
		lags[0].Round(time.Millisecond), lags[len(lags)/2].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
}
