#!/usr/bin/env bash
# Postfix for tests and benchmarks: smtp-sink (a fast SMTP sink for bench/deliver) and
# postfix itself, which test/harness/postfix.ts runs as private instances in temporary
# directories (a real destination enforcing anvil limits). Installs Debian's postfix
# package when it is missing; the package's own instance is never started.
set -euo pipefail
have() { [ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/postfix ] && getent passwd postfix >/dev/null && getent group postdrop >/dev/null; }
if ! have; then
  echo "installing postfix…" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
  $SUDO apt-get install -y --no-install-recommends postfix >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends postfix >/dev/null; }
fi
# The package's own mail server is not wanted here (the harness starts its own instances).
if [ -f /etc/postfix/main.cf ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO systemctl disable --now postfix >/dev/null 2>&1 || $SUDO service postfix stop >/dev/null 2>&1 || true
fi
have
