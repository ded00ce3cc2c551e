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

package node

import "fmt"

// containerdConfig is containerd's configuration: everything it owns under
// dir (root, state, sockets, network namespaces, the opt directory), the
// runc and CNI plugins of Debian, our own pause image as the sandbox image.
//
// restrict_oom_score_adj: our machines' root lacks CAP_SYS_RESOURCE, and
// without it every sandbox fails in runc ("can't get final child's PID from
// pipe") trying to lower its OOM score. NRI is off: it would open a socket
// under /var/run/nri.
func containerdConfig(dir, cniConfDir string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins.'io.containerd.internal.v1.opt']
  path = %[5]q

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[6]q

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %[7]q
    max_conf_num = 1
`, dir+"/root", dir+"/state", dir+"/containerd.sock", dir+"/containerd.sock.ttrpc", dir+"/opt", PauseImage, cniConfDir)
}

// cniConfig is the pod network: Debian's bridge plugin on the bridge the
// harness created (it already holds the gateway address, so the plugin is
// no gateway and never turns on IP forwarding), addresses from host-local
// with its state in ipamDir, and routes only to the node address and the
// Service range: a pod has no default route, so nothing it sends can leave
// the machine.
func cniConfig(ipamDir string) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "csi-driver-spiffe-node",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": false,
    "ipam": {
      "type": "host-local",
      "dataDir": %q,
      "ranges": [[{"subnet": %q, "gateway": %q}]],
      "routes": [{"dst": "%s/32", "gw": %q}, {"dst": %q, "gw": %q}]
    }
  }]
}
`, PodBridge, ipamDir, PodCIDR, PodGateway, NodeIP, PodGateway, ServiceCIDR, PodGateway)
}

// kubeletConfig is kubelet's configuration for our hosts:
//   - cgroup v1 only: failCgroupV1 false, the cgroupfs driver, every pod
//     under CgroupRoot (created and removed by the harness);
//   - failSwapOn false; makeIPTablesUtilChains false (no firewall rules);
//   - image garbage collection off (the images are imported, never
//     pulled) and no disk-pressure evictions on a busy build machine;
//   - its API on the node address with client certificates and webhook
//     authorization, health on loopback; oomScoreAdj 0 (root lacks
//     CAP_SYS_RESOURCE to lower it).
func kubeletConfig(caFile, podLogsDir string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[1]s
failSwapOn: false
makeIPTablesUtilChains: false
oomScoreAdj: 0
address: %[2]s
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[5]q
authorization:
  mode: Webhook
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
podLogsDir: %[6]q
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 5s
`, CgroupRoot, NodeIP, KubeletPort, KubeletHealthzPort, caFile, podLogsDir)
}
