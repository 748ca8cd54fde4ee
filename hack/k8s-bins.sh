#!/usr/bin/env bash
# Builds the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok) from the Go module proxy into a cache outside the repo, keyed by version.
# Idempotent: a stamp file per version makes a second run a no-op.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${FLEETSCALE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetscale/k8s-bins}
dir="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"

if [ "${1:-}" = "--print-dir" ]; then echo "$dir"; exit 0; fi
if [ -f "$dir/.stamp" ]; then
  echo "k8s-bins: cached in $dir"
  exit 0
fi
mkdir -p "$dir"
export CGO_ENABLED=0
step() { # name, command...
  local name=$1; shift
  if [ -f "$dir/.done-$name" ]; then echo "k8s-bins: $name already built"; return; fi
  echo "k8s-bins: building $name ..."
  local start=$SECONDS
  "$@"
  touch "$dir/.done-$name"
  echo "k8s-bins: $name done in $((SECONDS - start)) s"
}

ver="k8s.io/component-base/version"
cgv="k8s.io/client-go/pkg/version"
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
ldflags="-s -w"
for p in $ver $cgv; do
  ldflags="$ldflags -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

build_k8s() {
  (cd "$here/tools/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$dir/$1" "k8s.io/kubernetes/cmd/$1")
}
step kube-apiserver build_k8s kube-apiserver
step kube-controller-manager build_k8s kube-controller-manager
step kube-scheduler build_k8s kube-scheduler
step kubectl build_k8s kubectl
step etcd bash -c "cd '$here/tools/etcd' && go build -trimpath -ldflags '-s -w' -o '$dir/etcd' go.etcd.io/etcd/server/v3"
# KWOK wants k8s.io v0.36, so it installs on its own rather than in a wrapper with Kubernetes.
step kwok bash -c "GOBIN='$dir' GOFLAGS=-mod=mod go install -trimpath -ldflags '-s -w' sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
# The kwok stage manifests ship in its module zip; copy the ones the harness uses.
copy_stages() {
  local src
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$dir/kwok-stages"
  for s in node/fast node/heartbeat-with-lease pod/fast pod/general; do
    mkdir -p "$dir/kwok-stages/$s"
    cp "$src/kustomize/stage/$s"/*.yaml "$dir/kwok-stages/$s/"
  done
  chmod -R u+w "$dir/kwok-stages"
}
step kwok-stages copy_stages
"$dir/kube-apiserver" --version
touch "$dir/.stamp"
echo "k8s-bins: all built in $dir"
