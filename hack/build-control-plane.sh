#!/usr/bin/env bash
# Builds the binaries of a real Kubernetes control plane (kube-apiserver and etcd) from the
# Go module proxy and caches them under bin/k8s/<versions>/, the folder envtest reads through
# KUBEBUILDER_ASSETS. A second run finds the binaries and does nothing.
#
# Neither module can be installed with `go install pkg@version` (both carry replace
# directives), so each is built from a small throwaway wrapper module that requires it.
#
# Usage: hack/build-control-plane.sh [OUT_DIR]   (prints OUT_DIR on its last line)
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bin/k8s/${KUBE_VERSION}-etcd-${ETCD_VERSION}}"
work="$root/bin/.build"

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-control-plane: %s\n' "$*" >&2; exit 1; }

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  step "control plane ${KUBE_VERSION} / etcd ${ETCD_VERSION} already built in $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
export GOFLAGS=-mod=mod
mkdir -p "$out" "$work"

# kube-apiserver: k8s.io/kubernetes maps each staging module to ./staging/src/...; a wrapper
# module must map them to the published k8s.io/<name> v0.<minor>.<patch> instead. The list is
# read from the module's own go.mod so that it follows the version.
build_kube_apiserver() {
  local staging="v0.${KUBE_VERSION#v1.}" dir wrapper="$work/kube-${KUBE_VERSION}"
  step "downloading k8s.io/kubernetes@${KUBE_VERSION} (first time: a few minutes)"
  dir="$(cd "$work" && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -f "$dir/go.mod" ]] || fail "could not download k8s.io/kubernetes@${KUBE_VERSION} from the Go module proxy"
  mkdir -p "$wrapper"
  {
    echo "module tranche.dev/build/kube"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$dir/go.mod"
    echo ")"
  } >"$wrapper/go.mod"
  grep -q "k8s.io/api => k8s.io/api" "$wrapper/go.mod" || fail "found no staging replace directives in $dir/go.mod"
  step "resolving kube-apiserver's dependencies"
  (cd "$wrapper" && go get -tool k8s.io/kubernetes/cmd/kube-apiserver) || fail "go get of kube-apiserver failed (see above)"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local v=k8s.io/component-base/version
  step "compiling kube-apiserver ${KUBE_VERSION} (first time: about 5 minutes on 2 cores)"
  (cd "$wrapper" && go build -trimpath -o "$out/kube-apiserver" \
    -ldflags "-s -w -X $v.gitVersion=${KUBE_VERSION} -X $v.gitMajor=1 -X $v.gitMinor=${minor} -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kube-apiserver) || fail "compiling kube-apiserver failed (see above)"
}

# etcd: as a dependency of the wrapper its own relative replace directives are ignored.
build_etcd() {
  local wrapper="$work/etcd-${ETCD_VERSION}"
  mkdir -p "$wrapper"
  printf 'module tranche.dev/build/etcd\n\ngo 1.26.0\n' >"$wrapper/go.mod"
  step "resolving etcd ${ETCD_VERSION}"
  (cd "$wrapper" && go get -tool "go.etcd.io/etcd/server/v3@${ETCD_VERSION}") || fail "go get of etcd failed (see above)"
  step "compiling etcd ${ETCD_VERSION} (first time: about a minute)"
  (cd "$wrapper" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3) \
    || fail "compiling etcd failed (see above)"
}

[[ -x "$out/etcd" ]] || build_etcd
[[ -x "$out/kube-apiserver" ]] || build_kube_apiserver
"$out/kube-apiserver" --version >&2 || fail "the built kube-apiserver does not run"
step "control plane ready in $out"
echo "$out"
