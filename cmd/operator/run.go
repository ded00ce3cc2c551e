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

package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/controllers/spiffetrustdomain"
)

// leaderElectionID names the operator's leader election Lease.
const leaderElectionID = "csi-driver-spiffe-operator.spiffe.csi.cert-manager.io"

// NewScheme returns a scheme with every kind the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, cmapi.AddToScheme, spiffev1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("failed to build the scheme: %w", err)
		}
	}
	return s, nil
}

func run(ctx context.Context, opts *options.Options) error {
	cfg, err := opts.Kube.RESTConfig()
	if err != nil {
		return err
	}
	mgr, err := NewManager(ctx, cfg, opts)
	if err != nil {
		return err
	}
	logf.FromContext(ctx).Info("starting the operator", "namespace", opts.Namespace, "image", opts.Image)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("failed to run the operator: %w", err)
	}
	return nil
}

// NewManager builds the operator's manager: the SpiffeTrustDomain
// controller, /metrics, /healthz and /readyz, and leader election.
func NewManager(ctx context.Context, cfg *rest.Config, opts *options.Options) (ctrl.Manager, error) {
	log := logf.FromContext(ctx)
	if l, err := logr.FromContext(ctx); err == nil {
		// controller-runtime's global logger, for the parts that take no
		// context. Without a logger in ctx the global one stays as is:
		// setting it to itself would make it recurse.
		logf.SetLogger(l)
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Cache:                         spiffetrustdomain.CacheOptions(opts.Namespace),
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       opts.Namespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to build the manager: %w", err)
	}
	r, err := spiffetrustdomain.NewReconciler(mgr, spiffetrustdomain.Options{
		Namespace:      opts.Namespace,
		Image:          opts.Image,
		KubeletRootDir: opts.KubeletRootDir,
	})
	if err != nil {
		return nil, err
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the SpiffeTrustDomain controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add the health check: %w", err)
	}
	// Ready once the caches are filled: before that the operator cannot
	// tell what exists.
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("the caches are not synced yet")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("failed to add the readiness check: %w", err)
	}
	return mgr, nil
}
