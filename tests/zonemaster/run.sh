#!/usr/bin/env bash
# Zonemaster against the demo zone, served by hadns, inside a private network namespace:
# Zonemaster would otherwise query the real root servers. Needs root (unshare -n).
#   tests/zonemaster/run.sh [--signed] [path/to/hadns]
# prints the JSON report's findings; exit 1 on ERROR/CRITICAL. With --signed the demo zone
# is signed with a fresh key, its DS goes into the stand-in root, and DNSViz (probe, then
# grok with the DS as trust anchor) must find no error either.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
signed=no
if [ "${1:-}" = --signed ]; then
  signed=yes
  shift
fi
hadns=$(realpath "${1:-$here/../../target/release/hadns}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The run works on copies: health state and keys are written there, not into the checkout.
cp -r "$here/root" "$out/root"
cp -r "$here/../../zones" "$out/zones"
cp "$here/root.toml" "$out/root.toml"
sed 's|^zones_dir = .*|zones_dir = "zones"|' "$here/demo.toml" > "$out/demo.toml"
if [ $signed = yes ]; then
  printf '\n[dnssec]\nkeys_dir = "keys"\n' >> "$out/demo.toml"
  "$hadns" keygen demo.example --config "$out/demo.toml" >/dev/null
  "$hadns" ds demo.example --config "$out/demo.toml" > "$out/ds"
  cat "$out/ds" >> "$out/root/..zone"
  grep -h "DNSKEY" "$out"/keys/*.key > "$out/anchor"
fi
export here hadns out signed

unshare -n bash -euo pipefail -c '
  ip link set lo up
  "$hadns" serve --config "$out/root.toml" 2>"$out/root.log" & root=$!
  "$hadns" serve --config "$out/demo.toml" 2>"$out/demo.log" & demo=$!
  trap "kill $root $demo 2>/dev/null || true" EXIT
  for ip in 127.0.0.2 127.0.0.3 127.0.0.4; do
    for _ in $(seq 100); do
      dig @$ip +time=1 +tries=1 +short . SOA >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  zonemaster-cli --json --no-ipv6 --hints "$here/root.hints" --profile "$here/profile.json" \
    --level INFO demo.example > "$out/report.json"
  if [ $signed = yes ]; then
    # The apex, names that exist, a wildcard, a CNAME, a DNAME, names and types that do
    # not exist, a delegation and the policy names: each answer and its proof is judged.
    names="demo.example www.demo.example app.demo.example bob.users.demo.example
      x.old.demo.example nope.demo.example a.b.nope.demo.example _tcp.demo.example
      web.demo.example api.demo.example lat.demo.example
      office.demo.example"
    dnsviz probe -A -4 -x .:a.root-servers.test=127.0.0.2 $names > "$out/probe.json"
    /usr/bin/python3 "$here/run-dnsviz.py" grok -P -t "$out/anchor" -r "$out/probe.json" $names > "$out/grok.json"
  fi
'
python3 - "$out/report.json" <<'PY' || exit 1
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
[ $signed = yes ] || exit 0
python3 - "$out/grok.json" <<'PY'
# DNSViz's verdict: every answer and proof VALID or SECURE, nothing in "errors" or
# "warnings", and the delegation from the stand-in root SECURE by the DS. The root itself
# is unsigned, so its DS RRset is the one thing INSECURE.
import json, sys
grok = json.load(open(sys.argv[1]))
found, statuses = [], {}
def walk(o, path):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("errors", "warnings") and v:
                found.append(f"{path}: {k}: {json.dumps(v)}")
            if k == "status" and isinstance(v, str):
                statuses[v] = statuses.get(v, 0) + 1
                root_ds = o.get("id") == "demo.example./IN/DS"
                if v not in ("VALID", "SECURE", "NOERROR", "NXDOMAIN") and not root_ds:
                    found.append(f"{path}: {o.get('description', '')}: {v}")
            walk(v, f"{path}/{k}")
    elif isinstance(o, list):
        for x in o:
            walk(x, path)
walk(grok, "")
if grok.get("demo.example.", {}).get("delegation", {}).get("status") != "SECURE":
    found.append("the delegation of demo.example is not SECURE")
print(f"dnsviz: {len(grok)} names, statuses {json.dumps(statuses, sort_keys=True)}")
for f in found:
    print("dnsviz:", f)
if found:
    sys.exit(1)
print("dnsviz: no error or warning")
PY
