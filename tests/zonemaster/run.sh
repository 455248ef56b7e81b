#!/usr/bin/env bash
# Zonemaster against the demo zone, served by hadns, inside a private network namespace:
# Zonemaster would otherwise query the real root servers. Needs root (unshare -n).
#   tests/zonemaster/run.sh [path/to/hadns]   → prints the JSON report; exit 1 on ERROR/CRITICAL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hadns=$(realpath "${1:-$here/../../target/release/hadns}")
out=$(mktemp -d)
export here hadns out

unshare -n bash -euo pipefail -c '
  ip link set lo up
  "$hadns" serve --config "$here/root.toml" 2>"$out/root.log" & root=$!
  "$hadns" serve --config "$here/demo.toml" 2>"$out/demo.log" & demo=$!
  trap "kill $root $demo 2>/dev/null || true" EXIT
  for ip in 127.0.0.2 127.0.0.3 127.0.0.4; do
    for _ in $(seq 100); do
      dig @$ip +time=1 +tries=1 +short . SOA >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  zonemaster-cli --json --no-ipv6 --hints "$here/root.hints" --profile "$here/profile.json" \
    --level INFO demo.example > "$out/report.json"
'
python3 - "$out/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
results = report["results"] if isinstance(report, dict) else report
bad = [r for r in results if r.get("level") in ("ERROR", "CRITICAL")]
levels = {}
for r in results:
    levels[r.get("level")] = levels.get(r.get("level"), 0) + 1
print("zonemaster levels:", json.dumps(levels, sort_keys=True))
for r in results:
    if r.get("level") in ("WARNING", "ERROR", "CRITICAL"):
        print(f'{r["level"]:8} {r.get("testcase", r.get("module", ""))} {r.get("tag", "")} {json.dumps(r.get("args", {}))}')
if bad:
    print(f"zonemaster: {len(bad)} ERROR/CRITICAL results")
    sys.exit(1)
print("zonemaster: no ERROR or CRITICAL")
PY
