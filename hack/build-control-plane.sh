#!/usr/bin/env bash
# Builds a real Kubernetes control plane — kube-apiserver, etcd, kube-controller-manager and
# kube-scheduler — with kubectl and kwok (which plays nodes and kubelets), from the Go module
# proxy, and caches them in OUT_DIR (the folder envtest reads through KUBEBUILDER_ASSETS). A
# second run finds the binaries and does nothing.
#
# The Kubernetes commands and kwok are tools of Tranche's own module
# (the `tool` block of go.mod, which also fixes their versions): built in the module's build
# graph, they reuse the packages Tranche's own build and tests compile (client-go,
# apimachinery, apiserver, gRPC, ...), where a module of their own would resolve other versions
# and compile all of it again. Run under the Makefile, which sets the same GOFLAGS for every
# build, so that the compiled packages are shared.
#
# etcd is built in a throwaway wrapper module instead: as a tool of Tranche's module its server
# would raise the gRPC and OpenTelemetry versions everything else compiles against. (Its go.mod
# carries relative replace directives, so `go install pkg@version` is refused; as a dependency
# of the wrapper those are ignored.)
#
# Usage: hack/build-control-plane.sh OUT_DIR   (prints OUT_DIR on its last line)
set -euo pipefail

ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: hack/build-control-plane.sh OUT_DIR}"
work="$root/bin/.build"
tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-control-plane: %s\n' "$*" >&2; exit 1; }

missing=()
for tool in "${tools[@]}" etcd; do
  [[ -x "$out/$tool" ]] || missing+=("$tool")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  step "control plane already built in $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
mkdir -p "$out" "$work"
cd "$root"

# module_version MODULE is the version of MODULE that go.mod requires.
module_version() {
  go list -m -f '{{.Version}}' "$1" || fail "go.mod does not require $1"
}

build_etcd() {
  local wrapper="$work/etcd-${ETCD_VERSION}"
  mkdir -p "$wrapper"
  printf 'module tranche.dev/build/etcd\n\ngo 1.26.0\n' >"$wrapper/go.mod"
  step "resolving etcd ${ETCD_VERSION}"
  (cd "$wrapper" && GOFLAGS=-mod=mod go get -tool "go.etcd.io/etcd/server/v3@${ETCD_VERSION}") || fail "go get of etcd failed (see above)"
  step "compiling etcd ${ETCD_VERSION} (first time: about a minute)"
  (cd "$wrapper" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3) \
    || fail "compiling etcd failed (see above)"
}

# build_tools NAME... builds the module's tools of those names in one go build, which compiles
# what they share once and links them in parallel. The Kubernetes commands get the version
# they report from ldflags (without it they say v0.0.0 and clients complain).
build_tools() {
  local kube kwok minor packages=() v=k8s.io/component-base/version
  kube="$(module_version k8s.io/kubernetes)" && kwok="$(module_version sigs.k8s.io/kwok)" || exit 1
  minor="${kube#v1.}"; minor="${minor%%.*}"
  for name in "$@"; do
    case "$name" in
      kwok) packages+=(sigs.k8s.io/kwok/cmd/kwok) ;;
      *) packages+=("k8s.io/kubernetes/cmd/$name") ;;
    esac
  done
  step "compiling $* (Kubernetes ${kube}, kwok ${kwok}; first time: about 8 minutes on 2 cores)"
  go build -o "$out/" -ldflags "-s -w -X $v.gitVersion=${kube} -X $v.gitMajor=1 -X $v.gitMinor=${minor} \
    -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
    "${packages[@]}" || fail "compiling $* failed (see above)"
}

wanted=()
for tool in "${missing[@]}"; do
  case "$tool" in
    etcd) build_etcd ;;
    *) wanted+=("$tool") ;;
  esac
done
[[ ${#wanted[@]} -eq 0 ]] || build_tools "${wanted[@]}"
"$out/kube-apiserver" --version >&2 || fail "the built kube-apiserver does not run"
"$out/kube-controller-manager" --version >&2 || fail "the built kube-controller-manager does not run"
"$out/kube-scheduler" --version >&2 || fail "the built kube-scheduler does not run"
"$out/kubectl" version --client >&2 || fail "the built kubectl does not run"
"$out/kwok" --version >&2 || fail "the built kwok does not run"
step "control plane ready in $out"
echo "$out"
