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

package driver

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// healthz returns the status code and body of the driver's /healthz.
func healthz(t *testing.T, f *driverenv.Fixture) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+f.Driver.HealthAddr+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// The driver's own probes, with no sidecar: without a configuration it is
// live (never restarted for waiting) but not ready; once kubelet registered
// it and a configuration is published it is ready; when its registration
// socket is wiped it re-creates it and is unready until kubelet registers
// it again; stopped, it removes the socket.
func TestHealthBeforeAndAfterConfiguration(t *testing.T) {
	// driverenv registers the driver as kubelet's plugin watcher does.
	f := driverenv.Setup(t, testEnv, driverenv.Options{NoConfig: true})
	ctx := t.Context()

	if code, body := healthz(t, f); code != http.StatusOK || body != "ok" {
		t.Errorf("without a configuration: /healthz = %d %q, want 200 ok (live)", code, body)
	}
	code, body, err := f.Driver.Readyz(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the driver has no configuration yet") || strings.Contains(body, "kubelet") {
		t.Errorf("without a configuration, registered: /readyz = %d %q, want 503 naming only the missing configuration", code, body)
	}

	if err := f.SetConfig(ctx, func(*spiffev1alpha1.TrustDomainConfig) {}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz to answer 200", func() (bool, string) {
		code, body, err := f.Driver.Readyz(ctx, "")
		return err == nil && code == http.StatusOK && body == "ok", body
	})

	// The registration socket is wiped: the driver re-creates it and waits
	// for kubelet to register it again.
	if err := os.Remove(f.Driver.RegistrationSocket); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz to say kubelet has not registered the driver", func() (bool, string) {
		code, body, err := f.Driver.Readyz(ctx, "")
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, "kubelet has not registered the driver yet"), body
	})
	if _, err := os.Stat(f.Driver.RegistrationSocket); err != nil {
		t.Fatalf("the registration socket was not re-created: %v", err)
	}
	if code, body := healthz(t, f); code != http.StatusOK {
		t.Errorf("after re-creating its socket: /healthz = %d %q, want 200", code, body)
	}
	info, nodeID, err := kubelet.RegisterPlugin(ctx, f.Driver.RegistrationSocket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != f.DriverName || info.GetEndpoint() != f.Driver.Socket || nodeID != f.NodeID {
		t.Errorf("registration info = %v, node %q; want %s at %s on %s", info, nodeID, f.DriverName, f.Driver.Socket, f.NodeID)
	}
	eventually(t, "/readyz to answer 200 again", func() (bool, string) {
		code, body, err := f.Driver.Readyz(ctx, "")
		return err == nil && code == http.StatusOK, body
	})

	if err := f.Driver.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Driver.RegistrationSocket); !os.IsNotExist(err) {
		t.Errorf("after the driver stopped, its registration socket: %v, want it removed", err)
	}
}
