#!/usr/bin/env bash
# The delivery benchmark needs Postfix's smtp-sink (a fast SMTP sink, not the bottleneck).
# Installs Debian's postfix package when it is missing; only the bench uses this.
set -euo pipefail
if command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; then exit 0; fi
echo "installing postfix (for smtp-sink)…" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get install -y --no-install-recommends postfix >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends postfix >/dev/null; }
# The package's own mail server is not wanted here.
$SUDO systemctl disable --now postfix >/dev/null 2>&1 || $SUDO service postfix stop >/dev/null 2>&1 || true
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]
