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

// Package driver builds the driver subcommand.
package driver

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/driver/options"
	cmdoptions "github.com/cert-manager/csi-driver-spiffe-operator/cmd/options"
)

// NewCommand returns the driver subcommand.
func NewCommand(ctx context.Context) *cobra.Command {
	opts := options.New()
	return cmdoptions.NewCommand(ctx, "driver", "Run the CSI node plugin that writes SPIFFE SVIDs into pod volumes",
		"The driver is a CSI node plugin. For every pod volume it generates a private key in\nmemory, requests a certificate from cert-manager as the pod's ServiceAccount, writes\nthe SVID into a tmpfs-backed volume, and renews it before it expires. It follows the\nstatus.config of the SpiffeTrustDomain named by --trust-domain-object.",
		opts, func(ctx context.Context) error { return run(ctx, opts) })
}
