#!/usr/bin/env bash
# Install Debian's chromium when it is missing: the dashboard test drives it headless with
# playwright-core (which never downloads a browser of its own).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "chromium not found: installing Debian's package" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
[ -x /usr/bin/chromium ]
