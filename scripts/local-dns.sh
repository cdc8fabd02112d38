#!/usr/bin/env bash
# Try sender domains on one machine, without a zone of your own: serve the records Sluice
# asks for from a local dnsmasq on 127.0.0.1:${SLUICE_LOCAL_DNS_PORT:-5300}. Names under the
# published domains are answered from here; every other name is forwarded to the system's
# resolvers, so Sluice can use it for everything (SLUICE_DNS_SERVERS=127.0.0.1:5300).
#
#   scripts/local-dns.sh start                          # empty; start Sluice with SLUICE_DNS_SERVERS=127.0.0.1:5300
#   scripts/local-dns.sh publish <domain> --tenant <t>  # serve the domain's records (sluice domains show --json)
#   scripts/local-dns.sh unpublish <domain>             # stop serving them (a re-check then marks the domain failed)
#   scripts/local-dns.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
port="${SLUICE_LOCAL_DNS_PORT:-5300}"
dir="${SLUICE_DATA_DIR:-.data}/dns"
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
mkdir -p "$dir/records"
pidfile="$dir/dnsmasq.pid"

stop() { if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; sleep 0.2; fi; }
start() {
  bash scripts/ensure-dnsmasq.sh
  stop
  {
    echo "port=$port"; echo "listen-address=127.0.0.1"; echo "bind-interfaces"; echo "no-hosts"; echo "cache-size=0"
    cat "$dir"/records/*.conf 2>/dev/null || true
  } >"$dir/dnsmasq.conf"
  /usr/sbin/dnsmasq --conf-file="$dir/dnsmasq.conf" --pid-file="$pidfile" --user="$(id -un)" 2>/dev/null || /usr/sbin/dnsmasq --conf-file="$dir/dnsmasq.conf" --pid-file="$pidfile"
  echo "dnsmasq serving on 127.0.0.1:$port ($(ls "$dir"/records 2>/dev/null | sed 's/\.conf$//' | tr '\n' ' '))"
}

case "${1:-}" in
  start) start ;;
  stop) stop; echo "stopped" ;;
  publish)
    domain="${2:?usage: scripts/local-dns.sh publish <domain> --tenant <t>}"
    shift 2
    node bin/sluice.js domains show "$domain" "$@" --json | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const v = JSON.parse(s);
        const q = (x) => "\"" + x.replace(/["\\]/g, "\\$&") + "\"";
        const lines = [`local=/${v.domain}/`];
        for (const r of v.records) {
          if (r.type === "TXT") lines.push(`txt-record=${r.name},${(r.strings ?? [r.value]).map(q).join(",")}`);
          else lines.push(`mx-host=${r.name},${r.value},${r.priority ?? 10}`);
        }
        process.stdout.write(lines.join("\n") + "\n");
      });' >"$dir/records/$domain.conf.new"
    mv "$dir/records/$domain.conf.new" "$dir/records/$domain.conf"
    start ;;
  unpublish) rm -f "$dir/records/${2:?usage: scripts/local-dns.sh unpublish <domain>}.conf"; start ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
