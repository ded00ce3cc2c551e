#!/usr/bin/env bash
# Builds the control-plane binaries the tests run (etcd, kube-apiserver, and
# kubectl for the demo and the end-to-end suite)
# from source through the Go module proxy, into the directory given as $1
# (default bin/). Release downloads cannot be reached from our machines, so we
# compile the upstream main packages instead. A binary that is already present
# and reports the expected version is kept: the first build takes about ten
# minutes on two cores, later runs take a second.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/bin"}
mkdir -p "$out"
out=$(cd "$out" && pwd)

KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.6.16

log() { printf '[controlplane] %s\n' "$*" >&2; }

# kube_present <name>: whether bin/<name> is there and reports KUBE_VERSION.
kube_present() {
  local bin="$out/$1"
  [[ -x "$bin" ]] && { "$bin" --version 2>/dev/null | grep -q "^Kubernetes ${KUBE_VERSION}\$" ||
                       "$bin" version --client 2>/dev/null | grep -q "^Client Version: ${KUBE_VERSION}\$"; }
}

# build_kube <name>...: builds cmd/<name> of the kubernetes module for every
# name whose binary is missing or of another version, in one `go build` so the
# packages they share compile once and in parallel.
build_kube() {
  local missing=() name
  for name in "$@"; do
    if kube_present "$name"; then
      log "$name ${KUBE_VERSION} present in $out, not rebuilding"
    else
      missing+=("$name")
    fi
  done
  ((${#missing[@]})) || return 0
  log "building ${missing[*]} ${KUBE_VERSION} from source (kube-apiserver ~10 minutes on 2 cores the first time, kubelet ~7 more)"
  local minor=${KUBE_VERSION#v1.} tmp
  minor=${minor%%.*}
  tmp=$(mktemp -d "$out/.build.XXXXXX")
  (cd "$root/hack/controlplane/kubernetes" && CGO_ENABLED=0 go build -trimpath -o "$tmp/" \
    -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
      -X k8s.io/component-base/version.gitMajor=1 \
      -X k8s.io/component-base/version.gitMinor=${minor} \
      -X k8s.io/component-base/version.gitTreeState=clean" "${missing[@]/#/./cmd/}")
  for name in "${missing[@]}"; do mv "$tmp/$name" "$out/$name"; done
  rmdir "$tmp"
  log "built ${missing[*]} ${KUBE_VERSION}"
}

build_etcd() {
  local bin="$out/etcd"
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "etcd Version: ${ETCD_VERSION#v}\$"; then
    log "etcd ${ETCD_VERSION} present in $out, not rebuilding"
    return
  fi
  log "building etcd ${ETCD_VERSION} from source"
  (cd "$root/hack/controlplane/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
  log "built etcd $("$bin" --version | head -1)"
}

# Usage: build-controlplane.sh [out] [node]: "node" adds what a real node
# runs (kubelet, kube-controller-manager, kube-scheduler, kube-proxy).
build_etcd
if [[ "${2:-}" == node ]]; then
  build_kube kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy
else
  build_kube kube-apiserver kubectl
fi
