#!/usr/bin/env bash
# Before/after: runs bench/run.sh once per variant and prints one table.
#   bench/compare.sh LABEL=BINARY[,VAR=value...] ...
# e.g. bench/compare.sh base=target/release/snippetd pool4=target/release/snippetd,BENCH_POOL_SIZE=4
# Each variant gets bench/out/compare/LABEL; the other knobs of run.sh apply
# to all (default here: RUST_LOG=info only, no startup timings, 10 s runs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_LOG_LEVELS=${BENCH_LOG_LEVELS:-info} BENCH_STARTUP=${BENCH_STARTUP:-0} BENCH_DURATION=${BENCH_DURATION:-10}
dirs=()
for v in "$@"; do
  label=${v%%=*}
  rest=${v#*=}
  IFS=, read -r -a parts <<<"$rest"
  bin=${parts[0]}
  out=$here/out/compare/$label
  echo "== $label: $bin ${parts[*]:1}" >&2
  env "${parts[@]:1}" SNIPPETD_BIN="$(readlink -f "$bin")" BENCH_LABEL="$label" BENCH_OUT="$out" \
    "$here/run.sh" >/dev/null
  dirs+=("$out")
done
python3 "$here/compare.py" "${dirs[@]}" | tee "$here/out/compare/table.md"
