#!/usr/bin/env bash
# Response rate limiting under a flood, on loopback (a figure for the notes): one client
# network sends QPS queries a second for one name for SECONDS; hadns limits it to RATE
# full answers a second, every SLIP-th limited one truncated. Meanwhile another network
# (127.0.1.1) asks at a gentle pace and must get every answer.
#
#   benches/rrl.sh                   # QPS=50000 RUN_SECONDS=10 RATE=20 SLIP=2
set -euo pipefail
cd "$(dirname "$0")/.."
QPS=${QPS:-50000}
SECONDS_RUN=${RUN_SECONDS:-10}
RATE=${RATE:-20}
SLIP=${SLIP:-2}
PORT=5460
command -v dnsperf >/dev/null || { echo "needs dnsperf (apt-get install dnsperf)"; exit 1; }
cargo build --release --quiet
WORK=$(mktemp -d /tmp/hadns-rrl.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir "$WORK/zones"
printf '$ORIGIN rrl.example.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n' >"$WORK/zones/rrl.example.zone"
cat >"$WORK/hadns.toml" <<EOT
[server]
listen = ["127.0.0.1:$PORT"]
zones_dir = "zones"
[http]
listen = "127.0.0.1:9460"
[rate_limit]
responses_per_second = $RATE
slip = $SLIP
window = "5s"
EOT
target/release/hadns serve --config "$WORK/hadns.toml" 2>"$WORK/log" &
until dig @127.0.0.1 -p $PORT +short +tries=1 +time=1 www.rrl.example A >/dev/null 2>&1; do sleep 0.1; done
sleep 6 # the probe query's account forgotten
echo "www.rrl.example A" >"$WORK/queries"
# The gentle client: one query a second from another network, counted.
(
  ok=0
  for _ in $(seq 1 "$SECONDS_RUN"); do
    [[ $(dig @127.0.0.1 -p $PORT -b 127.0.1.1 +short +tries=1 +time=1 www.rrl.example A) == 192.0.2.10 ]] && ok=$((ok + 1))
    sleep 1
  done
  echo "$ok" >"$WORK/gentle"
) &
gentle=$!
dnsperf -s 127.0.0.1 -p $PORT -d "$WORK/queries" -l "$SECONDS_RUN" -Q "$QPS" -q 50000 -c 1 -t 1 >"$WORK/dnsperf" 2>&1 || true
wait "$gentle"
sent=$(awk '/Queries sent:/ {print $3}' "$WORK/dnsperf")
completed=$(awk '/Queries completed:/ {print $3}' "$WORK/dnsperf")
metric() { curl -s 127.0.0.1:9460/metrics | awk -v m="$1" 'index($0, m " ") == 1 {print $NF}'; }
dropped=$(metric 'hadns_rate_limited_total{action="dropped"}')
slipped=$(metric 'hadns_rate_limited_total{action="slipped"}')
# What hadns answered (before limiting), by its own count, less what it held back.
answered=$(curl -s 127.0.0.1:9460/metrics | awk '/^hadns_queries_total\{zone="rrl.example."/ {n += $NF} END {printf "%d", n}')
full=$((answered - ${dropped%.*} - ${slipped%.*}))
echo "flood: dnsperf sent $sent queries in ${SECONDS_RUN}s from 127.0.0.1 ($QPS/s asked), got $completed replies back"
echo "hadns: $answered answered, of which $full in full (limit $RATE/s: at most $((RATE * (SECONDS_RUN + 1))) plus the gentle client's), ${slipped%.*} truncated (slip $SLIP), ${dropped%.*} dropped"
echo "gentle client on 127.0.1.1: $(cat "$WORK/gentle") of $SECONDS_RUN answered"
