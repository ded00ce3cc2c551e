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

package approver

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/approver/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

func run(ctx context.Context, opts *options.Options) error {
	log := logf.FromContext(ctx)

	restConfig, err := opts.Kube.RESTConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cmapi.AddToScheme(scheme))
	utilruntime.Must(spiffev1alpha1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		Logger: log,
		Cache: cache.Options{
			// Keep only what is read: managedFields alone would double
			// the memory of every cached object, and a decided request
			// needs neither its CSR nor its certificate.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&cmapi.CertificateRequest{}: {Transform: approver.TrimCertificateRequest},
			},
		},
		Client: client.Options{
			Cache: &client.CacheOptions{
				// The approver may read its SpiffeTrustDomain only by name
				// (RBAC resourceNames), so it must never be cached by
				// a cluster-wide informer; the Watcher follows it.
				DisableFor: []client.Object{&spiffev1alpha1.SpiffeTrustDomain{}},
			},
		},
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionID:              operand.ApproverLeaseName(opts.TrustDomainObject),
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("failed to create the manager: %w", err)
	}

	watchClient, err := client.NewWithWatch(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("failed to create a client: %w", err)
	}
	watcher := trustdomain.NewWatcher(watchClient, opts.TrustDomainObject)
	if err := mgr.Add(watcher); err != nil {
		return fmt.Errorf("failed to add the configuration watcher: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add the health check: %w", err)
	}
	// Ready once a configuration is published; until then the check says
	// why there is none.
	if err := mgr.AddReadyzCheck("configuration", watcher.Ready); err != nil {
		return fmt.Errorf("failed to add the readiness check: %w", err)
	}
	if err := approver.Setup(mgr, approver.Options{
		TrustDomainObject: opts.TrustDomainObject,
		Source:            watcher,
		Workers:           opts.Workers,
	}); err != nil {
		return fmt.Errorf("failed to set up the approver: %w", err)
	}

	log.Info("starting the approver", "spiffetrustdomain", opts.TrustDomainObject, "workers", opts.Workers, "leaderElect", opts.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("the approver stopped: %w", err)
	}
	return nil
}
