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

// Package registration registers the CSI driver with kubelet itself, which
// node-driver-registrar does for other drivers from a sidecar container: it
// serves kubelet's plugin registration API
// (k8s.io/kubelet/pkg/apis/pluginregistration/v1) on
// <dir>/<driver name>-reg.sock in kubelet's plugins_registry directory.
// kubelet's plugin watcher finds the socket (when it appears, and at kubelet
// start), asks GetInfo for the driver's name, CSI endpoint and versions,
// calls the driver's NodeGetInfo, and reports the outcome with
// NotifyRegistrationStatus. When kubelet refuses a registration it retries
// by itself while the socket exists.
//
// The socket is re-created when it disappears (someone wiped the directory),
// so kubelet sees a new plugin and registers it again, and it is removed when
// the driver stops, so kubelet unregisters the driver.
package registration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// DefaultDir is kubelet's plugin registration directory under its default
// root directory, /var/lib/kubelet.
const DefaultDir = "/var/lib/kubelet/plugins_registry"

// SupportedVersions are the CSI versions the driver tells kubelet it speaks.
var SupportedVersions = []string{"1.0.0"}

// SocketName returns the registration socket's name for driverName.
func SocketName(driverName string) string { return driverName + "-reg.sock" }

// Options configure a Registrar.
type Options struct {
	// Log is the registrar's logger. Default: discard.
	Log logr.Logger
	// DriverName is the CSI driver name kubelet registers. Required.
	DriverName string
	// Dir is kubelet's plugin registration directory as the driver sees it.
	// Default DefaultDir.
	Dir string
	// Endpoint is the path of the driver's CSI socket as kubelet sees it on
	// the node (not in the driver's container). Required.
	Endpoint string
	// CheckInterval is how often the registrar checks that its socket still
	// exists, re-creating it when it does not. Default 2s: a stat each time.
	CheckInterval time.Duration
}

// Registrar serves kubelet's registration API for one driver.
type Registrar struct {
	log           logr.Logger
	driverName    string
	socket        string
	endpoint      string
	checkInterval time.Duration

	mu sync.Mutex
	// registered is nil once kubelet reported the current socket's
	// registration as successful, else why the driver is not registered.
	registered error
	// healthy is nil unless the socket could not be (re-)created.
	healthy error
}

// New returns a Registrar for opts.
func New(opts Options) (*Registrar, error) {
	var errs []error
	if opts.DriverName == "" {
		errs = append(errs, errors.New("DriverName is required"))
	}
	if opts.Endpoint == "" || !filepath.IsAbs(opts.Endpoint) {
		errs = append(errs, fmt.Errorf("Endpoint must be an absolute path, got %q", opts.Endpoint))
	}
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if !filepath.IsAbs(opts.Dir) {
		errs = append(errs, fmt.Errorf("Dir must be an absolute path, got %q", opts.Dir))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("failed to build the kubelet registrar: %w", errors.Join(errs...))
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 2 * time.Second
	}
	socket := filepath.Join(opts.Dir, SocketName(opts.DriverName))
	return &Registrar{
		log:           opts.Log.WithValues("registrationSocket", socket),
		driverName:    opts.DriverName,
		socket:        socket,
		endpoint:      opts.Endpoint,
		checkInterval: opts.CheckInterval,
		registered:    fmt.Errorf("kubelet has not registered the driver yet (through %s)", socket),
	}, nil
}

// SocketPath returns the registration socket's path.
func (r *Registrar) SocketPath() string { return r.socket }

// Registered returns nil when kubelet has registered the driver through the
// current socket, else why not.
func (r *Registrar) Registered() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registered
}

// Healthy returns nil unless the registration socket could not be
// (re-)created: for example when its directory was removed from the node
// under the driver's container, which only a restart of the container (a new
// mount) mends.
func (r *Registrar) Healthy() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.healthy
}

func (r *Registrar) setRegistered(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.registered = err
}

func (r *Registrar) setHealthy(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.healthy = err
}

// Run serves the registration socket until ctx is done, re-creating it when
// it disappears, and removes it on return.
func (r *Registrar) Run(ctx context.Context) error {
	var cur *serving
	defer func() {
		if cur != nil {
			cur.stop(r.socket)
		}
	}()
	ticker := time.NewTicker(r.checkInterval)
	defer ticker.Stop()
	for {
		if cur == nil || !cur.stillThere(r.socket) {
			if cur != nil {
				r.log.Info("registration socket disappeared, re-creating it so that kubelet registers the driver again")
				cur.stop(r.socket)
				cur = nil
			}
			r.setRegistered(fmt.Errorf("kubelet has not registered the driver yet (through %s)", r.socket))
			s, err := r.serve()
			if err != nil {
				r.log.Error(err, "failed to create the registration socket, retrying")
				r.setHealthy(err)
			} else {
				r.setHealthy(nil)
				cur = s
				r.log.Info("waiting for kubelet to register the driver", "endpoint", r.endpoint)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// serving is one registration socket and its server.
type serving struct {
	server *grpc.Server
	file   os.FileInfo
}

func (r *Registrar) serve() (*serving, error) {
	if err := os.Remove(r.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to remove the old registration socket %q: %w", r.socket, err)
	}
	lis, err := net.Listen("unix", r.socket)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %q: %w", r.socket, err)
	}
	fi, err := os.Lstat(r.socket)
	if err != nil {
		lis.Close()
		return nil, fmt.Errorf("failed to stat %q: %w", r.socket, err)
	}
	server := grpc.NewServer()
	registerapi.RegisterRegistrationServer(server, &registrationServer{r: r})
	go func() { _ = server.Serve(lis) }()
	return &serving{server: server, file: fi}, nil
}

// stillThere reports whether the socket file is still the one s listens on.
func (s *serving) stillThere(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, s.file)
}

// stop stops the server and removes its socket unless another process
// replaced it.
func (s *serving) stop(path string) {
	if s.stillThere(path) {
		_ = os.Remove(path)
	}
	s.server.Stop()
}

// registrationServer answers kubelet's plugin watcher.
type registrationServer struct {
	registerapi.UnimplementedRegistrationServer
	r *Registrar
}

// GetInfo tells kubelet the driver's type, name, CSI endpoint and versions.
func (s *registrationServer) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	s.r.log.V(1).Info("kubelet asked for the driver's registration info")
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              s.r.driverName,
		Endpoint:          s.r.endpoint,
		SupportedVersions: SupportedVersions,
	}, nil
}

// NotifyRegistrationStatus records kubelet's verdict. A refusal keeps the
// driver unready with kubelet's reason; kubelet retries the registration by
// itself while the socket exists.
func (s *registrationServer) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if st.GetPluginRegistered() {
		s.r.log.Info("kubelet registered the driver")
		s.r.setRegistered(nil)
	} else {
		err := fmt.Errorf("kubelet refused to register the driver: %s", st.GetError())
		s.r.log.Error(err, "registration failed; kubelet retries it")
		s.r.setRegistered(err)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}
