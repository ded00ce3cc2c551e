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

// Command genbundle writes the OLM registry+v1 bundle (bundle/ and
// bundle.Dockerfile) from config/: what `operator-sdk generate bundle` does,
// in Go, because the operator-sdk binary cannot be installed here.
//
// The CSV is the hand-written base in config/manifests/bases plus what is
// derived from the source of truth: the install strategy, permissions and
// objects rendered from config/manifests with kustomize, the owned CRD's
// descriptors from the +operator-sdk:csv markers in api/v1alpha1, the
// alm-examples from config/samples and the relatedImages from the operator's
// RELATED_IMAGE_* environment. The output is deterministic, so `make verify`
// can catch drift.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/genbundle/bundle"
)

func main() {
	var opts bundle.Options
	flag.StringVar(&opts.Root, "root", ".", "Repository root.")
	flag.StringVar(&opts.Version, "version", "", "Operator version (semver, without v). Required.")
	flag.StringVar(&opts.Channels, "channels", "candidate", "Comma-separated OLM channels.")
	flag.StringVar(&opts.DefaultChannel, "default-channel", "candidate", "Default OLM channel.")
	flag.Parse()
	if opts.Version == "" {
		fmt.Fprintln(os.Stderr, "error: --version is required")
		os.Exit(2)
	}
	if err := bundle.Write(opts); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
