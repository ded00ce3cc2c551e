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

package process

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// BinaryEnv names an already built csi-driver-spiffe binary to use instead
// of building one.
const BinaryEnv = "CSI_DRIVER_SPIFFE_BINARY"

var build struct {
	mu        sync.Mutex
	dir, path string
}

// Binary returns the path of the csi-driver-spiffe binary: $CSI_DRIVER_SPIFFE_BINARY,
// or one built from the repository at repoRoot once per test binary (until
// RemoveBinary).
func Binary(ctx context.Context, repoRoot string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p, nil
	}
	build.mu.Lock()
	defer build.mu.Unlock()
	if build.path != "" {
		return build.path, nil
	}
	dir, err := os.MkdirTemp("", "csi-driver-spiffe-bin-")
	if err != nil {
		return "", fmt.Errorf("failed to create a directory for the binary: %w", err)
	}
	path := filepath.Join(dir, "csi-driver-spiffe")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, ".")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("failed to build csi-driver-spiffe: %w: %s", err, out)
	}
	build.dir, build.path = dir, path
	return path, nil
}

// RemoveBinary removes the binary Binary built, if any. Call it when the
// test binary is done with processes (TestMain after m.Run, a suite's
// cleanup, a command's exit).
func RemoveBinary() error {
	build.mu.Lock()
	defer build.mu.Unlock()
	if build.dir == "" {
		return nil
	}
	err := os.RemoveAll(build.dir)
	build.dir, build.path = "", ""
	return err
}
