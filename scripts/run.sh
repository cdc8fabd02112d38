#!/usr/bin/env bash
# `make run`: start nats-server from nats.conf unless NATS_URL already answers, then `sluice up`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data

hostport="${NATS_URL#*://}"; hostport="${hostport##*@}"; hostport="${hostport%%,*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=4222

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

NATS_PID=""
cleanup() { if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

if answers; then
  echo "using the NATS server already answering at $NATS_URL"
else
  echo "starting nats-server -c nats.conf (store in .data/nats, log in .data/nats.log)"
  nats-server -c nats.conf -a "$host" -p "$port" >.data/nats.log 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
  answers || { echo "nats-server did not start; see .data/nats.log" >&2; exit 1; }
fi

export SLUICE_PROFILE="${SLUICE_PROFILE:-local}"
# One person's machine: a webhook receiver on loopback is the usual first one.
if [ "$SLUICE_PROFILE" = "local" ]; then export SLUICE_WEBHOOK_ALLOW_PRIVATE="${SLUICE_WEBHOOK_ALLOW_PRIVATE:-1}"; fi
node bin/sluice.js up &
SLUICE_PID=$!
trap 'kill $SLUICE_PID 2>/dev/null || true; wait $SLUICE_PID 2>/dev/null || true; cleanup' EXIT INT TERM
http_port="${SLUICE_HTTP_PORT:-8080}"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && break
  kill -0 $SLUICE_PID 2>/dev/null || { echo "sluice exited; see the log above" >&2; exit 1; }
  sleep 0.2
done
# Local profile: a ready-to-use API key (kept in .data/local-api-key, re-created when the
# NATS store no longer knows it). One person's machine: the key is an operator's too, so the
# dashboard and /metrics answer it.
try_line=""
if [ "$SLUICE_PROFILE" = "local" ]; then
  key_file="${SLUICE_DATA_DIR:-.data}/local-api-key"; mkdir -p "${SLUICE_DATA_DIR:-.data}"
  key=""
  if [ -s "$key_file" ]; then
    key="$(cat "$key_file")"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $key" "http://127.0.0.1:$http_port/v1/batches/00000000000000000000000000")"
    [ "$code" = "404" ] || key=""
  fi
  if [ -z "$key" ]; then
    key="$(node bin/sluice.js keys create --tenant local --scopes send,read,admin --operator | tail -n 1)"
    (umask 077; printf '%s\n' "$key" >"$key_file")
  fi
  try_line="
  Send a mail (local API key in $key_file):
    curl -sS http://127.0.0.1:$http_port/v1/messages -H 'authorization: Bearer $key' -H 'content-type: application/json' \\
      -d '{\"from\":\"me@example.com\",\"to\":\"you@example.org\",\"subject\":\"Hello\",\"text\":\"Hi from Sluice\"}'
"
fi

# The mailbox simulator answers these in every profile, inside the node (no network).
sim_lines="
  Simulated recipients (no network; real events, statuses and webhooks):
$(node --import tsx -e 'import("./protocol/simulator.ts").then((m) => console.log(m.simulatorAddressLines().map((l) => "    " + l).join("\n")))')
"

cat <<MSG

  Sluice is up.
    gateway:       http://127.0.0.1:$http_port   (try: curl http://127.0.0.1:$http_port/healthz)
    NATS:          $NATS_URL
    captured mail: .data/outbox/*.eml  (local profile: every domain goes to the capture server${SLUICE_ROUTES:+, except as SLUICE_ROUTES=$SLUICE_ROUTES says})
$try_line$sim_lines
  Ctrl-C stops everything this command started.

MSG
wait $SLUICE_PID
