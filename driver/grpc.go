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
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// ListenUnix listens on a unix socket at path, replacing a socket left by a
// previous run, and creating its directory.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("failed to create socket directory for %q: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("failed to listen on %q: it exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("failed to remove stale socket %q: %w", path, err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %q: %w", path, err)
	}
	return lis, nil
}

// loggingInterceptor logs each call with its method, volume ID, code and
// duration, and failed calls with their error. It never logs requests or
// responses: a NodePublishVolume volume context holds the pod's token, and
// CSI's secret redaction does not cover volume contexts.
func loggingInterceptor(log logr.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		l := log.WithValues("method", info.FullMethod)
		if r, ok := req.(interface{ GetVolumeId() string }); ok && r.GetVolumeId() != "" {
			l = l.WithValues("volumeID", r.GetVolumeId())
		}
		if r, ok := req.(interface{ GetVolumeContext() map[string]string }); ok {
			if ns, name := r.GetVolumeContext()["csi.storage.k8s.io/pod.namespace"], r.GetVolumeContext()["csi.storage.k8s.io/pod.name"]; name != "" {
				l = l.WithValues("pod", ns+"/"+name)
			}
		}
		resp, err := handler(logr.NewContext(ctx, l), req)
		l = l.WithValues("code", status.Code(err).String(), "duration", time.Since(start).String())
		if err != nil {
			l.Error(errors.New(status.Convert(err).Message()), "gRPC call failed")
		} else {
			l.V(2).Info("gRPC call succeeded")
		}
		return resp, err
	}
}
