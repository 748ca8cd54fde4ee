# fleetscale — see README.md. `make demo` and `make test` are the two entry points.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# The linter, pinned; `go run pkg@version` builds it from the Go module proxy (small, ~2 min cold).
STATICCHECK_VERSION := v0.8.2
# Where the control-plane binaries live (built by `make k8s-bins`, cached outside the repo).
K8S_BINS ?= $(shell hack/k8s-bins.sh --print-dir)
export FLEETSCALE_K8S_BINS := $(K8S_BINS)
# KEDA's operator and metrics API server for the side-by-side benchmark (make keda-bins).
KEDA_BINS ?= $(shell hack/keda-bins.sh --print-dir)
export FLEETSCALE_KEDA_BINS := $(KEDA_BINS)
# Test timeout for the packages that start real clusters.
TEST_TIMEOUT ?= 60m
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s

.PHONY: all help build build-hub keda-scalers keda-bins generate verify test test-unit test-integration bench fuzz k8s-bins dev-up dev-down demo fmt fmt-check vet lint clean

all: build

help: ## List the targets and what they do
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

build: build-hub keda-scalers ## Binaries into bin/

build-hub: ## The main module's binaries into bin/ (what dev-up and demo need)
	$(GO) build -o $(BIN)/ ./cmd/...

# Its own module (KEDA's scalers), built through a cache outside the repo: a cold build is long.
KEDA_SCALERS_MOD := cmd/fleetscale-keda-scalers
keda-scalers: ## bin/fleetscale-keda-scalers (cached by KEDA version and source hash)
	hack/keda-scalers.sh

$(CONTROLLER_GEN):
	GOBIN=$(BIN)/.cg $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/.cg/controller-gen $@ && rmdir $(BIN)/.cg

generate: $(CONTROLLER_GEN) ## Deepcopy, CRD and RBAC manifests, and their copies in the chart (checked in)
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd:generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=config/crd/bases
	@# The DSJ embeds a whole JobSpec: without descriptions it stays under kubectl apply's
	@# 256 KiB last-applied annotation limit (KEDA's ScaledJob CRD does the same).
	$(CONTROLLER_GEN) crd:maxDescLen=0,generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=$(BIN)/.crd-nodesc
	cp $(BIN)/.crd-nodesc/keda.kedify.io_distributedscaledjobs.yaml config/crd/bases/
	rm -rf $(BIN)/.crd-nodesc
	@# KEDA's own TriggerAuthentication and ClusterTriggerAuthentication CRDs, from the pinned
	@# KEDA module (the same schema KEDA installs); installed only where they are absent.
	@# go list -m names no directory until the module is downloaded (a fresh module cache).
	$(GO) mod download github.com/kedacore/keda/v2
	keda="$$($(GO) list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)" && test -n "$$keda" && \
	for crd in triggerauthentications clustertriggerauthentications; do \
	  install -m 0644 "$$keda/config/crd/bases/keda.sh_$$crd.yaml" config/crd/bases/ || exit 1; done
	$(CONTROLLER_GEN) rbac:roleName=fleetscale-controller paths=./internal/controller/... output:rbac:artifacts:config=config/rbac
	@# The Helm chart ships copies of the CRDs and of the ClusterRole's rules (Helm reads only
	@# files inside the chart); verify catches a stale copy.
	rm -f charts/fleetscale/crds/*.yaml
	cp config/crd/bases/*.yaml charts/fleetscale/crds/
	cp config/rbac/role.yaml charts/fleetscale/files/clusterrole.yaml

verify: generate ## Fails when generated files are stale
	@if [ -n "$$(git status --porcelain -- api config charts)" ]; then \
	  echo "make verify: generated files are stale; run 'make generate' and commit:"; \
	  git status --porcelain -- api config charts; git diff --stat -- api config charts; exit 1; fi
	@echo "make verify: generated files are current"

k8s-bins: ## Build kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok (cached)
	hack/k8s-bins.sh

keda-bins: ## Build KEDA v2.21.0's operator and metrics API server for make bench (cached; cold ~15 min)
	hack/keda-bins.sh

test: k8s-bins build vet ## Everything: pure tests, integration on real control planes, e2e
	@# The nested module with the flags of its build, so it reuses the compiled KEDA packages.
	cd $(KEDA_SCALERS_MOD) && CGO_ENABLED=0 $(GO) test -trimpath -p 1 -timeout $(TEST_TIMEOUT) -count=1 ./...
	$(GO) test -p 1 -timeout $(TEST_TIMEOUT) -count=1 ./...
	cd $(HELM_TEST_MOD) && $(GO) test -p 1 -timeout $(TEST_TIMEOUT) -count=1 ./...

# The chart's tests, in a module of their own: Helm's Go packages stay out of the main module.
HELM_TEST_MOD := test/helm

vet: ## go vet the main module and the nested modules
	$(GO) vet ./...
	cd $(HELM_TEST_MOD) && $(GO) vet ./...
	cd $(KEDA_SCALERS_MOD) && CGO_ENABLED=0 $(GO) vet -trimpath ./...

test-unit: ## The pure tests only (-short: nothing starts a cluster); under a minute with a warm build cache
	$(GO) test -short -count=1 ./...

# The packages whose tests start clusters (they import the harness).
INTEGRATION_PKGS = $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | \
	  awk '/fleetscale\/internal\/(clusterenv|fleettest)( |$$)/ {print $$1}')

test-integration: k8s-bins build-hub ## The packages that start real control planes (hub + members)
	$(GO) test -p 1 -timeout $(TEST_TIMEOUT) -count=1 $(INTEGRATION_PKGS)
	cd $(HELM_TEST_MOD) && $(GO) test -p 1 -timeout $(TEST_TIMEOUT) -count=1 ./...

lint: ## staticcheck (pinned) on the main module; fails on any finding
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fmt-check: ## Fails when a Go file is not gofmt-formatted
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then \
	  echo "make fmt-check: not gofmt-formatted (run make fmt):"; echo "$$out"; exit 1; fi
	@echo "make fmt-check: every Go file is formatted"

fuzz: ## Every fuzz target for FUZZTIME each (their seed corpora run in make test as plain tests)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do \
	    echo "make fuzz: $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Where the benchmarks write their samples for the plot (internal/benchreport).
BENCH_SAMPLES := $(BIN)/bench-samples
bench: k8s-bins keda-bins build-hub ## Benchmarks (not part of make test): docs/benchmarks.md and its plot (BENCH_DSOS=100 etc. for a quick run)
	rm -rf $(BENCH_SAMPLES)
	FLEETSCALE_BENCH_SAMPLES=$(BENCH_SAMPLES) $(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
	cd hack/tools/benchplot && $(GO) run . -in $(BENCH_SAMPLES) -out $(CURDIR)/docs/benchmarks-reaction.png

dev-up: k8s-bins build-hub ## hub + 3 members in the background; writes .dev/
	$(BIN)/fleetscale-dev up --dir .dev --crds config/crd/bases

dev-down: ## stop everything started by dev-up or demo (controller included) and delete its data
	@if [ -x $(BIN)/fleetscale-demo ]; then $(BIN)/fleetscale-demo stop --dir .dev; \
	elif [ -x $(BIN)/fleetscale-dev ]; then $(BIN)/fleetscale-dev down --dir .dev; else echo "nothing to stop"; fi

demo: k8s-bins build-hub ## The walkthrough on a local hub + 3 members, step by step (KEEP=1 leaves it running)
	$(BIN)/fleetscale-demo --dir .dev$(if $(filter-out 0 false no,$(KEEP)), --keep)

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

clean: ## Remove bin/
	rm -rf $(BIN)
