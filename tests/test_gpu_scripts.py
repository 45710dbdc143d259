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


def run_gpu_reproduce(tmp_path, out, **env) -> subprocess.CompletedProcess:
    """scripts/gpu_reproduce.sh from a scratch copy of the repo layout in ``tmp_path``, on the
    tests' fake data, its results in ``out``; ``env``: the script's settings."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    script = BENCH.parent / "scripts" / "gpu_reproduce.sh"
    (root / "scripts" / script.name).write_text(script.read_text())
    (root / "src").symlink_to(SRC)
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "EXTRA": "--fake-data", **env}
    return subprocess.run(["bash", str(root / "scripts" / script.name)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_gpu_reproduce_script_trains_reports_and_archives(tmp_path):
    """scripts/gpu_reproduce.sh (:func:`run_gpu_reproduce`), Table 1, run to the end:
    the driver trains with --jobs; one archive per cell holds its run folders, and the
    report comes back beside them (the checkpoints are written here, by --report-only)."""
    import tarfile

    out = tmp_path / "out"
    result = run_gpu_reproduce(tmp_path, out, CELLS="r:fcn", SEEDS="2", JOBS="2", LIMIT_S="240")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert sorted(p.name for p in out.glob("runs-*.tar.gz")) == ["runs-r-fcn.tar.gz"]
    with tarfile.open(out / "runs-r-fcn.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"runs/table1/r/fcn/seed0/model.safetensors",
            "runs/table1/r/fcn/seed1/config.json"} <= names
    assert (out / "table1.md").exists() and (out / "table1.json").exists()
    assert "driver exit 0" in (out / "reproduce_log.txt").read_text()


def test_gpu_reproduce_script_stops_at_the_limit_and_archives_resumable_runs(tmp_path):
    """EXPERIMENT=addition, stopped by LIMIT_S long before its 640 epochs: the script still
    exits 0 and returns the cell's archive under runs/addition, with the run's resumable
    checkpoint (how the lent GPU's runs come back and go on here)."""
    import tarfile

    out = tmp_path / "out"
    result = run_gpu_reproduce(tmp_path, out, EXPERIMENT="addition", CELLS="addition:fcn",
                               SEEDS="1", JOBS="1", LIMIT_S="20")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    log = (out / "reproduce_log.txt").read_text()
    assert "experiment addition" in log
    assert "driver exit 124" in log or "driver exit 130" in log, log[-2000:]
    assert sorted(p.name for p in out.glob("runs-*.tar.gz")) == ["runs-addition-fcn.tar.gz"]
    with tarfile.open(out / "runs-addition-fcn.tar.gz") as tar:
        names = set(tar.getnames())
    run = "runs/addition/addition/fcn/seed0"
    assert {f"{run}/config.json", f"{run}/state.pt"} <= names
    assert f"{run}/model.safetensors" not in names  # not finished: resumed later
