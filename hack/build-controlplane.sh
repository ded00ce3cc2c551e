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

# build_kube <name>: builds cmd/<name> of the kubernetes
# module (kube-apiserver, kubectl) unless a binary of the right version is
# already there.
build_kube() {
  local name=$1 bin="$out/$1"
  if [[ -x "$bin" ]] && { "$bin" --version 2>/dev/null | grep -q "^Kubernetes ${KUBE_VERSION}\$" ||
                          "$bin" version --client 2>/dev/null | grep -q "^Client Version: ${KUBE_VERSION}\$"; }; then
    log "$name ${KUBE_VERSION} present in $out, not rebuilding"
    return
  fi
  log "building $name ${KUBE_VERSION} from source (kube-apiserver the first time: ~10 minutes on 2 cores)"
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  (cd "$root/hack/controlplane/kubernetes" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" \
    -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
      -X k8s.io/component-base/version.gitMajor=1 \
      -X k8s.io/component-base/version.gitMinor=${minor} \
      -X k8s.io/component-base/version.gitTreeState=clean" "./cmd/$name")
  mv "$bin.tmp" "$bin"
  log "built $name ${KUBE_VERSION}"
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

build_etcd
build_kube kube-apiserver
build_kube kubectl
