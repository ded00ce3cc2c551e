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

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// RegisterPlugin registers the plugin serving the registration socket
// regSocket as kubelet's plugin manager does when the socket appears in
// plugins_registry (k8s.io/kubernetes/pkg/kubelet/pluginmanager and the CSI
// plugin's registration handler): GetInfo; for a CSIPlugin that speaks a 1.x
// version, NodeGetInfo on the endpoint it names; then
// NotifyRegistrationStatus with the outcome. It returns the plugin's info and
// the node ID, or why kubelet would refuse it (after notifying the plugin).
// endpointOnNode maps the endpoint the plugin reports (a path on the node) to
// where this process reaches it; nil for the same path.
func RegisterPlugin(ctx context.Context, regSocket string, endpointOnNode func(string) string) (*registerapi.PluginInfo, string, error) {
	conn, err := grpc.NewClient("unix://"+regSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, "", fmt.Errorf("failed to dial %q: %w", regSocket, err)
	}
	defer conn.Close()
	reg := registerapi.NewRegistrationClient(conn)
	info, err := reg.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		return nil, "", fmt.Errorf("failed to get plugin info from %q: %w", regSocket, err)
	}
	nodeID, regErr := validateAndGetNodeID(ctx, info, endpointOnNode)
	status := &registerapi.RegistrationStatus{PluginRegistered: regErr == nil}
	if regErr != nil {
		status.Error = regErr.Error()
	}
	if _, err := reg.NotifyRegistrationStatus(ctx, status); err != nil {
		return info, nodeID, errors.Join(regErr, fmt.Errorf("failed to notify %q of its registration: %w", regSocket, err))
	}
	return info, nodeID, regErr
}

// validateAndGetNodeID does what kubelet's CSI plugin handler does with a
// plugin's info: ValidatePlugin, then RegisterPlugin's NodeGetInfo.
func validateAndGetNodeID(ctx context.Context, info *registerapi.PluginInfo, endpointOnNode func(string) string) (string, error) {
	if info.GetType() != registerapi.CSIPlugin {
		return "", fmt.Errorf("plugin type %q is not %s", info.GetType(), registerapi.CSIPlugin)
	}
	if info.GetName() == "" {
		return "", errors.New("plugin has no name")
	}
	if !slices.ContainsFunc(info.GetSupportedVersions(), func(v string) bool { return v == "1.0.0" || len(v) > 1 && v[:2] == "1." }) {
		return "", fmt.Errorf("plugin %s supports none of kubelet's CSI versions (1.x): %q", info.GetName(), info.GetSupportedVersions())
	}
	endpoint := info.GetEndpoint()
	if endpointOnNode != nil {
		endpoint = endpointOnNode(endpoint)
	}
	conn, err := grpc.NewClient("unix://"+endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", fmt.Errorf("failed to dial the CSI endpoint %q of %s: %w", info.GetEndpoint(), info.GetName(), err)
	}
	defer conn.Close()
	resp, err := csi.NewNodeClient(conn).NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
	if err != nil {
		return "", fmt.Errorf("NodeGetInfo of %s at %q failed: %w", info.GetName(), info.GetEndpoint(), err)
	}
	if resp.GetNodeId() == "" {
		return "", fmt.Errorf("NodeGetInfo of %s returned no node ID", info.GetName())
	}
	return resp.GetNodeId(), nil
}
