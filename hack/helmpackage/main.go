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

// Command helmpackage packages the Helm chart into a .tgz, as `helm package`
// does, with the Helm SDK: no helm binary needed. It lints the chart first
// and refuses to package a chart with lint errors.
package main

import (
	"flag"
	"fmt"
	"os"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

func main() {
	chartDir := flag.String("chart", "deploy/charts/csi-driver-spiffe-operator", "Chart directory.")
	out := flag.String("out", "_output", "Directory the .tgz is written to.")
	flag.Parse()
	if err := run(*chartDir, *out); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(chartDir, out string) error {
	lint := action.NewLint()
	lint.Strict = true
	if res := lint.Run([]string{chartDir}, nil); len(res.Errors) > 0 {
		return fmt.Errorf("the chart %q does not pass lint: %v", chartDir, res.Errors)
	}
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		return fmt.Errorf("failed to load the chart %q: %w", chartDir, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("failed to create %q: %w", out, err)
	}
	path, err := chartutil.Save(ch, out)
	if err != nil {
		return fmt.Errorf("failed to package the chart: %w", err)
	}
	fmt.Println(path)
	return nil
}
