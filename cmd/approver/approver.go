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

// Package approver builds the approver subcommand.
package approver

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/approver/options"
	cmdoptions "github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
)

// NewCommand returns the approver subcommand.
func NewCommand(ctx context.Context) *cobra.Command {
	opts := options.New()
	return cmdoptions.NewCommand(ctx, "approver", "Approve or deny CertificateRequests by the SPIFFE issuance policy",
		"The approver decides every cert-manager CertificateRequest for the trust domain's\nissuer: it approves those that ask for exactly the SVID of the requesting\nServiceAccount and denies all others, saying which rule was broken. It follows the\nstatus.config of the SpiffeTrustDomain named by --trust-domain-object.",
		opts, func(ctx context.Context) error { return run(ctx, opts) })
}
