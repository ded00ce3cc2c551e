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
	"maps"
	"os"

	"github.com/cert-manager/csi-lib/metadata"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/mount-utils"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/store"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

// nodeServer is the CSI node service.
type nodeServer struct {
	csi.UnimplementedNodeServer

	nodeID  string
	manager *manager
	store   store.Interface
	mounter mount.Interface
}

var _ csi.NodeServer = &nodeServer{}

// NodePublishVolume issues the pod's SVID into the volume (or, for a volume
// already published, stores the fresh token kubelet sends) and bind-mounts
// the volume read-only at the target path.
func (n *nodeServer) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if err := store.ValidateVolumeID(id); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "the target path is empty")
	}
	if req.GetVolumeCapability().GetBlock() != nil {
		return nil, status.Error(codes.InvalidArgument, "block volumes are not supported: the driver only serves filesystem (mount) volumes")
	}
	if !volume.IsEphemeral(req.GetVolumeContext()) {
		return nil, status.Errorf(codes.InvalidArgument, "only CSI inline ephemeral volumes are supported (the volume context must have %s=true): use a pod.spec.volumes[].csi volume, and volumeLifecycleModes: [Ephemeral] on the CSIDriver", volume.EphemeralKey)
	}
	if !req.GetReadonly() {
		return nil, status.Error(codes.InvalidArgument, "the volume must be read-only: set pod.spec.volumes[].csi.readOnly to true")
	}
	if _, err := n.manager.currentConfig(); err != nil {
		n.manager.metrics.failures.WithLabelValues(reasonOf(err)).Inc()
		return nil, toStatus(err)
	}
	pod, err := volume.ParsePod(req.GetVolumeContext())
	if err != nil {
		n.manager.metrics.failures.WithLabelValues(ReasonInvalidVolume).Inc()
		if e, ok := volume.IsError(err); ok && e.Denied {
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	volCtx := maps.Clone(req.GetVolumeContext())
	for _, k := range internalKeys {
		delete(volCtx, k)
	}
	if g := req.GetVolumeCapability().GetMount().GetVolumeMountGroup(); g != "" {
		volCtx[volume.MountGroupKey] = g
	}
	if _, err := volume.FSGroup(volCtx); err != nil {
		n.manager.metrics.failures.WithLabelValues(ReasonInvalidVolume).Inc()
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	meta := metadata.Metadata{VolumeID: id, TargetPath: target, VolumeContext: volCtx}
	if err := n.manager.publish(ctx, meta, pod); err != nil {
		return nil, toStatus(err)
	}
	if err := n.ensureMounted(id, target); err != nil {
		n.manager.metrics.failures.WithLabelValues(ReasonMountFailed).Inc()
		n.manager.abandon(id)
		return nil, status.Error(codes.Internal, err.Error())
	}
	n.manager.markPublished(id)
	return &csi.NodePublishVolumeResponse{}, nil
}

// ensureMounted bind-mounts the volume's data directory read-only at target
// unless it is mounted already.
func (n *nodeServer) ensureMounted(id, target string) error {
	mounted, err := n.mounter.IsMountPoint(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(target, 0o750); err != nil {
			return fmt.Errorf("failed to create target path %q: %w", target, err)
		}
	case err != nil:
		return fmt.Errorf("failed to check whether %q is mounted: %w", target, err)
	}
	if mounted {
		return nil
	}
	if err := n.mounter.Mount(n.store.PathForVolume(id), target, "", []string{"bind", "ro"}); err != nil {
		return fmt.Errorf("failed to bind-mount volume %q at %q: %w", id, target, err)
	}
	return nil
}

// NodeUnpublishVolume unmounts the target path and deletes the volume's
// files, metadata and CertificateRequests. It succeeds for unknown volumes.
func (n *nodeServer) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if err := store.ValidateVolumeID(id); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "the target path is empty")
	}
	mounted, err := n.mounter.IsMountPoint(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, status.Errorf(codes.Internal, "failed to check whether %q is mounted: %v", target, err)
	case mounted:
		if err := n.mounter.Unmount(target); err != nil {
			return nil, status.Errorf(codes.Internal, "failed to unmount %q: %v", target, err)
		}
	}
	// The driver created the target directory; kubelet removes its parent.
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.Internal, "failed to remove target path %q: %v", target, err)
	}
	if err := n.manager.unpublish(ctx, id); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetCapabilities advertises VOLUME_MOUNT_GROUP: kubelet then passes the
// pod's fsGroup in volume_mount_group, and the driver gives the volume's
// files that group (the fs-group volume attribute takes precedence).
func (n *nodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{
		Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: csi.NodeServiceCapability_RPC_VOLUME_MOUNT_GROUP}},
	}}}, nil
}

// NodeGetInfo returns the node ID.
func (n *nodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: n.nodeID}, nil
}
