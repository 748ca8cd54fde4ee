# fleetscale — see README.md. `make demo` and `make test` are the two entry points.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# Where the control-plane binaries live (built by `make k8s-bins`, cached outside the repo).
K8S_BINS ?= $(shell hack/k8s-bins.sh --print-dir)
export FLEETSCALE_K8S_BINS := $(K8S_BINS)
# Test timeout for the packages that start real clusters.
TEST_TIMEOUT ?= 60m

.PHONY: all build generate verify test test-unit test-integration bench k8s-bins dev-up dev-down demo fmt vet clean

all: build

build: ## Binaries into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

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
	for crd in triggerauthentications clustertriggerauthentications; do \
	  install -m 0644 "$$($(GO) list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)/config/crd/bases/keda.sh_$$crd.yaml" config/crd/bases/; done
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

test: k8s-bins build ## Everything: pure tests, integration on real control planes, e2e
	$(GO) vet ./...
	$(GO) test -p 1 -timeout $(TEST_TIMEOUT) -count=1 ./...

bench: k8s-bins ## Benchmarks (not part of make test)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./...

dev-up: k8s-bins build ## hub + 3 members in the background; writes .dev/
	$(BIN)/fleetscale-dev up --dir .dev --crds config/crd/bases

dev-down: ## stop everything started by dev-up or demo (controller included) and delete its data
	@if [ -x $(BIN)/fleetscale-demo ]; then $(BIN)/fleetscale-demo stop --dir .dev; \
	elif [ -x $(BIN)/fleetscale-dev ]; then $(BIN)/fleetscale-dev down --dir .dev; else echo "nothing to stop"; fi

demo: k8s-bins build ## The walkthrough on a local hub + 3 members, step by step (KEEP=1 leaves it running)
	$(BIN)/fleetscale-demo --dir .dev$(if $(filter-out 0 false no,$(KEEP)), --keep)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
