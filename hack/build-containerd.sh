#!/usr/bin/env bash
# Builds containerd, its runc shim and ctr (the container runtime of the real
# node of `make test-node`) from source through the Go module proxy, into the
# directory given as $1 (default bin/). Release downloads cannot be reached
# from our machines. A binary that is already present and reports the
# expected version is kept: the first build takes about two minutes on two
# cores, later runs take a second. hack/containerd/go.mod pins the version
# (its tool directives name the three main packages).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/bin"}
mkdir -p "$out"
out=$(cd "$out" && pwd)

CONTAINERD_VERSION=v2.4.2
# What `containerd --version` and `ctr --version` print; the shim has no
# version flag of its own, so it is rebuilt with the others.
want="containerd github.com/containerd/containerd/v2 ${CONTAINERD_VERSION} ${CONTAINERD_VERSION}"

log() { printf '[containerd] %s\n' "$*" >&2; }

present() {
  [[ -x "$out/containerd-shim-runc-v2" && -x "$out/ctr" && -x "$out/containerd" ]] &&
    [[ "$("$out/containerd" --version 2>/dev/null)" == "$want" ]] &&
    [[ "$("$out/ctr" --version 2>/dev/null)" == "ctr github.com/containerd/containerd/v2 ${CONTAINERD_VERSION}" ]]
}

if present; then
  log "containerd ${CONTAINERD_VERSION} present in $out, not rebuilding"
  exit 0
fi
log "building containerd, containerd-shim-runc-v2 and ctr ${CONTAINERD_VERSION} from source (~2 minutes on 2 cores the first time)"
tmp=$(mktemp -d "$out/.build-containerd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkg=github.com/containerd/containerd/v2
# CGO off and no btrfs/devmapper/zfs snapshotters: static binaries without
# C libraries; the node uses the overlayfs snapshotter.
(cd "$root/hack/containerd" && CGO_ENABLED=0 go build -trimpath -tags "no_btrfs no_devmapper no_zfs" -o "$tmp/" \
  -ldflags "-s -w -X $pkg/version.Version=${CONTAINERD_VERSION} -X $pkg/version.Revision=${CONTAINERD_VERSION}" \
  "$pkg/cmd/containerd" "$pkg/cmd/containerd-shim-runc-v2" "$pkg/cmd/ctr")
for name in containerd containerd-shim-runc-v2 ctr; do mv "$tmp/$name" "$out/$name"; done
log "built $("$out/containerd" --version)"
