"""3D MNIST (the paper's appendix A.3): ``results/3d.json``, ``results/3d.md`` and
``results/figures/3d-st3d-cnn.png`` from the cell results of
:func:`torchstn.reproduce.evaluation.collect`.

An extruded digit turned in 3D at a random place in a 60^3 volume (``DATASETS.md``, 3D). The
paper shows pictures only; we report the test error of the 3D affine ST-CNN next to the same CNN
reading the volume without the transformer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

from . import report
from .figures import FIGURE_ROWS, FIGURES_DIR, draw, figure_model
from .recipes import Cell
from .report import experiment_head, experiment_tail, fmt_error, model_title, write_files

DATASET = "3d"
JSON_NAME = "3d.json"
MD_NAME = "3d.md"
FIGURE_MODEL = "st3d-cnn"


def render_markdown(rows: list[dict[str, Any]], figure: Path | None) -> str:
    lines = [
        *experiment_head(rows, "3D MNIST: test error (%)", "3d"),
        "Each MNIST digit extruded into a slab 8 voxels thick, turned by three random angles "
        "(each uniform in ±45°) and placed at a random place in a 60x60x60 volume "
        "(`docs/DATASETS.md`, 3D; a project decision: the paper gives no generation rule). "
        "Both models read a 30x30 image, the volume's maximum along depth, with the same CNN: "
        "*CNN* takes it from the volume as it is (average-pooled 2x2x2), *3D ST-CNN* from the "
        "output volume of a 3D affine spatial transformer (30x30x30, trilinear), trained end to "
        "end from the labels only. *Ours*: error on the fixed test set (`torchstn.data.test_set"
        f"('3d')`: the 10,000 test digits, test seed 0), the mean over the seeds trained "
        f"({report.seeds_trained(rows)}). The paper reports no number for this experiment.",
        "",
        "| Model | Ours (%) |",
        "|---|---|",
        *(f"| {model_title(r['model'])} | {fmt_error(r)} |" for r in rows),
        "",
    ]
    lines += experiment_tail(
        rows, DATASET, figure, "What the 3D transformer learned",
        "Each row: a test volume seen from the front (its maximum along depth) and from the side "
        "(along width); the transformer's output volume from the front, the 2D image the CNN "
        "classifies, and from the side; the prediction.")
    return "\n".join(lines)


def figure_path(results_dir: str | os.PathLike) -> Path:
    return Path(results_dir) / FIGURES_DIR / f"{DATASET}-{FIGURE_MODEL}.png"


def write_figure(runs_dir: str | os.PathLike, results_dir: str | os.PathLike, *,
                 data_root: str | None = None, fake: bool = False, rows: int = FIGURE_ROWS,
                 log: TextIO | None = None,
                 reported: dict[tuple[str, str], Path] | None = None) -> Path | None:
    """The 3D ST-CNN's picture, if it has a finished run (its reported checkpoint when
    ``reported`` has it: :func:`figures.reported_models`)."""
    run = figure_model(runs_dir, Cell(DATASET, FIGURE_MODEL), reported)
    if run is None:
        return None
    return draw(run, DATASET, figure_path(results_dir), rows, data_root=data_root, fake=fake,
                log=log)


def write_report(rows: list[dict[str, Any]], results_dir: str | os.PathLike,
                 figure: Path | None = None) -> tuple[Path, Path]:
    """Write ``3d.json`` (one object per model) and ``3d.md``; their paths."""
    if figure is None and figure_path(results_dir).exists():  # keep showing an earlier one
        figure = figure_path(results_dir)
    return write_files(rows, results_dir, JSON_NAME, MD_NAME,
                       render_markdown(rows, figure))
