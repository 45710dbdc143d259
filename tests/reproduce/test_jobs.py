"""The jobs of ``torchstn reproduce``: planning, training one in a child process, Ctrl-C; and
``--jobs N``: several runs at once, and Ctrl-C stops them all cleanly."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from torchstn.cli.main import main
from torchstn.reproduce import driver, jobs
from torchstn.reproduce.recipes import Cell

from .test_table1 import dirs, four_seeds, make_run


# ---- one job ----------------------------------------------------------------------------------
def test_plan_of_run_states(tmp_path):
    runs = tmp_path / "runs"
    four_seeds(runs)
    planned = jobs.plan([Cell("r", "cnn")], 4, runs, threads=1)
    assert [j.action for j in planned] == ["skip", "resume", "train", "train"]
    resume = jobs.job_argv(planned[1], threads=1, progress=False)
    assert resume[3:] == ["train", "--out", str(planned[1].path), "--resume", "--threads", "1",
                          "--no-progress"]
    assert "--overwrite" in jobs.job_argv(planned[2]) and "--overwrite" not in jobs.job_argv(
        planned[3])


def test_a_stale_plan_is_checked_again_before_training(tmp_path, monkeypatch):
    """Two drivers share a cell list: a seed planned as "train" that the other driver has since
    started is resumed, and one it has finished is skipped, not started again."""
    runs = tmp_path / "runs"
    planned = jobs.plan([Cell("r", "cnn")], 2, runs, threads=1)
    assert [j.action for j in planned] == ["train", "train"]
    make_run(runs, "r", "cnn", 0, finished=False)
    make_run(runs, "r", "cnn", 1)
    argvs = []
    monkeypatch.setattr(jobs, "run_child", lambda argv: argvs.append(argv) or 0)
    assert jobs.train_job(planned[0], threads=1, progress=False) == 0
    assert jobs.train_job(planned[1], threads=1, progress=False) == 0
    assert len(argvs) == 1 and "--resume" in argvs[0]


CHILD = """
import signal, sys, time
def saved(*a):
    open(sys.argv[1] + ".saved", "w").close()
    sys.exit(130)
signal.signal(signal.SIGINT, saved)
open(sys.argv[1] + ".ready", "w").close()
time.sleep(60)
"""


def test_ctrl_c_asks_the_child_to_save_and_waits_for_it(tmp_path):
    flag = str(tmp_path / "child")

    def press_ctrl_c():
        deadline = time.monotonic() + 30
        while not os.path.exists(flag + ".ready") and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    # a terminal's Ctrl-C, also when the suite itself runs in the background (`cmd &` starts
    # with SIGINT ignored, and Python then installs no KeyboardInterrupt handler)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            jobs.run_child([sys.executable, "-c", CHILD, flag])
    finally:
        signal.signal(signal.SIGINT, before)
    assert os.path.exists(flag + ".saved")


def test_interrupt_signals_reach_a_driver_started_in_the_background():
    import signal

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `nohup ... &` leaves
    try:
        with jobs.terminate_as_interrupt():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with pytest.raises(KeyboardInterrupt):
                    signal.raise_signal(sig)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # restored
    finally:
        signal.signal(signal.SIGINT, before)


# ---- several at once --------------------------------------------------------------------------
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

    monkeypatch.setattr(jobs, "run_child", child)
    cells = [Cell("r", "fcn"), Cell("r", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == 0
    assert len(started) == 2 and (tmp_path / "results" / "table1.md").is_file()


def test_a_failed_job_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(jobs, "run_child",
                        lambda argv: 3 if "fcn" in argv[argv.index("--model") + 1] else 0)
    cells = [Cell("r", "fcn"), Cell("r", "cnn"), Cell("p", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == driver.FAILED
    assert "failed: r:fcn seed 0 (exit code 3)" in capsys.readouterr().err


def test_ctrl_c_asks_every_running_child_to_save(tmp_path, monkeypatch):
    """Ctrl-C reaches the driver's main thread only: both children (in worker threads) get one
    SIGINT each, save, and the driver exits 130 without starting the third job."""
    flags = [str(tmp_path / f"child{i}") for i in range(3)]
    argvs = iter([[sys.executable, "-c", CHILD, f] for f in flags])
    monkeypatch.setattr(jobs, "job_argv", lambda job, **kw: next(argvs))

    def press_ctrl_c():
        deadline = time.monotonic() + 30
        while (not all(os.path.exists(f + ".ready") for f in flags[:2])
               and time.monotonic() < deadline):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    cells = [Cell("r", "fcn"), Cell("r", "cnn"), Cell("p", "cnn")]
    assert driver.reproduce_table1(options(tmp_path, 2, cells)) == jobs.INTERRUPTED
    assert all(os.path.exists(f + ".saved") for f in flags[:2])
    assert not os.path.exists(flags[2] + ".ready")
    assert jobs.interrupt_children() == 0  # none left running


def test_jobs_must_be_positive(tmp_path, capsys):
    assert main(["reproduce", "table1", "--jobs", "0", "--dry-run", *dirs(tmp_path)]) == 2
    assert "--jobs: expected a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("experiment", ["addition", "3d"])
def test_every_training_experiment_takes_jobs(experiment, tmp_path, capsys):
    assert main(["reproduce", experiment, "--jobs", "2", "--dry-run", *dirs(tmp_path)]) == 0
