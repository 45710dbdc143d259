"""The GPU benchmark scripts, on a machine without CUDA: they import, say so and exit 0; the
correctness table of ``gpu_tune.py`` works on tiny shapes through Triton's interpreter. (On a GPU
machine ``benchmarks/gpu_check.sh`` runs them for real.)"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SRC = BENCH.parent / "src"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: gpu_check.sh")


@no_cuda
@pytest.mark.parametrize("script", ["gpu_fused.py", "gpu_tune.py"])
def test_gpu_script_without_cuda_says_so(script):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, script], cwd=BENCH, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no CUDA device here" in result.stdout


@no_cuda
@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_gpu_tune_correctness_rows_on_tiny_shapes(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("TORCHSTN_FORCE_TRITON", "1")
    monkeypatch.syspath_prepend(str(BENCH))
    for name in ("torchstn.kernels.triton_sampler", "gpu_tune", "gpu_fused", "common"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # kernels decorated under the env
    import gpu_tune

    monkeypatch.setattr(gpu_tune, "CHECK_SHAPES", [(2, 3, 12, 12)])
    monkeypatch.setattr(gpu_tune, "DEVICE", "cpu")
    rows = gpu_tune.correctness_rows()
    assert len(rows) == 4  # float32 and bfloat16, theta's gradient off and on
    for row in rows:
        assert row["det bit-identical"] is True
        if row["dtype"] == "float32":
            worst = float(row["atomic - torch"].split(" ")[0])
            assert worst < 1e-4, row
    sys.modules.pop("torchstn.kernels.triton_sampler", None)  # not left in interpreter mode
