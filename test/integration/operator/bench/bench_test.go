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

// Package bench measures the operator on a real API server: how long a new
// SpiffeTrustDomain takes to get its published configuration and every
// child, and how many requests the operator sends for it. Run it with
//
//	KUBEBUILDER_ASSETS=$PWD/bin go test ./test/integration/operator/bench -run '^$' -bench . -benchtime 50x
//
// It has its own control plane: controller-runtime allows one controller
// of a name per process.
package bench

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

const namespace = "csi-driver-spiffe-bench"

// counter counts the operator's requests by method.
type counter struct{ get, write atomic.Int64 }

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet {
			c.get.Add(1)
		} else {
			c.write.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

var (
	cl    client.Client
	count counter
)

// TestMain starts one control plane and one operator for the benchmarks.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// No benchmark asked for (go test ./...): no control plane.
		os.Exit(m.Run())
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	logf.SetLogger(logr.Discard()) // the benchmark measures, it does not debug
	e, err := env.Start()
	if err != nil {
		return 0, err
	}
	defer func() { _ = e.Stop() }()
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), logr.Discard()))
	defer cancel()
	cl = e.Client
	if err := e.EnsureNamespace(ctx, namespace, nil); err != nil {
		return 0, err
	}
	iss := &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "bench-ca"}, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}}
	if err := cl.Create(ctx, iss); err != nil {
		return 0, err
	}
	iss.Status.Conditions = []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionTrue, Reason: "Bench", LastTransitionTime: ptr.To(metav1.Now())}}
	if err := cl.Status().Update(ctx, iss); err != nil {
		return 0, err
	}

	cfg := *e.Config
	cfg.QPS, cfg.Burst = 50, 100 // the operator's default flags
	cfg.Wrap(count.wrap)
	mgr, err := operator.NewManager(ctx, &cfg, &options.Options{
		Namespace: namespace, Image: "example.com/driver:v1", KubeletRootDir: "/var/lib/kubelet",
		MetricsBindAddress: "0", HealthProbeBindAddress: "0",
	})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var mgrErr error
	go func() {
		defer wg.Done()
		mgrErr = mgr.Start(ctx)
	}()
	defer func() { cancel(); wg.Wait() }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return 0, fmt.Errorf("caches did not sync: %v", mgrErr)
	}
	return m.Run(), nil
}

var created atomic.Int64

// BenchmarkCreateToReady measures, per SpiffeTrustDomain, the time from
// its creation until status.config is published, the driver DaemonSet and
// approver Deployment exist and the status reports them, and the requests
// the operator sent meanwhile (writes/op and gets/op; the watches it holds
// open are not counted again).
func BenchmarkCreateToReady(b *testing.B) {
	ctx := context.Background()
	var latencies []time.Duration
	get0, write0 := count.get.Load(), count.write.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", created.Add(1))
		td := &spiffev1alpha1.SpiffeTrustDomain{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
				TrustDomain: name + ".example",
				IssuerRef:   spiffev1alpha1.IssuerReference{Name: "bench-ca"},
				Driver:      spiffev1alpha1.DriverSpec{Name: name + ".spiffe.csi.cert-manager.io"},
			},
		}
		start := time.Now()
		if err := cl.Create(ctx, td); err != nil {
			b.Fatal(err)
		}
		if err := waitReady(ctx, cl, name); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(count.write.Load()-write0)/float64(b.N), "writes/op")
	b.ReportMetric(float64(count.get.Load()-get0)/float64(b.N), "gets/op")
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// waitReady polls (the benchmark's own client, not the operator's) until
// the object has its configuration, its workloads and a status naming them.
func waitReady(ctx context.Context, cl client.Client, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		td := &spiffev1alpha1.SpiffeTrustDomain{}
		if err := cl.Get(ctx, types.NamespacedName{Name: name}, td); err != nil {
			return err
		}
		if td.Status.Config != nil && strings.Contains(conditionReason(td, spiffev1alpha1.ConditionDriverReady), "Progressing") &&
			cl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name + "-driver"}, &appsv1.DaemonSet{}) == nil &&
			cl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name + "-approver"}, &appsv1.Deployment{}) == nil {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("SpiffeTrustDomain %q was not reconciled within 30s", name)
}

func conditionReason(td *spiffev1alpha1.SpiffeTrustDomain, t string) string {
	for _, c := range td.Status.Conditions {
		if c.Type == t {
			return c.Reason
		}
	}
	return ""
}
