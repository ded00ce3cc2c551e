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

package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/driver/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/cabundle"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/registration"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/version"
)

// gcPercent is the driver's GOGC unless the environment sets one: its live
// heap is a few MiB, so collecting at +50% instead of +100% costs little CPU
// and keeps its memory close to what it uses on nodes with many volumes.
const gcPercent = 50

func run(ctx context.Context, opts *options.Options) error {
	log := logr.FromContextOrDiscard(ctx)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	restConfig, err := opts.Kube.RESTConfig()
	if err != nil {
		return err
	}
	restConfig.UserAgent = "csi-driver-spiffe-driver/" + version.Version

	scheme := runtime.NewScheme()
	utilruntime.Must(spiffev1alpha1.AddToScheme(scheme))
	kube, err := client.NewWithWatch(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("failed to build a Kubernetes client: %w", err)
	}
	cm, err := cmclient.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("failed to build a cert-manager client: %w", err)
	}

	mounter := driver.NewMounter()
	st, mounted, err := store.OpenFilesystem(opts.DataRoot, mounter)
	if err != nil {
		return err
	}
	if mounted {
		log.Info("mounted a tmpfs for volume data", "path", st.Root())
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	config := trustdomain.NewWatcher(kube, opts.TrustDomainObject)
	var caSource cabundle.Source
	var caFile *cabundle.File
	if opts.CABundleFile != "" {
		caFile = cabundle.NewFile(opts.CABundleFile)
		caSource = caFile
	}
	d, err := driver.New(driver.Options{
		Log:               log,
		DriverName:        opts.DriverName,
		NodeID:            opts.NodeID,
		Config:            config,
		CABundle:          caSource,
		Store:             st,
		Client:            cm,
		ClientForToken:    driver.TokenClientFactory(restConfig),
		Mounter:           mounter,
		Registerer:        registry,
		RenewalBackoffMax: opts.RenewalBackoffMax,
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, 5)
	goRun := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	goRun("configuration watcher", config.Start)
	if caFile != nil {
		goRun("CA bundle watcher", caFile.Run)
		select {
		case <-caFile.Loaded():
		case <-ctx.Done():
		}
	}
	if opts.MetricsBindAddress != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
		goRun("metrics server", serveHTTP(opts.MetricsBindAddress, mux))
	}
	var registrar *registration.Registrar
	if opts.PluginRegistrationDir != "" {
		registrar, err = registration.New(registration.Options{
			Log:        log.WithName("registration"),
			DriverName: opts.DriverName,
			Dir:        opts.PluginRegistrationDir,
			Endpoint:   opts.RegistrationEndpoint(),
		})
		if err != nil {
			cancel()
			return err
		}
	}
	if opts.HealthProbeBindAddress != "0" {
		goRun("health probe server", serveHTTP(opts.HealthProbeBindAddress, healthHandler(d, registrar)))
	}
	lis, err := driver.ListenUnix(opts.SocketPath())
	if err != nil {
		cancel()
		return err
	}
	goRun("CSI server", func(ctx context.Context) error { return d.Run(ctx, lis) })
	// Registration starts once the CSI socket listens: kubelet calls
	// NodeGetInfo on it while registering.
	if registrar != nil {
		goRun("kubelet registration", registrar.Run)
	}

	<-ctx.Done()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// serveHTTP serves handler on addr until ctx is done.
func serveHTTP(addr string, handler http.Handler) func(context.Context) error {
	return func(ctx context.Context) error {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("failed to listen on %q: %w", addr, err)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
		}()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
