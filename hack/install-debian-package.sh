#!/usr/bin/env bash
# Installs a Debian package the tests use unless its command is already on PATH: Prometheus,
# which the tests start as a plain process on 127.0.0.1 (see test/harness/prometheus.go), and
# Chromium, the headless browser of the dashboard's tests (see cli/browser_test.go).
#
# A package may start its own service (Prometheus' would listen on *:9090 and keep running
# after the tests), so services are denied for the time of the install (policy-rc.d answers
# 101 to every invoke-rc.d request), and stopped should one start anyway.
#
# Usage: hack/install-debian-package.sh COMMAND PACKAGE   (as root)
set -euo pipefail

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'install-debian-package: %s\n' "$*" >&2; exit 1; }

[[ $# == 2 ]] || fail "usage: $0 COMMAND PACKAGE"
command="$1" package="$2"

if path="$(command -v "$command")"; then
  step "$command is already installed: $path ($("$path" --version 2>/dev/null | head -n 1))"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || fail "not root: run as root (for example \`sudo make $command\`), or install Debian's $package package yourself"
command -v apt-get >/dev/null || fail "apt-get not found: install $package yourself so that \`$command\` is on PATH"

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
printf '#!/bin/sh\n# Written by install-debian-package.sh for the time of the install.\nexit 101\n' >"$policy"
chmod 0755 "$policy"

step "apt-get update"
apt-get update -qq
step "installing Debian's $package package (no service is started)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null

# Belt and braces: on a machine whose init ignored the policy, stop the service again.
if command -v systemctl >/dev/null && systemctl is-active --quiet "$package" 2>/dev/null; then
  step "stopping and disabling the $package service the package started"
  systemctl stop "$package" || true
  systemctl disable "$package" >/dev/null 2>&1 || true
elif command -v service >/dev/null && service "$package" status >/dev/null 2>&1; then
  step "stopping the $package service the package started"
  service "$package" stop >/dev/null 2>&1 || true
fi

path="$(command -v "$command" || true)"
[[ -n "$path" ]] || fail "the package installed, but no $command is on PATH"
step "installed $path ($("$path" --version 2>/dev/null | head -n 1))"
