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

// Package operator builds the operator subcommand.
package operator

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator/options"
	cmdoptions "github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
)

// NewCommand returns the operator subcommand.
func NewCommand(ctx context.Context) *cobra.Command {
	opts := options.New()
	return cmdoptions.NewCommand(ctx, "operator", "Reconcile SpiffeTrustDomains into the driver, the approver and their RBAC",
		"The operator watches SpiffeTrustDomain resources and, for each, maintains a CSIDriver,\na driver DaemonSet, an approver Deployment, their ServiceAccounts and RBAC, and\npublishes the validated configuration in status.config.",
		opts, func(ctx context.Context) error { return run(ctx, opts) })
}
