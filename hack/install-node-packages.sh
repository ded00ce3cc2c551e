#!/usr/bin/env bash
# Installs the Debian packages the real node of `make test-node` runs with,
# only those missing: runc (containerd's runtime), the CNI bridge and
# host-local plugins, iptables (kube-proxy's iptables mode), conntrack
# (clearing kube-proxy's connection-tracking entries at teardown) and
# busybox-static (the `busybox` image of the reference manifests). Needs root.
set -euo pipefail

log() { printf '[node-packages] %s\n' "$*" >&2; }

# package:file that shows it is installed
wanted=(
  runc:/usr/sbin/runc
  containernetworking-plugins:/usr/lib/cni/bridge
  iptables:/usr/sbin/iptables
  conntrack:/usr/sbin/conntrack
  busybox-static:/bin/busybox
)
missing=()
for w in "${wanted[@]}"; do
  [[ -x "${w#*:}" ]] || missing+=("${w%%:*}")
done
if ((${#missing[@]} == 0)); then
  log "runc, containernetworking-plugins, iptables, conntrack, busybox-static present"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  log "missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}"
  exit 1
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
