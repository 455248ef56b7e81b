#!/usr/bin/env bash
# The cluster, measured on loopback (figures for the notes; nothing here passes or fails).
#
#   benches/cluster.sh            # NODES=16 CHECKS=1000 WINDOW=30
#
# 1. Three nodes, one HTTP check (interval 1 s, failure_threshold 2): the time from the
#    endpoint's stop to the changed answer on every node, and back, five times.
# 2. NODES nodes on 127.0.0.1…, each with CHECKS checks (CHECKS-1 TCP checks every 10 s,
#    one HTTP check every second): the time for an override set on node 1 to change the
#    answer of every node; the time from the endpoint's stop to every node's changed
#    answer; then over WINDOW seconds of steady state, gossip bytes per second and CPU
#    per node.
#
# Loopback only: the nodes, the endpoint (python3 http.server) and the TCP checks (port 9
# of 127.1.0.0/16, where nothing listens: refused at once) are all on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-16}
CHECKS=${CHECKS:-1000}
WINDOW=${WINDOW:-30}
ENDPOINT_PORT=8471
TOKEN=cluster-bench-token-0123456789

cargo build --release --quiet
HADNS=$PWD/target/release/hadns
WORK=$(mktemp -d /tmp/hadns-cluster.XXXXXX)
PIDS=()
ENDPOINT=
cleanup() {
  for p in "${PIDS[@]}" $ENDPOINT; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
head -c 32 /dev/urandom | base64 >"$WORK/cluster.key"
echo "$TOKEN" >"$WORK/token"
chmod 600 "$WORK/cluster.key" "$WORK/token"

now_ms() { date +%s%3N; }
answer() { dig @"127.0.0.$1" -p 5353 +short +tries=1 +time=1 flip.bench.example A 2>/dev/null | head -1; }

endpoint_start() {
  python3 -m http.server "$ENDPOINT_PORT" --bind 127.0.0.1 >/dev/null 2>&1 &
  ENDPOINT=$!
  until curl -s -o /dev/null "127.0.0.1:$ENDPOINT_PORT/"; do sleep 0.05; done
}
endpoint_stop() {
  kill "$ENDPOINT"
  wait "$ENDPOINT" 2>/dev/null || true
  ENDPOINT=
}

# Milliseconds from now until every one of nodes 1..$1 answers $2.
until_all() {
  local n=$1 want=$2 start i done
  start=$(now_ms)
  while :; do
    done=1
    for ((i = 1; i <= n; i++)); do
      [[ $(answer "$i") == "$want" ]] || { done=0; break; }
    done
    ((done)) && break
    (($(now_ms) - start > 120000)) && { echo "timeout"; return; }
    sleep 0.02
  done
  echo $(($(now_ms) - start))
}

# $1 nodes, $2 checks: writes $WORK/n<i>/ and starts them.
start_nodes() {
  local n=$1 checks=$2 i j
  mkdir -p "$WORK/zones"
  cat >"$WORK/zones/bench.example.zone" <<EOF
\$ORIGIN bench.example.
\$TTL 300
@ SOA ns1 hostmaster 1 14400 3600 1209600 300
  NS ns1
ns1 A 192.0.2.1
EOF
  {
    cat <<EOF
[[health_check]]
id = "flip"
type = "http"
ip = "127.0.0.1"
port = $ENDPOINT_PORT
path = "/"
interval = "1s"
failure_threshold = 2

[[record]]
name = "flip"
type = "A"
ttl = 5
set_id = "primary"
failover = "primary"
values = ["192.0.2.10"]
health_check = "flip"

[[record]]
name = "flip"
type = "A"
ttl = 5
set_id = "secondary"
failover = "secondary"
values = ["192.0.2.20"]
EOF
    for ((j = 1; j < checks; j++)); do
      printf '\n[[health_check]]\nid = "c%d"\ntype = "tcp"\nip = "127.1.%d.%d"\nport = 9\ninterval = "10s"\nfailure_threshold = 3\n' \
        "$j" $((j / 250)) $((j % 250 + 1))
    done
  } >"$WORK/zones/bench.example.toml"
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$WORK/n$i"
    seeds=$(for s in 1 2 3; do if ((s != i && s <= n)); then printf '"127.0.0.%d:8053", ' "$s"; fi; done | sed 's/, $//')
    cat >"$WORK/n$i/hadns.toml" <<EOF
[server]
listen = ["127.0.0.$i:5353"]
zones_dir = "../zones"
threads = 1
[http]
listen = "127.0.0.$i:9153"
token_file = "../token"
[health]
state_file = "state/health.json"
[cluster]
node = "ns$i"
listen = "127.0.0.$i:8053"
seeds = [$seeds]
key_file = "../cluster.key"
EOF
    "$HADNS" serve --config "$WORK/n$i/hadns.toml" >"$WORK/n$i/log" 2>&1 &
    PIDS+=($!)
  done
  for ((i = 1; i <= n; i++)); do
    until [[ -n $(answer "$i") ]]; do sleep 0.1; done
  done
}

stop_nodes() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  rm -rf "$WORK"/n* "$WORK/zones"
}

# Milliseconds from $2 (Unix ms) to the last node's first log line containing $1.
log_spread() {
  python3 - "$WORK" "$NODES" "$1" "$2" <<'PY'
import sys, datetime
work, n, pattern, t0 = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
last = 0
for i in range(1, n + 1):
    for line in open(f"{work}/n{i}/log"):
        if pattern in line:
            t = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
            last = max(last, int(t.timestamp() * 1000))
            break
    else:
        print("missing"); sys.exit()
print(last - t0)
PY
}

observers() { # of check flip, as node $1 counts them
  curl -s "127.0.0.$1:9153/api/v1/health-checks" |
    python3 -c 'import json,sys; print(sum(len(c.get("observers") or []) for c in json.load(sys.stdin)["health_checks"] if c["id"]=="flip"))'
}

metric() { # node, metric line prefix
  curl -s "127.0.0.$1:9153/metrics" | awk -v m="$2" 'index($0, m " ") == 1 { print $NF }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "== 3 nodes, one check every 1 s, failure_threshold 2 (limit per the issue: 3000 ms)"
endpoint_start
start_nodes 3 1
until [[ $(observers 1) == 3 ]]; do sleep 0.1; done
until_all 3 192.0.2.10 >/dev/null
for round in 1 2 3 4 5; do
  endpoint_stop
  down=$(until_all 3 192.0.2.20)
  endpoint_start
  up=$(until_all 3 192.0.2.10)
  echo "round $round: endpoint stopped → every node on the secondary: ${down} ms; started → every node on the primary: ${up} ms"
done
stop_nodes

echo "== $NODES nodes, $CHECKS checks each"
start_nodes "$NODES" "$CHECKS"
started=$(now_ms)
until [[ $(observers "$NODES") == "$NODES" && $(observers 1) == "$NODES" ]]; do sleep 0.2; done
echo "converged (every node counts $NODES observers of 'flip'): $(($(now_ms) - started)) ms after the last node answered"
until_all "$NODES" 192.0.2.10 >/dev/null
t0=$(now_ms)
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" \
  -d '{"status":"unhealthy","ttl":"10m","reason":"bench"}' 127.0.0.1:9153/api/v1/health-checks/flip/override
answered=$(until_all "$NODES" 192.0.2.20)
echo "override set on node 1 → in effect on every node (the last node's log line): $(log_spread 'override set check="flip"' "$t0") ms; every node answering the secondary (dig polling): $answered ms"
curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" 127.0.0.1:9153/api/v1/health-checks/flip/override
echo "override cleared on node 1 → every node on the primary: $(until_all "$NODES" 192.0.2.10) ms"
endpoint_stop
echo "endpoint stopped → every node on the secondary: $(until_all "$NODES" 192.0.2.20) ms"
endpoint_start
echo "endpoint started → every node on the primary: $(until_all "$NODES" 192.0.2.10) ms"

declare -A cpu0 sent0 recv0
for ((i = 1; i <= NODES; i++)); do
  cpu0[$i]=$(cpu_ticks "${PIDS[$((i - 1))]}")
  sent0[$i]=$(metric "$i" 'hadns_cluster_bytes_total{direction="sent"}')
  recv0[$i]=$(metric "$i" 'hadns_cluster_bytes_total{direction="received"}')
done
sleep "$WINDOW"
hz=$(getconf CLK_TCK)
total_cpu=0 total_sent=0 total_recv=0
for ((i = 1; i <= NODES; i++)); do
  c=$(($(cpu_ticks "${PIDS[$((i - 1))]}") - cpu0[$i]))
  s=$(($(metric "$i" 'hadns_cluster_bytes_total{direction="sent"}') - sent0[$i]))
  r=$(($(metric "$i" 'hadns_cluster_bytes_total{direction="received"}') - recv0[$i]))
  total_cpu=$((total_cpu + c)) total_sent=$((total_sent + s)) total_recv=$((total_recv + r))
done
echo "steady state over ${WINDOW} s, per node (mean of $NODES): gossip sent $((total_sent / NODES / WINDOW)) B/s, received $((total_recv / NODES / WINDOW)) B/s; CPU $(python3 -c "print(f'{$total_cpu / $hz / $NODES / $WINDOW * 100:.2f}')")% of a core (probing $CHECKS checks included)"
