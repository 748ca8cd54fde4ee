#!/usr/bin/env bash
# Builds bin/fleetscale-keda-scalers, the nested module cmd/fleetscale-keda-scalers (KEDA's
# scalers behind KEDA's external-scaler protocol), through a cache outside the repo keyed by
# the KEDA version and a hash of the module's sources, like hack/k8s-bins.sh. A cold build
# compiles KEDA's pkg/scalers and its cloud SDKs: long (see docs/adapter.md); a second run
# with the same sources only copies the cached binary into bin/.
#
#   hack/keda-scalers.sh [--print-path]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mod="$root/cmd/fleetscale-keda-scalers"
keda=$(awk '$1 == "github.com/kedacore/keda/v2" { print $2; exit }' "$mod/go.mod")
if [ -z "$keda" ]; then
  keda=$(sed -n 's/^require github.com\/kedacore\/keda\/v2 \(v[^ ]*\).*/\1/p' "$mod/go.mod")
fi
# The key: every file of the module that goes into the binary, and the Go toolchain.
hash=$( (cd "$mod" && go version && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
  ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
cache_root=${FLEETSCALE_KEDA_SCALERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetscale/keda-scalers}
dir="$cache_root/keda-$keda-$hash"
out="$dir/fleetscale-keda-scalers"

if [ "${1:-}" = "--print-path" ]; then echo "$out"; exit 0; fi

if [ -f "$dir/.stamp" ]; then
  echo "keda-scalers: cached in $dir"
else
  mkdir -p "$dir"
  echo "keda-scalers: building fleetscale-keda-scalers with KEDA $keda (a cold build compiles KEDA's scalers: ~15-40 min on 2 cores) ..."
  start=$SECONDS
  # The same flags as every other KEDA build here (CGO off, -trimpath), so they share Go's
  # build cache; -s -w only changes the link.
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  touch "$dir/.stamp"
  echo "keda-scalers: built in $((SECONDS - start)) s ($(du -m "$out" | cut -f1) MB)"
  # Keep the three newest builds (other worktrees or branches may use them), drop the rest.
  ls -1dt "$cache_root"/keda-*/ | tail -n +4 | xargs -r rm -rf
fi
mkdir -p "$root/bin"
# A hard link when the cache is on the same file system, else a copy.
ln -f "$out" "$root/bin/fleetscale-keda-scalers" 2>/dev/null || cp -f "$out" "$root/bin/fleetscale-keda-scalers"
echo "keda-scalers: bin/fleetscale-keda-scalers"
