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

// Package kubelet is a TEST STAND-IN for the part of kubelet that drives a
// CSI node plugin for inline ephemeral volumes. It creates real Pod objects,
// requests real ServiceAccount tokens bound to them (TokenRequest), and calls
// the driver's CSI gRPC socket exactly as kubelet does: the same volume ID,
// target path, volume context (pod information, ephemeral flag and the
// csi.storage.k8s.io/serviceAccount.tokens of a CSIDriver with
// tokenRequests: [{audience: ""}]), read-only mount capability with the
// pod's fsGroup as volume_mount_group when the driver has VOLUME_MOUNT_GROUP,
// republishing with fresh tokens as requiresRepublish does, and
// NodeUnpublishVolume.
package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Volume context keys kubelet sets (k8s.io/kubernetes/pkg/volume/csi).
const (
	PodNameKey            = "csi.storage.k8s.io/pod.name"
	PodNamespaceKey       = "csi.storage.k8s.io/pod.namespace"
	PodUIDKey             = "csi.storage.k8s.io/pod.uid"
	ServiceAccountNameKey = "csi.storage.k8s.io/serviceAccount.name"
	EphemeralKey          = "csi.storage.k8s.io/ephemeral"
	TokensKey             = "csi.storage.k8s.io/serviceAccount.tokens"
)

// TokenRequester requests a ServiceAccount token bound to a pod;
// test/env's Environment is one.
type TokenRequester interface {
	PodToken(ctx context.Context, pod *corev1.Pod, expirationSeconds int64) (*authenticationv1.TokenRequestStatus, error)
}

// Options configure a Kubelet.
type Options struct {
	// Endpoint is the driver's socket: unix:///path or /path. Required.
	Endpoint string
	// Client creates Pod objects. Required.
	Client client.Client
	// Tokens requests the pods' tokens. Required.
	Tokens TokenRequester
	// NodeName is set as the pods' spec.nodeName. Default "node-1".
	NodeName string
	// PodsDir is this kubelet's pods directory (kubelet's
	// /var/lib/kubelet/pods); target paths are under it. Required.
	PodsDir string
	// DriverName is the CSI driver the pods' volumes name. Default
	// spiffe.csi.cert-manager.io.
	DriverName string
	// TokenExpiration is the lifetime of the tokens it requests (the
	// CSIDriver's tokenRequests[].expirationSeconds). Default 1h; the API
	// server refuses less than 10m.
	TokenExpiration time.Duration
}

// Kubelet publishes pods' CSI volumes through a driver's socket.
type Kubelet struct {
	opts              Options
	conn              *grpc.ClientConn
	node              csi.NodeClient
	identity          csi.IdentityClient
	mountGroupCapable bool

	mu      sync.Mutex
	volumes map[string]*Volume
}

// New connects to the driver's socket and asks for its node capabilities, as
// kubelet does before publishing.
func New(ctx context.Context, opts Options) (*Kubelet, error) {
	if opts.Endpoint == "" || opts.Client == nil || opts.Tokens == nil || opts.PodsDir == "" {
		return nil, errors.New("failed to build the stand-in kubelet: Endpoint, Client, Tokens and PodsDir are required")
	}
	if opts.NodeName == "" {
		opts.NodeName = "node-1"
	}
	if opts.DriverName == "" {
		opts.DriverName = "spiffe.csi.cert-manager.io"
	}
	if opts.TokenExpiration == 0 {
		opts.TokenExpiration = time.Hour
	}
	target := opts.Endpoint
	if !strings.HasPrefix(target, "unix://") {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("failed to connect to %q: %w", opts.Endpoint, err)
	}
	k := &Kubelet{
		opts:     opts,
		conn:     conn,
		node:     csi.NewNodeClient(conn),
		identity: csi.NewIdentityClient(conn),
		volumes:  map[string]*Volume{},
	}
	caps, err := k.node.NodeGetCapabilities(ctx, &csi.NodeGetCapabilitiesRequest{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("failed to get the driver's node capabilities: %w", err)
	}
	for _, c := range caps.GetCapabilities() {
		if c.GetRpc().GetType() == csi.NodeServiceCapability_RPC_VOLUME_MOUNT_GROUP {
			k.mountGroupCapable = true
		}
	}
	return k, nil
}

// Close closes the connection to the driver.
func (k *Kubelet) Close() error { return k.conn.Close() }

// Identity returns a client of the driver's CSI identity service.
func (k *Kubelet) Identity() csi.IdentityClient { return k.identity }

// Node returns a client of the driver's CSI node service.
func (k *Kubelet) Node() csi.NodeClient { return k.node }

// PodOptions describe a pod with one CSI volume of the driver.
type PodOptions struct {
	Namespace      string
	Name           string
	ServiceAccount string
	// FSGroup is the pod's securityContext.fsGroup.
	FSGroup *int64
	// VolumeName is the name of the CSI volume. Default "spiffe".
	VolumeName string
	// VolumeAttributes are the volume's csi.volumeAttributes.
	VolumeAttributes map[string]string
	// Writable makes the volume readOnly: false (the driver refuses it).
	Writable bool
}

// CreatePod creates a pod on this kubelet's node with one CSI volume of the
// driver, mounted by its only container, as in the reference manifests.
func (k *Kubelet) CreatePod(ctx context.Context, o PodOptions) (*corev1.Pod, error) {
	if o.VolumeName == "" {
		o.VolumeName = "spiffe"
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name},
		Spec: corev1.PodSpec{
			NodeName:           k.opts.NodeName,
			ServiceAccountName: o.ServiceAccount,
			SecurityContext:    &corev1.PodSecurityContext{FSGroup: o.FSGroup},
			Containers: []corev1.Container{{
				Name:         "app",
				Image:        "registry.k8s.io/pause:3.10",
				VolumeMounts: []corev1.VolumeMount{{Name: o.VolumeName, MountPath: "/var/run/secrets/spiffe.io", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{
				Name: o.VolumeName,
				VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
					Driver:           k.opts.DriverName,
					ReadOnly:         ptr.To(!o.Writable),
					VolumeAttributes: o.VolumeAttributes,
				}},
			}},
		},
	}
	if err := k.opts.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create pod %s/%s: %w", o.Namespace, o.Name, err)
	}
	return pod, nil
}

// Volume is a pod's CSI volume as kubelet tracks it.
type Volume struct {
	k      *Kubelet
	Pod    *corev1.Pod
	Name   string
	source *corev1.CSIVolumeSource
	// ID is the volume handle kubelet gives an inline ephemeral volume.
	ID string
	// TargetPath is where the driver mounts the volume.
	TargetPath string
	// Token is the token sent with the last publish.
	Token *authenticationv1.TokenRequestStatus
}

// Publish publishes the pod's CSI volume of the driver with a fresh token,
// as kubelet does when it sets the pod up. On error the Volume is still
// returned (kubelet retries and, for an uncertain mount, unpublishes it).
func (k *Kubelet) Publish(ctx context.Context, pod *corev1.Pod) (*Volume, error) {
	v, err := k.Volume(pod)
	if err != nil {
		return nil, err
	}
	return v, v.Republish(ctx)
}

// PublishPod creates a pod and publishes its volume.
func (k *Kubelet) PublishPod(ctx context.Context, o PodOptions) (*Volume, error) {
	pod, err := k.CreatePod(ctx, o)
	if err != nil {
		return nil, err
	}
	return k.Publish(ctx, pod)
}

// Volume returns the pod's CSI volume of the driver as this kubelet tracks
// it, without publishing it.
func (k *Kubelet) Volume(pod *corev1.Pod) (*Volume, error) {
	for _, vol := range pod.Spec.Volumes {
		if vol.CSI == nil || vol.CSI.Driver != k.opts.DriverName {
			continue
		}
		id := VolumeHandle(string(pod.UID), vol.Name)
		k.mu.Lock()
		defer k.mu.Unlock()
		if v, ok := k.volumes[id]; ok {
			return v, nil
		}
		v := &Volume{
			k:          k,
			Pod:        pod,
			Name:       vol.Name,
			source:     vol.CSI,
			ID:         id,
			TargetPath: filepath.Join(k.opts.PodsDir, string(pod.UID), "volumes", "kubernetes.io~csi", vol.Name, "mount"),
		}
		k.volumes[id] = v
		return v, nil
	}
	return nil, fmt.Errorf("pod %s/%s has no CSI volume of driver %q", pod.Namespace, pod.Name, k.opts.DriverName)
}

// VolumeHandle is the volume ID kubelet gives an inline ephemeral CSI
// volume: "csi-" and the hex SHA-256 of the pod UID and the volume's name.
func VolumeHandle(podUID, volumeName string) string {
	return fmt.Sprintf("csi-%x", sha256.Sum256([]byte(podUID+volumeName)))
}

// Request builds the NodePublishVolumeRequest kubelet sends for the volume,
// with token.
func (v *Volume) Request(token *authenticationv1.TokenRequestStatus) (*csi.NodePublishVolumeRequest, error) {
	volCtx := maps.Clone(v.source.VolumeAttributes)
	if volCtx == nil {
		volCtx = map[string]string{}
	}
	volCtx[PodNameKey] = v.Pod.Name
	volCtx[PodNamespaceKey] = v.Pod.Namespace
	volCtx[PodUIDKey] = string(v.Pod.UID)
	volCtx[ServiceAccountNameKey] = v.Pod.Spec.ServiceAccountName
	volCtx[EphemeralKey] = "true"
	if token != nil {
		tokens, err := json.Marshal(map[string]authenticationv1.TokenRequestStatus{"": *token})
		if err != nil {
			return nil, fmt.Errorf("failed to encode tokens: %w", err)
		}
		volCtx[TokensKey] = string(tokens)
	}
	mountCap := &csi.VolumeCapability_MountVolume{}
	if sc := v.Pod.Spec.SecurityContext; v.k.mountGroupCapable && sc != nil && sc.FSGroup != nil {
		mountCap.VolumeMountGroup = strconv.FormatInt(*sc.FSGroup, 10)
	}
	return &csi.NodePublishVolumeRequest{
		VolumeId:   v.ID,
		TargetPath: v.TargetPath,
		VolumeCapability: &csi.VolumeCapability{
			AccessType: &csi.VolumeCapability_Mount{Mount: mountCap},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		Readonly:      v.source.ReadOnly != nil && *v.source.ReadOnly,
		VolumeContext: volCtx,
	}, nil
}

// Republish requests a fresh token bound to the pod and calls
// NodePublishVolume, as kubelet does at setup and, with requiresRepublish,
// periodically afterwards.
func (v *Volume) Republish(ctx context.Context) error {
	token, err := v.k.opts.Tokens.PodToken(ctx, v.Pod, int64(v.k.opts.TokenExpiration/time.Second))
	if err != nil {
		return err
	}
	return v.PublishWithToken(ctx, token)
}

// PublishWithToken calls NodePublishVolume with the given token (nil for
// none, as with a CSIDriver that requests no token).
func (v *Volume) PublishWithToken(ctx context.Context, token *authenticationv1.TokenRequestStatus) error {
	req, err := v.Request(token)
	if err != nil {
		return err
	}
	// kubelet creates the parent of the target path; the driver creates the
	// target.
	if err := os.MkdirAll(filepath.Dir(v.TargetPath), 0o750); err != nil {
		return fmt.Errorf("failed to create the parent of target path %q: %w", v.TargetPath, err)
	}
	v.Token = token
	_, err = v.k.node.NodePublishVolume(ctx, req)
	return err
}

// Unpublish calls NodeUnpublishVolume and, as kubelet does, removes the
// volume's directory.
func (v *Volume) Unpublish(ctx context.Context) error {
	if _, err := v.k.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.ID, TargetPath: v.TargetPath}); err != nil {
		return err
	}
	v.k.mu.Lock()
	delete(v.k.volumes, v.ID)
	v.k.mu.Unlock()
	if err := os.RemoveAll(filepath.Dir(v.TargetPath)); err != nil {
		return fmt.Errorf("failed to remove volume directory %q: %w", filepath.Dir(v.TargetPath), err)
	}
	return nil
}

// File returns the path of a file of the volume as the pod sees it.
func (v *Volume) File(name string) string { return filepath.Join(v.TargetPath, name) }

// Volumes returns the volumes this kubelet has published (or tried to).
func (k *Kubelet) Volumes() []*Volume {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Volume, 0, len(k.volumes))
	for _, v := range k.volumes {
		out = append(out, v)
	}
	return out
}

// UnpublishAll unpublishes every volume this kubelet knows.
func (k *Kubelet) UnpublishAll(ctx context.Context) error {
	var errs []error
	for _, v := range k.Volumes() {
		if err := v.Unpublish(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failed to unpublish volume %q of pod %s/%s: %w", v.ID, v.Pod.Namespace, v.Pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

// RepublishEvery republishes every volume with a fresh token every interval,
// as kubelet does for a CSIDriver with requiresRepublish: true, until ctx is
// done. Errors go to onError (nil to ignore them).
func (k *Kubelet) RepublishEvery(ctx context.Context, interval time.Duration, onError func(*Volume, error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			for _, v := range k.Volumes() {
				if err := v.Republish(ctx); err != nil && onError != nil && ctx.Err() == nil {
					onError(v, err)
				}
			}
		}
	}
}
