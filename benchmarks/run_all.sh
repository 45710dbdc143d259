#!/usr/bin/env bash
# Every CPU benchmark, concatenated into one markdown file (results/benchmarks.md is written so).
#
#     TORCHSTN_DATA=<mnist dir> bash benchmarks/run_all.sh OUT.md [THREADS]
#
# THREADS (default 2, the machine's default) is used for every table; the transformer table is
# repeated at 1 thread when THREADS is not 1. QUICK=1 makes every script use its --quick mode
# (checks the pipeline; the numbers are not the ones to publish). PYTHON picks the interpreter.
# Run it on a quiet machine: the scripts keep the best of 3 medians, which absorbs short bursts of
# load but not a core taken for the whole run.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: bash benchmarks/run_all.sh OUT.md [THREADS]" >&2
  exit 2
fi
out="$(realpath -m "$1")"
threads="${2:-2}"
py="${PYTHON:-python}"
quick=()
[[ "${QUICK:-0}" == 1 ]] && quick=(--quick)
cd "$(dirname "$0")"
export PYTHONPATH="$PWD/../src${PYTHONPATH:+:$PYTHONPATH}"  # works without `pip install -e .`
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

{
  echo "# torchstn benchmarks"
  echo
  echo "Produced by \`${QUICK:+QUICK=$QUICK }bash benchmarks/run_all.sh $1 $threads\` on" \
       "$(date -u +%Y-%m-%d) (UTC). The GPU section is"
  echo "\`results/gpu/summary.md\`, measured on a lent GPU machine; the script copies it in and runs the CPU"
  echo "benchmarks."
  echo
  if [[ -f ../results/gpu/summary.md ]]; then cat ../results/gpu/summary.md; echo; fi
} > "$tmp/0.md"

"$py" transformer_speed.py --threads "$threads" --profile "${quick[@]}" --out "$tmp/1.md"
if [[ "$threads" != 1 ]]; then
  "$py" transformer_speed.py --threads 1 "${quick[@]}" --out "$tmp/2.md"
fi
"$py" train_step.py --threads "$threads" --components --profile "${quick[@]}" --out "$tmp/3.md"
"$py" data_throughput.py --threads "$threads" --repeat 3 "${quick[@]}" --out "$tmp/4.md"

for f in "$tmp"/*.md; do
  cat "$f"
  echo
done > "$out"
echo "wrote $out" >&2
