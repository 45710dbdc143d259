"""``torchstn reproduce ... --jobs N``: several runs at once, and Ctrl-C stops them all cleanly."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from torchstn.cli.main import main
from torchstn.reproduce import driver, table1
from torchstn.reproduce.recipes import Cell

from .test_table1 import CHILD, dirs


def options(tmp_path, jobs: int, cells: list[Cell]) -> driver.Options:
    return driver.Options(cells=cells, seeds=1, runs_dir=tmp_path / "runs",
                          results_dir=tmp_path / "results", checkpoints_dir=tmp_path / "ck",
                          fake=True, figures=False, progress=False, jobs=jobs)


def test_jobs_run_at_the_same_time(tmp_path, monkeypatch):
    """Two jobs with --jobs 2 meet at a barrier: they only pass it if both children run at once
    (one after the other, the first would wait there until the timeout)."""
    barrier = threading.Barrier(2, timeout=20)
    started = []

    def child(argv):
        started.append(argv[argv.index("--out") + 1])
        barrier.wait()
        return 0

    monkeypatch.setattr(table1, "run_child", child)
    cells = [Cell("r", "fcn"), Cell("r", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == 0
    assert len(started) == 2 and (tmp_path / "results" / "table1.md").is_file()


def test_a_failed_job_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(table1, "run_child",
                        lambda argv: 3 if "fcn" in argv[argv.index("--model") + 1] else 0)
    cells = [Cell("r", "fcn"), Cell("r", "cnn"), Cell("p", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == driver.FAILED
    assert "failed: r:fcn seed 0 (exit code 3)" in capsys.readouterr().err


def test_ctrl_c_asks_every_running_child_to_save(tmp_path, monkeypatch):
    """Ctrl-C reaches the driver's main thread only: both children (in worker threads) get one
    SIGINT each, save, and the driver exits 130 without starting the third job."""
    flags = [str(tmp_path / f"child{i}") for i in range(3)]
    argvs = iter([[sys.executable, "-c", CHILD, f] for f in flags])
    monkeypatch.setattr(table1, "job_argv", lambda job, **kw: next(argvs))

    def press_ctrl_c():
        deadline = time.monotonic() + 30
        while (not all(os.path.exists(f + ".ready") for f in flags[:2])
               and time.monotonic() < deadline):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    cells = [Cell("r", "fcn"), Cell("r", "cnn"), Cell("p", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == table1.INTERRUPTED
    assert all(os.path.exists(f + ".saved") for f in flags[:2])
    assert not os.path.exists(flags[2] + ".ready")
    assert table1.interrupt_children() == 0  # none left running


def test_jobs_must_be_positive(tmp_path, capsys):
    assert main(["reproduce", "table1", "--jobs", "0", "--dry-run", *dirs(tmp_path)]) == 2
    assert "--jobs: expected a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("experiment", ["addition", "3d"])
def test_every_training_experiment_takes_jobs(experiment, tmp_path, capsys):
    assert main(["reproduce", experiment, "--jobs", "2", "--dry-run", *dirs(tmp_path)]) == 0
