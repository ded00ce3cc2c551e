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

// Package cmd builds the csi-driver-spiffe command: one binary with the
// operator, driver and approver subcommands.
package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/driver"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/version"
)

// NewCommand returns the root command.
func NewCommand(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:   "csi-driver-spiffe",
		Short: "SPIFFE X.509 SVIDs for every pod, through cert-manager",
		Long: `csi-driver-spiffe delivers a SPIFFE X.509 SVID (tls.crt, tls.key and optionally
ca.crt) into every pod that mounts its CSI volume, signed by a cert-manager
issuer of the trust domain. One SpiffeTrustDomain resource configures it.

The same binary runs the three parts:
  operator   reconciles SpiffeTrustDomains into the driver, the approver and RBAC
  driver     the CSI node plugin that generates keys and writes SVIDs into pods
  approver   approves or denies CertificateRequests by the SPIFFE issuance policy`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(operator.NewCommand(ctx), driver.NewCommand(ctx), approver.NewCommand(ctx))
	return root
}

// Execute runs the command with args and returns the process exit code. An
// error is printed on one line.
func Execute(ctx context.Context, args []string, stderr io.Writer) int {
	cmd := NewCommand(ctx)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	return 0
}
