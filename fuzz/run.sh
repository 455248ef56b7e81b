#!/usr/bin/env bash
# Fuzzes each target for SECONDS (default 60) from its committed corpus in fuzz/corpus/;
# a crash stops the run (exit non-zero) and leaves the input in fuzz/artifacts/.
#
#   fuzz/run.sh 60                    # CI
#   fuzz/run.sh 600 request           # longer, one target
#
# Targets: request (any bytes as a DNS message, UDP and TCP, to the demo zones),
# zone_file and policy_file (any bytes as a file, loaded as `check` loads it).
# cargo fuzz needs a nightly rustc for its -Z flags; RUSTC_BOOTSTRAP=1 lets the stable
# one take them. Without AddressSanitizer (--sanitizer none): the code fuzzed is safe
# Rust, and what is looked for is a panic.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(request zone_file policy_file)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
log=$(mktemp)
for t in "${targets[@]}"; do
  echo "fuzzing $t for ${seconds}s"
  if ! cargo fuzz run --sanitizer none -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t failed: the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units" "$log" || true
done
