#!/usr/bin/env bash
# Runs the end-to-end suite against a real kind cluster, for users with a
# Docker engine (our CI machines have none: there the suite runs on the local
# control plane, `make test-e2e`). It needs the internet for cert-manager's
# release manifest and the kindest/node and sidecar images.
#
# Steps: create a kind cluster, build and load the image, install cert-manager
# with its built-in approver disabled, the documentation's demo ClusterIssuer
# and the operator (config/default), then run the suite with
# USE_EXISTING_CLUSTER=true. KEEP_CLUSTER=true keeps the cluster afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

KIND_VERSION=${KIND_VERSION:-v0.33.0}
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.20.3}
CLUSTER=${KIND_CLUSTER:-csi-driver-spiffe-e2e}
IMG=${IMG:-ghcr.io/cert-manager/csi-driver-spiffe-operator:e2e}
KUBECTL=${KUBECTL:-bin/kubectl}
export KUBECONFIG=${KUBECONFIG_E2E:-$PWD/_output/kind-e2e.kubeconfig}
mkdir -p "$(dirname "$KUBECONFIG")"

command -v docker >/dev/null && docker info >/dev/null 2>&1 || {
  echo "kind-e2e needs a running Docker engine; without one, run: make test-e2e (local control plane)" >&2
  exit 1
}
kind() { go run "sigs.k8s.io/kind@${KIND_VERSION}" "$@"; }

cleanup() {
  if [[ "${KEEP_CLUSTER:-false}" != "true" ]]; then
    kind delete cluster --name "$CLUSTER" || true
  fi
}
trap cleanup EXIT

kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 2m
docker build -t "$IMG" .
kind load docker-image --name "$CLUSTER" "$IMG"

# cert-manager, with its built-in approver disabled: otherwise it approves
# every request and races the SPIFFE approver.
"$KUBECTL" apply -f "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
"$KUBECTL" -n cert-manager patch deployment cert-manager --type=json \
  -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--controllers=*,-certificaterequests-approver"}]'
"$KUBECTL" -n cert-manager rollout status deployment --timeout=5m
"$KUBECTL" wait --for=condition=Available deployment --all -n cert-manager --timeout=5m

# The documentation's demo issuer. Its root CA request must be approved by
# hand, since the built-in approver is off.
"$KUBECTL" apply -f test/e2e/testdata/clusterissuer.yaml
for _ in $(seq 60); do
  cr=$("$KUBECTL" get certificaterequests -n cert-manager -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
  [[ -n "$cr" ]] && break
  sleep 2
done
# What `cmctl approve` does.
"$KUBECTL" -n cert-manager patch certificaterequest "$cr" --subresource=status --type=merge \
  -p '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"ManualApproval","message":"approved by kind-e2e"}]}}'
"$KUBECTL" wait --for=condition=Ready clusterissuer/csi-driver-spiffe-ca --timeout=2m

# The operator, with our image.
make --no-print-directory deploy IMG="$IMG"
"$KUBECTL" -n csi-driver-spiffe-system rollout status deployment/csi-driver-spiffe-controller-manager --timeout=5m

USE_EXISTING_CLUSTER=true go test ./test/e2e -count=1 -timeout 30m -v
