"""The Table 1 driver's cells, their run folders and the commands that train them.

Run folder of a cell and seed: ``<runs-dir>/<dataset>/<model>/seed<k>``. Its state
(:func:`run_state`): no training state yet (``"missing"``), a ``state.pt`` without a finished
model (``"unfinished"``), or ``summary.json`` says done and ``model.safetensors`` is there
(``"done"``); ``driver.lock`` names a live process that trains it (:func:`folder_lock`). The
commands are ``torchstn train`` command lines (:func:`train_args`, :func:`show`). What is done
with each folder, and training it in a child process: :mod:`.jobs`.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import MODEL_FILE, STATE_FILE
from ..train.config import CONFIG_FILE, TrainConfig
from ..train.metrics import read_metrics
from ..train.run_dir import RUN_FILES, SUMMARY_FILE
from .recipes import DEFAULT_SEEDS, EXPERIMENTS, Cell, all_cells, experiment_of, recipe
from .superseded import config_changes, model_file_changes

RUNS_DIR = "runs/table1"
RESULTS_DIR = "results"
CHECKPOINTS_DIR = "checkpoints"
PROVENANCE_FILE = "provenance.json"
EVAL_FILE = "eval.json"  # cached test error of the run's final model
LOCK_FILE = "driver.lock"
PROGRAM = "torchstn"

# TrainConfig fields that `torchstn train` takes as flags (see torchstn.cli.train.FIELDS)
_SWITCHES = {"bf16": ("--bf16", None), "recompute": ("--recompute", None),
             "channels_last": ("--channels-last", "--no-channels-last"),
             "tensorboard": (None, "--no-tensorboard")}
_FLAGS = {"data_root": "--data-dir"}
_SETUP_FIELDS = ("dataset", "model", "out", "seed")  # given per cell, not by a recipe


# ---- cells ------------------------------------------------------------------------------------
def parse_cells(text: str | None, experiment: str = "table1") -> list[Cell]:
    """Cells of ``experiment`` from ``"rts:st-cnn-aff,r:cnn"``; ``"rts"`` is a whole column,
    ``"all"`` (or ``None``) the whole table. Names are case-insensitive; duplicates are dropped."""
    if text is None or text.strip().lower() == "all":
        return all_cells(experiment)
    columns = EXPERIMENTS[experiment]
    cells: list[Cell] = []
    for item in (t.strip().lower() for t in text.split(",")):
        if not item:
            continue
        dataset, sep, model = item.partition(":")
        if dataset not in columns:
            raise ValueError(f"--cells: unknown dataset {dataset!r} in {item!r}; expected one "
                             f"of: {', '.join(columns)}")
        if not sep or model in ("", "*"):
            new = [Cell(dataset, m) for m in columns[dataset]]
        elif model not in columns[dataset]:
            raise ValueError(f"--cells: {item!r} is not a cell of {experiment}; the models of "
                             f"{dataset} are: {', '.join(columns[dataset])}")
        else:
            new = [Cell(dataset, model)]
        cells += [c for c in new if c not in cells]
    if not cells:
        raise ValueError(f"--cells: expected DATASET:MODEL[,...] (e.g. rts:st-cnn-aff), "
                         f"got {text!r}")
    return cells


def run_dir(runs_dir: str | os.PathLike, cell: Cell, seed: int) -> Path:
    return Path(runs_dir) / cell.dataset / cell.model / f"seed{seed}"


def seed_dirs(runs_dir: str | os.PathLike, cell: Cell) -> list[tuple[int, Path]]:
    """``(seed, folder)`` of every ``seed<k>`` folder of ``cell``, by seed."""
    base = Path(runs_dir) / cell.dataset / cell.model
    found = []
    if base.is_dir():
        for p in base.iterdir():
            if p.is_dir() and p.name.startswith("seed") and p.name[4:].isdigit():
                found.append((int(p.name[4:]), p))
    return sorted(found)


# ---- run folders ------------------------------------------------------------------------------
@dataclass
class RunState:
    """``status``: ``"missing"`` (nothing to resume), ``"unfinished"`` or ``"done"``."""

    status: str
    epoch: int = 0  # finished epochs
    epochs: int | None = None  # planned epochs (from config.json)
    leftovers: bool = False  # run files without a checkpoint: a fresh start must --overwrite
    locked_by: int | None = None  # pid of a live driver training this folder


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_state(path: str | os.PathLike) -> RunState:
    """What the run folder ``path`` holds (see :class:`RunState`)."""
    path = Path(path)
    config = read_json(path / CONFIG_FILE) or {}
    epochs = config.get("epochs") if isinstance(config.get("epochs"), int) else None
    summary = read_json(path / SUMMARY_FILE) or {}
    try:
        epoch = len(read_metrics(path))
    except ValueError:  # a line cut short by a crash: the checkpoint is what counts anyway
        epoch = 0
    lock = _live_lock(path)
    if summary.get("status") == "done" and (path / MODEL_FILE).is_file():
        return RunState("done", int(summary.get("epoch", epoch)), epochs, locked_by=lock)
    if (path / STATE_FILE).is_file():
        return RunState("unfinished", epoch, epochs, locked_by=lock)
    leftovers = any((path / n).exists() for n in RUN_FILES)
    return RunState("missing", 0, epochs, leftovers=leftovers, locked_by=lock)


def folder_changes(path: Path, dataset: str) -> dict[str, list[Any]]:
    """How the run in folder ``path`` departs from its column's current recipe and model
    (:func:`torchstn.reproduce.superseded.config_changes` of its ``config.json``,
    :func:`~torchstn.reproduce.superseded.model_file_changes` of its model file)."""
    return {**config_changes(read_json(path / CONFIG_FILE), dataset),
            **model_file_changes(path, dataset)}


@contextmanager
def folder_lock(path: Path) -> Iterator[bool]:
    """Mark ``path`` as being trained by this process; yields False if a live process has it."""
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    if _live_lock(path) is not None:
        yield False
        return
    lock.write_text(str(os.getpid()), encoding="utf-8")
    try:
        yield True
    finally:
        if lock.is_file() and lock.read_text(encoding="utf-8").strip() == str(os.getpid()):
            lock.unlink()


def _live_lock(path: Path) -> int | None:
    """The pid in ``path``'s lock file if that process is alive (and is not us)."""
    try:
        pid = int((path / LOCK_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, someone else's
        return pid
    return pid


# ---- commands ---------------------------------------------------------------------------------
def config_args(settings: dict[str, Any]) -> list[str]:
    """``torchstn train`` flags for TrainConfig ``settings`` (a recipe, or a saved config)."""
    from ..cli.train import FIELDS

    args: list[str] = []
    for key, value in settings.items():
        if key not in FIELDS:
            raise ValueError(f"recipe: unknown setting {key!r}; expected some of: "
                             f"{', '.join(FIELDS)}")
        if value is None:
            continue
        if key in _SWITCHES:
            on, off = _SWITCHES[key]
            flag = on if value else off
            args += [flag] if flag else []
        elif key == "save_dtype":
            args += ["--save-fp16"] if value == "float16" else []
        elif key == "lr_milestones":
            args += ["--lr-milestones", ",".join(repr(float(v)) for v in value)]
        else:
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            args += [flag, repr(value) if isinstance(value, float) else str(value)]
    return args


def train_args(cell: Cell, seed: int, out: str | os.PathLike, *, threads: int | None = None,
               data_root: str | None = None, fake: bool = False,
               settings: dict[str, Any] | None = None) -> list[str]:
    """The arguments of ``torchstn train`` that train ``cell`` with ``seed`` into ``out``."""
    rec = recipe(cell.dataset) if settings is None else dict(settings)
    flags = config_args(rec)  # unknown settings fail here, with the valid ones named
    TrainConfig(dataset=cell.dataset, model=cell.model, out=str(out), **rec).resolved()
    args = ["--dataset", cell.dataset, "--model", cell.model, "--out", str(out),
            "--seed", str(seed), *flags]
    if threads:
        args += ["--threads", str(threads)]
    if data_root:
        args += ["--data-dir", str(data_root)]
    if fake:
        args += ["--fake-data"]
    return args


def command_from_config(config: dict[str, Any]) -> list[str]:
    """``torchstn train`` arguments that repeat the run whose saved ``config.json`` is ``config``:
    every setting that differs from the default (runs not started by this driver)."""
    from ..cli.train import FIELDS

    cfg = TrainConfig.from_dict(config)
    default = TrainConfig(dataset=cfg.dataset, model=cfg.model, out=cfg.out).to_dict()
    given = cfg.to_dict()
    head = ["--dataset", cfg.dataset, "--model", cfg.model, "--out", cfg.out,
            "--seed", str(cfg.seed)]
    rest = {k: given[k] for k in FIELDS if k not in _SETUP_FIELDS and given[k] != default[k]}
    return head + config_args(rest) + (["--fake-data"] if cfg.extra.get("fake_data") else [])


def show(subcommand: str, args: list[str]) -> str:
    """The command line a user would type: ``torchstn train --dataset ...``."""
    return shlex.join([PROGRAM, subcommand, *args])


def reproduce_command(cell: Cell, seeds: int) -> str:
    parts = [PROGRAM, "reproduce", experiment_of(cell.dataset), "--cells", cell.key]
    return shlex.join(parts + (["--seeds", str(seeds)] if seeds != DEFAULT_SEEDS else []))

