#!/usr/bin/env bash
# After the suite: no nats-server, Postfix or dnsmasq instance started by the harness may still run,
# no temp dir may remain.
# The harness's watchdogs poll once a second, so give them a moment first.
set -uo pipefail
tmp="${TMPDIR:-/tmp}"
for _ in $(seq 1 10); do
  procs=$(pgrep -af "nats-server -c $tmp/sluice-nats-|$tmp/sluice-postfix-|$tmp/sluice-dnsmasq-" | grep -v pgrep || true)
  dirs=$(find "$tmp" -maxdepth 1 \( -name 'sluice-nats-*' -o -name 'sluice-postfix-*' -o -name 'sluice-dnsmasq-*' \) 2>/dev/null || true)
  [ -z "$procs$dirs" ] && { echo "harness cleanup: no nats-server, Postfix or dnsmasq and no temp dir left behind"; exit 0; }
  sleep 0.5
done
echo "harness left things behind:" >&2
echo "$procs" >&2
echo "$dirs" >&2
exit 1
