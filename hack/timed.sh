#!/usr/bin/env bash
# Runs a command and says how long it took, so that a slow `make test` or CI run shows where
# its time went: a line "TIME <label> <seconds>s" on stderr, whether the command passed or not.
#
# Usage: hack/timed.sh LABEL COMMAND [ARGS...]
set -uo pipefail
label="$1"
shift
start=$SECONDS
"$@"
status=$?
printf 'TIME %-14s %4ds\n' "$label" $((SECONDS - start)) >&2
exit "$status"
