#!/usr/bin/env bash
# Builds Traefik, the Gateway API data plane of the demo and the e2e tests, from the Go module
# proxy and caches it at bin/traefik/<version>/traefik. A second run finds it and does nothing.
#
# `go install .../cmd/traefik@version` is refused (Traefik's go.mod has replace directives), so
# the build happens in a throwaway wrapper module under bin/.build/ that requires Traefik. Three
# modules Traefik needs are not on the proxy; the wrapper replaces them with local copies:
#   - github.com/traefik/traefik/dynamic/ext, a nested module missing from Traefik's zip:
#     an empty stub (hack/traefik/ext);
#   - Traefik's fork of github.com/abbot/go-http-auth: upstream v0.4.0 plus a go.mod and the
#     two functions the fork adds (hack/traefik/go-http-auth);
#   - github.com/go-acme/lego/v5, whose DNS provider registry imports SDKs the proxy refuses:
#     a copy with a registry of three SDK-free providers (hack/traefik/lego).
# (`go build -overlay` cannot patch files in the module cache, hence copies.)
#
# Usage: hack/build-traefik.sh [OUT]   (prints the binary's path on its last line)
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.7.13}"
AUTH_VERSION=v0.4.0 # the newest upstream tag of abbot/go-http-auth
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bin/traefik/${TRAEFIK_VERSION}/traefik}"
patches="$root/hack/traefik"
wrapper="$root/bin/.build/traefik-${TRAEFIK_VERSION}"
traefik=github.com/traefik/traefik/v3

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-traefik: %s\n' "$*" >&2; exit 1; }

if [[ -x "$out" ]]; then
  step "traefik ${TRAEFIK_VERSION} already built at $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || fail "go is not on PATH; install Go 1.26 or newer"
# The wrapper's go.mod names the Go version Traefik needs. With `auto` the go command uses the
# local Go when it is new enough and else fetches that version from the module proxy; `local`
# (which some machines set) would turn an older Go into a compile error instead.
case "${GOTOOLCHAIN:-local}" in local) export GOTOOLCHAIN=auto ;; esac

# moddir MODULE@VERSION downloads a module from the proxy and prints its module cache folder.
# It runs in the wrapper, whose go.mod keeps the go command from reading Tranche's.
moddir() {
  local json
  json="$(cd "$wrapper" && go mod download -json "$1")" || { printf '%s\n' "$json" >&2; return 1; }
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json"
}

# copy_module DIR DEST copies a module out of the read-only module cache, to patch it.
copy_module() {
  cp -R "$1" "$2" && chmod -R u+w "$2"
}

prepare_wrapper() {
  rm -rf "$wrapper"
  mkdir -p "$wrapper" "$(dirname "$out")"
  printf 'module tranche.dev/build/traefik\n\ngo 1.26.0\n' >"$wrapper/go.mod"
  step "downloading $traefik@${TRAEFIK_VERSION}"
  src="$(moddir "$traefik@${TRAEFIK_VERSION}")" && [[ -f "$src/go.mod" ]] \
    || fail "could not download $traefik@${TRAEFIK_VERSION} from the Go module proxy"
  lego_version="$(sed -n 's#^[[:space:]]*github.com/go-acme/lego/v5 \(v[^[:space:]]*\).*#\1#p' "$src/go.mod" | head -n 1)"
  [[ -n "$lego_version" ]] || fail "$traefik@${TRAEFIK_VERSION} does not require lego v5: hack/traefik/lego no longer fits"
  step "downloading lego/v5@$lego_version and go-http-auth@${AUTH_VERSION} to patch"
  lego="$(moddir "github.com/go-acme/lego/v5@$lego_version")" && [[ -n "$lego" ]] || fail "could not download lego/v5@$lego_version"
  auth="$(moddir "github.com/abbot/go-http-auth@${AUTH_VERSION}")" && [[ -n "$auth" ]] || fail "could not download go-http-auth@${AUTH_VERSION}"
}

# The wrapper's go.mod starts as Traefik's own: the same versions, go.sum, and its other replace
# (a gorilla/mux fork) and exclude directives, which the go command ignores in a dependency.
write_wrapper() {
  step "writing the wrapper module in $wrapper"
  cp -R "$patches/ext" "$wrapper/ext"
  copy_module "$auth" "$wrapper/go-http-auth"
  cp "$patches/go-http-auth/go.mod" "$patches/go-http-auth/traefik_fork.go" "$wrapper/go-http-auth/"
  copy_module "$lego" "$wrapper/lego"
  cp "$patches/lego/zz_gen_dns_providers.go" "$wrapper/lego/providers/dns/zz_gen_dns_providers.go"
  cp "$src/go.mod" "$src/go.sum" "$wrapper/" && chmod u+w "$wrapper/go.mod" "$wrapper/go.sum"
  (cd "$wrapper" && go mod edit -module=tranche.dev/build/traefik -require="$traefik@${TRAEFIK_VERSION}" \
    -replace=github.com/traefik/traefik/dynamic/ext=./ext \
    -replace=github.com/abbot/go-http-auth=./go-http-auth \
    -replace=github.com/go-acme/lego/v5=./lego) || fail "could not edit $wrapper/go.mod"
}

# -buildvcs=false: bin/.build lies inside Tranche's git checkout, whose commit is not Traefik's.
compile() {
  step "compiling traefik ${TRAEFIK_VERSION} (first time: 5 minutes or more on 2 cores, 3 GB of memory)"
  (cd "$wrapper" && go build -mod=mod -trimpath -buildvcs=false -o "$out.tmp" \
    -ldflags "-s -w -X $traefik/pkg/version.Version=${TRAEFIK_VERSION}" "$traefik/cmd/traefik") \
    || fail "compiling traefik failed (see above); the wrapper module is in $wrapper"
  mv "$out.tmp" "$out" # only a complete binary counts as built
}

prepare_wrapper
write_wrapper
compile
"$out" version >&2 || fail "the built traefik does not run"
step "traefik ${TRAEFIK_VERSION} ready"
echo "$out"
