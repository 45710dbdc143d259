#!/usr/bin/env bash
# Train the cells of an experiment (Table 1 by default) on a lent GPU machine, several runs at
# once, and bring everything back in archives. Run from the repo root on the GPU machine:
#
#     CELLS=rts SEEDS=3 JOBS=8 LIMIT_S=480 bash scripts/gpu_reproduce.sh
#     EXPERIMENT=addition CELLS=addition:fcn,addition:cnn SEEDS=1 JOBS=2 bash scripts/gpu_reproduce.sh
#
# - Wheels in .whl/ (safetensors, tqdm: the GPU image has no package registry) are installed into
#   a scratch folder; MNIST is read from $TORCHSTN_DATA (default runs/gpu_data, carried there).
# - `torchstn reproduce $EXPERIMENT --cells $CELLS --seeds $SEEDS --jobs $JOBS` trains on the GPU
#   (device auto). At LIMIT_S seconds the driver gets SIGINT: every running child saves a
#   checkpoint, and the same command resumes later, here or there (with runs/$EXPERIMENT).
# - $OUT/runs-<dataset>-<model>.tar.gz holds runs/$EXPERIMENT/<dataset>/<model> (minus TensorBoard
#   logs), one archive per cell (the device tool returns files only a few folders deep and at most
#   16 MiB each); $OUT/$EXPERIMENT.json and .md are the GPU machine's report. Unpack the archives
#   at the repo root here (`for f in .../runs-*.tar.gz; do tar xzf $f; done`), then run
#   `torchstn reproduce $EXPERIMENT --report-only`: it evaluates the runs, writes the float16
#   checkpoints under checkpoints/ and rewrites the report with this machine's view.
# - TORCHSTN_COMMIT names the commit of the tree sent (the copy there has no .git or a stale one),
#   for the runs' provenance: `TORCHSTN_COMMIT=$(git rev-parse HEAD)` written into the command line.
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
experiment="${EXPERIMENT:-table1}"
cells="${CELLS:-$([ "$experiment" = table1 ] && echo rts)}"  # empty: every cell of the experiment
log="$out_dir/reproduce_log.txt"
{
  echo "# gpu_reproduce: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit ${TORCHSTN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo ?)}"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 || true
  echo "experiment $experiment, cells ${cells:-all}, seeds ${SEEDS:-3}, jobs ${JOBS:-8}, limit ${LIMIT_S:-480} s"
} | tee "$log"
# shellcheck disable=SC2086  # EXTRA is a list of options
timeout -s INT -k 60 "${LIMIT_S:-480}" "$py" -m torchstn.cli.main reproduce "$experiment" \
  ${cells:+--cells "$cells"} --seeds "${SEEDS:-3}" --jobs "${JOBS:-8}" --threads 1 --no-figures \
  ${EXTRA:-} 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
echo "driver exit $rc (124 or 130: stopped at the time limit, resumable)" | tee -a "$log"
for dir in runs/"$experiment"/*/*/; do
  cell="$(basename "$(dirname "$dir")")-$(basename "$dir")"
  tar czf "$out_dir/runs-$cell.tar.gz" --exclude='tb' --exclude='*.tfevents*' \
    "$dir" 2>&1 | tee -a "$log"
done
cp results/"$experiment".json results/"$experiment".md "$out_dir/" 2>&1 | tee -a "$log"
ls -la "$out_dir" | tee -a "$log"
[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ]
