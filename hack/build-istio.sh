#!/usr/bin/env bash
# Builds Istio's control plane, istiod (`pilot-discovery`), and istio-validate (Istio's own
# validation of VirtualServices and DestinationRules, see hack/istio/validate) from the Go
# module proxy, and caches them with Istio's CRDs of the same source under OUT_DIR:
#
#   OUT_DIR/pilot-discovery, OUT_DIR/istio-validate, OUT_DIR/crds/crd-all.gen.yaml
#
# A second run finds them and does nothing. Both are built in hack/istio, a module of its own
# (Istio's dependencies stay out of Tranche's go.mod), which pins istio.io/istio. That module
# has no release tags the Go module proxy serves, only pseudo-versions: the pin is a commit of
# Istio's development branch for 1.31 (its VERSION file), the release built against Kubernetes'
# 1.36 client libraries that reads the API server of the tests (1.37) as any 1.31 would.
#
# Usage: hack/build-istio.sh OUT_DIR   (prints OUT_DIR on its last line)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: hack/build-istio.sh OUT_DIR}"
out="$(mkdir -p "$out" && cd "$out" && pwd)" # absolute: the build runs in hack/istio
module="$root/hack/istio"

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-istio: %s\n' "$*" >&2; exit 1; }

if [[ -x "$out/pilot-discovery" && -x "$out/istio-validate" && -f "$out/crds/crd-all.gen.yaml" ]]; then
  step "istiod already built in $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
case "${GOTOOLCHAIN:-local}" in local) export GOTOOLCHAIN=auto ;; esac

istio_version="$(sed -n 's|^[[:space:]]*istio.io/istio \(v[^[:space:]]*\).*|\1|p' "$module/go.mod" | head -n 1)"
[[ -n "$istio_version" ]] || fail "$module/go.mod does not require istio.io/istio"
step "downloading istio.io/istio@$istio_version"
src="$(cd "$module" && go mod download istio.io/istio && go list -m -f '{{.Dir}}' istio.io/istio)" && [[ -f "$src/VERSION" ]] \
  || fail "could not download istio.io/istio@$istio_version from the Go module proxy"

mkdir -p "$out/crds" "$out/.tmp"
step "compiling pilot-discovery and istio-validate (istio $(cat "$src/VERSION"), first time: 5 minutes or more on 2 cores)"
# -buildvcs=false: hack/istio lies inside Tranche's git checkout, whose commit is not Istio's.
(cd "$module" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out/.tmp/" \
  istio.io/istio/pilot/cmd/pilot-discovery ./validate) || fail "compiling istiod failed (see above)"
cp "$src/manifests/charts/base/files/crd-all.gen.yaml" "$out/crds/crd-all.gen.yaml"
chmod u+w "$out/crds/crd-all.gen.yaml"
mv "$out/.tmp/validate" "$out/istio-validate" # only complete binaries count as built
mv "$out/.tmp/pilot-discovery" "$out/pilot-discovery"
rmdir "$out/.tmp"
"$out/pilot-discovery" version -s >&2 || fail "the built pilot-discovery does not run"
step "istiod ready"
echo "$out"
