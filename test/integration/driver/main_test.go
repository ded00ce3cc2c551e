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

// Package driver tests the CSI driver end to end on a real control plane:
// the driver binary runs as its own process with exactly its RBAC, serves a
// real unix socket, mounts a real tmpfs and bind-mounts volumes; a stand-in
// kubelet publishes volumes of real pods with real TokenRequest tokens; a
// stand-in cert-manager CA issuer (cert-manager's pki package) signs.
package driver

import (
	"fmt"
	"os"
	"testing"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

var testEnv *env.Environment

func TestMain(m *testing.M) {
	// All mounts live in a private mount namespace that ends with the tests.
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	testEnv, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "failed to stop the control plane: %v\n", err)
		}
		if err := process.RemoveBinary(); err != nil {
			fmt.Fprintf(os.Stderr, "failed to remove the driver binary: %v\n", err)
		}
	}()
	return m.Run()
}
