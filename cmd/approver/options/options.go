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

// Package options holds the flags of the approver subcommand.
package options

import (
	"errors"
	"fmt"
	"os"

	cliflag "k8s.io/component-base/cli/flag"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
)

// EnvNamespace gives the default of --leader-election-namespace.
const EnvNamespace = "POD_NAMESPACE"

// Options are the approver's flags.
type Options struct {
	options.Common

	// TrustDomainObject is the name of the SpiffeTrustDomain whose
	// status.config the approver enforces. Required.
	TrustDomainObject string
	// LeaderElect makes replicas elect a leader; only the leader decides.
	LeaderElect bool
	// LeaderElectionNamespace holds the election Lease. Default
	// $POD_NAMESPACE.
	LeaderElectionNamespace string
	// MetricsBindAddress serves /metrics; "0" disables it. Default :9402.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Default :9403.
	HealthProbeBindAddress string
	// Workers is the number of requests decided in parallel. Default 16.
	Workers int
}

// New returns Options with defaults from the environment.
func New() *Options {
	return &Options{LeaderElectionNamespace: os.Getenv(EnvNamespace)}
}

// AddFlags registers the flags in named sections.
func (o *Options) AddFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("approver")
	fs.StringVar(&o.TrustDomainObject, "trust-domain-object", "", "Name of the SpiffeTrustDomain whose status.config this approver enforces. Required.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader among replicas; only the leader decides.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election Lease. Default $"+EnvNamespace+".")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":9402", "Address of the /metrics endpoint; 0 disables it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":9403", "Address of the /healthz and /readyz endpoints; 0 disables them.")
	fs.IntVar(&o.Workers, "workers", 16, "Number of CertificateRequests decided in parallel.")

	fs = fss.FlagSet("kubernetes")
	o.Kube.AddFlags(fs, 500, 1000)
	fs = fss.FlagSet("logging")
	o.Logging.AddFlags(fs)
}

// Validate checks the flags, naming each bad one.
func (o *Options) Validate() error {
	var errs []error
	if err := o.Common.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.TrustDomainObject == "" {
		errs = append(errs, errors.New("--trust-domain-object is required"))
	}
	if o.LeaderElect && o.LeaderElectionNamespace == "" {
		errs = append(errs, fmt.Errorf("--leader-election-namespace is required with --leader-elect (or set $%s)", EnvNamespace))
	}
	if o.Workers < 1 || o.Workers > 256 {
		errs = append(errs, fmt.Errorf("--workers must be between 1 and 256, got %d", o.Workers))
	}
	if err := options.ValidateBindAddress("metrics-bind-address", o.MetricsBindAddress); err != nil {
		errs = append(errs, err)
	}
	if err := options.ValidateBindAddress("health-probe-bind-address", o.HealthProbeBindAddress); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
