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

package options

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	cliflag "k8s.io/component-base/cli/flag"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Role is what a subcommand needs from its options.
type Role interface {
	AddFlags(fss *cliflag.NamedFlagSets)
	Validate() error
	LogOptions() *Common
}

// LogOptions returns the common options.
func (c *Common) LogOptions() *Common { return c }

// NewCommand builds a subcommand: it parses and validates the flags, builds
// the logger, and calls run with a context that carries it.
func NewCommand(ctx context.Context, use, short, long string, opts Role, run func(ctx context.Context) error) *cobra.Command {
	var fss cliflag.NamedFlagSets
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          long,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			log := opts.LogOptions().Logging.New(os.Stderr).WithName(use)
			return run(logr.NewContext(logf.IntoContext(ctx, log), log))
		},
	}
	opts.AddFlags(&fss)
	for _, name := range fss.Order {
		cmd.Flags().AddFlagSet(fss.FlagSets[name])
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see --help)", use, err)
	})
	cliflag.SetUsageAndHelpFunc(cmd, fss, 100)
	return cmd
}
