#!/usr/bin/env bash
# Fails when the generated code and manifests are not what `make manifests generate` makes
# from the current sources. It compares the generated files before and after regenerating,
# so it works in a tree with uncommitted changes too; on failure the tree is left regenerated.
#
# Usage: hack/verify-generated.sh MAKE
set -euo pipefail
make="${1:-make}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
snapshot() { find api config charts -type f \( -name '*.go' -o -name '*.yaml' -o -name '*.json' \) -print0 | sort -z | xargs -0 sha256sum; }
before="$(snapshot)"
"$make" --no-print-directory manifests generate >/dev/null
after="$(snapshot)"
if [[ "$before" != "$after" ]]; then
  echo "verify: generated files were out of date and have been regenerated:" >&2
  diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /  /p' >&2
  echo "verify: review and commit them." >&2
  exit 1
fi
echo "verify: generated code and manifests are up to date" >&2
