#!/usr/bin/env bash
# Installs a Go tool at a pinned version as bin/<name>-<version>, so that changing the version
# in the Makefile fetches the new one and an unchanged version costs nothing.
#
# Usage: hack/go-install-tool.sh TARGET PACKAGE VERSION
set -euo pipefail
target="$1" package="$2" version="$3"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '==> installing %s@%s\n' "$package" "$version" >&2
# Outside the module, so that the tool's own dependencies are the ones it was released with.
(cd "$tmp" && GOBIN="$tmp/bin" go install "$package@$version") || {
  printf 'go-install-tool: could not install %s@%s from the Go module proxy (see above)\n' "$package" "$version" >&2
  exit 1
}
mkdir -p "$(dirname "$target")"
mv "$tmp/bin/$(basename "$package")" "$target"
