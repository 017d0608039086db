#!/usr/bin/env bash
# Builds the peers `make bench-peers` runs beside Tranche — Flagger's controller and Argo
# Rollouts' — from their released source on the Go module proxy, and caches each binary with
# the CRDs of the same release under OUT_DIR:
#
#   OUT_DIR/flagger-<version>/flagger, crds/     OUT_DIR/argo-rollouts-<version>/rollouts-controller, crds/
#
# A second run finds them and does nothing. Each is built inside a copy of its own module, so
# that its go.mod (Argo Rollouts pins Kubernetes' modules with replace directives) is the main
# module's, and with one local patch each, which the bench needs and nothing else:
#   - both listen on 127.0.0.1 only: Flagger's HTTP server listens on ":<port>", Argo Rollouts'
#     metrics and health servers on "0.0.0.0:<port>".
# The peers' code is built and run here, never copied into Tranche's tree.
#
# Usage: hack/build-peers.sh OUT_DIR   (prints OUT_DIR on its last line)
set -euo pipefail

FLAGGER_VERSION="${FLAGGER_VERSION:-v1.44.0}"
ARGO_ROLLOUTS_VERSION="${ARGO_ROLLOUTS_VERSION:-v1.10.2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: hack/build-peers.sh OUT_DIR}"
work="$root/bin/.build"

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-peers: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
# Each peer's go.mod names the Go it needs (Argo Rollouts: 1.26.10): `auto` fetches it from the
# module proxy when the local one is older.
case "${GOTOOLCHAIN:-local}" in local) export GOTOOLCHAIN=auto ;; esac

# fetch MODULE VERSION DEST copies the module's source from the proxy into DEST, writable.
fetch() {
  local json dir scratch="$work/peers-download"
  mkdir -p "$scratch"
  printf 'module tranche.dev/build/peers\n\ngo 1.26.0\n' >"$scratch/go.mod"
  json="$(cd "$scratch" && go mod download -json "$1@$2")" || { printf '%s\n' "$json" >&2; fail "could not download $1@$2 from the Go module proxy"; }
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  [[ -d "$dir" ]] || fail "no source for $1@$2"
  rm -rf "$3" && mkdir -p "$(dirname "$3")" && cp -R "$dir" "$3" && chmod -R u+w "$3"
}

# patch FILE FROM TO replaces the text FROM with TO in FILE, and fails when FROM is not there:
# a release that moved the line needs the patch looked at again.
patch_text() {
  grep -qF -- "$2" "$1" || fail "$1 no longer holds '$2': the listen-address patch needs updating"
  FROM="$2" TO="$3" perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/g' "$1"
}

# build SRC OUT PACKAGE LDFLAGS compiles PACKAGE of the module in SRC to OUT.
build() {
  # -buildvcs=false: bin/.build lies inside Tranche's git checkout, whose commit is not theirs.
  (cd "$1" && CGO_ENABLED=0 go build -mod=mod -trimpath -buildvcs=false -ldflags "-s -w $4" -o "$2.tmp" "$3") \
    || fail "compiling $3 failed (see above); the source is in $1"
  mv "$2.tmp" "$2" # only a complete binary counts as built
}

build_flagger() {
  local dir="$out/flagger-${FLAGGER_VERSION}" src="$work/flagger-${FLAGGER_VERSION}"
  [[ -x "$dir/flagger" && -f "$dir/crds/crd.yaml" ]] && { step "flagger ${FLAGGER_VERSION} already built in $dir"; return; }
  step "downloading flagger ${FLAGGER_VERSION}"
  fetch github.com/fluxcd/flagger "${FLAGGER_VERSION}" "$src"
  patch_text "$src/pkg/server/server.go" 'Addr:         ":" + port,' 'Addr:         "127.0.0.1:" + port,'
  mkdir -p "$dir/crds"
  cp "$src/artifacts/flagger/crd.yaml" "$dir/crds/crd.yaml"
  step "compiling flagger ${FLAGGER_VERSION} (first time: a few minutes on 2 cores)"
  build "$src" "$dir/flagger" ./cmd/flagger ""
  "$dir/flagger" -version >&2 || fail "the built flagger does not run"
}

build_argo_rollouts() {
  local dir="$out/argo-rollouts-${ARGO_ROLLOUTS_VERSION}" src="$work/argo-rollouts-${ARGO_ROLLOUTS_VERSION}"
  [[ -x "$dir/rollouts-controller" && -d "$dir/crds" ]] && { step "argo rollouts ${ARGO_ROLLOUTS_VERSION} already built in $dir"; return; }
  step "downloading argo rollouts ${ARGO_ROLLOUTS_VERSION}"
  fetch github.com/argoproj/argo-rollouts "${ARGO_ROLLOUTS_VERSION}" "$src"
  patch_text "$src/controller/controller.go" 'listenAddr                         = "0.0.0.0:%d"' 'listenAddr                         = "127.0.0.1:%d"'
  mkdir -p "$dir/crds"
  cp "$src"/manifests/crds/*-crd.yaml "$dir/crds/"
  step "compiling argo rollouts ${ARGO_ROLLOUTS_VERSION} (first time: several minutes on 2 cores)"
  build "$src" "$dir/rollouts-controller" ./cmd/rollouts-controller "-X github.com/argoproj/argo-rollouts/utils/version.version=${ARGO_ROLLOUTS_VERSION#v}"
  "$dir/rollouts-controller" --version >&2 || fail "the built rollouts-controller does not run"
}

mkdir -p "$out" "$work"
build_flagger
build_argo_rollouts
step "peers ready in $out"
echo "$out"
