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

// Command approver measures the approver on a real control plane: how fast
// it decides a backlog of pending CertificateRequests (decisions per second)
// and how much memory it holds with many requests cached. It starts etcd and
// kube-apiserver (test/env), runs the csi-driver-spiffe binary as the
// approver's ServiceAccount with exactly its RBAC, and watches the requests
// to time each decision.
//
//	KUBEBUILDER_ASSETS=$PWD/bin go run ./test/bench/approver -pending=1000 -decided=9000
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmapplyv1 "github.com/cert-manager/cert-manager/pkg/client/applyconfigurations/certmanager/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
	approvertest "github.com/cert-manager/csi-driver-spiffe-operator/test/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/csr"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

const (
	name         = "bench"
	namespace    = "bench"
	approverNS   = "csi-driver-spiffe"
	approverSA   = "csi-driver-spiffe-approver"
	trustDomain  = "foo.bar"
	issuerName   = "csi-driver-spiffe-ca"
	requesterSAs = 10
)

func main() {
	pending := flag.Int("pending", 1000, "Requests waiting when the approver starts; their decisions are timed.")
	decided := flag.Int("decided", 9000, "Requests decided before the approver starts (as by an earlier run of it), cached with the pending ones.")
	workers := flag.Int("workers", approver.DefaultWorkers, "The approver's --workers.")
	qps := flag.Float64("kube-api-qps", 500, "The approver's --kube-api-qps.")
	burst := flag.Int("kube-api-burst", 1000, "The approver's --kube-api-burst.")
	curve := flag.Int("ecdsa-size", 521, "ECDSA curve size of the configuration and of the requests' keys: 256, 384 or 521.")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, *pending, *decided, int32(*curve), []string{
		"--workers=" + strconv.Itoa(*workers),
		"--kube-api-qps=" + strconv.FormatFloat(*qps, 'f', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(*burst),
		"--log-level=0",
	}); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, pending, decided int, curve int32, args []string) (err error) {
	e, err := env.Start()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.Stop()) }()
	dir, err := os.MkdirTemp("", "approver-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Println("building csi-driver-spiffe")
	bin, err := process.Binary(ctx, e.RepoRoot)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, process.RemoveBinary()) }()
	if err := setUp(ctx, e, curve); err != nil {
		return err
	}
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = 5000, 10000
	cl, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	keys, err := requesterKeys(curve)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := createRequests(ctx, cl, keys, 0, decided, true); err != nil {
		return err
	}
	if err := createRequests(ctx, cl, keys, decided, decided+pending, false); err != nil {
		return err
	}
	fmt.Printf("created %d decided and %d pending CertificateRequests in %s\n", decided, pending, time.Since(start).Round(time.Millisecond))

	kubeconfig := dir + "/kubeconfig"
	if err := process.WriteKubeconfig(kubeconfig, e.ImpersonationConfig(approverNS, approverSA)); err != nil {
		return err
	}
	serverBefore, err := serverCPU()
	if err != nil {
		return err
	}
	p, err := approvertest.Start(approvertest.Options{Binary: bin, Kubeconfig: kubeconfig, TrustDomainObject: name, Args: args, Output: os.Stderr})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.Stop(30*time.Second)) }()
	started := time.Now()
	first, last, err := waitForDecisions(ctx, p, pending, 5*time.Minute)
	if err != nil {
		return err
	}
	serverAfter, err := serverCPU()
	if err != nil {
		return err
	}
	cpu, err := p.CPUTime()
	if err != nil {
		return err
	}
	if err := checkAllApproved(ctx, cl, decided+pending); err != nil {
		return err
	}
	// Let the decisions' own update events reach the cache.
	time.Sleep(5 * time.Second)
	mem, err := p.RSS()
	if err != nil {
		return err
	}
	heap, err := p.Metric(ctx, "go_memstats_heap_inuse_bytes", nil)
	if err != nil {
		return err
	}

	wall := last.Sub(started).Seconds()
	server := serverAfter - serverBefore
	fmt.Printf("\n== %d pending requests (ECDSA P-%d), %d requests cached\n", pending, curve, decided+pending)
	fmt.Printf("approver start to last decision: %s (%.0f decisions/s)\n", last.Sub(started).Round(time.Millisecond), float64(pending)/wall)
	fmt.Printf("first to last decision:          %s (%.0f decisions/s)\n", last.Sub(first).Round(time.Millisecond), float64(pending-1)/last.Sub(first).Seconds())
	fmt.Printf("approver CPU time:               %s (%.2f ms per decision, startup included)\n", cpu.Round(time.Millisecond), float64(cpu.Microseconds())/1000/float64(pending))
	fmt.Printf("kube-apiserver+etcd CPU time:    %s (%.2f ms per decision)\n", server.Round(time.Millisecond), float64(server.Microseconds())/1000/float64(pending))
	fmt.Printf("CPU cores used:                  approver %.2f, kube-apiserver+etcd %.2f, of %d\n", cpu.Seconds()/wall, server.Seconds()/wall, goruntime.NumCPU())
	fmt.Printf("approver RSS:                    %.1f MiB (peak %.1f MiB, heap in use %.1f MiB)\n", mib(mem.RSS), mib(mem.Peak), heap/(1<<20))
	return nil
}

// serverCPU is the CPU time used so far by the control plane this process
// started.
func serverCPU() (time.Duration, error) {
	var total time.Duration
	for _, name := range []string{"kube-apiserver", "etcd"} {
		pids, err := process.Children(name)
		if err != nil {
			return 0, err
		}
		if len(pids) != 1 {
			return 0, fmt.Errorf("found %d %s processes of this benchmark, want 1", len(pids), name)
		}
		t, err := process.CPUTime(pids[0])
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// setUp creates the SpiffeTrustDomain with a published configuration, the
// approver's ServiceAccount with exactly its RBAC, and the namespace of the
// requests.
func setUp(ctx context.Context, e *env.Environment, curve int32) error {
	if _, err := e.EnsureServiceAccount(ctx, approverNS, approverSA); err != nil {
		return err
	}
	if err := e.EnsureNamespace(ctx, namespace, nil); err != nil {
		return err
	}
	issuerRef := spiffev1alpha1.IssuerReference{Name: issuerName, Kind: "ClusterIssuer", Group: "cert-manager.io"}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: approverNS, Name: approverSA}}
	for _, obj := range []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: approverSA},
			Rules: operand.ApproverClusterRules(name, operand.SignerNames(issuerRef, operand.CertManagerIssuerResource(issuerRef.Kind), false, nil))},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: approverSA},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: approverSA}, Subjects: subjects},
		&spiffev1alpha1.SpiffeTrustDomain{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: spiffev1alpha1.SpiffeTrustDomainSpec{TrustDomain: trustDomain, IssuerRef: spiffev1alpha1.IssuerReference{Name: issuerName}}},
	} {
		if err := e.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("failed to create %T %q: %w", obj, obj.GetName(), err)
		}
	}
	cfg := approvertest.Config(trustDomain, spiffev1alpha1.IssuerReference{Name: issuerName, Kind: "ClusterIssuer", Group: "cert-manager.io"})
	cfg.PrivateKey.Size = curve
	return approvertest.Publish(ctx, e.Client, name, cfg)
}

// createRequests creates requests from..to-1 with 32 clients in parallel,
// spread over requesterSAs ServiceAccounts, each with the driver's CSR of
// its ServiceAccount. spec.username is written as cert-manager's webhook
// would stamp it (no webhook runs here). With decided, each is then
// approved as the approver approves.
func createRequests(ctx context.Context, cl client.Client, keys []crypto.Signer, from, to int, decided bool) error {
	csrs := make([][]byte, requesterSAs)
	for i := range csrs {
		csrs[i] = csr.Driver(spiffe.ID(trustDomain, namespace, fmt.Sprintf("app-%d", i)).String()).WithKey(keys[i]).MustPEM()
	}
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				sa := i % requesterSAs
				cr := &cmapi.CertificateRequest{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("req-%05d", i), Namespace: namespace},
					Spec: cmapi.CertificateRequestSpec{
						Duration:  &metav1.Duration{Duration: time.Hour},
						IssuerRef: cmmeta.IssuerReference{Name: issuerName, Kind: "ClusterIssuer", Group: "cert-manager.io"},
						Request:   csrs[sa],
						Usages:    operand.SVIDUsages(),
						Username:  spiffe.ServiceAccountUsername(namespace, fmt.Sprintf("app-%d", sa)),
					},
				}
				if err := cl.Create(ctx, cr); err != nil {
					errs <- fmt.Errorf("failed to create request %d: %w", i, err)
					return
				}
				if !decided {
					continue
				}
				approve := cmapplyv1.CertificateRequest(cr.Name, cr.Namespace).WithStatus(cmapplyv1.CertificateRequestStatus().WithConditions(
					cmapplyv1.CertificateRequestCondition().WithType(cmapi.CertificateRequestConditionApproved).WithStatus(cmmeta.ConditionTrue).
						WithReason(spiffe.ApprovalReason).WithMessage("approved before this benchmark").WithLastTransitionTime(metav1.Now())))
				if err := cl.Status().Apply(ctx, approve, client.FieldOwner(approver.FieldManager), client.ForceOwnership); err != nil {
					errs <- fmt.Errorf("failed to approve request %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// requesterKeys returns one key per requesting ServiceAccount.
func requesterKeys(size int32) ([]crypto.Signer, error) {
	curves := map[int32]elliptic.Curve{256: elliptic.P256(), 384: elliptic.P384(), 521: elliptic.P521()}
	curve, ok := curves[size]
	if !ok {
		return nil, fmt.Errorf("-ecdsa-size must be 256, 384 or 521, got %d", size)
	}
	keys := make([]crypto.Signer, requesterSAs)
	for i := range keys {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// decisions is the approver's count of approved requests.
const decisions = "csi_driver_spiffe_approver_decisions_total"

var approvedByNoRule = map[string]string{"result": "approved", "rule": "none"}

// waitForDecisions polls the approver's decision counter, every 100ms, until
// it reaches n, and returns when it first moved and when it reached n.
// Polling the approver's metrics costs the API server nothing, unlike
// watching the requests would.
func waitForDecisions(ctx context.Context, p *process.Process, n int, timeout time.Duration) (first, last time.Time, err error) {
	deadline := time.Now().Add(timeout)
	got := 0.0
	var scrapeErr error // until its endpoint is up, scraping fails
	for time.Now().Before(deadline) {
		var m process.Metrics
		if m, scrapeErr = p.Metrics(ctx); scrapeErr == nil {
			got = m.Value(decisions, approvedByNoRule)
			now := time.Now()
			if got > 0 && first.IsZero() {
				first = now
			}
			if got >= float64(n) {
				return first, now, nil
			}
		}
		if exited, err := p.Exited(); exited {
			return first, last, fmt.Errorf("the approver exited: %v", err)
		}
		select {
		case <-ctx.Done():
			return first, last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return first, last, fmt.Errorf("the approver approved %v of %d requests within %s (last scrape: %v)", got, n, timeout, scrapeErr)
}

// checkAllApproved checks that n requests exist and all are approved.
func checkAllApproved(ctx context.Context, cl client.Client, n int) error {
	list := &cmapi.CertificateRequestList{}
	if err := cl.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("failed to list requests: %w", err)
	}
	approved := 0
	for _, cr := range list.Items {
		for _, c := range cr.Status.Conditions {
			if c.Type == cmapi.CertificateRequestConditionApproved {
				approved++
			}
		}
	}
	if len(list.Items) != n || approved != n {
		return fmt.Errorf("%d requests, %d approved, want %d approved", len(list.Items), approved, n)
	}
	return nil
}
