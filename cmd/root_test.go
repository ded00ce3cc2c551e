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

package cmd

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every subcommand refuses bad flags before doing anything, with one line
// that names the flag.
func TestExecuteRefusesBadFlags(t *testing.T) {
	// Defaults that come from the environment must not leak in.
	for _, k := range []string{"POD_NAMESPACE", "NODE_NAME", "RELATED_IMAGE_CSI_DRIVER_SPIFFE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	tests := map[string]struct {
		args []string
		want []string
	}{
		"an unknown subcommand":                         {args: []string{"controller"}, want: []string{"unknown command", "controller"}},
		"an unknown flag":                               {args: []string{"approver", "--trust-domain=foo"}, want: []string{"unknown flag: --trust-domain"}},
		"approver without its object":                   {args: []string{"approver"}, want: []string{"--trust-domain-object is required"}},
		"approver with zero workers":                    {args: []string{"approver", "--trust-domain-object=x", "--workers=0"}, want: []string{"--workers must be between 1 and 256"}},
		"approver electing nowhere":                     {args: []string{"approver", "--trust-domain-object=x", "--leader-elect"}, want: []string{"--leader-election-namespace is required"}},
		"a bad log level":                               {args: []string{"approver", "--trust-domain-object=x", "--log-level=11"}, want: []string{"--log-level must be between 0 and 10"}},
		"a bad log format":                              {args: []string{"approver", "--trust-domain-object=x", "--log-format=xml"}, want: []string{"--log-format"}},
		"a non-numeric flag value":                      {args: []string{"approver", "--workers=many"}, want: []string{"--workers"}},
		"a bad bind address":                            {args: []string{"approver", "--trust-domain-object=x", "--metrics-bind-address=9402"}, want: []string{"--metrics-bind-address"}},
		"a missing kubeconfig":                          {args: []string{"approver", "--trust-domain-object=x", "--kubeconfig=/does/not/exist"}, want: []string{"--kubeconfig"}},
		"driver without object and node":                {args: []string{"driver"}, want: []string{"--trust-domain-object is required", "--node-id is required"}},
		"driver with a relative socket":                 {args: []string{"driver", "--trust-domain-object=x", "--node-id=n", "--endpoint=unix://csi.sock"}, want: []string{"--endpoint must be unix:///absolute/path"}},
		"driver with a tcp endpoint":                    {args: []string{"driver", "--trust-domain-object=x", "--node-id=n", "--endpoint=tcp://0.0.0.0:1"}, want: []string{"--endpoint"}},
		"driver rooted at /":                            {args: []string{"driver", "--trust-domain-object=x", "--node-id=n", "--data-root=/"}, want: []string{"--data-root must be an absolute path other than /"}},
		"driver with a relative registration directory": {args: []string{"driver", "--trust-domain-object=x", "--node-id=n", "--plugin-registration-dir=registry", "--kubelet-registration-path=csi.sock"}, want: []string{"--plugin-registration-dir must be an absolute path or empty", "--kubelet-registration-path must be an absolute path"}},
		"driver with a bad name":                        {args: []string{"driver", "--trust-domain-object=x", "--node-id=n", "--driver-name=Bad_Name"}, want: []string{"--driver-name must be a CSI driver name"}},
		"operator without anything":                     {args: []string{"operator"}, want: []string{"--namespace is required", "--image is required"}},
		"operator with a bad namespace":                 {args: []string{"operator", "--namespace=Not_A_Namespace", "--image=a"}, want: []string{"--namespace"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Execute(context.Background(), tc.args, &stderr)
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero")
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "error: ") {
				t.Errorf("want one line starting with 'error: ', got %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error %q does not mention %q", out, w)
				}
			}
		})
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	for _, sub := range []string{"operator", "driver", "approver"} {
		t.Run(sub, func(t *testing.T) {
			cmd := NewCommand(context.Background())
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs([]string{sub, "--help"})
			if err := cmd.Execute(); err != nil {
				t.Fatalf("--help failed: %v", err)
			}
			sc, _, err := cmd.Find([]string{sub})
			if err != nil {
				t.Fatal(err)
			}
			sc.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Name == "help" {
					return
				}
				if !strings.Contains(out.String(), "--"+f.Name) {
					t.Errorf("--help does not show --%s", f.Name)
				}
				if strings.TrimSpace(f.Usage) == "" {
					t.Errorf("--%s has no description", f.Name)
				}
			})
		})
	}
}
