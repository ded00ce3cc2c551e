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

package driver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmfake "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/fake"
	cmv1 "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/mount-utils"
	clocktesting "k8s.io/utils/clock/testing"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/cabundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
)

// harness runs the driver in memory, in the style of csi-lib's
// test/driver harness: an in-memory store (store.Memory), a fake
// cert-manager clientset, mount-utils' FakeMounter and a fake clock, with the
// stand-in approver and CA issuer working on the fake clientset, and the CSI
// services on a real unix socket.
type harness struct {
	client   *cmfake.Clientset
	store    *store.Memory
	mounter  *mount.FakeMounter
	config   *trustdomain.Memory
	caBundle *cabundle.Memory
	clock    *clocktesting.FakeClock
	registry *prometheus.Registry
	ca       *certmanager.CA
	node     csi.NodeClient
	identity csi.IdentityClient
	dir      string
	// stop stops the driver and the stand-ins (also done at cleanup).
	stop func()

	logMu sync.Mutex
	logs  bytes.Buffer

	tokensMu sync.Mutex
	tokens   []string
}

type harnessOptions struct {
	store  *store.Memory
	config *spiffev1alpha1.TrustDomainConfig
	deny   string
}

var issuerRef = cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}

func testConfig() *spiffev1alpha1.TrustDomainConfig {
	return &spiffev1alpha1.TrustDomainConfig{
		TrustDomain:           "foo.bar",
		IssuerRef:             spiffev1alpha1.IssuerReference{Name: issuerRef.Name, Kind: issuerRef.Kind, Group: issuerRef.Group},
		Duration:              metav1.Duration{Duration: time.Hour},
		RenewBeforePercentage: 33,
		PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 256},
		Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
		CABundle:              &spiffev1alpha1.CABundleStatus{SHA256: "x", Certificates: 1},
		DriverName:            "spiffe.csi.cert-manager.io",
	}
}

func run(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ca, err := certmanager.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		client:   cmfake.NewClientset(),
		store:    opts.store,
		mounter:  mount.NewFakeMounter(nil),
		config:   trustdomain.NewMemory(opts.config),
		caBundle: cabundle.NewMemory(ca.PEM),
		clock:    clocktesting.NewFakeClock(time.Now()),
		registry: prometheus.NewRegistry(),
		ca:       ca,
		dir:      t.TempDir(),
	}
	if h.store == nil {
		h.store = store.NewMemory()
	}
	signer, err := certmanager.NewSigner(certmanager.SignerOptions{Client: h.client, IssuerRef: issuerRef, CA: ca, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	approver, err := certmanager.NewApprover(certmanager.ApproverOptions{Client: h.client, IssuerRef: issuerRef, Decide: func(cr *cmapi.CertificateRequest) (bool, string) {
		if opts.deny != "" {
			return false, opts.deny
		}
		return true, "ok"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := approver.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := driver.New(driver.Options{
		Log: funcr.New(func(prefix, args string) {
			h.logMu.Lock()
			fmt.Fprintln(&h.logs, prefix, args)
			h.logMu.Unlock()
		}, funcr.Options{Verbosity: 10}),
		DriverName: "spiffe.csi.cert-manager.io",
		NodeID:     "node-1",
		Config:     h.config,
		CABundle:   h.caBundle,
		Store:      h.store,
		Client:     h.client,
		ClientForToken: func(token string) (cmv1.CertificateRequestsGetter, error) {
			h.tokensMu.Lock()
			h.tokens = append(h.tokens, token)
			h.tokensMu.Unlock()
			return h.client.CertmanagerV1(), nil
		},
		Mounter:            h.mounter,
		Clock:              h.clock,
		Registerer:         h.registry,
		RenewalBackoffBase: time.Millisecond,
		RenewalBackoffMax:  10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", filepath.Join(h.dir, "csi.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, lis) }()
	conn, err := grpc.NewClient("unix://"+filepath.Join(h.dir, "csi.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.node, h.identity = csi.NewNodeClient(conn), csi.NewIdentityClient(conn)
	h.stop = sync.OnceFunc(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver: %v", err)
		}
		signer.Wait()
		approver.Wait()
	})
	t.Cleanup(h.stop)
	return h
}

// token returns an (unsigned) ServiceAccount JWT for ns/sa bound to a pod.
func token(ns, sa, pod string) string { return tokenWithID(ns, sa, pod, "1") }

// tokenWithID returns a token with the given token ID (jti): another token
// of the same pod.
func tokenWithID(ns, sa, pod, jti string) string {
	claims, _ := json.Marshal(map[string]any{
		"jti":           jti,
		"sub":           "system:serviceaccount:" + ns + ":" + sa,
		"kubernetes.io": map[string]any{"namespace": ns, "serviceaccount": map[string]any{"name": sa}, "pod": map[string]any{"name": pod, "uid": pod + "-uid"}},
	})
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
}

func (h *harness) request(id, ns, sa, pod string, attrs map[string]string) *csi.NodePublishVolumeRequest {
	tokens, _ := json.Marshal(map[string]any{"": map[string]any{"token": token(ns, sa, pod), "expirationTimestamp": time.Now().Add(time.Hour)}})
	ctx := map[string]string{
		volume.PodNameKey: pod, volume.PodNamespaceKey: ns, volume.PodUIDKey: pod + "-uid",
		volume.ServiceAccountNameKey: sa, volume.EphemeralKey: "true", volume.TokensKey: string(tokens),
	}
	for k, v := range attrs {
		ctx[k] = v
	}
	return &csi.NodePublishVolumeRequest{
		VolumeId:   id,
		TargetPath: filepath.Join(h.dir, "pods", id, "mount"),
		Readonly:   true,
		VolumeCapability: &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		VolumeContext: ctx,
	}
}

func (h *harness) leaf(t *testing.T, id string) string {
	t.Helper()
	files, err := h.store.ReadFiles(id)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.DecodeX509CertificateChainBytes(files["tls.crt"])
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].SerialNumber.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func requests(t *testing.T, h *harness, ns string) []cmapi.CertificateRequest {
	t.Helper()
	list, err := h.client.CertmanagerV1().CertificateRequests(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// Publish writes the SVID, key and CA into the volume and bind-mounts it
// read-only; the clock reaching the renewal time renews it (new key, old
// request deleted); unpublish unmounts and removes everything.
func TestPublishRenewUnpublish(t *testing.T) {
	h := run(t, harnessOptions{config: testConfig()})
	ctx := t.Context()
	req := h.request("csi-1", "sandbox", "app", "app-1", map[string]string{"spiffe.csi.cert-manager.io/fs-group": "1234"})
	if _, err := h.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatalf("NodePublishVolume: %v", err)
	}
	files, err := h.store.ReadFiles("csi-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["ca.crt"], h.ca.PEM) || len(files["tls.key"]) == 0 || len(files["tls.crt"]) == 0 {
		t.Errorf("volume files %v, want tls.crt, tls.key and the CA bundle", files)
	}
	if g := h.store.Group("csi-1"); g == nil || *g != 1234 {
		t.Errorf("volume group %v, want 1234", g)
	}
	if mounts := h.mounter.GetLog(); len(mounts) != 1 || mounts[0].Target != req.TargetPath || mounts[0].Source != h.store.PathForVolume("csi-1") || !strings.Contains(fmt.Sprint(h.mounter.MountPoints[0].Opts), "ro") {
		t.Errorf("mounts %+v %+v, want one read-only bind mount at the target", mounts, h.mounter.MountPoints)
	}
	if h.tokens[0] != token("sandbox", "app", "app-1") {
		t.Errorf("the request was not created with the pod's token")
	}
	if strings.Contains(h.logs.String(), h.tokens[0]) {
		t.Errorf("the driver logged the pod's token")
	}
	first := h.leaf(t, "csi-1")
	firstKey := string(files["tls.key"])

	// Idempotent publish: same SVID, no new request.
	if _, err := h.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatal(err)
	}
	if h.leaf(t, "csi-1") != first || len(requests(t, h, "sandbox")) != 1 {
		t.Error("a second publish re-issued")
	}

	// Renewal at two thirds of the lifetime.
	h.clock.Step(39 * time.Minute)
	time.Sleep(50 * time.Millisecond)
	if h.leaf(t, "csi-1") != first {
		t.Fatal("renewed before two thirds of the lifetime")
	}
	h.clock.Step(2 * time.Minute)
	waitFor(t, "the renewal", func() bool { return h.leaf(t, "csi-1") != first })
	files, _ = h.store.ReadFiles("csi-1")
	if string(files["tls.key"]) == firstKey {
		t.Error("the renewal kept the key")
	}
	waitFor(t, "the old request to be deleted", func() bool { return len(requests(t, h, "sandbox")) == 1 })
	if n := metricValue(t, h, "csi_driver_spiffe_renewals_total", nil); n != 1 {
		t.Errorf("renewals = %v, want 1", n)
	}

	// Unpublish.
	if _, err := h.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-1", TargetPath: req.TargetPath}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.ReadMetadata("csi-1"); err == nil {
		t.Error("metadata remains after unpublish")
	}
	if len(h.mounter.MountPoints) != 0 {
		t.Errorf("still mounted: %+v", h.mounter.MountPoints)
	}
	waitFor(t, "the requests to be deleted", func() bool { return len(requests(t, h, "sandbox")) == 0 })
}

// A republish stores kubelet's fresh token without re-issuing; the next
// renewal creates its request with it.
func TestRepublishRefreshesToken(t *testing.T) {
	h := run(t, harnessOptions{config: testConfig()})
	ctx := t.Context()
	req := h.request("csi-1", "sandbox", "app", "app-1", nil)
	if _, err := h.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatal(err)
	}
	first := h.leaf(t, "csi-1")
	fresh := tokenWithID("sandbox", "app", "app-1", "2")
	tokens, _ := json.Marshal(map[string]any{"": map[string]any{"token": fresh}})
	req.VolumeContext[volume.TokensKey] = string(tokens)
	if _, err := h.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatal(err)
	}
	if h.leaf(t, "csi-1") != first || len(requests(t, h, "sandbox")) != 1 {
		t.Fatal("a republish re-issued")
	}
	meta, err := h.store.ReadMetadata("csi-1")
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := volume.EmptyAudienceToken(meta.VolumeContext); err != nil || stored != fresh {
		t.Fatalf("stored token is not the fresh one (%v)", err)
	}
	h.clock.Step(41 * time.Minute)
	waitFor(t, "the renewal", func() bool { return h.leaf(t, "csi-1") != first })
	h.tokensMu.Lock()
	defer h.tokensMu.Unlock()
	if last := h.tokens[len(h.tokens)-1]; last != fresh {
		t.Error("the renewal did not use the fresh token")
	}
}

// A CA bundle change rewrites the CA file of live volumes and nothing else.
func TestCABundleChange(t *testing.T) {
	h := run(t, harnessOptions{config: testConfig()})
	ctx := t.Context()
	if _, err := h.node.NodePublishVolume(ctx, h.request("csi-1", "sandbox", "app", "app-1", nil)); err != nil {
		t.Fatal(err)
	}
	before, _ := h.store.ReadFiles("csi-1")
	h.caBundle.Set([]byte("new bundle"))
	waitFor(t, "the CA file to change", func() bool {
		files, _ := h.store.ReadFiles("csi-1")
		return string(files["ca.crt"]) == "new bundle"
	})
	after, _ := h.store.ReadFiles("csi-1")
	if !bytes.Equal(before["tls.key"], after["tls.key"]) || !bytes.Equal(before["tls.crt"], after["tls.crt"]) || len(requests(t, h, "sandbox")) != 1 {
		t.Error("a CA bundle change touched the key or certificate or re-issued")
	}
	// Removing the CA bundle from the configuration removes the file.
	cfg := testConfig()
	cfg.CABundle = nil
	h.config.Set(cfg)
	waitFor(t, "the CA file to go", func() bool {
		files, _ := h.store.ReadFiles("csi-1")
		_, ok := files["ca.crt"]
		return !ok
	})
}

// Without configuration the driver is not ready and refuses to publish with
// Unavailable; a denied request fails the publish with the approver's
// message and leaves nothing behind.
func TestNotReadyAndDenied(t *testing.T) {
	h := run(t, harnessOptions{deny: "not on my watch"})
	ctx := t.Context()
	probe, err := h.identity.Probe(ctx, &csi.ProbeRequest{})
	if err != nil || probe.GetReady().GetValue() {
		t.Fatalf("Probe = %v, %v; want not ready", probe, err)
	}
	_, err = h.node.NodePublishVolume(ctx, h.request("csi-1", "sandbox", "app", "app-1", nil))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("NodePublishVolume without configuration: %v, want Unavailable", err)
	}
	h.config.Set(testConfig())
	waitFor(t, "readiness", func() bool {
		probe, err := h.identity.Probe(ctx, &csi.ProbeRequest{})
		return err == nil && probe.GetReady().GetValue()
	})
	_, err = h.node.NodePublishVolume(ctx, h.request("csi-1", "sandbox", "app", "app-1", nil))
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "not on my watch") {
		t.Fatalf("NodePublishVolume of a denied request: %v, want PermissionDenied with the approver's message", err)
	}
	if _, err := h.store.ReadMetadata("csi-1"); err == nil {
		t.Error("a failed publish left metadata behind")
	}
	if len(h.mounter.MountPoints) != 0 {
		t.Error("a failed publish mounted the volume")
	}
	if n := metricValue(t, h, "csi_driver_spiffe_failures_total", map[string]string{"reason": driver.ReasonDenied}); n != 1 {
		t.Errorf("denied failures = %v, want 1", n)
	}
}

// A restarted driver resumes volumes from the store and keeps renewing.
func TestResume(t *testing.T) {
	st := store.NewMemory()
	h1 := run(t, harnessOptions{config: testConfig(), store: st})
	if _, err := h1.node.NodePublishVolume(t.Context(), h1.request("csi-1", "sandbox", "app", "app-1", nil)); err != nil {
		t.Fatal(err)
	}
	first := h1.leaf(t, "csi-1")
	h1.stop()

	h2 := run(t, harnessOptions{config: testConfig(), store: st})
	waitFor(t, "the volume to be resumed", func() bool { return metricValue(t, h2, "csi_driver_spiffe_volumes", nil) == 1 })
	if h2.leaf(t, "csi-1") != first {
		t.Fatal("the restart replaced a valid SVID")
	}
	h2.clock.Step(45 * time.Minute)
	waitFor(t, "the resumed volume to be renewed", func() bool { return h2.leaf(t, "csi-1") != first })
}

// TokenConfig carries the pod's token and none of the driver's
// credentials.
func TestTokenConfigDropsDriverCredentials(t *testing.T) {
	t.Parallel()
	base := &rest.Config{
		Host:            "https://api:6443",
		BearerToken:     "driver-token",
		BearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
		Username:        "u",
		Password:        "p",
		Impersonate:     rest.ImpersonationConfig{UserName: "admin"},
		ExecProvider:    &clientcmdapi.ExecConfig{Command: "creds"},
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca"), CertData: []byte("cert"), KeyData: []byte("key"), CertFile: "c", KeyFile: "k"},
	}
	cfg := driver.TokenConfig(base, "pod-token")
	if cfg.BearerToken != "pod-token" || cfg.BearerTokenFile != "" || cfg.Username != "" || cfg.Password != "" || cfg.Impersonate.UserName != "" || cfg.ExecProvider != nil ||
		len(cfg.CertData) != 0 || len(cfg.KeyData) != 0 || cfg.CertFile != "" || cfg.KeyFile != "" || string(cfg.CAData) != "ca" || cfg.Host != base.Host {
		t.Errorf("TokenConfig = %+v, want only the host, the CA and the pod's token", cfg)
	}
}

// metricValue sums the values of the driver's metric name over the series
// with labels.
func metricValue(t *testing.T, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := h.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == k && l.GetValue() == v)
				}
				if !found {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
