"""MNIST addition (the paper's appendix A.1): ``results/addition.json``, ``results/addition.md``
and ``results/figures/addition-2xst-fcn.png`` from the cell results of
:func:`torchstn.reproduce.evaluation.collect`.

Two RTS digits on two 42x42 channels, label = their sum (19 classes). The paper's point: one
transformer cannot bring both digits into a canonical pose, two in parallel (2xST-FCN) can, each
learning to attend to one digit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

from .figures import FIGURE_ROWS, FIGURES_DIR, draw, figure_model
from .recipes import Cell
from .report import (
    DIGITS,
    experiment_head,
    experiment_tail,
    fmt_error,
    model_title,
    seeds_trained,
    write_files,
)

DATASET = "addition"
JSON_NAME = "addition.json"
MD_NAME = "addition.md"
FIGURE_MODELS = ("2xst-fcn-aff", "2xst-fcn-tps")  # the first with a finished run is drawn


def main_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| Model | Ours (%) | Paper (%) |", "|---|---|---|"]
    for r in rows:
        ours = fmt_error(r)
        if r["beats_paper"]:
            ours = f"**{ours}**"
        lines.append(f"| {model_title(r['model'])} | {ours} | {r['paper_error']} |")
    return lines


def parallel_layout_phrase(model: str = "2xst-fcn-tps") -> str:
    """How the registry lays out the 2xST-FCNs (``model``'s pools and widths), against the
    layout they started from (everything pooled as one ST-FCN's classifier input)."""
    from ..models.registry import dataset_info, default_pool, model_spec, transformer_copies

    in_shape, classes = dataset_info(DATASET)
    spec = model_spec(model, in_shape, classes)
    base = default_pool(in_shape)
    first = model_spec(model, in_shape, classes, loc_pool=base, pool=base)
    c, h, w = in_shape
    pooled = f"{transformer_copies(model) * c}x{h // spec.pool}x{w // spec.pool}"
    return (f"the 2xST-FCNs' two localisation nets see the input average-pooled "
            f"{spec.localization_pool}x and their two outputs are pooled {spec.pool}x "
            f"({pooled}, no more values than one "
            f"transformer's output pooled {base}x), which leaves their classifier "
            f"{spec.widths[0]} hidden units ({model_title(model)}) instead of "
            f"{first.widths[0]} (both chosen on validation data: "
            "`scripts/loc_pool_explore.py`).")


def render_markdown(rows: list[dict[str, Any]], figure: Path | None) -> str:
    run = [r for r in rows if r["error"] is not None]
    beat = [r for r in run if r["beats_paper"]]
    lines = [
        *experiment_head(rows, "MNIST addition: test error (%)", "addition"),
        "Two MNIST digits, each RTS-distorted on its own 42x42 channel (`DATASETS.md`), label = "
        "their sum (19 classes). *Ours*: error on the fixed test set (`torchstn.data.test_set"
        "('addition')`: 10,000 pairs of test digits, test seed 0), the mean over the seeds "
        f"trained ({seeds_trained(rows)}). *Paper*: Jaderberg et al. (2015), appendix "
        "A.1, one number per row (the same paper number stands beside our affine and TPS "
        "variants). Every model has the CNN's parameter count within 10% "
        f"(`torchstn models --dataset addition --model MODEL`); {parallel_layout_phrase()} "
        "**Bold**: below the paper's.",
        "",
        *main_table(rows),
        "",
        f"Rows below the paper's error: {len(beat)} of {len(run)} run"
        + (": " + ", ".join(f"{model_title(r['model'])} ({r['error']:.{DIGITS}f} vs "
                            f"{r['paper_error']})" for r in beat) if beat else "") + ".",
        "",
    ]
    lines += experiment_tail(
        rows, DATASET, figure, "What the two transformers do",
        "Each row: the two-channel input (shown as the maximum of its channels) with the "
        "sampling grid of each transformer in its colour, each transformer's output, and the "
        "predicted sum.")
    return "\n".join(lines)


def figure_path(results_dir: str | os.PathLike, model: str) -> Path:
    """``<results>/figures/addition-2xst-fcn.png`` (affine) or ``...-2xst-fcn-tps.png``."""
    return Path(results_dir) / FIGURES_DIR / f"addition-{model.removesuffix('-aff')}.png"


def write_figure(runs_dir: str | os.PathLike, results_dir: str | os.PathLike, *,
                 data_root: str | None = None, fake: bool = False, rows: int = FIGURE_ROWS,
                 log: TextIO | None = None,
                 reported: dict[tuple[str, str], Path] | None = None) -> Path | None:
    """The 2xST-FCN's picture (the first of :data:`FIGURE_MODELS` with a finished run; its
    reported checkpoint when ``reported`` has it: :func:`figures.reported_models`)."""
    for model in FIGURE_MODELS:
        run = figure_model(runs_dir, Cell(DATASET, model), reported)
        if run is not None:
            return draw(run, DATASET, figure_path(results_dir, model), rows,
                        data_root=data_root, fake=fake, log=log)
    return None


def write_report(rows: list[dict[str, Any]], results_dir: str | os.PathLike,
                 figure: Path | None = None) -> tuple[Path, Path]:
    """Write ``addition.json`` (one object per model) and ``addition.md``; their paths."""
    if figure is None:  # keep showing a figure drawn earlier
        figure = next((p for m in FIGURE_MODELS if (p := figure_path(results_dir, m)).exists()),
                      None)
    return write_files(rows, results_dir, JSON_NAME, MD_NAME,
                       render_markdown(rows, figure))
