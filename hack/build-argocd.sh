#!/usr/bin/env bash
# Builds Argo CD (the one `argocd` binary that runs the application controller, the repo
# server and the API server by the name it is called by) from the Go module proxy, and caches
# it with Argo CD's CRDs of the same source under OUT_DIR:
#
#   OUT_DIR/argocd, OUT_DIR/git-verify-wrapper.sh, OUT_DIR/crds/{application,appproject}-crd.yaml
#
# The repo server runs git-verify-wrapper.sh (a script of Argo CD's source, in its image) for
# every commit it reads, so it goes beside the binary, for the PATH of the repo server.
#
# A second run finds them and does nothing. It is built in hack/argocd, a module of its own
# that pins github.com/argoproj/argo-cd/v3 with the replaces Argo CD's go.mod needs (Argo CD's
# dependencies stay out of Tranche's go.mod). Its web UI is not built: the module ships
# placeholders for it, and the tests use Argo CD's API.
#
# Usage: hack/build-argocd.sh OUT_DIR   (prints OUT_DIR on its last line)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: hack/build-argocd.sh OUT_DIR}"
out="$(mkdir -p "$out" && cd "$out" && pwd)" # absolute: the build runs in hack/argocd
module="$root/hack/argocd"

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-argocd: %s\n' "$*" >&2; exit 1; }

if [[ -x "$out/argocd" && -x "$out/git-verify-wrapper.sh" && -f "$out/crds/application-crd.yaml" && -f "$out/crds/appproject-crd.yaml" ]]; then
  step "Argo CD already built in $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
case "${GOTOOLCHAIN:-local}" in local) export GOTOOLCHAIN=auto ;; esac

version="$(sed -n 's|^[[:space:]]*github.com/argoproj/argo-cd/v3 \(v[^[:space:]]*\).*|\1|p' "$module/go.mod" | head -n 1)"
[[ -n "$version" ]] || fail "$module/go.mod does not require github.com/argoproj/argo-cd/v3"
step "downloading github.com/argoproj/argo-cd/v3@$version"
# go list -m names the folder of a module only once it is in the module cache: download first.
src="$(cd "$module" && go mod download github.com/argoproj/argo-cd/v3 && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)" && [[ -d "$src/manifests/crds" ]] \
  || fail "could not download github.com/argoproj/argo-cd/v3@$version from the Go module proxy"

mkdir -p "$out/crds" "$out/.tmp"
step "compiling Argo CD $version (first time: many minutes on 2 cores)"
# -buildvcs=false: hack/argocd lies inside Tranche's git checkout, whose commit is not Argo CD's.
(cd "$module" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out/.tmp/argocd" \
  github.com/argoproj/argo-cd/v3/cmd) || fail "compiling Argo CD failed (see above)"
for crd in application appproject; do
  cp "$src/manifests/crds/$crd-crd.yaml" "$out/crds/"
  chmod u+w "$out/crds/$crd-crd.yaml"
done
install -m 0755 "$src/hack/git-verify-wrapper.sh" "$out/git-verify-wrapper.sh"
mv "$out/.tmp/argocd" "$out/argocd" # only a complete binary counts as built
rmdir "$out/.tmp"
ARGOCD_BINARY_NAME=argocd "$out/argocd" version --client --short >&2 || fail "the built argocd does not run"
step "Argo CD ready"
echo "$out"
