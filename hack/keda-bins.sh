#!/usr/bin/env bash
# Builds KEDA's operator and metrics API server (keda-adapter) from the Go module proxy into a
# cache outside the repo, keyed by version, for the side-by-side benchmark (test/bench). Also
# copies KEDA's CRDs out of the module zip. Idempotent: a stamp file makes a second run a
# no-op; each binary has its own done-marker, so an interrupted build resumes.
#
#   hack/keda-bins.sh               build (cold: ~15 min on 2 cores, ~3.5 GB of build cache)
#   hack/keda-bins.sh --print-dir   print the cache directory (binaries, crds/) and exit
set -euo pipefail

KEDA_VERSION=v2.21.0
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${FLEETSCALE_KEDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetscale/keda-bins}
dir="$cache_root/keda-$KEDA_VERSION"

if [ "${1:-}" = "--print-dir" ]; then echo "$dir"; exit 0; fi
if [ -f "$dir/.stamp" ]; then
  echo "keda-bins: cached in $dir"
  exit 0
fi
mkdir -p "$dir"
# The same flags as the scalers adapter's nested module build, so both share the Go build cache.
export CGO_ENABLED=0
step() { # name, command...
  local name=$1; shift
  if [ -f "$dir/.done-$name" ]; then echo "keda-bins: $name already built"; return; fi
  echo "keda-bins: building $name ..."
  local start=$SECONDS
  "$@"
  touch "$dir/.done-$name"
  echo "keda-bins: $name done in $((SECONDS - start)) s"
}

# KEDA's own Makefile sets these two (GO_LDFLAGS); the operator logs them at start.
ldflags="-s -w -X=github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v} -X=github.com/kedacore/keda/v2/version.GitCommit=$KEDA_VERSION"
build_keda() { # output name, command package
  (cd "$here/tools/keda" && go build -trimpath -ldflags "$ldflags" -o "$dir/$1.tmp" "github.com/kedacore/keda/v2/cmd/$2")
  mv "$dir/$1.tmp" "$dir/$1"
}
step keda-adapter build_keda keda-adapter adapter
step keda-operator build_keda keda-operator operator

copy_crds() {
  local src
  src=$(cd "$here/tools/keda" && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf "$dir/crds"
  mkdir -p "$dir/crds"
  cp "$src"/config/crd/bases/*.yaml "$dir/crds/"
  chmod -R u+w "$dir/crds"
}
step crds copy_crds
touch "$dir/.stamp"
echo "keda-bins: all built in $dir"
