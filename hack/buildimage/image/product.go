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

package image

// The csi-driver-spiffe image: one static binary for the operator, the
// driver and the approver, on an empty base. The repository's Dockerfile
// describes the same image; test/packaging keeps the two equal.
const (
	// ProductBinaryPath is where the binary is in the image.
	ProductBinaryPath = "/usr/local/bin/csi-driver-spiffe"
	// ProductUser is the image's default user: non-root. The driver's
	// DaemonSet runs it as root (runAsUser 0), as mounting requires.
	ProductUser = "65532:65532"
	// ProductReference is the reference of the image `make image` builds:
	// the one config/default installs (the Makefile's IMG).
	ProductReference = "ghcr.io/cert-manager/csi-driver-spiffe-operator:v0.1.0"
)

// ProductLabels returns the image's OCI labels for version (semver without
// the v, as the Makefile's VERSION).
func ProductLabels(version string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "csi-driver-spiffe",
		"org.opencontainers.image.description": "SPIFFE X.509 SVIDs for every pod, through cert-manager: operator, CSI driver and approver",
		"org.opencontainers.image.source":      "https://github.com/cert-manager/csi-driver-spiffe-operator",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "cert-manager community",
		"org.opencontainers.image.version":     version,
	}
}

// Product returns the Spec of the csi-driver-spiffe image holding binary
// (the output of `make build`), for version and the GOARCH arch.
func Product(binary, version, arch string) Spec {
	return Spec{
		Files:        []File{{Path: ProductBinaryPath, Source: binary, Mode: 0o755, RequireStatic: true}},
		Entrypoint:   []string{ProductBinaryPath},
		User:         ProductUser,
		Labels:       ProductLabels(version),
		OS:           "linux",
		Architecture: arch,
	}
}
