"""Results of finished Table 1 runs: test error, committed checkpoint, provenance, per cell.

The test error of a run is measured once on the fixed test set of its data set
(:func:`torchstn.data.test_set`, 10,000 images) and cached in the run folder's ``eval.json``,
keyed by the SHA-256 of the model file. The committed checkpoint
``<checkpoints-dir>/<dataset>/<model>-seed<k>.safetensors`` is stored as float16 when that copy
(loaded back as float32) makes exactly as many test errors as the trained model, else as float32.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from torch import Tensor

from ..data.sets import TEST_SEED
from ..io import MODEL_FILE
from ..train.checkpoint import atomic_write, atomic_write_text
from ..train.config import CONFIG_FILE
from ..train.metrics import read_metrics
from ..train.run_dir import SUMMARY_FILE
from .provenance import machine_label, relative_to_root, repo_root, sha256
from .recipes import DEFAULT_SEEDS, Cell, all_cells
from .superseded import record_changes
from .table1 import (
    EVAL_FILE,
    PROVENANCE_FILE,
    command_from_config,
    folder_changes,
    read_json,
    reproduce_command,
    run_dir,
    run_state,
    seed_dirs,
    show,
    train_args,
)

EVAL_BATCH = 1000
PERCENT = 100.0
# record keys that save_model writes itself (the rest of a model's record is carried over)
_OWN_RECORD_KEYS = ("kind", "model", "torchstn_version", "format_version", "storage_dtype")


@dataclass
class Context:
    """Where runs, checkpoints and test data are, shared by every cell of one report."""

    runs_dir: Path
    checkpoints_dir: Path
    data_root: str | None = None
    fake: bool = False  # the hidden fake data of the tests: never mixed into a real report
    seeds: int = DEFAULT_SEEDS  # seeds a cell needs to count as complete
    device: str = "auto"
    log: TextIO | None = None  # None: sys.stderr at the time of writing
    root: Path = field(default_factory=repo_root)
    # per-seed run records of the committed report (:func:`recorded_runs`): a seed whose run folder
    # is not here (a fresh clone) keeps its reported result instead of vanishing from the report
    recorded: dict[tuple[str, str], dict[int, dict[str, Any]]] = field(default_factory=dict)
    _sets: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)

    @property
    def data_kind(self) -> str:
        return "fake" if self.fake else "mnist"

    def test_windows(self, dataset: str) -> Iterable[tuple[Tensor, Tensor]]:
        """The fixed test set of ``dataset`` in windows. Images are kept for the next call (only
        the latest set: TC alone is 144 MB), volumes are generated anew (8.6 GB)."""
        from ..data import DATASETS
        from ..train.data import DataSource

        if dataset in self._sets:
            return [self._sets[dataset]]
        source = DataSource(dataset, EVAL_BATCH, root=self.data_root, fake=self.fake)
        if dataset in DATASETS and DATASETS[dataset].volume and not self.fake:
            return source.test_windows()
        self._sets.clear()
        self._sets[dataset] = source.test_set()
        return [self._sets[dataset]]

    def rel(self, path: str | os.PathLike) -> str:
        return relative_to_root(path, self.root)

    def say(self, message: str) -> None:
        print(f"torchstn reproduce: {message}", file=self.log or sys.stderr, flush=True)


SOURCE_RUN = "run folder"
SOURCE_RECORD = "report"


def recorded_runs(path: str | os.PathLike) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    """The per-seed run records (``runs`` of each cell, then the ``superseded`` records of seeds
    not in ``runs``) of a report's JSON, by ``(dataset, model)`` and seed; empty when the file is
    absent. A record is kept only when its checkpoint
    is a file under ``root``'s layout (checked by :func:`cell_result`)."""
    import json

    path = Path(path)
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: expected a report's JSON (a list of cells), could not read "
                         f"it: {e}") from e
    out: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for row in rows if isinstance(rows, list) else []:
        runs = {int(r["seed"]): r for r in row.get("runs") or [] if "seed" in r}
        for r in row.get("superseded") or []:  # runs of an older recipe or model: compared again
            if "seed" in r and "command" in r:
                runs.setdefault(int(r["seed"]), r)
        if runs:
            out[(row.get("dataset"), row.get("model"))] = runs
    return out


def below(mean: float | None, paper: float | None) -> bool | None:
    """Is our mean error strictly below the paper's? Compared at 1e-9 %, so that a float mean
    such as (0.81 + 0.77 + 0.82) / 3 = 0.7999... equals the paper's 0.8 instead of beating it."""
    if mean is None or paper is None:
        return None
    return round(mean, 9) < paper


def mean_standard_error(errors: list[float], n: int | None) -> float | None:
    """Standard error (in %) of a cell's mean test error ``errors`` (in %, one per seed) as an
    estimate of its models' error on new digits: the seed-to-seed variance over the number of
    seeds, plus the binomial variance p(1 - p) / n of the ``n`` test digits, which every seed
    shares and which more seeds therefore do not shrink. None without errors or ``n``."""
    if not errors or not n:
        return None
    p = statistics.fmean(errors) / PERCENT
    seeds = statistics.variance(errors) / len(errors) if len(errors) > 1 else 0.0
    return math.sqrt(seeds + (PERCENT ** 2) * p * (1 - p) / n)


def _device(ctx: Context):
    from ..train.distributed import pick_device

    return pick_device(ctx.device)


def _test(model, dataset: str, ctx: Context) -> dict[str, Any]:
    from ..evaluate import evaluate_windows

    return evaluate_windows(model, ctx.test_windows(dataset), EVAL_BATCH, _device(ctx))


def measure(model_path: Path, dataset: str, ctx: Context) -> dict[str, Any]:
    """Test statistics (:func:`torchstn.evaluate.evaluate`) and parameter count of a model."""
    from ..io import load_model_with_record
    from ..models import count_parameters

    model, _ = load_model_with_record(model_path, device=str(_device(ctx)))
    return {**_test(model, dataset, ctx), "parameters": count_parameters(model)}


def commit_checkpoint(model_path: Path, dest: Path, dataset: str, ctx: Context,
                      wrong: int) -> dict[str, Any]:
    """Copy the model to ``dest``: float16 if that copy makes ``wrong`` test errors too."""
    from ..io import load_model_with_record, save_model

    model, record = load_model_with_record(model_path)
    extra = {k: v for k, v in record.items() if k not in _OWN_RECORD_KEYS}
    save_model(model, dest, dtype="float16", **extra)
    half, _ = load_model_with_record(dest, device=str(_device(ctx)))  # restored as float32
    half_wrong = _test(half, dataset, ctx)["errors"]
    dtype = "float16"
    if half_wrong != wrong:
        ctx.say(f"{ctx.rel(dest)}: float16 weights make {half_wrong} test errors instead of "
                f"{wrong}; keeping float32")
        atomic_write(dest, lambda tmp: shutil.copyfile(model_path, tmp))
        dtype = "float32"
    return {"path": str(dest), "sha256": sha256(dest), "source_sha256": sha256(model_path),
            "dtype": dtype, "float16_errors": half_wrong}


def checkpoint_path(ctx: Context, cell: Cell, seed: int) -> Path:
    return ctx.checkpoints_dir / cell.dataset / f"{cell.model}-seed{seed}.safetensors"


def evaluate_run(path: Path, cell: Cell, seed: int, ctx: Context
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(test statistics, checkpoint info)`` of a finished run, from ``eval.json`` when its
    model file is unchanged; the checkpoint is (re)committed when missing or stale."""
    model_path = path / MODEL_FILE
    digest = sha256(model_path)
    cache = read_json(path / EVAL_FILE) or {}
    key = {"model_sha256": digest, "data": ctx.data_kind, "test_seed": TEST_SEED}
    changed = False
    if any(cache.get(k) != v for k, v in key.items()) or "stats" not in cache:
        ctx.say(f"testing {cell.key} seed {seed}")
        cache, changed = {**key, "stats": measure(model_path, cell.dataset, ctx)}, True
    dest = checkpoint_path(ctx, cell, seed)
    ck = cache.get("checkpoint") or {}
    fresh = (dest.is_file() and ck.get("path") == str(dest)
             and ck.get("source_sha256") == digest and ck.get("sha256") == sha256(dest))
    if not fresh:
        ck = commit_checkpoint(model_path, dest, cell.dataset, ctx, cache["stats"]["errors"])
        cache["checkpoint"], changed = ck, True
    if changed:
        import json

        atomic_write_text(path / EVAL_FILE, json.dumps(cache, indent=2, sort_keys=True) + "\n")
    return cache["stats"], ck


def run_result(path: Path, cell: Cell, seed: int, ctx: Context) -> dict[str, Any]:
    """The record of one finished run (errors in %)."""
    config = read_json(path / CONFIG_FILE) or {}
    if (config.get("dataset"), config.get("model")) != (cell.dataset, cell.model):
        raise ValueError(f"{ctx.rel(path)} holds a run of {config.get('dataset')}:"
                         f"{config.get('model')}, not {cell.key}")
    stats, ck = evaluate_run(path, cell, seed, ctx)
    summary = read_json(path / SUMMARY_FILE) or {}
    prov = read_json(path / PROVENANCE_FILE) or {}
    sessions = prov.get("sessions") or [{}]
    first = sessions[0]
    command = prov.get("command") or show("train", command_from_config(config))
    wall = sum(float(r.get("epoch_time_s", 0.0)) for r in read_metrics(path))
    return {
        "seed": int(config.get("seed", seed)),
        "run_dir": ctx.rel(path),
        "error": PERCENT * stats["error"],
        "ci95": [PERCENT * stats["ci_low"], PERCENT * stats["ci_high"]],
        "wrong": stats["errors"],
        "n": stats["n"],
        "parameters": stats.get("parameters"),
        "checkpoint": ctx.rel(ck["path"]),
        "checkpoint_dtype": ck["dtype"],
        "commit": first.get("commit"),
        "dirty": first.get("dirty"),
        "commits": sorted({s.get("commit") for s in sessions if s.get("commit")}),
        "epochs": summary.get("epoch"),
        "wall_time_s": round(wall, 1),
        "command": command,
        "device": first.get("device"),
        "machine": first.get("machine"),
        "threads": first.get("threads"),
        # every machine it trained on (a run started on a GPU may be resumed on a CPU)
        "machines": sorted({machine_label(s) for s in sessions if s.get("machine")}),
        "gpus": sorted({s["machine"] for s in sessions
                        if s.get("device") == "cuda" and s.get("machine")}),
        "sessions": len(prov.get("sessions") or []),
        "source": SOURCE_RUN,
    }


def _same(values: list[Any]) -> Any:
    """The common value of ``values`` (None if they differ or there are none)."""
    return values[0] if values and all(v == values[0] for v in values) else None


def cell_result(cell: Cell, ctx: Context) -> dict[str, Any]:
    """Everything the report says about one cell; ``error`` etc. are None when not run. Runs of
    an older recipe or model than the column's current ones are listed in ``superseded``, not
    counted."""
    runs, unfinished, problems, superseded = [], [], [], []
    for seed, path in seed_dirs(ctx.runs_dir, cell):
        state = run_state(path)
        changes = folder_changes(path, cell.dataset) if state.status != "missing" else {}
        if changes:  # its test error only if an earlier report measured it (no new testing)
            cached = ((read_json(path / EVAL_FILE) or {}).get("stats") or {}).get("error")
            superseded.append({"seed": seed, "run_dir": ctx.rel(path), "changes": changes,
                               "error": None if cached is None else PERCENT * cached})
        elif state.status == "unfinished":
            unfinished.append({"seed": seed, "epoch": state.epoch, "epochs": state.epochs})
        elif state.status == "done":
            try:
                runs.append(run_result(path, cell, seed, ctx))
            except (ValueError, FileNotFoundError, OSError, RuntimeError) as e:
                problems.append(f"seed {seed}: {e}")
                ctx.say(f"skipping {ctx.rel(path)}: {e}")
    done = {r["seed"] for r in runs} | {r["seed"] for r in superseded}
    for seed, record in sorted(ctx.recorded.get((cell.dataset, cell.model), {}).items()):
        if seed in done:
            continue
        changes = record_changes(record, cell.dataset, ctx.root)
        if changes:  # kept whole, so that the next report still knows it (recorded_runs)
            superseded.append({**record, "seed": seed, "changes": changes,
                               "source": SOURCE_RECORD})
            continue
        checkpoint = record.get("checkpoint")
        if not checkpoint or not (ctx.root / checkpoint).is_file():
            problems.append(f"seed {seed}: reported earlier, but neither its run folder nor its "
                            f"checkpoint {checkpoint} is here")
            continue
        runs.append({**record, "source": SOURCE_RECORD})
    runs.sort(key=lambda r: r["seed"])
    errors = [r["error"] for r in runs]
    mean = statistics.fmean(errors) if errors else None
    first = runs[0] if runs else {}
    would = show("train", train_args(cell, 0, run_dir(ctx.runs_dir, cell, 0)))
    status = ("not run" if not runs else "done" if len(runs) >= ctx.seeds else "partial")
    return {
        "dataset": cell.dataset,
        "model": cell.model,
        "status": status,
        "paper_error": cell.paper_error,
        "error": mean,
        "errors": errors,
        "seeds": [r["seed"] for r in runs],
        "error_std": statistics.stdev(errors) if len(errors) > 1 else None,
        "error_min": min(errors) if errors else None,
        "error_max": max(errors) if errors else None,
        "beats_paper": below(mean, cell.paper_error),
        "error_se": mean_standard_error(errors, _same([r.get("n") for r in runs])),
        "checkpoint": first.get("checkpoint"),
        "checkpoints": [r["checkpoint"] for r in runs],
        "commit": first.get("commit"),
        "epochs": first.get("epochs"),
        "wall_time_s": (round(statistics.fmean(r["wall_time_s"] for r in runs), 1)
                        if runs else None),
        "command": first.get("command", would),
        "commands": [r["command"] for r in runs],
        "reproduce_command": reproduce_command(cell, max([ctx.seeds, *(r["seed"] + 1
                                                                       for r in runs)])),
        "parameters": _same([r["parameters"] for r in runs]),
        "device": first.get("device"),
        "machine": first.get("machine"),
        "threads": first.get("threads"),
        "data": ctx.data_kind,
        "runs": runs,
        "unfinished": unfinished,
        "superseded": superseded,
        "problems": problems,
    }


def collect(ctx: Context, cells: list[Cell] | None = None) -> list[dict[str, Any]]:
    """:func:`cell_result` of every cell of the table (or of ``cells``), in table order."""
    return [cell_result(c, ctx) for c in (cells or all_cells())]
