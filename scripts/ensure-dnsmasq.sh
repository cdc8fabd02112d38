#!/usr/bin/env bash
# dnsmasq for tests: test/harness/dnsmasq.ts runs private instances on ephemeral ports that
# serve the TXT/MX records a test writes (sender domain verification, DKIM checked by an
# independent verifier). Installs Debian's dnsmasq-base (the binary alone, no system
# service) when it is missing.
set -euo pipefail
have() { [ -x /usr/sbin/dnsmasq ]; }
if ! have; then
  echo "installing dnsmasq…" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends dnsmasq-base >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends dnsmasq-base >/dev/null; }
fi
have
