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

// Package driver is the CSI node plugin that delivers SPIFFE X.509 SVIDs into
// pods. For each CSI inline ephemeral volume it generates a private key in
// memory, creates a cert-manager CertificateRequest as the pod's
// ServiceAccount, waits for it through a watch, writes the signed chain, the
// key and the CA bundle atomically into a tmpfs-backed volume, bind-mounts it
// read-only into the pod, and renews it before it expires.
//
// It builds on github.com/cert-manager/csi-lib for the storage interface and
// layout, the atomic writer and the volume metadata, but owns the issuance
// manager and the CSI servers: csi-lib's manager polls CertificateRequests
// every 200 ms, and its gRPC request logging would log the pod's token.
package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	cmv1 "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/mount-utils"
	"k8s.io/utils/clock"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/cabundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/version"
)

// Options configure a Driver.
type Options struct {
	// Log is the driver's logger. Default: discard.
	Log logr.Logger
	// DriverName is the CSI driver name the plugin registers as; the
	// configuration's driverName must equal it. Required.
	DriverName string
	// NodeID is the name of this node. Required.
	NodeID string
	// Config is the trust domain configuration (status.config of the
	// SpiffeTrustDomain). Required.
	Config trustdomain.Source
	// CABundle is the CA bundle written into volumes when the configuration
	// has one. Default nil: no CA file.
	CABundle cabundle.Source
	// Store keeps the volumes' metadata and files. Required.
	Store store.Interface
	// Client is the driver's own cert-manager client: it watches the node's
	// CertificateRequests and deletes old ones. Required.
	Client cmclient.Interface
	// ClientForToken returns the client that creates a CertificateRequest as
	// the pod whose ServiceAccount token it is given. Required; see
	// TokenClientFactory.
	ClientForToken func(token string) (cmv1.CertificateRequestsGetter, error)
	// Mounter mounts volumes into pods. Default NewMounter().
	Mounter mount.Interface
	// Clock tells time for renewals. Default the real clock.
	Clock clock.WithTicker
	// Registerer registers the driver's metrics. Default a new registry.
	Registerer prometheus.Registerer
	// RenewalBackoffBase is the first delay after a failed renewal; it
	// doubles with each failure. Default 1s.
	RenewalBackoffBase time.Duration
	// RenewalBackoffMax bounds the delay between failed renewals. Default 1m.
	RenewalBackoffMax time.Duration
	// Workers is how many volumes are processed (renewed, completed) at
	// once. Default 8.
	Workers int
	// PendingWarnAfter is how long a renewal waits for its request before
	// the driver reports it, and then how often. Default 1m.
	PendingWarnAfter time.Duration
	// Version is reported by GetPluginInfo. Default the build's version.
	Version string
}

// Driver is the CSI node plugin.
type Driver struct {
	log      logr.Logger
	manager  *manager
	identity *identityServer
	node     *nodeServer
}

// New builds a Driver from opts, applying defaults.
func New(opts Options) (*Driver, error) {
	var errs []error
	if opts.DriverName == "" {
		errs = append(errs, errors.New("DriverName is required"))
	}
	if opts.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if opts.Config == nil {
		errs = append(errs, errors.New("Config is required"))
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if opts.Client == nil {
		errs = append(errs, errors.New("Client is required"))
	}
	if opts.ClientForToken == nil {
		errs = append(errs, errors.New("ClientForToken is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("failed to build the driver: %w", errors.Join(errs...))
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.Mounter == nil {
		opts.Mounter = NewMounter()
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.RenewalBackoffBase <= 0 {
		opts.RenewalBackoffBase = time.Second
	}
	if opts.RenewalBackoffMax <= 0 {
		opts.RenewalBackoffMax = time.Minute
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.PendingWarnAfter <= 0 {
		opts.PendingWarnAfter = time.Minute
	}
	if opts.Version == "" {
		opts.Version = version.Version
	}
	m := &manager{
		log:            opts.Log,
		nodeLabel:      NodeLabelValue(opts.NodeID),
		driverName:     opts.DriverName,
		store:          opts.Store,
		config:         opts.Config,
		caBundle:       opts.CABundle,
		client:         opts.Client,
		clientForToken: opts.ClientForToken,
		clock:          opts.Clock,
		metrics:        NewMetrics(opts.Registerer, opts.Config),
		workers:        opts.Workers,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.RenewalBackoffBase, opts.RenewalBackoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "volumes", Clock: opts.Clock},
		),
		pendingWarnAfter: opts.PendingWarnAfter,
		volumes:          map[string]*managedVolume{},
	}
	requests, err := newRequestCache(opts.Client, m.nodeLabel, m.queue.Add)
	if err != nil {
		return nil, err
	}
	m.requests = requests
	return &Driver{
		log:      opts.Log,
		manager:  m,
		identity: &identityServer{name: opts.DriverName, version: opts.Version, ready: m.ready},
		node:     &nodeServer{nodeID: opts.NodeID, manager: m, store: opts.Store, mounter: opts.Mounter},
	}, nil
}

// Ready returns nil when the driver can publish volumes, else why not.
func (d *Driver) Ready() error { return d.manager.ready() }

// Run resumes the volumes in the store, watches the node's
// CertificateRequests, and serves the CSI identity and node services on lis
// until ctx is done. It never unmounts anything of pods.
func (d *Driver) Run(ctx context.Context, lis net.Listener) error {
	m := d.manager
	if err := m.resume(); err != nil {
		lis.Close()
		return fmt.Errorf("failed to resume volumes: %w", err)
	}
	m.requests.start(ctx)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer m.queue.ShutDown()
	wg.Go(func() {
		if !cache.WaitForCacheSync(ctx.Done(), m.requests.hasSynced) {
			return
		}
		d.log.V(1).Info("CertificateRequest cache synced")
		var workers sync.WaitGroup
		for range m.workers {
			workers.Go(func() { m.runWorker(ctx) })
		}
		workers.Wait()
	})
	wg.Go(func() { d.followCABundle(ctx) })

	server := grpc.NewServer(grpc.UnaryInterceptor(loggingInterceptor(d.log)))
	csi.RegisterIdentityServer(server, d.identity)
	csi.RegisterNodeServer(server, d.node)
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(lis) }()
	d.log.Info("serving CSI", "address", lis.Addr().String())

	select {
	case err := <-serveErr:
		return fmt.Errorf("failed to serve CSI: %w", err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { server.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		server.Stop()
	}
	return nil
}

// followCABundle rewrites the CA file of live volumes when the CA bundle or
// the configuration changes.
func (d *Driver) followCABundle(ctx context.Context) {
	configChanged := d.manager.config.Subscribe()
	var bundleChanged <-chan struct{}
	if d.manager.caBundle != nil {
		bundleChanged = d.manager.caBundle.Subscribe()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-configChanged:
		case <-bundleChanged:
		}
		d.manager.updateCAFiles()
	}
}

// TokenClientFactory returns a ClientForToken that reaches the API server of
// base with a pod's token as its only credential (see TokenConfig).
func TokenClientFactory(base *rest.Config) func(token string) (cmv1.CertificateRequestsGetter, error) {
	return func(token string) (cmv1.CertificateRequestsGetter, error) {
		return cmv1.NewForConfig(TokenConfig(base, token))
	}
}

// TokenConfig returns a config for the API server of base (host, TLS server
// verification, user agent, timeout, rate limits) that authenticates with
// token only: none of base's own credentials (client certificate, token,
// token file, basic auth, impersonation, exec or auth plugins) is carried
// over, so a request made with it is the pod's, never the driver's.
func TokenConfig(base *rest.Config, token string) *rest.Config {
	return &rest.Config{
		Host:    base.Host,
		APIPath: base.APIPath,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure:   base.Insecure,
			ServerName: base.ServerName,
			CAFile:     base.CAFile,
			CAData:     base.CAData,
			NextProtos: base.NextProtos,
		},
		UserAgent:   base.UserAgent,
		Timeout:     base.Timeout,
		QPS:         base.QPS,
		Burst:       base.Burst,
		BearerToken: token,
	}
}
