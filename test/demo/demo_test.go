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

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

func TestMain(m *testing.M) {
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// make demo shows what the csi-driver-spiffe documentation shows, and
// leaves nothing behind.
func TestDemoShowsTheDocumentedResult(t *testing.T) {
	// A short prefix: the driver's registration socket lives under
	// <dir>/node/var/lib/kubelet/plugins_registry/, and a unix socket path
	// holds at most 107 bytes.
	dir, err := os.MkdirTemp("/var/tmp", "sdt-")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(&out, dir, true); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"ca.crt  tls.crt  tls.key",
		"Issuer: CN = csi-driver-spiffe-ca",
		"URI:spiffe://foo.bar/ns/sandbox/sa/example-app",
		"done: no process and no mount left behind",
		// The command shown is the one that ran: only -o wide prints REASON.
		"$ kubectl get spiffetrustdomains -o wide\nNAME      TRUST DOMAIN   ISSUER                 DRIVER                       NODES READY   NODES DESIRED   READY   REASON   AGE\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
	lines := strings.Split(out.String(), "\n")
	found := false
	for _, l := range lines {
		f := strings.Fields(l)
		// kubectl get spiffetrustdomains: NAME TRUST-DOMAIN ISSUER DRIVER READY DESIRED READY ...
		if len(f) >= 7 && f[0] == "foo-bar" && f[1] == "foo.bar" && f[4] == "1" && f[5] == "1" && f[6] == "True" {
			found = true
		}
	}
	if !found {
		t.Errorf("kubectl get spiffetrustdomains does not show foo-bar Ready on 1 of 1 nodes:\n%s", out.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo left its directory %s behind (%v)", dir, err)
	}
	if mounts, err := kubelet.MountsUnder(dir); err != nil || len(mounts) > 0 {
		t.Errorf("the demo left mounts behind: %v %v", mounts, err)
	}
}
