#!/usr/bin/env bash
# One command on the GPU machine: the fused-kernel tests compiled on CUDA (no interpreter), the
# fused-kernel benchmark, then the large-shape gradient check and host/device profile of
# gpu_tune.py (no sweep). Everything is logged to $OUT/gpu_log.txt (results/ when OUT is unset);
# the markdown also goes to $OUT/gpu_fused.md and $OUT/gpu_tune_check.md. Exit status: non-zero
# if any part failed.
#
#     bash benchmarks/gpu_check.sh            # PYTHON=... to pick the interpreter
#
# Wheels found in .whl/ (e.g. kornia and kornia_rs, for the TPS comparison, on a machine without a
# package registry) are installed into a scratch folder first. Each part has its own time limit
# (TESTS_LIMIT_S, BENCH_LIMIT_S, TUNE_LIMIT_S), so a hang in one still leaves the others' output.
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir="${OUT:-results}"
mkdir -p "$out_dir"
log="$out_dir/gpu_log.txt"
py="${PYTHON:-python}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"  # works without `pip install -e .`
unset TRITON_INTERPRET TORCHSTN_FORCE_TRITON
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/gpu_check_site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/gpu_check_site"
fi

{
  echo "# gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
  "$py" -c "import torch, triton; print('torch', torch.__version__, '| triton', triton.__version__)" 2>&1
} | tee "$log"

echo "## pytest tests/kernels" | tee -a "$log"
timeout "${TESTS_LIMIT_S:-240}" "$py" -m pytest tests/kernels -q -rs -p no:cacheprovider 2>&1 | tee -a "$log"
tests_rc=${PIPESTATUS[0]}

echo "## benchmarks/gpu_fused.py" | tee -a "$log"
timeout "${BENCH_LIMIT_S:-240}" "$py" benchmarks/gpu_fused.py --out "$out_dir/gpu_fused.md" 2>&1 | tee -a "$log"
bench_rc=${PIPESTATUS[0]}

echo "## benchmarks/gpu_tune.py --no-sweep" | tee -a "$log"
timeout "${TUNE_LIMIT_S:-120}" "$py" benchmarks/gpu_tune.py --no-sweep \
  --out "$out_dir/gpu_tune_check.md" 2>&1 | tee -a "$log"
tune_rc=${PIPESTATUS[0]}

echo "tests exit $tests_rc, benchmark exit $bench_rc, check exit $tune_rc" | tee -a "$log"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$tune_rc" -eq 0 ]
