#!/usr/bin/env bash
# Train Table 1 cells on a lent GPU machine, several runs at once, and bring everything back in
# one archive. Run from the repo root on the GPU machine:
#
#     CELLS=rts SEEDS=3 JOBS=8 LIMIT_S=480 bash scripts/gpu_reproduce.sh
#
# - Wheels in .whl/ (safetensors, tqdm: the GPU image has no package registry) are installed into
#   a scratch folder; MNIST is read from $TORCHSTN_DATA (default runs/gpu_data, carried there).
# - `torchstn reproduce table1 --cells $CELLS --seeds $SEEDS --jobs $JOBS` trains on the GPU
#   (device auto). At LIMIT_S seconds the driver gets SIGINT: every running child saves a
#   checkpoint, and the same command resumes later (carry runs/table1 back to the machine).
# - $OUT/reproduce.tar.gz holds runs/table1 (minus TensorBoard logs), results/table1.* and the
#   checkpoints: unpack it at the repo root here (`tar xzf .../reproduce.tar.gz`), then run
#   `torchstn reproduce table1 --report-only` to rewrite the report with this machine's view.
#   One archive, because the device tool returns files only a few folders deep.
#
# EXTRA adds driver options (e.g. EXTRA=--fake-data for a smoke test on any machine).
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir="${OUT:-/tmp/gpu_reproduce_out}"
mkdir -p "$out_dir"
py="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TORCHSTN_DATA="${TORCHSTN_DATA:-$PWD/runs/gpu_data}"
if compgen -G ".whl/*.whl" > /dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpu_reproduce_site \
    .whl/safetensors*.whl .whl/tqdm*.whl 2>/dev/null \
    && export PYTHONPATH="$PYTHONPATH:/tmp/gpu_reproduce_site"
fi
log="$out_dir/reproduce_log.txt"
{
  echo "# gpu_reproduce: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 || true
  echo "cells ${CELLS:-rts}, seeds ${SEEDS:-3}, jobs ${JOBS:-8}, limit ${LIMIT_S:-480} s"
} | tee "$log"
# shellcheck disable=SC2086  # EXTRA is a list of options
timeout -s INT -k 60 "${LIMIT_S:-480}" "$py" -m torchstn.cli.main reproduce table1 \
  --cells "${CELLS:-rts}" --seeds "${SEEDS:-3}" --jobs "${JOBS:-8}" --threads 1 --no-figures \
  ${EXTRA:-} 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
echo "driver exit $rc (130: stopped at the time limit, resumable)" | tee -a "$log"
tar czf "$out_dir/reproduce.tar.gz" --exclude='tb' --exclude='*.tfevents*' \
  runs/table1 results/table1.json results/table1.md checkpoints 2>&1 | tee -a "$log"
ls -la "$out_dir" | tee -a "$log"
[ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]
