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

package driverenv

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// Driver is the driver running as its own process, as in its DaemonSet.
type Driver struct {
	*process.Process
	// Socket is the driver's CSI socket.
	Socket string
	// RegistrationSocket is the socket through which the driver registers
	// with kubelet (in the fixture's plugins_registry).
	RegistrationSocket string
}

// Start starts (or restarts) the driver, registers it as kubelet's plugin
// watcher does when its registration socket appears, and waits until it is
// ready (/readyz) and serves its socket, for at most a minute or until ctx
// ends.
func (d *Driver) Start(ctx context.Context) error {
	registered := false
	return d.start(ctx, func(ctx context.Context) error {
		if err := d.register(ctx, &registered); err != nil {
			return err
		}
		if err := d.Ready(ctx); err != nil {
			return err
		}
		return d.socketExists()
	})
}

// StartUnready starts the driver, registers it, and waits only for its
// socket: a driver without configuration serves CSI but is not ready.
func (d *Driver) StartUnready(ctx context.Context) error {
	registered := false
	return d.start(ctx, func(ctx context.Context) error {
		if err := d.register(ctx, &registered); err != nil {
			return err
		}
		return d.socketExists()
	})
}

// register registers the driver with the kubelet stand-in once its
// registration socket exists.
func (d *Driver) register(ctx context.Context, registered *bool) error {
	if *registered || d.RegistrationSocket == "" {
		return nil
	}
	if _, err := os.Stat(d.RegistrationSocket); err != nil {
		return fmt.Errorf("no registration socket yet: %w", err)
	}
	if _, _, err := kubelet.RegisterPlugin(ctx, d.RegistrationSocket, nil); err != nil {
		return err
	}
	*registered = true
	return nil
}

func (d *Driver) start(ctx context.Context, started func(context.Context) error) error {
	if err := d.Process.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return d.WaitFor(ctx, started)
}

func (d *Driver) socketExists() error {
	if _, err := os.Stat(d.Socket); err != nil {
		return fmt.Errorf("no socket yet: %w", err)
	}
	return nil
}
