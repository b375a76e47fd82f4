#!/usr/bin/env bash
# Idempotent install of the Debian packages needed for a local, real,
# multi-conductor Ironic (see scripts/ironic-local/start.sh).
#
# Usage: install.sh [--check]
#   --check   only report: exit 0 when everything is installed, 1 otherwise.
#
# Must run as root (or with passwordless sudo) when something is missing.
# Nothing is configured or started by the packages: debconf answers keep the
# ironic packages from configuring a database/rabbit/keystone, and
# /usr/sbin/policy-rc.d (exit 101, created only for the install and removed after it
# unless it was there before) keeps package scripts from starting services.
set -euo pipefail

PACKAGES=(mariadb-server ironic-api ironic-conductor python3-ironicclient python3-bcrypt openssl)
# Binaries start.sh relies on; a package can be "installed" yet broken.
BINARIES=(/usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/mariadb-admin
          /usr/bin/ironic-api /usr/bin/ironic-conductor /usr/bin/ironic-dbsync /usr/bin/openssl /usr/bin/python3)

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

missing_binaries() {
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$b" ]] || printf '%s\n' "$b"
  done
}

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install.sh: not a Debian-like system (no dpkg-query); cannot install Ironic packages" >&2
  exit 1
fi

mapfile -t missing < <(missing_packages)
mapfile -t missing_bins < <(missing_binaries)

if [[ ${#missing[@]} -eq 0 && ${#missing_bins[@]} -eq 0 ]]; then
  echo "install.sh: Ironic packages already installed"
  exit 0
fi

if $check_only; then
  echo "install.sh: missing packages: ${missing[*]:-none}; missing binaries: ${missing_bins[*]:-none}" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install.sh: must run as root to install: ${missing[*]:-} ${missing_bins[*]:-}" >&2
    exit 1
  fi
fi

echo "install.sh: installing ${missing[*]:-(reinstall for missing binaries)}"

# Package scripts must start no service, but only during this install: a policy-rc.d left behind
# would keep every package installed later on this host from starting its service.
# (METAL3_POLICY_RC_D only lets the tests point this at a scratch file.)
POLICY_RC_D="${METAL3_POLICY_RC_D:-/usr/sbin/policy-rc.d}"
if [[ ! -e "$POLICY_RC_D" ]]; then
  printf '#!/bin/sh\n# created by metal3-scale-lab scripts/ironic-local/install.sh for the length of one install\nexit 101\n' \
    | "${SUDO[@]}" tee "$POLICY_RC_D" >/dev/null
  "${SUDO[@]}" chmod 0755 "$POLICY_RC_D"
  trap '"${SUDO[@]}" rm -f "$POLICY_RC_D"' EXIT
fi

"${SUDO[@]}" debconf-set-selections <<'DEBCONF'
ironic-common ironic/configure_db boolean false
ironic-common ironic/configure_rabbit boolean false
ironic-common ironic/configure_ksat boolean false
ironic-common ironic/enabled_drivers multiselect
ironic-common ironic-common/dbconfig-install boolean false
ironic-api ironic/configure_api-endpoint boolean false
DEBCONF

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${PACKAGES[@]}"

mapfile -t missing < <(missing_packages)
mapfile -t missing_bins < <(missing_binaries)
if [[ ${#missing[@]} -ne 0 || ${#missing_bins[@]} -ne 0 ]]; then
  echo "install.sh: still missing after install: ${missing[*]:-} ${missing_bins[*]:-}" >&2
  exit 1
fi
echo "install.sh: done"
