"""Figure-1-style pictures of the trained ST-CNNs: ``results/figures/<dataset>-st-cnn.png``.

For every distortion with a finished run of the model (the affine ST-CNN by default; the model
whose error the report gives first, its first seed's committed checkpoint, else the lowest
finished seed here), the first test images of its fixed test set with the sampling grid drawn over
them, the transformer's output and the prediction (:func:`torchstn.visualize.save_figure`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from .recipes import COLUMNS, Cell
from .table1 import run_state, seed_dirs

FIGURE_MODEL = "st-cnn-aff"
FIGURE_ROWS = 6
FIGURES_DIR = "figures"
SHORT_NAMES = {"st-cnn-aff": "st-cnn"}  # the file name of the default model's pictures


def figure_path(results_dir: str | os.PathLike, dataset: str, model: str) -> Path:
    return Path(results_dir) / FIGURES_DIR / f"{dataset}-{SHORT_NAMES.get(model, model)}.png"


def reported_models(rows: list[dict[str, Any]], root: str | os.PathLike
                    ) -> dict[tuple[str, str], Path]:
    """The committed checkpoint of each report row's first seed, by ``(dataset, model)``: the
    model a figure should show (paths in rows are relative to ``root``); files not here are
    left out."""
    out = {}
    for r in rows:
        if r.get("checkpoint"):
            path = Path(root) / r["checkpoint"]
            if path.is_file():
                out[(r["dataset"], r["model"])] = path
    return out


def figure_model(runs_dir: str | os.PathLike, cell: Cell,
                 reported: dict[tuple[str, str], Path] | None = None) -> Path | None:
    """The model file or run folder to draw for ``cell``: its reported checkpoint
    (:func:`reported_models`), else :func:`finished_run`."""
    path = (reported or {}).get((cell.dataset, cell.model))
    return path if path is not None else finished_run(runs_dir, cell)


def finished_run(runs_dir: str | os.PathLike, cell: Cell) -> Path | None:
    """The run folder of the lowest finished seed of ``cell`` (None when there is none)."""
    for _, path in seed_dirs(runs_dir, cell):
        if run_state(path).status == "done":
            return path
    return None


def write_figures(runs_dir: str | os.PathLike, results_dir: str | os.PathLike, *,
                  model: str = FIGURE_MODEL, rows: int = FIGURE_ROWS,
                  data_root: str | None = None, fake: bool = False,
                  log: TextIO | None = None,
                  reported: dict[tuple[str, str], Path] | None = None) -> list[Path]:
    """One picture per data set with a finished run of ``model`` (``reported``: the report's
    models, :func:`reported_models`); the files written."""
    log = log or sys.stderr
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows!r}")
    datasets = [d for d, models in COLUMNS.items() if model in models]
    if not datasets:
        raise ValueError(f"model {model!r} is in no column of Table 1; expected one of: "
                         f"{', '.join(sorted({m for ms in COLUMNS.values() for m in ms}))}")
    written = []
    for dataset in datasets:
        run = figure_model(runs_dir, Cell(dataset, model), reported)
        if run is None:
            continue
        out = draw(run, dataset, figure_path(results_dir, dataset, model), rows,
                   data_root=data_root, fake=fake, log=log)
        if out is None:  # matplotlib missing: said once
            return written
        written.append(out)
    return written


def draw(run: Path, dataset: str, path: Path, rows: int, *, data_root: str | None = None,
         fake: bool = False, log: TextIO | None = None) -> Path | None:
    """The Figure-1 picture of ``run``'s model on the first ``rows`` test images of ``dataset``
    written to ``path`` (None, said on ``log``, when matplotlib is missing)."""
    log = log or sys.stderr
    from ..io import load_model
    from ..train.data import DataSource

    try:
        from ..visualize import save_figure

        images, labels = DataSource(dataset, rows, root=data_root, fake=fake).test_set(rows)
        out = save_figure(load_model(run), images, path, labels)
    except ImportError as e:  # matplotlib missing
        print(f"torchstn reproduce: no figures: {e}", file=log)
        return None
    print(f"torchstn reproduce: wrote {out}", file=log)
    return out
