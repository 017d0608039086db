#!/usr/bin/env bash
# Installs the real Prometheus server that the tests start as a plain process on 127.0.0.1
# (see test/harness/prometheus.go): Debian's `prometheus` package. A machine that already has
# a `prometheus` on PATH is left alone.
#
# The package would start its own service on *:9090 and keep it running after the tests, so
# services are denied for the time of the install (policy-rc.d answers 101 to every
# invoke-rc.d request), and stopped should one start anyway.
#
# Usage: hack/install-prometheus.sh   (as root)
set -euo pipefail

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'install-prometheus: %s\n' "$*" >&2; exit 1; }

if path="$(command -v prometheus)"; then
  step "prometheus is already installed: $path ($("$path" --version 2>&1 | head -n 1))"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || fail "not root: run as root (for example \`sudo make prometheus\`), or install Debian's prometheus package yourself"
command -v apt-get >/dev/null || fail "apt-get not found: install Prometheus 2.42 or newer so that \`prometheus\` is on PATH"

# Deny service starts during the install, putting back whatever policy the machine had.
policy=/usr/sbin/policy-rc.d
backup=""
if [[ -e "$policy" ]]; then
  backup="$(mktemp)"
  cp -p "$policy" "$backup"
fi
restore_policy() {
  if [[ -n "$backup" ]]; then
    mv -f "$backup" "$policy"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# Written by install-prometheus.sh for the time of the install.\nexit 101\n' >"$policy"
chmod 0755 "$policy"

step "apt-get update"
apt-get update -qq
step "installing Debian's prometheus package (no service is started)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null

# Belt and braces: on a machine whose init ignored the policy, stop the service again.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  step "stopping and disabling the prometheus service the package started"
  systemctl stop prometheus || true
  systemctl disable prometheus >/dev/null 2>&1 || true
elif command -v service >/dev/null && service prometheus status >/dev/null 2>&1; then
  step "stopping the prometheus service the package started"
  service prometheus stop >/dev/null 2>&1 || true
fi

path="$(command -v prometheus || true)"
[[ -n "$path" ]] || fail "the package installed, but no prometheus is on PATH"
step "installed $path ($("$path" --version 2>&1 | head -n 1))"
