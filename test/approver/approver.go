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

// Package approvertest runs the approver the way it runs in a cluster: the
// csi-driver-spiffe binary as its own process (test/process), authenticated
// as its ServiceAccount, with its metrics and health endpoints served on
// local ports; and publishes its configuration the way the operator does.
package approvertest

import (
	"io"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// Options start an approver.
type Options struct {
	// Binary is the csi-driver-spiffe binary.
	Binary string
	// Kubeconfig is the path of its kubeconfig.
	Kubeconfig string
	// TrustDomainObject is the SpiffeTrustDomain it follows.
	TrustDomainObject string
	// Args are further flags.
	Args []string
	// Output receives its logs.
	Output io.Writer
}

// Start starts an approver on free local ports for its endpoints.
func Start(opts Options) (*process.Process, error) {
	metricsAddr, err := process.FreeAddr()
	if err != nil {
		return nil, err
	}
	healthAddr, err := process.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &process.Process{
		Name:   "the approver",
		Binary: opts.Binary,
		Args: append([]string{
			"approver",
			"--kubeconfig=" + opts.Kubeconfig,
			"--trust-domain-object=" + opts.TrustDomainObject,
			"--metrics-bind-address=" + metricsAddr,
			"--health-probe-bind-address=" + healthAddr,
			"--log-format=text",
		}, opts.Args...),
		// The leader election namespace comes from --leader-election-namespace,
		// never from the test's own POD_NAMESPACE, should it have one.
		Env:         []string{"POD_NAMESPACE="},
		Output:      opts.Output,
		HealthAddr:  healthAddr,
		MetricsAddr: metricsAddr,
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}
