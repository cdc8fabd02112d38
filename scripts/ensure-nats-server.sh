#!/usr/bin/env bash
# Install Debian's nats-server when the binary is missing (CI and fresh machines).
set -euo pipefail
if command -v nats-server >/dev/null 2>&1; then exit 0; fi
echo "nats-server not found: installing Debian's package" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server
command -v nats-server >/dev/null
