"""The Table 1 driver's jobs: what to do with each cell and seed, and training it.

The state of a run folder (:func:`.table1.run_state`) decides the action: no training state
yet -> train, a ``state.pt`` without a finished model -> ``--resume``, ``summary.json`` says done
and ``model.safetensors`` is there -> skip. Every cell is trained by ``torchstn train`` in a child
process, so a crash of one cell does not stop the others; Ctrl-C (or SIGTERM) asks the child to
save a checkpoint, waits for it, and stops the driver (rerun the same command to resume).
``provenance.json`` in the run folder records the exact command, the git commit of the code and
the machine of every training session.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..train.checkpoint import atomic_write_text
from ..train.config import CONFIG_FILE
from .provenance import git_commit, machine_info, now
from .recipes import Cell
from .superseded import SUPERSEDED_DIR, describe, set_aside
from .table1 import (
    EVAL_FILE,
    LOCK_FILE,
    PROVENANCE_FILE,
    RunState,
    command_from_config,
    folder_changes,
    folder_lock,
    read_json,
    run_dir,
    run_state,
    show,
    train_args,
)

INTERRUPTED = 130  # exit code of an interrupted `torchstn train`


# ---- planning ---------------------------------------------------------------------------------
@dataclass
class Job:
    """One cell and seed: ``action`` is ``"train"``, ``"resume"``, ``"skip"`` (done here),
    ``"recorded"`` (no run folder here, but the committed report has the run), ``"busy"`` or
    ``"retrain"`` (the folder's run used an older recipe or model: set aside, then trained
    again)."""

    cell: Cell
    seed: int
    path: Path
    action: str
    state: RunState
    args: list[str] = field(default_factory=list)  # `torchstn train` arguments of a fresh start
    changes: dict[str, list[Any]] = field(default_factory=dict)  # older recipe/model -> current

    def describe(self) -> str:
        where = f"{self.cell.key} seed {self.seed}"
        st = self.state
        if self.action == "skip":
            return f"skip    {where}: done ({st.epoch} epochs) in {self.path}"
        if self.action == "recorded":
            return f"skip    {where}: in the committed report (its run folder is not here)"
        if self.action == "busy":
            return f"busy    {where}: being trained by process {st.locked_by}"
        if self.action == "retrain":
            return (f"retrain {where}: its run used an older recipe or model "
                    f"({describe(self.changes)}); "
                    f"it moves to {self.path.parent / SUPERSEDED_DIR}, then: "
                    f"{show('train', self.args)}")
        if self.action == "resume":
            return (f"resume  {where}: epoch {st.epoch}/{st.epochs or '?'} in {self.path}: "
                    f"{show('train', ['--out', str(self.path), '--resume'])}")
        return f"train   {where}: {show('train', self.args)}"


def plan(cells: list[Cell], seeds: int, runs_dir: str | os.PathLike, *,
         threads: int | None = None, data_root: str | None = None,
         fake: bool = False, recorded: set[tuple[str, str, int]] | frozenset = frozenset()
         ) -> list[Job]:
    """The job of every (cell, seed ``0..seeds-1``), from the state of its run folder; a seed
    with no run folder that ``recorded`` ``(dataset, model, seed)`` holds is not trained again
    (``recorded``: the committed report's runs of the current recipes only); a folder whose run
    used another recipe than its column's current one is trained again (``"retrain"``)."""
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"--seeds: expected a positive integer, got {seeds!r}")
    jobs = []
    for cell in cells:
        for seed in range(seeds):
            path = run_dir(runs_dir, cell, seed)
            state = run_state(path)
            args = train_args(cell, seed, path, threads=threads, data_root=data_root, fake=fake)
            changes = folder_changes(path, cell.dataset) if state.status != "missing" else {}
            if state.locked_by is not None and state.status != "done":
                action = "busy"
            elif changes:
                action = "retrain"
            elif state.status == "missing" and (cell.dataset, cell.model, seed) in recorded:
                action = "recorded"
            else:
                action = {"done": "skip", "unfinished": "resume"}.get(state.status, "train")
            jobs.append(Job(cell, seed, path, action, state, args, changes))
    return jobs


# ---- training ---------------------------------------------------------------------------------
def job_argv(job: Job, *, threads: int | None = None, data_root: str | None = None,
             progress: bool = True) -> list[str]:
    """The child process's command line for ``job`` (a fresh start or ``--resume``)."""
    if job.action == "resume":
        args = ["--out", str(job.path), "--resume"]
        args += ["--threads", str(threads)] if threads else []
        args += ["--data-dir", str(data_root)] if data_root else []
    else:
        args = list(job.args) + (["--overwrite"] if job.state.leftovers else [])
    args += [] if progress else ["--no-progress"]
    return [sys.executable, "-m", "torchstn.cli.main", "train", *args]


def record_session(job: Job, threads: int | None, device: str = "auto") -> dict[str, Any]:
    """Add this training session (commit, machine, time) to the run's ``provenance.json``."""
    path = job.path / PROVENANCE_FILE
    old = read_json(path) if job.action == "resume" else None
    if old is None:
        args = job.args
        if job.action == "resume":  # started elsewhere: the saved configuration says how
            args = command_from_config(read_json(job.path / CONFIG_FILE) or {})
        old = {"cell": job.cell.key, "seed": job.seed, "command": show("train", args),
               "args": args, "sessions": []}
    session = {"action": job.action, "started": now(), **git_commit(),
               **machine_info(threads, device)}
    old["sessions"].append(session)
    job.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(old, indent=2) + "\n")
    return old


def finish_session(job: Job, record: dict[str, Any], returncode: int, wall_s: float) -> None:
    record["sessions"][-1].update({"ended": now(), "returncode": returncode,
                                   "driver_wall_s": round(wall_s, 3)})
    atomic_write_text(job.path / PROVENANCE_FILE, json.dumps(record, indent=2) + "\n")


def run_child(argv: list[str]) -> int:
    """Run ``argv``; on Ctrl-C ask it to checkpoint (one SIGINT), wait, then re-raise.

    The child gets its own session, so the terminal's Ctrl-C reaches only the driver, which
    forwards exactly one SIGINT (a second one would make the child abort without saving). A
    second Ctrl-C while waiting kills the child.
    """
    proc = subprocess.Popen(argv, start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)


_CHILDREN: set[subprocess.Popen] = set()  # live training children of run_child, in any thread
_CHILDREN_LOCK = threading.Lock()


def interrupt_children(kill: bool = False) -> int:
    """Ask every live training child to checkpoint and stop (one SIGINT each), or ``kill`` them:
    for Ctrl-C when children run in worker threads, which never see the KeyboardInterrupt. The
    number of children signalled."""
    with _CHILDREN_LOCK:
        live = [p for p in _CHILDREN if p.poll() is None]
    for proc in live:
        if kill:
            proc.kill()
        else:
            proc.send_signal(signal.SIGINT)
    return len(live)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT behave like Ctrl-C (the child saves a checkpoint) while the driver
    runs, also in a driver started in the background (``nohup ... &``), where the shell has set
    SIGINT to be ignored and ``kill -INT`` would otherwise do nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def train_job(job: Job, *, threads: int | None = None, data_root: str | None = None,
              progress: bool = True, log: TextIO | None = None) -> int:
    """Train (or resume) one job in a child process; the child's exit code (0: done)."""
    log = log or sys.stderr
    with folder_lock(job.path) as mine:
        if not mine:
            print(f"torchstn reproduce: {job.cell.key} seed {job.seed} is being trained by "
                  f"another process; skipped", file=log)
            return 0
        # the plan may be stale: another driver sharing the cell list may have run this seed
        state = run_state(job.path)
        if job.action == "retrain":
            if folder_changes(job.path, job.cell.dataset):
                moved = set_aside(job.path, keep=(LOCK_FILE,))
                print(f"torchstn reproduce: {job.cell.key} seed {job.seed}: the run of the older "
                      f"recipe or model moved to {moved}", file=log, flush=True)
                state = run_state(job.path)
            job = dataclasses.replace(job, action="train", state=state)
        if state.status == "done":
            print(f"torchstn reproduce: {job.cell.key} seed {job.seed} was finished by another "
                  f"process; skipped", file=log)
            return 0
        if state.status == "unfinished" and job.action == "train":
            job = dataclasses.replace(job, action="resume", state=state)
        if job.action == "train":
            (job.path / EVAL_FILE).unlink(missing_ok=True)  # a stale cache of an older run
        record = record_session(job, threads)
        argv = job_argv(job, threads=threads, data_root=data_root, progress=progress)
        print(f"torchstn reproduce: {job.describe()}", file=log, flush=True)
        t0 = time.perf_counter()
        rc = INTERRUPTED
        try:
            rc = run_child(argv)
        finally:
            finish_session(job, record, rc, time.perf_counter() - t0)
        return rc
