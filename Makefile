# csi-driver-spiffe operator

# Image URL to use all building/pushing image targets.
IMG ?= ghcr.io/cert-manager/csi-driver-spiffe-operator:v0.1.0
VERSION ?= 0.1.0

GO ?= go
CONTROLLER_GEN ?= $(GO) tool controller-gen

# Control-plane binaries for tests are built from source into bin/.
CONTROLPLANE_DIR ?= $(CURDIR)/bin
KUBEBUILDER_ASSETS ?= $(CONTROLPLANE_DIR)
export KUBEBUILDER_ASSETS

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Demo

.PHONY: demo
demo: controlplane ## Run the product's main job on a local control plane (needs root); Ctrl-C stops and cleans up.
	$(GO) run ./test/demo

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs and RBAC from the kubebuilder markers, and the Helm chart's generated files from them.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory helm-chart

.PHONY: helm-chart
helm-chart: ## Generate the Helm chart's CRD and RBAC templates from config/default, and its values.schema.json and README values from values.yaml.
	$(GO) run ./hack/helmchart --root . --version $(VERSION)

.PHONY: generate
generate: ## Generate deepcopy functions and apply configurations.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" applyconfiguration:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: verify
verify: ## Regenerate every generated file and fail if anything changed; check gofmt.
	hack/verify-generated.sh

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/ and the API markers.
	$(GO) run ./hack/genbundle --root . --version $(VERSION)

##@ Test

.PHONY: controlplane
controlplane: ## Build etcd and kube-apiserver from source into bin/ (cached; skipped when present).
	hack/build-controlplane.sh $(CONTROLPLANE_DIR)

.PHONY: node
node: ## Build what a real node runs into bin/ (kubelet, kube-controller-manager, kube-scheduler, kube-proxy, containerd; cached) and install its Debian packages (needs root).
	hack/build-controlplane.sh $(CONTROLPLANE_DIR) node
	hack/build-containerd.sh $(CONTROLPLANE_DIR)
	hack/install-node-packages.sh

.PHONY: test
test: controlplane verify vet ## Everything CI runs: build the control plane, verify generated files, vet, run all tests (e2e included).
	$(GO) test ./... -count=1 -timeout 30m

.PHONY: test-e2e
test-e2e: controlplane ## Run the end-to-end suite: local control plane, or USE_EXISTING_CLUSTER=true for the cluster of KUBECONFIG.
	$(GO) test ./test/e2e -count=1 -timeout 30m -v

.PHONY: kind-e2e
kind-e2e: controlplane ## Run the end-to-end suite on a kind cluster (needs Docker and the internet).
	hack/kind-e2e.sh

.PHONY: bench
bench: controlplane ## Run the benchmarks of docs/performance.md (takes several minutes).
	$(GO) run ./test/bench/e2e
	$(GO) run ./test/bench/driver
	$(GO) run ./test/bench/approver -pending=1000 -decided=9000
	$(GO) test ./approver/evaluator -run '^$$' -bench . -benchmem

##@ Deployment

KUBECTL ?= bin/kubectl

.PHONY: deploy
deploy: controlplane ## Install the operator into the cluster of KUBECONFIG with IMG (kubectl apply -k config/default).
	$(KUBECTL) kustomize config/default | sed 's|ghcr.io/cert-manager/csi-driver-spiffe-operator:v$(VERSION)|$(IMG)|g' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster of KUBECONFIG.
	$(KUBECTL) delete -k config/default --ignore-not-found

##@ Build

.PHONY: build
build: ## Build the csi-driver-spiffe binary (operator, driver and approver).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/cert-manager/csi-driver-spiffe-operator/internal/version.Version=v$(VERSION)" -o bin/csi-driver-spiffe .

IMAGE_ARCHIVE ?= bin/images/csi-driver-spiffe.tar

.PHONY: image
image: build ## Build the image of the Dockerfile without Docker, as a docker archive (IMAGE_ARCHIVE) for docker load or ctr images import.
	$(GO) run ./hack/buildimage -binary bin/csi-driver-spiffe -version $(VERSION) -tag $(IMG) -o $(IMAGE_ARCHIVE)

CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the image (needs a Docker engine).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image.
	$(CONTAINER_TOOL) push $(IMG)

HELM_OUTPUT ?= _output

.PHONY: helm-package
helm-package: helm-chart ## Lint and package the Helm chart into $(HELM_OUTPUT)/csi-driver-spiffe-operator-$(VERSION).tgz (Helm SDK, no helm binary).
	$(GO) run ./hack/helmpackage --chart deploy/charts/csi-driver-spiffe-operator --out $(HELM_OUTPUT)

BUNDLE_IMG ?= ghcr.io/cert-manager/csi-driver-spiffe-operator-bundle:v$(VERSION)

.PHONY: bundle-build
bundle-build: ## Build the bundle image (needs a Docker engine).
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .
