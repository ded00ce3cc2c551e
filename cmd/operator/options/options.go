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

// Package options holds the flags of the operator subcommand.
package options

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/util/validation"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
)

// Environment variables that give defaults to the operator's flags. OLM and
// config/manager set them; the RELATED_IMAGE_* names are what OLM
// disconnected installs rewrite.
const (
	EnvNamespace   = "POD_NAMESPACE"
	EnvDriverImage = "RELATED_IMAGE_CSI_DRIVER_SPIFFE"
)

// Options are the operator's flags.
type Options struct {
	options.Common

	// Namespace is where the operator creates the driver DaemonSet, the
	// approver Deployment and their ServiceAccounts. Default $POD_NAMESPACE.
	Namespace string
	// Image is the csi-driver-spiffe image run by the driver and the
	// approver. Default $RELATED_IMAGE_CSI_DRIVER_SPIFFE.
	Image string
	// KubeletRootDir is the kubelet's root directory on the nodes. Default
	// /var/lib/kubelet.
	KubeletRootDir string
	// MetricsBindAddress serves /metrics; "0" disables it. Default :8080.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Default :8081.
	HealthProbeBindAddress string
	// LeaderElect enables leader election, for more than one replica.
	LeaderElect bool
}

// New returns Options with defaults from the environment.
func New() *Options {
	return &Options{
		Namespace: os.Getenv(EnvNamespace),
		Image:     os.Getenv(EnvDriverImage),
	}
}

// AddFlags registers the flags in named sections.
func (o *Options) AddFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("operator")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Namespace of the driver DaemonSets, approver Deployments and their ServiceAccounts. Default $"+EnvNamespace+".")
	fs.StringVar(&o.KubeletRootDir, "kubelet-root-dir", "/var/lib/kubelet", "The kubelet's root directory on the nodes.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "Address of the /metrics endpoint; 0 disables it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; 0 disables them.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader, so that several operator replicas can run.")

	fs = fss.FlagSet("operand images")
	fs.StringVar(&o.Image, "image", o.Image, "csi-driver-spiffe image for the driver and the approver. Default $"+EnvDriverImage+".")

	fs = fss.FlagSet("kubernetes")
	o.Kube.AddFlags(fs, 50, 100)
	fs = fss.FlagSet("logging")
	o.Logging.AddFlags(fs)
}

// Validate checks the flags, naming each bad one.
func (o *Options) Validate() error {
	var errs []error
	if err := o.Common.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Namespace == "" {
		errs = append(errs, fmt.Errorf("--namespace is required (or set $%s)", EnvNamespace))
	} else if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--namespace %q is not a valid namespace name: %s", o.Namespace, msgs[0]))
	}
	if o.Image == "" {
		errs = append(errs, fmt.Errorf("--image is required (or set $%s)", EnvDriverImage))
	}
	if o.KubeletRootDir == "" || o.KubeletRootDir[0] != '/' {
		errs = append(errs, fmt.Errorf("--kubelet-root-dir must be an absolute path, got %q", o.KubeletRootDir))
	}
	if err := options.ValidateBindAddress("metrics-bind-address", o.MetricsBindAddress); err != nil {
		errs = append(errs, err)
	}
	if err := options.ValidateBindAddress("health-probe-bind-address", o.HealthProbeBindAddress); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
