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

// Command helmchart writes the generated files of the Helm chart in
// deploy/charts/csi-driver-spiffe-operator: the CRD and RBAC templates from
// the kustomize build of config/default (so the chart can never drift from
// what `make manifests` generates), values.schema.json and the values section
// of the chart's README.md from the comments in values.yaml (one source), and
// Chart.yaml's version. The output is deterministic, so `make verify` catches
// drift. It needs no Helm binary and does not import the Helm SDK.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/helmchart/chart"
)

func main() {
	var opts chart.Options
	flag.StringVar(&opts.Root, "root", ".", "Repository root.")
	flag.StringVar(&opts.Version, "version", "", "Chart and operator version (semver, without v). Required.")
	flag.Parse()
	if opts.Version == "" {
		fmt.Fprintln(os.Stderr, "error: --version is required")
		os.Exit(2)
	}
	if err := chart.Write(opts); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
