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

// Package store keeps each volume's metadata and files. Filesystem is the
// real store: a tmpfs the driver mounts itself, with the on-disk layout of
// csi-lib's storage.Filesystem (<root>/<volume-id>/metadata.json and
// <root>/<volume-id>/data/), written through csi-lib's atomic writer (the
// one kubelet uses for Secret and ConfigMap volumes), but with absolute paths
// that do not depend on the working directory. Memory is an in-memory store
// for tests, built on csi-lib's storage.MemoryFS.
package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cert-manager/csi-lib/storage"
)

// FileMode is the mode of every file in a volume: readable by the owner
// (root) and the volume's group only.
const FileMode = 0o440

// Interface is csi-lib's storage interface plus reading back a volume's
// files, which the driver needs to rewrite the CA file of a live volume
// without touching its key, and to resume volumes after a restart.
type Interface interface {
	storage.Interface

	// ReadFiles returns the files currently published in the volume's data
	// directory, by name. It wraps storage.ErrNotFound when there are none.
	ReadFiles(volumeID string) (map[string][]byte, error)
}

// ErrNotFound is csi-lib's storage.ErrNotFound.
var ErrNotFound = storage.ErrNotFound

// ValidateVolumeID refuses volume IDs that are not a single, plain path
// element, so no volume ID can reach outside the store.
func ValidateVolumeID(id string) error {
	switch {
	case id == "":
		return errors.New("volume ID is empty")
	case len(id) > 256:
		return fmt.Errorf("volume ID is longer than 256 characters")
	case id == "." || id == ".." || strings.ContainsAny(id, "/\\\x00") || strings.HasPrefix(id, "."):
		return fmt.Errorf("volume ID %q is not a plain name", id)
	}
	return nil
}
