# Tranche's build. Every target a person runs has a "## help" line: `make help` lists them.

# The module needs Go 1.27; machines that pin GOTOOLCHAIN=local would refuse it, so let the go
# command fetch the toolchain go.mod names (from the Go module proxy) when the local one is older.
export GOTOOLCHAIN := auto
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN := $(CURDIR)/bin

# Every build shares one Go build cache: the same flags for the tests, the binaries and the
# tools built from go.mod's tool block, so that a package compiled for one is not compiled again.
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
# And no cgo: the image's manager must be static, and a package compiled with cgo and without
# is compiled twice. Nothing here needs a C library.
export CGO_ENABLED := 0

## Pinned versions of everything the build fetches. The tools of go.mod's tool block
## (controller-gen, kube-apiserver, kube-controller-manager, kubectl, kwok) take their
## versions from go.mod; these name the folders they are cached in.
module_version = $(shell sed -n 's|^[[:space:]]*$(1) \(v[^[:space:]]*\).*|\1|p' go.mod | head -n 1)
CONTROLLER_TOOLS_VERSION := $(call module_version,sigs.k8s.io/controller-tools)
KUBE_VERSION := $(call module_version,k8s.io/kubernetes)
KWOK_VERSION := $(call module_version,sigs.k8s.io/kwok)
ETCD_VERSION ?= v3.7.3
TRAEFIK_VERSION ?= v3.7.13

CONTROLLER_GEN ?= $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
ENVTEST_ASSETS ?= $(BIN)/k8s/$(KUBE_VERSION)-etcd-$(ETCD_VERSION)-kwok-$(KWOK_VERSION)
TRAEFIK ?= $(BIN)/traefik/$(TRAEFIK_VERSION)/traefik
# istiod's source is the istio.io/istio that hack/istio/go.mod pins (a pseudo-version).
ISTIO_VERSION := $(shell sed -n 's|^[[:space:]]*istio.io/istio \(v[^[:space:]]*\).*|\1|p' hack/istio/go.mod | head -n 1)
ISTIO_DIR ?= $(BIN)/istio/$(ISTIO_VERSION)
# Argo CD's source is the github.com/argoproj/argo-cd/v3 that hack/argocd/go.mod pins.
ARGOCD_VERSION := $(shell sed -n 's|^[[:space:]]*github.com/argoproj/argo-cd/v3 \(v[^[:space:]]*\).*|\1|p' hack/argocd/go.mod | head -n 1)
ARGOCD_DIR ?= $(BIN)/argocd/$(ARGOCD_VERSION)
export ETCD_VERSION TRAEFIK_VERSION

GO_TEST_FLAGS ?= -count=1 -timeout 30m
# Each long step of `make test` and `make e2e` prints a line "TIME <step> <seconds>s".
TIMED := hack/timed.sh

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs, RBAC roles (the namespaced install's too), Argo CD's argocd-cm snippet and the Grafana dashboard into config/, and copy them into the chart.
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true rbac:roleName=manager paths="./api/...;./controllers/...;./providers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/argocd-cm > config/argocd/argocd-cm.yaml
	go run ./hack/namespaced-role > config/rbac/namespaced/role.yaml
	go run ./hack/grafana > config/grafana/tranche.json
	@# The chart installs the same CRDs, grants the same rules and ships the same dashboard as
	@# config/ (see charts/tranche).
	cp config/crd/bases/*.yaml charts/tranche/crds/
	mkdir -p charts/tranche/files && cp config/rbac/role.yaml config/rbac/leader_election_role.yaml config/grafana/tranche.json charts/tranche/files/
	cp config/rbac/namespaced/role.yaml charts/tranche/files/namespaced_role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the deepcopy methods of the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail if `make manifests generate` would change the tree.
	$(TIMED) verify hack/verify-generated.sh "$(MAKE)"

.PHONY: fmt
fmt: ## Format the Go code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet, and fail on unformatted Go files.
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))"; \
		if [[ -n "$$unformatted" ]]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(TIMED) vet go vet ./...
	cd test/chart && go vet ./...
	cd hack/istio && go vet ./...

.PHONY: test
test: verify vet tools prometheus chromium redis git ## Run all tests against a real control plane, Prometheus and Traefik (built on first use).
	@# A test binary killed by a timeout leaves its etcd and kube-apiserver running (they are
	@# in their own process groups): once every test binary has exited, stop those left
	@# orphaned (adopted by init), and only those: a demo or a bench may be running beside.
	@# The chart's tests are a module of their own (see test/chart/doc.go); they run beside
	@# the others, mostly waiting on their API server.
	trap 'pkill -P 1 -f "^$(ENVTEST_ASSETS)/" || true' EXIT; \
	(cd test/chart && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" ISTIO_DIR="$(ISTIO_DIR)" $(CURDIR)/$(TIMED) chart-test go test $(GO_TEST_FLAGS) ./...) & chart=$$!; \
	status=0; \
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KUBECTL="$(ENVTEST_ASSETS)/kubectl" TRAEFIK_BINARY="$(TRAEFIK)" ISTIO_DIR="$(ISTIO_DIR)" ARGOCD_DIR="$(ARGOCD_DIR)" \
		$(TIMED) go-test go test $(GO_TEST_FLAGS) ./... || status=$$?; \
	wait $$chart || status=1; \
	exit $$status

.PHONY: e2e
e2e: build demoapp tools prometheus redis git ## Run the end-to-end tests on the demo's stack and the chaos tests; prints BENCH lines and writes the report.
	@# One package at a time: the traffic tests measure shares and must not share two cores.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" TRAEFIK_BINARY="$(TRAEFIK)" ISTIO_DIR="$(ISTIO_DIR)" ARGOCD_DIR="$(ARGOCD_DIR)" TRANCHE_MANAGER="$(BIN)/tranche" DEMOAPP="$(BIN)/demoapp" \
		$(TIMED) e2e go test $(GO_TEST_FLAGS) -p 1 -tags e2e -v ./test/e2e/ ./test/chaos/

# The fuzz targets, as package:target; make fuzz fuzzes each for FUZZTIME. make test runs
# every target's seed corpus (go test does) but fuzzes none: fuzzing first compiles the package
# and all it imports again with coverage instrumentation, which on a first build took 5 minutes
# for the analysis package alone (and about 8 for the controllers), on 2 cores.
FUZZ_TARGETS = ./controllers/planner:FuzzDecide ./analysis:FuzzRender ./analysis:FuzzPayload ./notify:FuzzMessages
FUZZTIME ?= 2m

.PHONY: fuzz
fuzz: ## Fuzz the decision function, query rendering, webhook payloads and messages for FUZZTIME each (default 2m).
	@for t in $(FUZZ_TARGETS); do \
		echo "==> fuzzing $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

SCALE_SIZES ?= 1000,10000
# SCALE_PROFILES, a folder, keeps the manager's heap profile of each size (heap-N.pb.gz).
SCALE_PROFILES ?=

.PHONY: bench-scale
bench-scale: build envtest-assets prometheus ## Run the manager with 1,000 then 10,000 Rollouts (SCALE_SIZES); prints a table and BENCH lines per size.
	trap 'pkill -P 1 -f "^$(ENVTEST_ASSETS)/" || true' EXIT; \
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./test/bench/scale -sizes $(SCALE_SIZES) -manager $(BIN)/tranche -profiles "$(SCALE_PROFILES)"

.PHONY: bench-judge
bench-judge: ## Run the decision-quality bench of the analysis judges beside the bound (seeded, about 40 s on 2 cores); prints tables, the goals and BENCH lines.
	go run ./test/bench/judges -runs 300

PEERS ?= $(BIN)/peers

.PHONY: bench-peers
bench-peers: build demoapp tools prometheus peers ## Run Tranche beside Flagger and Argo Rollouts (built from their released source) on one stack, good and bad releases at once; prints a table and BENCH lines (PEERS_ARGS: the bench's flags).
	trap 'pkill -P 1 -f "^$(ENVTEST_ASSETS)/" || true' EXIT; \
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" TRAEFIK_BINARY="$(TRAEFIK)" \
		go run ./test/bench/peers -manager $(BIN)/tranche -demoapp $(BIN)/demoapp -peers $(PEERS) -doc docs/comparison.md $(PEERS_ARGS)

.PHONY: bench
bench: envtest-assets prometheus ## Run the benchmarks against a real control plane and Prometheus; prints BENCH lines.
	trap 'pkill -P 1 -f "^$(ENVTEST_ASSETS)/" || true' EXIT; \
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -run '^$$' -bench . -benchtime 1x ./controllers/ | grep -E '^(BENCH|Benchmark|ok|FAIL)'

##@ Build

.PHONY: build
build: ## Build the manager into bin/tranche and the kubectl plugin into bin/kubectl-tranche.
	go build -o $(BIN)/tranche ./cmd/tranche
	go build -o $(BIN)/kubectl-tranche ./cmd/kubectl-tranche
	install -m 0755 hack/kubectl_complete-tranche $(BIN)/kubectl_complete-tranche

# The image's labels: the version git describes, the commit, and the commit's time, which is
# also the image's creation time (so that two builds of one commit have one digest).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_ARCH ?= $(shell go env GOARCH)

.PHONY: image
image: ## Build the manager's OCI image (the manager and the kubectl plugin), without a container engine, into bin/image/oci; IMAGE=registry/repository:tag pushes it with its SBOM and provenance, SIGN_KEY=key.pem signed. Prints its digest.
	go run ./hack/image -layout $(BIN)/image/oci -arch $(IMAGE_ARCH) -version $(VERSION) -revision "$(REVISION)" \
		-created $(SOURCE_DATE_EPOCH) $(if $(IMAGE),-push $(IMAGE)) $(if $(SIGN_KEY),-sign-key $(SIGN_KEY))

.PHONY: release
release: ## Cross-build the kubectl plugin for linux, darwin and windows on amd64 and arm64 into bin/release: an archive each, checksums.txt and the krew manifest tranche.yaml (VERSION=v1.2.3); with IMAGE=registry/repository:tag, also build and push the manager's image as `make image` does (SIGN_KEY=key.pem signed).
	go run ./hack/release -version $(VERSION) -out $(BIN)/release -created $(SOURCE_DATE_EPOCH)
	$(if $(IMAGE),$(MAKE) image)

.PHONY: demoapp
demoapp: ## Build the demo app the demo and the end-to-end tests release into bin/demoapp.
	go build -o $(BIN)/demoapp ./test/apps/demoapp

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd/tranche --leader-elect=false

.PHONY: demo
demo: build demoapp tools prometheus ## Release a good and a bad version through a local API server, Traefik and Prometheus; writes demo-report.html.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" TRAEFIK_BINARY="$(TRAEFIK)" \
		go run ./test/demo --manager=$(BIN)/tranche --demoapp=$(BIN)/demoapp $(DEMO_ARGS)

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	kubectl apply --server-side -k config/crd

.PHONY: deploy
deploy: manifests ## Install Tranche (CRDs, RBAC, manager) into the cluster of the current kubeconfig.
	kubectl apply --server-side -k config/default

##@ Dependencies

.PHONY: tools
tools: ## Build the control plane, kubectl, kwok, Traefik, istiod and Argo CD (envtest-assets, traefik, istio and argocd), two builds at a time.
	@# Two at once: a single go build leaves a core idle while it links or downloads. The
	@# longest first, paired so that the two lines end together (cold, on 2 cores: the control
	@# plane 740 s, Argo CD 566 s, Traefik 555 s, istiod 518 s).
	@$(MAKE) --no-print-directory -j2 envtest-assets argocd traefik istio

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd, kube-controller-manager, kubectl and kwok from the Go module proxy (cached in bin/).
	@$(TIMED) control-plane hack/build-control-plane.sh "$(ENVTEST_ASSETS)" >/dev/null

.PHONY: prometheus
prometheus: ## Install the Prometheus server the tests start (Debian's package, as root) unless one is on PATH.
	hack/install-debian-package.sh prometheus prometheus

.PHONY: chromium
chromium: ## Install the headless browser of the dashboard's tests (Debian's package, as root) unless one is on PATH.
	hack/install-debian-package.sh chromium chromium

.PHONY: peers
peers: ## Build Flagger and Argo Rollouts from their released source on the Go module proxy, with their CRDs (cached in bin/peers).
	@$(TIMED) peers hack/build-peers.sh "$(PEERS)" >/dev/null

.PHONY: argocd
argocd: ## Build Argo CD (one argocd binary: application controller, repo server, API server) with its CRDs from the Go module proxy (cached in bin/argocd).
	@$(TIMED) argocd hack/build-argocd.sh "$(ARGOCD_DIR)" >/dev/null

.PHONY: git
git: ## Install Git, whose smart-HTTP server (git-http-backend) serves the Argo CD tests' repository (Debian's package, as root) unless it is on PATH.
	hack/install-debian-package.sh git git

.PHONY: redis
redis: ## Install Redis, Argo CD's cache in the tests (Debian's package, as root) unless one is on PATH.
	hack/install-debian-package.sh redis-server redis-server

.PHONY: istio
istio: ## Build istiod (pilot-discovery) and Istio's validation, with Istio's CRDs, from the Go module proxy (cached in bin/istio).
	@$(TIMED) istio hack/build-istio.sh "$(ISTIO_DIR)" >/dev/null

.PHONY: traefik
traefik: $(TRAEFIK) ## Build Traefik, the Gateway API data plane, from the Go module proxy (cached in bin/).

$(TRAEFIK):
	$(TIMED) traefik hack/build-traefik.sh "$@"

$(CONTROLLER_GEN):
	go build -o "$@" sigs.k8s.io/controller-tools/cmd/controller-gen
