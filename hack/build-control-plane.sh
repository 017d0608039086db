#!/usr/bin/env bash
# Builds the binaries of a real Kubernetes control plane (kube-apiserver and etcd) and kubectl
# from the Go module proxy and caches them under bin/k8s/<versions>/, the folder envtest reads
# through KUBEBUILDER_ASSETS. A second run finds the binaries and does nothing. kubectl is
# there for the plugin's test (kubectl finds `kubectl tranche` on the PATH); it is built from
# the same wrapper module as kube-apiserver, so most of its packages are compiled already.
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

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -x "$out/kubectl" ]]; then
  step "control plane ${KUBE_VERSION} / etcd ${ETCD_VERSION} already built in $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
export GOFLAGS=-mod=mod
mkdir -p "$out" "$work"

# kube_wrapper makes the wrapper module for k8s.io/kubernetes's commands and prints its
# folder. k8s.io/kubernetes maps each staging module to ./staging/src/...; the wrapper must map
# them to the published k8s.io/<name> v0.<minor>.<patch> instead. The list is read from the
# module's own go.mod so that it follows the version.
kube_wrapper() {
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
  step "resolving the dependencies of kube-apiserver and kubectl"
  (cd "$wrapper" && go get -tool k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2 \
    || fail "go get of kube-apiserver and kubectl failed (see above)"
  echo "$wrapper"
}

# build_kube_command NAME builds k8s.io/kubernetes/cmd/NAME, with the version it reports.
build_kube_command() {
  local name="$1" wrapper="$2"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local v=k8s.io/component-base/version
  (cd "$wrapper" && go build -trimpath -o "$out/$name" \
    -ldflags "-s -w -X $v.gitVersion=${KUBE_VERSION} -X $v.gitMajor=1 -X $v.gitMinor=${minor} -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
    "k8s.io/kubernetes/cmd/$name") || fail "compiling $name failed (see above)"
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
if [[ ! -x "$out/kube-apiserver" || ! -x "$out/kubectl" ]]; then
  wrapper="$(kube_wrapper)"
  if [[ ! -x "$out/kube-apiserver" ]]; then
    step "compiling kube-apiserver ${KUBE_VERSION} (first time: about 5 minutes on 2 cores)"
    build_kube_command kube-apiserver "$wrapper"
  fi
  if [[ ! -x "$out/kubectl" ]]; then
    step "compiling kubectl ${KUBE_VERSION} (first time: a minute or two more)"
    build_kube_command kubectl "$wrapper"
  fi
fi
"$out/kube-apiserver" --version >&2 || fail "the built kube-apiserver does not run"
"$out/kubectl" version --client >&2 || fail "the built kubectl does not run"
step "control plane ready in $out"
echo "$out"
