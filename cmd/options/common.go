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

// Package options holds the flags every subcommand shares.
package options

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/logging"
)

// Kube configures how a subcommand reaches the API server.
type Kube struct {
	// Kubeconfig is the path of a kubeconfig file. Default: the in-cluster
	// configuration, or $KUBECONFIG, or ~/.kube/config.
	Kubeconfig string
	// QPS and Burst bound the client's request rate.
	QPS   float32
	Burst int
}

// AddFlags adds --kubeconfig, --kube-api-qps and --kube-api-burst.
func (k *Kube) AddFlags(fs *pflag.FlagSet, qps float32, burst int) {
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig file. Default: in-cluster configuration, else $KUBECONFIG, else ~/.kube/config.")
	fs.Float32Var(&k.QPS, "kube-api-qps", qps, "Maximum queries per second to the API server.")
	fs.IntVar(&k.Burst, "kube-api-burst", burst, "Maximum burst of queries to the API server.")
}

// Validate checks the flags.
func (k *Kube) Validate() error {
	if k.QPS <= 0 {
		return fmt.Errorf("--kube-api-qps must be positive, got %v", k.QPS)
	}
	if k.Burst <= 0 {
		return fmt.Errorf("--kube-api-burst must be positive, got %d", k.Burst)
	}
	if k.Kubeconfig != "" {
		if _, err := os.Stat(k.Kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
	}
	return nil
}

// RESTConfig loads the client configuration.
func (k *Kube) RESTConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Kubeconfig != "" {
		rules.ExplicitPath = k.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to load kubeconfig: %w", err)
	}
	cfg.QPS = k.QPS
	cfg.Burst = k.Burst
	return cfg, nil
}

// Common are the flags of every subcommand.
type Common struct {
	Logging logging.Options
	Kube    Kube
}

// Validate checks the common flags.
func (c *Common) Validate() error {
	if err := c.Logging.Validate(); err != nil {
		return err
	}
	return c.Kube.Validate()
}

// ValidateBindAddress checks a host:port flag value; "0" disables the server.
func ValidateBindAddress(flag, addr string) error {
	if addr == "0" {
		return nil
	}
	if _, _, err := splitHostPort(addr); err != nil {
		return fmt.Errorf("--%s must be host:port or 0, got %q: %w", flag, addr, err)
	}
	return nil
}
