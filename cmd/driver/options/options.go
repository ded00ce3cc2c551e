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

// Package options holds the flags of the driver subcommand.
package options

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/registration"
)

// EnvNodeName gives the default of --node-id; the DaemonSet sets it from
// spec.nodeName.
const EnvNodeName = "NODE_NAME"

// Options are the driver's flags.
type Options struct {
	options.Common

	// TrustDomainObject is the name of the SpiffeTrustDomain whose
	// status.config the driver follows. Required.
	TrustDomainObject string
	// DriverName is the CSI driver name this plugin registers as; it must
	// equal status.config.driverName. Default spiffe.csi.cert-manager.io.
	DriverName string
	// NodeID identifies this node to kubelet. Default $NODE_NAME.
	NodeID string
	// Endpoint is the CSI gRPC endpoint, unix:///path. Default
	// unix:///plugin/csi.sock.
	Endpoint string
	// DataRoot is where the driver mounts its tmpfs and keeps volume data.
	// Default /var/run/csi-driver-spiffe (never under /tmp).
	DataRoot string
	// PluginRegistrationDir is kubelet's plugins_registry directory, where
	// the driver serves its registration socket; empty: the driver does not
	// register with kubelet (something else does). Default
	// /var/lib/kubelet/plugins_registry.
	PluginRegistrationDir string
	// KubeletRegistrationPath is the CSI socket's path as kubelet sees it on
	// the node. Default the path of Endpoint (the driver runs on the node).
	KubeletRegistrationPath string
	// CABundleFile is the CA bundle mounted by the operator; empty when none.
	CABundleFile string
	// MetricsBindAddress serves /metrics; "0" disables it. Default :9402.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Default :9403.
	HealthProbeBindAddress string
	// RenewalBackoffMax bounds the backoff between failed renewals.
	// Default 1m.
	RenewalBackoffMax time.Duration
}

// New returns Options with defaults from the environment.
func New() *Options {
	return &Options{NodeID: os.Getenv(EnvNodeName)}
}

// AddFlags registers the flags in named sections.
func (o *Options) AddFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("driver")
	fs.StringVar(&o.TrustDomainObject, "trust-domain-object", "", "Name of the SpiffeTrustDomain whose status.config this driver follows. Required.")
	fs.StringVar(&o.DriverName, "driver-name", "spiffe.csi.cert-manager.io", "CSI driver name to register as; must equal status.config.driverName of the SpiffeTrustDomain.")
	fs.StringVar(&o.NodeID, "node-id", o.NodeID, "Name of this node. Default $"+EnvNodeName+".")
	fs.StringVar(&o.Endpoint, "endpoint", "unix:///plugin/csi.sock", "CSI gRPC endpoint (unix:///path).")
	fs.StringVar(&o.DataRoot, "data-root", "/var/run/csi-driver-spiffe", "Directory where the driver mounts its tmpfs and keeps volume data. Keys live only there, in memory.")
	fs.StringVar(&o.PluginRegistrationDir, "plugin-registration-dir", registration.DefaultDir, "kubelet's plugin registration directory: the driver registers itself with kubelet through the socket <dir>/<driver name>-reg.sock there (no node-driver-registrar). Empty: do not register.")
	fs.StringVar(&o.KubeletRegistrationPath, "kubelet-registration-path", "", "Path of the CSI socket on the node, as kubelet reaches it (the host path of --endpoint when the driver runs in a container). Default the path of --endpoint.")
	fs.StringVar(&o.CABundleFile, "ca-bundle-file", "", "PEM CA bundle file written into every volume (mounted by the operator); empty for none.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":9402", "Address of the /metrics endpoint; 0 disables it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":9403", "Address of the /healthz (liveness) and /readyz (readiness: a configuration is published and kubelet registered the driver) endpoints; 0 disables them.")
	fs.DurationVar(&o.RenewalBackoffMax, "renewal-backoff-max", time.Minute, "Longest wait between retries of a failed issuance or renewal.")

	fs = fss.FlagSet("kubernetes")
	o.Kube.AddFlags(fs, 100, 200)
	fs = fss.FlagSet("logging")
	o.Logging.AddFlags(fs)
}

// SocketPath returns the unix socket path of Endpoint.
func (o *Options) SocketPath() string {
	return strings.TrimPrefix(o.Endpoint, "unix://")
}

// RegistrationEndpoint returns the CSI socket's path as kubelet sees it.
func (o *Options) RegistrationEndpoint() string {
	if o.KubeletRegistrationPath != "" {
		return o.KubeletRegistrationPath
	}
	return o.SocketPath()
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
	if msgs := validation.IsDNS1123Subdomain(o.DriverName); o.DriverName == "" || len(msgs) > 0 || len(o.DriverName) > 63 {
		errs = append(errs, fmt.Errorf("--driver-name must be a CSI driver name (lowercase DNS subdomain of at most 63 characters), got %q", o.DriverName))
	}
	if o.NodeID == "" {
		errs = append(errs, fmt.Errorf("--node-id is required (or set $%s)", EnvNodeName))
	}
	if !strings.HasPrefix(o.Endpoint, "unix://") || !filepath.IsAbs(o.SocketPath()) {
		errs = append(errs, fmt.Errorf("--endpoint must be unix:///absolute/path, got %q", o.Endpoint))
	}
	if !filepath.IsAbs(o.DataRoot) || filepath.Clean(o.DataRoot) == "/" {
		errs = append(errs, fmt.Errorf("--data-root must be an absolute path other than /, got %q", o.DataRoot))
	}
	if o.PluginRegistrationDir != "" && !filepath.IsAbs(o.PluginRegistrationDir) {
		errs = append(errs, fmt.Errorf("--plugin-registration-dir must be an absolute path or empty, got %q", o.PluginRegistrationDir))
	}
	if o.KubeletRegistrationPath != "" && !filepath.IsAbs(o.KubeletRegistrationPath) {
		errs = append(errs, fmt.Errorf("--kubelet-registration-path must be an absolute path, got %q", o.KubeletRegistrationPath))
	}
	if o.CABundleFile != "" && !filepath.IsAbs(o.CABundleFile) {
		errs = append(errs, fmt.Errorf("--ca-bundle-file must be an absolute path, got %q", o.CABundleFile))
	}
	if err := options.ValidateBindAddress("metrics-bind-address", o.MetricsBindAddress); err != nil {
		errs = append(errs, err)
	}
	if err := options.ValidateBindAddress("health-probe-bind-address", o.HealthProbeBindAddress); err != nil {
		errs = append(errs, err)
	}
	if o.RenewalBackoffMax < time.Second {
		errs = append(errs, fmt.Errorf("--renewal-backoff-max must be at least 1s, got %s", o.RenewalBackoffMax))
	}
	return errors.Join(errs...)
}
