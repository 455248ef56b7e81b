#!/usr/bin/env bash
# Whole-server throughput, hadns beside gdnsd, NSD and Knot, on the same zone and three
# workloads: the mix (70% a failover name, 20% a plain A, 10% NXDOMAIN) over UDP, the
# same mix over TCP, and a flood of 300,000 unique random names under the zone (all
# NXDOMAIN) over UDP. Each server is pinned to CPU 0 and dnsperf to CPU 1, one server at
# a time; the figure to compare is queries per CPU-second of the server, since one
# dnsperf core saturates first. Then the CPU cost of hadns's health probes; the unique
# names flood with DO against the zone signed (hadns with NSEC3, NSEC and compact denial, Knot with
# mod-onlinesign) beside hadns unsigned without DO; and a 1,000,000-record zone: load
# time and resident memory of hadns, Knot and NSD.
#
#   sudo benches/load.sh              # LOAD_SECONDS=10 per run; SCALE_RECORDS=1000000
#   LOAD_PARTS="throughput" benches/load.sh    # any of: throughput probes dnssec scale
#   LOAD_PERF=1 ...                  # and per query: system calls, context switches (perf)
#   LOAD_PERF=record ...             # and where the server's CPU goes: kernel or user, top symbols
#   LOAD_HADNS=/tmp/hadns-before ... # another hadns binary, for a before/after
#
# Installs dnsperf, gdnsd, nsd and knot from Debian when missing (as root). Every process
# it starts is stopped on exit; every run is bounded by LOAD_SECONDS. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${LOAD_SECONDS:-10}
SCALE_RECORDS=${SCALE_RECORDS:-1000000}
PARTS=${LOAD_PARTS:-throughput probes dnssec scale}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=5400 # + 1, 2, … per server
HEALTH_PORT=8400
ZONE=bench.example

need=()
for tool in dnsperf:dnsperf gdnsd:gdnsd nsd:nsd knotd:knot dig:bind9-dnsutils python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if ((${#need[@]})); then
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the packaged daemons on :53; they would share our CPUs.
for unit in gdnsd nsd knot; do
  systemctl stop "$unit" 2>/dev/null || true
done

# LOAD_HADNS=path: measure that binary instead (another build, for a before/after).
if [[ -n ${LOAD_HADNS:-} ]]; then
  HADNS=$LOAD_HADNS
else
  cargo build --release --quiet
  HADNS=$PWD/target/release/hadns
fi
WORK=$(mktemp -d /tmp/hadns-load.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME CMD…: runs CMD pinned to SERVER_CPU in its own process group; sets PID.
start() {
  local name=$1
  shift
  setsid taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
}

stop() {
  kill -- -"$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Polls until PORT answers the zone's SOA (up to LIMIT seconds, default 30).
wait_ready() {
  local port=$1 name=$2 limit=${3:-30} deadline
  deadline=$((SECONDS + limit))
  until dig +tries=1 +time=1 @127.0.0.1 -p "$port" "$name" SOA 2>/dev/null | grep -q 'status: NOERROR'; do
    if ((SECONDS > deadline)); then
      echo "server on port $port did not answer $name SOA within ${limit}s; log:" >&2
      cat "$WORK"/*.log >&2
      exit 1
    fi
    sleep 0.05
  done
}

# A process and all its descendants (NSD and gdnsd fork helpers).
tree() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q != "" && q != root && q > 1) q = parent[q]; if (q == root) print p } }'
}

# CPU ticks of a process tree: "user system".
cpu_split() {
  local user=0 system=0 pid u s
  for pid in $(tree "$1"); do
    if [[ -r /proc/$pid/stat ]]; then
      # Fields 14 and 15 (utime, stime) counted after the ")" that ends the command name.
      read -r u s < <(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12, $13 }')
      user=$((user + u))
      system=$((system + s))
    fi
  done
  echo "$user $system"
}

# CPU ticks (user + system) of a process tree.
cpu_ticks() {
  local u s
  read -r u s < <(cpu_split "$1")
  echo $((u + s))
}

rss_kib() {
  local total=0 pid
  for pid in $(tree "$1"); do
    total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# --- the zone, the same for every server -------------------------------------------
cat >"$WORK/$ZONE.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 300
@    IN SOA ns1 hostmaster 1 3600 900 604800 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
www  IN A   192.0.2.10
EOF
# The failover name: hadns and gdnsd from their failover policy; NSD and Knot, which
# have none, serve the primary's address as a plain record.
cp "$WORK/$ZONE.zone" "$WORK/$ZONE.static"
echo "web  10 IN A 127.0.0.2" >>"$WORK/$ZONE.static"
{
  for _ in 1 2 3 4 5 6 7; do echo "web.$ZONE A"; done
  for _ in 1 2; do echo "www.$ZONE A"; done
  echo "nope.$ZONE A"
} >"$WORK/queries.txt"
# Water torture: each name asked once (12 random letters and digits, fixed seed).
python3 - "$WORK/unique.txt" "$ZONE" <<'PY'
import random, string, sys
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    for _ in range(300000):
        f.write("".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(12)))
        f.write(f".{sys.argv[2]} A\n")
PY

# The primary's health endpoint, on CPU 1 beside dnsperf. The failover answers are
# loopback addresses because gdnsd probes the addresses it hands out.
mkdir -p "$WORK/www"
echo ok >"$WORK/www/index.html"
setsid taskset -c "$CLIENT_CPU" python3 -m http.server "$HEALTH_PORT" --bind 127.0.0.2 \
  --directory "$WORK/www" >"$WORK/endpoint.log" 2>&1 &
PIDS+=("$!")
deadline=$((SECONDS + 10))
until (exec 3<>"/dev/tcp/127.0.0.2/$HEALTH_PORT") 2>/dev/null; do
  ((SECONDS < deadline)) || { echo "the health endpoint did not start" >&2; exit 1; }
  sleep 0.05
done

# hadns: DIR with hadns.toml, zones/ (ZONEFILE) and CHECKS extra checks probing every second.
hadns_config() {
  local dir=$1 port=$2 checks=$3 zonefile=$4
  mkdir -p "$dir/zones"
  cp "$zonefile" "$dir/zones/$ZONE.zone"
  cat >"$dir/hadns.toml" <<EOF
[server]
listen = ["127.0.0.1:$port"]
zones_dir = "zones"
threads = 1
[http]
listen = "127.0.0.1:$((port + 1000))"
[health]
state_file = "state/health.json"
EOF
  {
    cat <<EOF
[[health_check]]
id = "primary"
type = "http"
ip = "127.0.0.2"
port = $HEALTH_PORT
interval = "1s"
failure_threshold = 2

[[record]]
name = "web"
type = "A"
ttl = 10
set_id = "primary"
failover = "primary"
health_check = "primary"
values = ["127.0.0.2"]

[[record]]
name = "web"
type = "A"
ttl = 10
set_id = "secondary"
failover = "secondary"
values = ["127.0.0.3"]
EOF
    for ((i = 0; i < checks; i++)); do
      printf '\n[[health_check]]\nid = "extra-%d"\ntype = "http"\nip = "127.0.0.2"\nport = %d\npath = "/?%d"\ninterval = "1s"\n' \
        "$i" "$HEALTH_PORT" "$i"
    done
  } >"$dir/zones/$ZONE.toml"
}

gdnsd_config() {
  local dir=$1 port=$2
  mkdir -p "$dir/zones"
  cp "$WORK/$ZONE.zone" "$dir/zones/$ZONE"
  echo "web  10 DYNA simplefo!web" >>"$dir/zones/$ZONE"
  cat >"$dir/config" <<EOF
options => {
  listen => [ 127.0.0.1:$port ]
  udp_threads => 1
  tcp_threads => 1
}
service_types => {
  primary_http => { plugin => http_status, port => $HEALTH_PORT, url_path => "/", interval => 2 }
}
plugins => {
  simplefo => {
    web => { primary => 127.0.0.2, secondary => 127.0.0.3, service_types => [ primary_http ] }
  }
}
EOF
}

nsd_config() {
  local dir=$1 port=$2 zonefile=$3
  mkdir -p "$dir"
  cat >"$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  rrl-ratelimit: 0            # response rate limiting would drop the benchmark's queries
  rrl-whitelist-ratelimit: 0
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
remote-control:
  control-enable: no
zone:
  name: $ZONE
  zonefile: "$zonefile"
EOF
}

knot_config() {
  local dir=$1 port=$2 zonefile=$3
  mkdir -p "$dir"
  cat >"$dir/knot.conf" <<EOF
server:
  listen: 127.0.0.1@$port
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
  rundir: "$dir"
database:
  storage: "$dir"
zone:
  - domain: $ZONE
    file: "$zonefile"
    journal-content: none
    zonefile-load: whole
EOF
}

# --- throughput ------------------------------------------------------------------------
WORKLOADS=("mix udp:queries.txt:udp" "mix tcp:queries.txt:tcp" "unique names udp:unique.txt:udp")

# measure NAME PORT: each workload for SECONDS_PER_RUN against the server PID; one table
# row per workload, and its queries per CPU-second kept in QPC[NAME/WORKLOAD].
declare -A QPC
PERF_EVENTS=context-switches,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex
# profile WHO FILE: where the server CPU's busy samples go (idle left out): the share in
# the kernel and in user space, and the five hottest symbols of each.
profile() {
  local who=$1 data=$2
  perf report -i "$data" --stdio --sort comm,dso,sym 2>/dev/null | awk -v who="$who" '
    # Columns: share, command (which may hold spaces, as "nsd: xfrd"), object, [k] or [.], symbol.
    /^ +[0-9.]+%/ && $2 != "swapper" {
      for (f = 3; f < NF && $f != "[k]" && $f != "[.]"; f++) {}
      n++; pct[n] = $1 + 0; kernel[n] = ($f == "[k]"); sym[n] = $(f + 1); total += $1
      for (g = f + 2; g <= NF; g++) sym[n] = sym[n] " " $g
    }
    END {
      for (i = 1; i <= n; i++) {
        p = pct[i] * 100 / total
        if (kernel[i]) { k += p; if (nk++ < 5) ks = ks sprintf(" %s (%.1f%%)", sym[i], p) }
        else { u += p; if (nu++ < 5) us = us sprintf(" %s (%.1f%%)", sym[i], p) }
      }
      printf "  profile, %s: kernel %.1f%%, user %.1f%% of the busy CPU\n    kernel:%s\n    user:%s\n", who, k, u, ks, us
    }'
}

measure() {
  local name=$1 port=$2 w label file mode flags before after out p99 row u0 u1 s0 s1
  for w in "${WORKLOADS[@]}"; do
    # FLAGS: more dnsperf options (-D: the DO bit).
    IFS=: read -r label file mode flags <<<"$w"
    read -r u0 s0 < <(cpu_split "$PID")
    before=$((u0 + s0))
    # LOAD_PERF=1: what the server asks of the kernel, counted by perf over the run.
    if [[ ${LOAD_PERF:-0} == 1 ]]; then
      perf stat -x, -o "$WORK/perf.csv" -e "$PERF_EVENTS" \
        -p "$(tree "$PID" | paste -sd,)" -- sleep "$SECONDS_PER_RUN" &
      PERF_PID=$!
    elif [[ ${LOAD_PERF:-0} == record ]]; then
      # The whole server CPU: the server and the softirq work its packets cause there.
      perf record -q -C "$SERVER_CPU" -o "$WORK/perf.data" -- sleep "$SECONDS_PER_RUN" 2>/dev/null &
      PERF_PID=$!
    fi
    # shellcheck disable=SC2086 # FLAGS is words
    out=$(taskset -c "$CLIENT_CPU" dnsperf -m "$mode" -s 127.0.0.1 -p "$port" -d "$WORK/$file" \
      -l "$SECONDS_PER_RUN" -c 4 -q 100 $flags 2>&1)
    read -r u1 s1 < <(cpu_split "$PID")
    if [[ ${LOAD_PERF:-0} == 1 ]]; then
      wait "$PERF_PID"
      awk -F, -v n="$(awk '/Queries completed:/ { print $3 }' <<<"$out")" -v who="$name / $label" '
        $1 ~ /^[0-9]+$/ { sub(/^syscalls:sys_enter_/, "", $3); line = line sprintf(" %s %.3f", $3, $1 / n) }
        END { print "  per query, " who ":" line }' "$WORK/perf.csv" >&2
    elif [[ ${LOAD_PERF:-0} == record ]]; then
      wait "$PERF_PID"
      profile "$name / $label" "$WORK/perf.data" >&2
    fi
    after=$((u1 + s1))
    # p99 from a short second run that reports every query's latency.
    # shellcheck disable=SC2086
    p99=$(taskset -c "$CLIENT_CPU" dnsperf -m "$mode" -s 127.0.0.1 -p "$port" -d "$WORK/$file" \
      -l 2 -c 4 -q 64 -v $flags 2>/dev/null | awk '/^> / { print $NF }' | sort -g |
      awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int(NR * 0.99)] * 1000; else print "-" }')
    row=$(awk -v name="$name" -v w="$label" -v ticks=$((after - before)) -v user=$((u1 - u0)) -v hz="$(getconf CLK_TCK)" -v p99="$p99" '
      /Queries completed:/ { done = $3 }
      /Queries lost:/ { lost = $3 }
      /Queries per second:/ { qps = $4 }
      /Average Latency/ { avg = $4 * 1000 }
      END {
        cpu = ticks / hz
        printf "%-24s %-17s %10.0f %14.0f %8.2f %9.2f %10.3f %9s %8d\n", name, w, qps, (cpu > 0 ? done / cpu : 0), cpu, (done > 0 ? user / hz / done * 1e6 : 0), avg, p99, lost
      }' <<<"$out")
    echo "$row"
    QPC[$name/$label]=$(awk '{ print $(NF - 5) }' <<<"$row")
  done
}


if [[ " $PARTS " == *" throughput "* ]]; then
  printf '\n%s s per run; servers on CPU %s, dnsperf on CPU %s; mix: 70%% failover, 20%% A, 10%% NXDOMAIN\n' \
    "$SECONDS_PER_RUN" "$SERVER_CPU" "$CLIENT_CPU"
  printf '%-24s %-17s %10s %14s %8s %9s %10s %9s %8s\n' server workload "queries/s" "q/CPU-second" "CPU s" "user µs/q" "avg ms" "p99 ms" lost
  hadns_config "$WORK/hadns" $((PORT + 1)) 0 "$WORK/$ZONE.zone"
  start hadns "$HADNS" serve --config "$WORK/hadns/hadns.toml"
  wait_ready $((PORT + 1)) "$ZONE"
  dig +short @127.0.0.1 -p $((PORT + 1)) "web.$ZONE" A | grep -qx 127.0.0.2 ||
    { echo "hadns: web.$ZONE is not the primary:" >&2; cat "$WORK/hadns.log" >&2; exit 1; }
  measure hadns $((PORT + 1))
  stop "$PID"
  
  # The same with 100 more checks probing every second and a reload every second.
  hadns_config "$WORK/hadns-busy" $((PORT + 2)) 100 "$WORK/$ZONE.zone"
  start hadns-busy "$HADNS" serve --config "$WORK/hadns-busy/hadns.toml"
  wait_ready $((PORT + 2)) "$ZONE"
  busy=$PID
  (while kill -0 "$busy" 2>/dev/null; do kill -HUP "$busy"; sleep 1; done) &
  reloader=$!
  measure "hadns +checks +reload/s" $((PORT + 2))
  kill "$reloader" 2>/dev/null || true
  reloads=$(grep -c 'zones reloaded' "$WORK/hadns-busy.log" || true)
  stop "$busy"
  
  gdnsd_config "$WORK/gdnsd" $((PORT + 3))
  start gdnsd gdnsd -c "$WORK/gdnsd" start
  wait_ready $((PORT + 3)) "$ZONE"
  measure gdnsd $((PORT + 3))
  stop "$PID"
  
  nsd_config "$WORK/nsd" $((PORT + 4)) "$WORK/$ZONE.static"
  start nsd nsd -d -c "$WORK/nsd/nsd.conf"
  wait_ready $((PORT + 4)) "$ZONE"
  measure nsd $((PORT + 4))
  stop "$PID"
  
  knot_config "$WORK/knot" $((PORT + 5)) "$WORK/$ZONE.static"
  start knot knotd -c "$WORK/knot/knot.conf"
  wait_ready $((PORT + 5)) "$ZONE"
  measure knot $((PORT + 5))
  stop "$PID"
  echo "(hadns +checks: 101 checks at 1 s; $reloads reloads logged during its run)"
  printf '\nhadns / gdnsd, queries per CPU-second (target: at least 1.10)\n'
  for w in "${WORKLOADS[@]}"; do
    IFS=: read -r label _ <<<"$w"
    awk -v w="$label" -v h="${QPC[hadns/$label]:-0}" -v g="${QPC[gdnsd/$label]:-0}" \
      'BEGIN { printf "%-17s %6.2f\n", w, (g > 0 ? h / g : 0) }'
  done
fi

# --- probes: the CPU a health probe costs hadns -----------------------------------------
# PROBE_CHECKS checks of one kind, every second, against endpoints on CPU 1; hadns's CPU
# over LOAD_SECONDS, less what it spends idle, per probe made.
PROBE_CHECKS=${PROBE_CHECKS:-1000}
probe_cost() {
  local kind=$1 dir=$WORK/probe-$1 port=$((PORT + 20)) i before after idle ticks
  mkdir -p "$dir/zones"
  cp "$WORK/$ZONE.zone" "$dir/zones/$ZONE.zone"
  printf '[server]\nlisten = ["127.0.0.1:%d"]\nzones_dir = "zones"\nthreads = 1\n[http]\nlisten = "127.0.0.1:%d"\n[health]\nstate_file = "state/health.json"\n' \
    "$port" $((port + 1000)) >"$dir/hadns.toml"
  for ((i = 0; i < PROBE_CHECKS; i++)); do
    if [[ $kind == http ]]; then
      printf '[[health_check]]\nid = "c%d"\ntype = "http"\nip = "127.0.0.2"\nport = %d\npath = "/%d"\ninterval = "1s"\n' "$i" $((HEALTH_PORT + 1)) "$i"
    else
      printf '[[health_check]]\nid = "c%d"\ntype = "tcp"\nip = "127.0.0.2"\nport = %d\ninterval = "1s"\n' "$i" $((HEALTH_PORT + 2 + i))
    fi
  done >"$dir/zones/$ZONE.toml"
  start "probe-$kind" "$HADNS" serve --config "$dir/hadns.toml"
  wait_ready "$port" "$ZONE"
  sleep 2 # past the first round, which starts every check at once
  local u0 s0 u1 s1
  read -r u0 s0 < <(cpu_split "$PID")
  sleep "$SECONDS_PER_RUN"
  read -r u1 s1 < <(cpu_split "$PID")
  ticks=$((u1 + s1 - u0 - s0))
  healthy=$(curl -s "127.0.0.1:$((port + 1000))/metrics" | grep -c '^hadns_health_check_status{.*} 1$' || true)
  stop "$PID"
  awk -v kind="$kind" -v n="$PROBE_CHECKS" -v t="$ticks" -v user=$((u1 - u0)) -v idle="$IDLE_TICKS" -v s="$SECONDS_PER_RUN" -v hz="$(getconf CLK_TCK)" -v ok="$healthy" '
    BEGIN {
      cpu = (t - idle) / hz
      printf "%-6s %8d %10.2f %12.1f %11.1f %13.1f%% %9d\n", kind, n, cpu, cpu / (n * s) * 1e6, user / hz / (n * s) * 1e6, cpu / s * 100, ok
    }'
}

if [[ " $PARTS " == *" probes "* ]]; then
  setsid taskset -c "$CLIENT_CPU" python3 benches/endpoint.py 127.0.0.2 $((HEALTH_PORT + 1)) $((HEALTH_PORT + 2)) "$PROBE_CHECKS" \
    >"$WORK/endpoints.log" 2>&1 &
  PIDS+=("$!")
  deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.2/$((HEALTH_PORT + 1 + PROBE_CHECKS))") 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "the probe endpoints did not start" >&2; exit 1; }
    sleep 0.1
  done
  # hadns with no checks, for what it costs idle.
  hadns_config "$WORK/idle" $((PORT + 19)) 0 "$WORK/$ZONE.zone"
  rm -f "$WORK/idle/zones/$ZONE.toml"
  start idle "$HADNS" serve --config "$WORK/idle/hadns.toml"
  wait_ready $((PORT + 19)) "$ZONE"
  before=$(cpu_ticks "$PID")
  sleep "$SECONDS_PER_RUN"
  IDLE_TICKS=$(($(cpu_ticks "$PID") - before))
  stop "$PID"
  printf '\n%s checks of a kind, each probing every 1 s, for %s s (hadns on CPU %s, endpoints on CPU %s)\n' \
    "$PROBE_CHECKS" "$SECONDS_PER_RUN" "$SERVER_CPU" "$CLIENT_CPU"
  printf '%-6s %8s %10s %12s %11s %14s %9s\n' kind checks "CPU s" "µs/probe" "user µs" "% of a core" healthy
  probe_cost http
  probe_cost tcp
  # The floor: the same probes, paced the same, from the cheapest client there is: one at
  # a time, and in the bursts hadns starts them in (the probes due within one 50 ms step
  # of its grid, at a 1 s interval: PROBE_CHECKS / 20).
  if command -v cc >/dev/null; then
    cc -O2 -o "$WORK/probe_floor" benches/probe_floor.c
    printf '\nthe kernel floor per probe (benches/probe_floor.c: connect [, GET, read], close)\n'
    printf '%-6s %6s %8s %12s %11s\n' kind burst probes "µs/probe" "user µs"
    for kind in http tcp; do
      for burst in 1 $((PROBE_CHECKS / 20 > 1 ? PROBE_CHECKS / 20 : 1)); do
        first=$((HEALTH_PORT + 1)) ports=1
        [[ $kind == tcp ]] && first=$((HEALTH_PORT + 2)) ports=$PROBE_CHECKS
        read -r n total user failed < <(taskset -c "$SERVER_CPU" "$WORK/probe_floor" "$kind" 127.0.0.2 \
          "$first" "$ports" "$PROBE_CHECKS" "$SECONDS_PER_RUN" "$burst")
        printf '%-6s %6d %8d %12.1f %11.1f%s\n' "$kind" "$burst" "$n" "$total" "$user" "$([[ $failed == 0 ]] || echo " ($failed failed)")"
      done
    done
  fi
fi

if [[ " $PARTS " == *" dnssec "* ]]; then

  # --- dnssec: the unique names flood with DO, the zone signed ---------------------------
  printf '\nunique names flood, signed (DO set) beside unsigned (no DO)\n'
  printf '%-24s %-17s %10s %14s %8s %9s %10s %9s %8s\n' server workload "queries/s" "q/CPU-second" "CPU s" "user µs/q" "avg ms" "p99 ms" lost
  WORKLOADS=("unique names udp:unique.txt:udp")
  hadns_config "$WORK/hadns-plain" $((PORT + 9)) 0 "$WORK/$ZONE.zone"
  start hadns-plain "$HADNS" serve --config "$WORK/hadns-plain/hadns.toml"
  wait_ready $((PORT + 9)) "$ZONE"
  measure "hadns unsigned" $((PORT + 9))
  stop "$PID"
  WORKLOADS=("unique names DO:unique.txt:udp:-D")
  for denial in nsec3 nsec compact; do
    dir="$WORK/hadns-$denial"
    hadns_config "$dir" $((PORT + 10)) 0 "$WORK/$ZONE.zone"
    printf '[dnssec]\nkeys_dir = "keys"\ndenial = "%s"\n' "$denial" >>"$dir/hadns.toml"
    "$HADNS" keygen "$ZONE" --config "$dir/hadns.toml" >/dev/null
    start "hadns-$denial" "$HADNS" serve --config "$dir/hadns.toml"
    wait_ready $((PORT + 10)) "$ZONE"
    dig +dnssec +norec @127.0.0.1 -p $((PORT + 10)) "nope.$ZONE" A | grep -q RRSIG ||
      { echo "hadns ($denial): no signed answer" >&2; exit 1; }
    measure "hadns $denial" $((PORT + 10))
    if [ "$denial" = nsec3 ]; then
      # Without DO a signed zone answers as unsigned: as fast, too.
      WORKLOADS=("unique names udp:unique.txt:udp")
      measure "hadns nsec3, no DO" $((PORT + 10))
      WORKLOADS=("unique names DO:unique.txt:udp:-D")
    fi
    stop "$PID"
  done
  knot_config "$WORK/knot-online" $((PORT + 11)) "$WORK/$ZONE.static"
  echo "    module: mod-onlinesign" >>"$WORK/knot-online/knot.conf"
  start knot-online knotd -c "$WORK/knot-online/knot.conf"
  wait_ready $((PORT + 11)) "$ZONE"
  measure "knot onlinesign" $((PORT + 11))
  stop "$PID"
  awk -v u="${QPC[hadns unsigned/unique names udp]:-0}" -v n3="${QPC[hadns nsec3/unique names DO]:-0}" \
    -v n="${QPC[hadns nsec/unique names DO]:-0}" -v k="${QPC[knot onlinesign/unique names DO]:-0}" \
    -v c="${QPC[hadns compact/unique names DO]:-0}" -v nd="${QPC[hadns nsec3, no DO/unique names udp]:-0}" 'BEGIN {
      printf "hadns nsec3 without DO / hadns unsigned: %.2f\n", (u ? nd / u : 0)
      printf "hadns nsec3 / hadns unsigned: %.2f (target 0.80); nsec: %.2f; compact: %.2f\n", (u ? n3 / u : 0), (u ? n / u : 0), (u ? c / u : 0)
      printf "hadns nsec3 / knot onlinesign: %.1f (target 10); compact / knot onlinesign: %.1f\n", (k ? n3 / k : 0), (k ? c / k : 0)
    }'
fi

if [[ " $PARTS " == *" scale "* ]]; then

  # --- scale: a zone of SCALE_RECORDS A records -------------------------------------------
  big="$WORK/big.zone"
  cp "$WORK/$ZONE.zone" "$big"
  awk -v n="$SCALE_RECORDS" 'BEGIN { for (i = 0; i < n; i++) printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' >>"$big"

  # scale NAME PORT: waits for the zone, then prints load time and resident memory.
  scale() {
    local name=$1 port=$2 t0=$3 t1
    wait_ready "$port" "$ZONE" 600
    t1=$(date +%s.%N)
    dig +short @127.0.0.1 -p "$port" "h$((SCALE_RECORDS - 1)).$ZONE" A | grep -q '^10\.' ||
      { echo "$name: the last record of the big zone is missing" >&2; exit 1; }
    printf '%-10s %10.2f %12.0f\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(($(rss_kib "$PID") / 1024))"
  }

  printf '\n%s records (%s MiB zone file): start to first answer, resident memory\n' \
    "$SCALE_RECORDS" "$(($(stat -c %s "$big") / 1048576))"
  printf '%-10s %10s %12s\n' server "load s" "RSS MiB"
  hadns_config "$WORK/hadns-big" $((PORT + 6)) 0 "$big"
  t0=$(date +%s.%N)
  start hadns-big "$HADNS" serve --config "$WORK/hadns-big/hadns.toml"
  scale hadns $((PORT + 6)) "$t0"
  # Reloads of the big zone: peak resident memory over what it serves in.
  reload_peak() {
    local before
    before=$(grep -c "zones reloaded" "$WORK/hadns-big.log")
    echo 5 >"/proc/$PID/clear_refs" # resets the peak (VmHWM)
    kill -HUP "$PID"
    until [ "$(grep -c "zones reloaded" "$WORK/hadns-big.log")" -gt "$before" ]; do sleep 0.2; done
    awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$PID/status"
  }
  serving=$(($(rss_kib "$PID") / 1024))
  unchanged=$(reload_peak)
  echo "h$SCALE_RECORDS IN A 10.255.255.255" >>"$WORK/hadns-big/zones/$ZONE.zone"
  changed=$(reload_peak)
  printf 'hadns reload, resident %s MiB: unchanged zone peaks at %s MiB (%.2fx), changed zone at %s MiB (%.2fx)\n' \
    "$serving" "$unchanged" "$(awk -v a="$unchanged" -v b="$serving" 'BEGIN { print a / b }')" \
    "$changed" "$(awk -v a="$changed" -v b="$serving" 'BEGIN { print a / b }')"
  stop "$PID"

  knot_config "$WORK/knot-big" $((PORT + 7)) "$big"
  t0=$(date +%s.%N)
  start knot-big knotd -c "$WORK/knot-big/knot.conf"
  scale knot $((PORT + 7)) "$t0"
  stop "$PID"

  nsd_config "$WORK/nsd-big" $((PORT + 8)) "$big"
  t0=$(date +%s.%N)
  start nsd-big nsd -d -c "$WORK/nsd-big/nsd.conf"
  scale nsd $((PORT + 8)) "$t0"
  stop "$PID"
fi
