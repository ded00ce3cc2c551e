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

// Command buildimage builds the csi-driver-spiffe image without a container
// engine: the static binary of `make build` on an empty base, as the
// Dockerfile describes it, written as a docker archive that `docker load`
// and `ctr -n k8s.io images import` (containerd) load. `make image` runs it:
//
//	go run ./hack/buildimage -binary bin/csi-driver-spiffe -version 0.1.0 \
//	    -tag ghcr.io/cert-manager/csi-driver-spiffe-operator:v0.1.0 \
//	    -o bin/images/csi-driver-spiffe.tar
//
// Flags:
//
//	-binary   the static binary to pack (default bin/csi-driver-spiffe);
//	          refused unless a statically linked ELF executable for -arch
//	-version  the org.opencontainers.image.version label (default 0.1.0)
//	-tag      the image reference (default ghcr.io/cert-manager/csi-driver-spiffe-operator:v0.1.0)
//	-arch     the GOARCH of the image (default amd64)
//	-o        the archive to write (default bin/images/csi-driver-spiffe.tar)
//
// It prints the image's digest. Other images of single static binaries (a
// pause image, busybox for tests) are built with package
// hack/buildimage/image, which documents how.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cert-manager/csi-driver-spiffe-operator/hack/buildimage/image"
)

func main() {
	binary := flag.String("binary", "bin/csi-driver-spiffe", "The static binary to pack (the output of `make build`).")
	version := flag.String("version", "0.1.0", "Version label (semver without v).")
	tag := flag.String("tag", image.ProductReference, "Image reference (registry/repository:tag).")
	arch := flag.String("arch", "amd64", "GOARCH of the image; the binary must be built for it.")
	out := flag.String("o", "bin/images/csi-driver-spiffe.tar", "Docker archive to write.")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "error: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	img, err := image.Build(image.Product(*binary, *version, *arch))
	if err == nil {
		err = image.WriteArchive(*out, *tag, img)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	digest, err := img.Digest()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %s (%s)\n", *out, *tag, digest)
}
