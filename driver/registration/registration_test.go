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

package registration_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/registration"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

const driverName = "spiffe.csi.cert-manager.io"

// csiNodeStandIn is a TEST STAND-IN for the driver's CSI node service: only
// NodeGetInfo, which kubelet calls while registering a CSI plugin.
type csiNodeStandIn struct {
	csi.UnimplementedNodeServer
}

func (csiNodeStandIn) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: "node-1"}, nil
}

type fixture struct {
	dir, endpoint string
	registrar     *registration.Registrar
	stopped       chan struct{}
	cancel        context.CancelFunc
}

// start serves a CSI stand-in on a real unix socket and runs a Registrar
// checking its socket every 10ms, stopped at the end of the test.
func start(t *testing.T) *fixture {
	t.Helper()
	// Unix socket paths are short: not under t.TempDir's long names.
	base, err := os.MkdirTemp("", "reg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	f := &fixture{dir: filepath.Join(base, "plugins_registry"), endpoint: filepath.Join(base, "csi.sock"), stopped: make(chan struct{})}
	if err := os.Mkdir(f.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", f.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	csi.RegisterNodeServer(srv, csiNodeStandIn{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	f.registrar, err = registration.New(registration.Options{DriverName: driverName, Dir: f.dir, Endpoint: f.endpoint, CheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() {
		defer close(f.stopped)
		if err := f.registrar.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.cancel()
	<-f.stopped
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func socketExists(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// kubelet's plugin watcher finds <driver>-reg.sock, asks GetInfo, calls
// NodeGetInfo on the endpoint named there and notifies the driver: the
// driver is registered.
func TestKubeletRegistersTheDriver(t *testing.T) {
	f := start(t)
	sock := filepath.Join(f.dir, driverName+"-reg.sock")
	if f.registrar.SocketPath() != sock {
		t.Errorf("SocketPath() = %s, want %s", f.registrar.SocketPath(), sock)
	}
	waitFor(t, "the registration socket", func() bool { return socketExists(sock) })
	if err := f.registrar.Registered(); err == nil || !strings.Contains(err.Error(), "has not registered") {
		t.Errorf("before kubelet: Registered() = %v, want not registered yet", err)
	}

	info, nodeID, err := kubelet.RegisterPlugin(t.Context(), sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != registerapi.CSIPlugin || info.Name != driverName || info.Endpoint != f.endpoint || !slices.Equal(info.SupportedVersions, []string{"1.0.0"}) {
		t.Errorf("GetInfo = %+v, want CSIPlugin %s at %s, versions [1.0.0]", info, driverName, f.endpoint)
	}
	if nodeID != "node-1" {
		t.Errorf("node ID = %q, want node-1", nodeID)
	}
	if err := f.registrar.Registered(); err != nil {
		t.Errorf("after kubelet registered it: Registered() = %v", err)
	}
	if err := f.registrar.Healthy(); err != nil {
		t.Errorf("Healthy() = %v", err)
	}

	// Stopping removes the socket: kubelet unregisters the driver.
	f.stop()
	if socketExists(sock) {
		t.Error("the registration socket is still there after Run returned")
	}
}

// kubelet refuses the registration: the driver says why it is not ready.
func TestRefusedRegistration(t *testing.T) {
	f := start(t)
	sock := f.registrar.SocketPath()
	waitFor(t, "the registration socket", func() bool { return socketExists(sock) })
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := registerapi.NewRegistrationClient(conn)
	if _, err := c.GetInfo(t.Context(), &registerapi.InfoRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NotifyRegistrationStatus(t.Context(), &registerapi.RegistrationStatus{PluginRegistered: false, Error: "plugin name already registered"}); err != nil {
		t.Fatal(err)
	}
	if err := f.registrar.Registered(); err == nil || err.Error() != "kubelet refused to register the driver: plugin name already registered" {
		t.Errorf("Registered() = %v, want kubelet's refusal", err)
	}
	// kubelet retries by itself while the socket exists.
	if _, _, err := kubelet.RegisterPlugin(t.Context(), sock, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.registrar.Registered(); err != nil {
		t.Errorf("after kubelet's retry: Registered() = %v", err)
	}
}

// The socket is deleted (the directory was wiped): the driver re-creates it,
// is unready until kubelet registers it again, and then ready.
func TestSocketIsRecreated(t *testing.T) {
	f := start(t)
	sock := f.registrar.SocketPath()
	waitFor(t, "the registration socket", func() bool { return socketExists(sock) })
	if _, _, err := kubelet.RegisterPlugin(t.Context(), sock, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	// The registrar notices, forgets the registration and listens anew.
	// (The new socket may get the old one's inode number on tmpfs, so it is
	// told apart by the registration state, not by its inode.)
	waitFor(t, "the registrar to notice", func() bool { return f.registrar.Registered() != nil })
	waitFor(t, "a new registration socket", func() bool { return socketExists(sock) })
	if _, _, err := kubelet.RegisterPlugin(t.Context(), sock, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.registrar.Registered(); err != nil {
		t.Errorf("after kubelet registered it again: Registered() = %v", err)
	}
}

// The registration directory is gone: the driver is unhealthy (only a new
// container, with a new mount, mends it) until the directory is back.
func TestMissingDirectoryIsUnhealthy(t *testing.T) {
	f := start(t)
	sock := f.registrar.SocketPath()
	waitFor(t, "the registration socket", func() bool { return socketExists(sock) })
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Healthy() to fail", func() bool { return f.registrar.Healthy() != nil })
	if err := f.registrar.Healthy(); !strings.Contains(err.Error(), sock) {
		t.Errorf("Healthy() = %v, want it to name the socket", err)
	}
	if err := os.Mkdir(f.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the registration socket back", func() bool { return socketExists(sock) && f.registrar.Healthy() == nil })
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := registration.New(registration.Options{Dir: "relative"})
	if err == nil {
		t.Fatal("New accepted no driver name, no endpoint and a relative directory")
	}
	for _, want := range []string{"DriverName is required", "Endpoint must be an absolute path", `Dir must be an absolute path, got "relative"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
