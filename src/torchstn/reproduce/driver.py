"""``torchstn reproduce table1|addition|3d``: train the missing cells, then write the report."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch

from . import addition, volume
from .evaluation import Context, collect, recorded_runs
from .figures import reported_models, write_figures
from .jobs import INTERRUPTED, Job, interrupt_children, plan, terminate_as_interrupt, train_job
from .recipes import DEFAULT_SEEDS, Cell, all_cells
from .report import JSON_NAME, write_report
from .superseded import record_changes
from .table1 import CHECKPOINTS_DIR, RESULTS_DIR, RUNS_DIR

FAILED = 1


@dataclass
class Options:
    cells: list[Cell] = field(default_factory=all_cells)  # the cells to train
    seeds: int = DEFAULT_SEEDS
    runs_dir: Path = Path(RUNS_DIR)
    results_dir: Path = Path(RESULTS_DIR)
    checkpoints_dir: Path = Path(CHECKPOINTS_DIR)
    threads: int | None = None
    data_root: str | None = None
    fake: bool = False
    progress: bool = True
    figures: bool = True
    experiment: str = "table1"  # which report: "table1", "addition", "3d" (recipes.EXPERIMENTS)
    jobs: int = 1  # runs trained at once (child processes; e.g. several on one GPU)


def report_json(opts: Options) -> Path:
    """The JSON of ``opts.experiment``'s report."""
    name = {"addition": addition.JSON_NAME, "3d": volume.JSON_NAME}.get(opts.experiment,
                                                                        JSON_NAME)
    return Path(opts.results_dir) / name


def recorded(opts: Options) -> dict[tuple[str, str], dict[int, dict]]:
    """The runs of the committed report (none for the tests' fake data: never mixed in)."""
    return {} if opts.fake else recorded_runs(report_json(opts))


def report(opts: Options, log: TextIO | None = None, figures: bool | None = None
           ) -> tuple[Path, Path]:
    """Evaluate the finished runs of every cell (cached) and write the report (and figures).
    Seeds whose run folders are not here keep the result the committed report gives them."""
    log = log or sys.stderr
    ctx = Context(Path(opts.runs_dir), Path(opts.checkpoints_dir), opts.data_root, opts.fake,
                  opts.seeds, log=log, recorded=recorded(opts))
    draw = opts.figures if figures is None else figures
    if opts.experiment in ("addition", "3d"):
        module = addition if opts.experiment == "addition" else volume
        rows = collect(ctx, all_cells(opts.experiment))
        figure = (module.write_figure(opts.runs_dir, opts.results_dir, data_root=opts.data_root,
                                      fake=opts.fake, log=log,
                                      reported=reported_models(rows, ctx.root))
                  if draw else None)
        paths = module.write_report(rows, opts.results_dir, figure)
        print(f"torchstn reproduce: wrote {paths[0]} and {paths[1]}", file=log, flush=True)
        return paths
    rows = collect(ctx)
    paths = write_report(rows, opts.results_dir)
    print(f"torchstn reproduce: wrote {paths[0]} and {paths[1]}", file=log, flush=True)
    if draw:
        write_figures(opts.runs_dir, opts.results_dir, data_root=opts.data_root,
                      fake=opts.fake, log=log, reported=reported_models(rows, ctx.root))
    return paths


def reproduce_table1(opts: Options, *, dry_run: bool = False, report_only: bool = False,
                     out: TextIO | None = None, log: TextIO | None = None) -> int:
    """Train what is missing of ``opts.cells`` x seeds, resume what is unfinished, report.

    Returns the exit code: 0, 1 when some cell failed (the others still ran), 130 when
    interrupted (the running cell saved a checkpoint; the same command resumes).
    """
    from ..train.data import check_data_root

    out, log = out or sys.stdout, log or sys.stderr
    check_data_root(opts.data_root)
    if opts.threads is not None:
        if opts.threads < 1:
            raise ValueError(f"--threads: expected a positive integer, got {opts.threads}")
        torch.set_num_threads(opts.threads)
    if not isinstance(opts.jobs, int) or isinstance(opts.jobs, bool) or opts.jobs < 1:
        raise ValueError(f"--jobs: expected a positive integer, got {opts.jobs!r}")
    if report_only:
        report(opts, log)
        return 0
    done_elsewhere = {(*key, seed) for key, runs in recorded(opts).items()
                      for seed, run in runs.items() if not record_changes(run, key[0])}
    jobs = plan(opts.cells, opts.seeds, opts.runs_dir, threads=opts.threads,
                data_root=opts.data_root, fake=opts.fake, recorded=done_elsewhere)
    if dry_run:
        for job in jobs:
            print(job.describe(), file=out)
        count = {a: sum(j.action == a for j in jobs)
                 for a in ("train", "retrain", "resume", "skip", "recorded", "busy")}
        print(f"{count['train']} to train, {count['retrain']} to train again "
              f"(older recipe or model), {count['resume']} to resume, "
              f"{count['skip'] + count['recorded']} done, {count['busy']} being trained "
              f"elsewhere; then the report in {opts.results_dir}", file=out)
        return 0
    todo = []
    for job in jobs:
        if job.action in ("skip", "recorded", "busy"):
            print(f"torchstn reproduce: {job.describe()}", file=log)
        else:
            todo.append(job)
    with terminate_as_interrupt():
        train = _train_in_turn if opts.jobs == 1 else _train_at_once
        failed, interrupted = train(todo, opts, log)
    if interrupted:
        print("torchstn reproduce: interrupted; the running cell saved a checkpoint; run the "
              "same command again to resume", file=log)
        return INTERRUPTED
    report(opts, log)
    if failed:
        print(f"torchstn reproduce: failed: {'; '.join(failed)}", file=log)
        return FAILED
    return 0


def _failure(job: Job, rc: int, log: TextIO) -> str:
    text = f"{job.cell.key} seed {job.seed} (exit code {rc})"
    print(f"torchstn reproduce: {text} failed; going on", file=log)
    return text


def _train_in_turn(todo: list[Job], opts: Options, log: TextIO) -> tuple[list[str], bool]:
    """Train the jobs one after the other; ``(failures, interrupted)``."""
    failed = []
    try:
        for job in todo:
            rc = train_job(job, threads=opts.threads, data_root=opts.data_root,
                           progress=opts.progress, log=log)
            if rc == INTERRUPTED:
                raise KeyboardInterrupt
            if rc != 0:
                failed.append(_failure(job, rc, log))
                continue
            report(opts, log, figures=False)  # keep the report current on long campaigns
    except KeyboardInterrupt:
        return failed, True
    return failed, False


def _train_at_once(todo: list[Job], opts: Options, log: TextIO) -> tuple[list[str], bool]:
    """Train up to ``opts.jobs`` jobs at once, each in a worker thread that waits on its child
    process; ``(failures, interrupted)``. Ctrl-C reaches only this (main) thread: it asks every
    child to checkpoint, starts no new job and waits for the children (a second Ctrl-C kills
    them). Progress bars are off: several children share the terminal."""
    failed: list[str] = []
    stop = threading.Event()
    reporting = threading.Lock()

    def work(job: Job) -> int:
        if stop.is_set():
            return INTERRUPTED
        rc = train_job(job, threads=opts.threads, data_root=opts.data_root, progress=False,
                       log=log)
        if rc == 0 and not stop.is_set():
            with reporting:
                report(opts, log, figures=False)
        return rc

    pool = ThreadPoolExecutor(max_workers=opts.jobs, thread_name_prefix="torchstn-job")
    running: dict[Future, Job] = {pool.submit(work, job): job for job in todo}
    try:
        while running:
            done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                rc = fut.result()
                if rc == INTERRUPTED:
                    raise KeyboardInterrupt
                if rc != 0:
                    failed.append(_failure(job, rc, log))
    except KeyboardInterrupt:
        stop.set()
        for fut in running:
            fut.cancel()
        interrupt_children()
        try:
            pool.shutdown(wait=True)
        except KeyboardInterrupt:
            interrupt_children(kill=True)
            pool.shutdown(wait=True)
        return failed, True
    except BaseException:  # a bug or an OS error in the driver: stop the others, then report it
        stop.set()
        interrupt_children()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return failed, False
