"""``results/table1.json`` and ``results/table1.md`` from the cell results of
:func:`torchstn.reproduce.evaluation.collect`.

Only measured numbers are written: a cell without a finished run says "not run".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..train.checkpoint import atomic_write_text
from ..train.config import TrainConfig
from .provenance import machine_label, now
from .recipes import COLUMN_TITLES, COLUMNS, DEFAULT_RECIPE, RECIPES, TABLE1_MODELS, TC_MODELS

JSON_NAME = "table1.json"
MD_NAME = "table1.md"
REQUIRED_KEYS = ("dataset", "model", "error", "errors", "checkpoint", "commit", "epochs",
                 "wall_time_s", "command")
NOT_RUN = "not run"
DIGITS = 2  # decimals of our errors (the paper gives one)
SHORT_COMMIT = 10
_MINUTE, _HOUR = 60, 3600


TITLES = {"proj-cnn": "CNN", "st3d-cnn": "3D ST-CNN"}  # the 3D experiment's models
NO_PAPER = "–"  # where the paper reports no number (3D: pictures only)


def model_title(name: str) -> str:
    """``"st-cnn-aff"`` -> ``"ST-CNN Aff"`` (the paper's row names)."""
    if name in TITLES:
        return TITLES[name]
    parts = name.split("-")
    if len(parts) == 3:
        copies = parts[0][: -len("st")]  # "2x" for parallel transformers
        return f"{copies}ST-{parts[1].upper()} {parts[2].capitalize()}"
    return name.upper()


def cell_title(row: dict[str, Any]) -> str:
    column, model = COLUMN_TITLES[row["dataset"]], model_title(row["model"])
    return model if model.startswith(column + " ") else f"{column} {model}"  # "3D ST-CNN"


def fmt_error(row: dict[str, Any]) -> str:
    """``0.62`` or ``0.62 ± 0.03`` (std over seeds), or "not run"."""
    if row["error"] is None:
        return NOT_RUN
    text = f"{row['error']:.{DIGITS}f}"
    if row.get("error_std") is not None:
        text += f" ± {row['error_std']:.{DIGITS}f}"
    return text


def fmt_paper(row: dict[str, Any]) -> str:
    return NO_PAPER if row["paper_error"] is None else str(row["paper_error"])


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < _MINUTE:
        return f"{seconds:.0f} s"
    if seconds < _HOUR:
        return f"{seconds / _MINUTE:.1f} min"
    return f"{seconds / _HOUR:.2f} h"


def run_machines(run: dict[str, Any]) -> str:
    """The machines one run trained on (records from before ``machines`` name the first)."""
    names = run.get("machines") or ([machine_label(run)] if run.get("machine") else [])
    return " + ".join(names) or "not recorded"


def fmt_machine(row: dict[str, Any]) -> str:
    """One machine for the cell, or the machines of each seed where its runs differ."""
    if row["error"] is None:
        return ""
    per_seed = {r["seed"]: run_machines(r) for r in row["runs"]}
    if len(set(per_seed.values())) <= 1:
        return next(iter(per_seed.values()), "not recorded")
    groups: dict[str, list[int]] = {}
    for seed, name in per_seed.items():
        groups.setdefault(name, []).append(seed)
    return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}: {name}"
                     for name, seeds in groups.items())


def fmt_wall(row: dict[str, Any]) -> str:
    """The mean wall time per run, or each seed's where the runs trained on other machines."""
    if len({run_machines(r) for r in row["runs"]}) <= 1:
        return fmt_duration(row["wall_time_s"])
    return ", ".join(fmt_duration(r["wall_time_s"]) for r in row["runs"]) + " (per seed)"


def fmt_commit(row: dict[str, Any]) -> str:
    commits = sorted({c for r in row["runs"] for c in r.get("commits", [])})
    if not commits:
        return "not recorded" if row["error"] is not None else ""
    dirty = any(r.get("dirty") for r in row["runs"])
    return ", ".join(c[:SHORT_COMMIT] for c in commits) + (" (uncommitted changes)" if dirty
                                                          else "")


def _by_cell(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["dataset"], r["model"]): r for r in rows}


def seeds_trained(rows: list[dict[str, Any]]) -> str:
    """How many seeds the means average, from the rows themselves (not from ``--seeds``, which
    only says what to train): ``"3 per cell"``, ``"1–2 per cell"`` or ``"no cell run yet"``."""
    counts = sorted({len(r["seeds"]) for r in rows if r.get("seeds")})
    if not counts:
        return "no cell run yet"
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{n} per cell"


def main_table(rows: list[dict[str, Any]]) -> list[str]:
    """Models down, distortions across; each cell "ours (paper X)"."""
    cells = _by_cell(rows)
    lines = ["| Model | " + " | ".join(COLUMN_TITLES[d] for d in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for model in (*TABLE1_MODELS, *(m for m in TC_MODELS if m not in TABLE1_MODELS)):
        out = [model_title(model)]
        for d in COLUMNS:
            row = cells.get((d, model))
            if row is None:
                out.append("—")
                continue
            mark = "**" if row["beats_paper"] else ""
            out.append(f"{mark}{fmt_error(row)}{mark} (paper {row['paper_error']})")
        lines.append("| " + " | ".join(out) + " |")
    return lines


def beat_line(rows: list[dict[str, Any]]) -> str:
    run = [r for r in rows if r["error"] is not None]
    beat = [r for r in run if r["beats_paper"]]
    if not run:
        return "**Cells that beat the paper:** none yet (no cell has a finished run)."
    if not beat:
        return f"**Cells that beat the paper:** none of the {len(run)} cells run so far."
    listed = ", ".join(f"{cell_title(r)} ({r['error']:.{DIGITS}f} vs {r['paper_error']})"
                       for r in beat)
    return (f"**Cells that beat the paper** ({len(beat)} of {len(run)} run; our mean error "
            f"below the paper's): {listed}.")


def above_line(rows: list[dict[str, Any]]) -> str:
    """The cells whose mean error is not below the paper's, each with its gap and the gap's size
    in standard errors of our mean (``error_se``), so that a reader can tell a gap from noise."""
    above = [r for r in rows if r["beats_paper"] is False]
    if not above:
        return ""

    def item(r: dict[str, Any]) -> str:
        gap = r["error"] - r["paper_error"]
        se = r.get("error_se")
        size = f", {gap / se:.1f} SE" if se else ""
        return f"{cell_title(r)} ({gap:+.{DIGITS}f}{size})"

    return ("**Cells at or above the paper**, with the gap (ours − paper, points) and its size in "
            "standard errors of our mean (SE: the square root of the seeds' variance over the "
            "number of seeds plus the binomial variance p(1 − p) / n of the n test digits, which "
            "the seeds share; the paper's own numbers carry noise of about the same size and are "
            "rounded to 0.1, which this leaves out): "
            + ", ".join(item(r) for r in above) + ".")


def detail_table(rows: list[dict[str, Any]]) -> list[str]:
    head = ("| Cell | Ours (%) | Seeds | Per seed (%) | Spread min–max | Paper (%) | Parameters "
            "| Epochs | Wall time / run | Machine | Commit | Checkpoint |")
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for r in rows:
        if r["error"] is None:
            extra = ""
            if r["unfinished"]:
                extra = "; in progress: " + ", ".join(
                    f"seed {u['seed']} epoch {u['epoch']}/{u['epochs'] or '?'}"
                    for u in r["unfinished"])
            lines.append(f"| {cell_title(r)} | {NOT_RUN}{extra} | | | | {fmt_paper(r)} "
                         "| | | | | | |")
            continue
        seeds = ", ".join(str(s) for s in r["seeds"])
        per = ", ".join(f"{e:.{DIGITS}f}" for e in r["errors"])
        spread = (f"{r['error_min']:.{DIGITS}f}–{r['error_max']:.{DIGITS}f}"
                  if len(r["errors"]) > 1 else "")
        epochs = sorted({x["epochs"] for x in r["runs"]}, key=str)
        ck = r["checkpoint"] + (f" (+{len(r['runs']) - 1} more)" if len(r["runs"]) > 1 else "")
        dtype = r["runs"][0]["checkpoint_dtype"]
        lines.append(
            f"| {cell_title(r)} | {fmt_error(r)} | {seeds} | {per} | {spread} | "
            f"{fmt_paper(r)} | {r['parameters'] if r['parameters'] is not None else ''} | "
            f"{'/'.join(str(e) for e in epochs)} | {fmt_wall(r)} | "
            f"{fmt_machine(r)} | {fmt_commit(r)} | `{ck}` ({dtype}) |")
    return lines


def superseded_lines(rows: list[dict[str, Any]]) -> list[str]:
    """A paragraph naming, cell by cell, the runs of an older recipe or model that the means
    leave out,
    with their test errors where the committed report had them (none: [])."""
    from .superseded import describe

    items = []
    for r in rows:
        old = sorted(r.get("superseded", []), key=lambda x: x["seed"])
        if not old:
            continue
        seeds = ", ".join(str(x["seed"]) for x in old)
        errors = [x.get("error") for x in old]
        shown = (f"; test errors {', '.join(f'{e:.{DIGITS}f}' for e in errors)}%"
                 if all(isinstance(e, (int, float)) for e in errors) else "")
        changes = sorted({describe(x["changes"]) for x in old})
        items.append(f"{cell_title(r)} seed{'s' if len(old) > 1 else ''} {seeds} "
                     f"({'; '.join(changes)}{shown})")
    if not items:
        return []
    return ["", "**Runs of an older recipe or model, not counted** (their column's recipe or the "
            "registry's model changed since; the driver trains these seeds again and moves the "
            f"old run folders to `superseded/`): {'; '.join(items)}."]


def resolved_recipe(dataset: str | None = None) -> TrainConfig:
    """The recipe of column ``dataset`` (None: ``DEFAULT_RECIPE``) as a config whose settings
    left to the optimiser's defaults (AdamW's weight decay) hold those defaults."""
    fields = DEFAULT_RECIPE if dataset is None else RECIPES[dataset]
    return TrainConfig(dataset=dataset or "default", model="recipe", out="", **fields).resolved()


def recipe_table(datasets: tuple[str, ...] = tuple(COLUMNS)) -> list[str]:
    """The recipes of ``datasets`` (default: Table 1's columns) as a markdown table; a setting
    that a recipe leaves to the optimiser's default (AdamW's weight decay) shows that default."""
    keys = sorted({k for rec in RECIPES.values() for k in rec})
    lines = ["| Column | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for d in datasets:
        cfg = resolved_recipe(d)
        lines.append(f"| {COLUMN_TITLES[d]} | "
                     + " | ".join(str(getattr(cfg, k)) for k in keys) + " |")
    return lines


def command_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        if r["error"] is None:
            continue
        lines += [f"- {cell_title(r)}: `{r['reproduce_command']}`", "", "  ```bash"]
        lines += [f"  {c}" for c in (r["commands"] or [r["command"]])]
        lines += ["  ```"]
    return lines or ["No cell has a finished run yet."]


def experiment_head(rows: list[dict[str, Any]], title: str, experiment: str) -> list[str]:
    """The first lines of an experiment's report (addition, 3D): title, a warning on fake data,
    when and how it was written."""
    lines = [f"# {title}", ""]
    if any(r.get("data") == "fake" for r in rows):
        lines += ["**Warning: measured on the synthetic test data of the test suite, not on "
                  "MNIST. These are not results.**", ""]
    return lines + [f"Written by `torchstn reproduce {experiment}` on {now()}; rewrite it from "
                    f"the run folders with `torchstn reproduce {experiment} --report-only`.", ""]


def experiment_tail(rows: list[dict[str, Any]], dataset: str, figure: Path | None,
                    heading: str, caption: str) -> list[str]:
    """The sections after an experiment's main table: its figure (under ``heading``, with
    ``caption``), the per-model details, the recipe and the commands."""
    lines = []
    if figure is not None:
        lines += [f"## {heading}", "",
                  f"![{dataset}]({os.path.relpath(figure, figure.parent.parent)})", "", caption,
                  ""]
    return lines + ["## Per model", "", *detail_table(rows), *superseded_lines(rows), "",
                    "## Recipe", "",
                    *recipe_table((dataset,)), "", "## Commands", "", *command_lines(rows), ""]


def view_phrase() -> str:
    """``"; the ST-FCNs' transformers sample a 28x28 view of the TC input ..."``, from the
    registry, one clause per column whose single ST-FCNs sample a view other than the input's
    size (empty where none does)."""
    from ..models.registry import dataset_info, model_spec

    clauses = []
    for dataset in COLUMNS:
        in_shape, classes = dataset_info(dataset)
        spec = model_spec("st-fcn-aff", in_shape, classes)
        if spec.view is None:
            continue
        # the same model sampling the input's size: what the view alone changes
        full = model_spec("st-fcn-aff", in_shape, classes, loc_pool=spec.localization_pool,
                          view=in_shape[1])
        clauses.append(f"a {spec.view}x{spec.view} view of the {in_shape[1]}x{in_shape[2]} "
                       f"{dataset.upper()} input, pooled {spec.pool}x (the ST-FCN Aff's "
                       f"classifier: {spec.widths[0]} hidden units instead of {full.widths[0]})")
    if not clauses:
        return ""
    return (f"; the ST-FCNs' transformers sample {_and(clauses)}, a wider classifier on the same "
            "budget (chosen on validation data: `results/recipe_study.md`)")


def loc_pool_phrase() -> str:
    """``"; the ST-FCNs' localisation nets see the RTS input pooled 3x ..."``, from the registry
    (empty where every single ST-FCN's localisation net reads what its classifier does, as the
    paper's)."""
    from ..models.registry import dataset_info, model_spec

    # {(what the localisation net sees, the widths it leaves): [data sets]}: data sets of one
    # shape (R, P and E) are named together, in the Table 1 columns' order
    groups: dict[tuple[str, str], list[str]] = {}
    for dataset in COLUMNS:
        in_shape, classes = dataset_info(dataset)
        spec = model_spec("st-fcn-aff", in_shape, classes)
        if spec.localization_pool == spec.pool:
            continue
        at_pool = model_spec("st-fcn-aff", in_shape, classes, loc_pool=spec.pool)
        side = in_shape[1] // spec.localization_pool
        key = (f"{spec.localization_pool}x ({side}x{side})",
               f"{spec.widths[0]} instead of {at_pool.widths[0]}")
        groups.setdefault(key, []).append(dataset.upper())
    if not groups:
        return ""
    pools = [f"on {_and(names)} {pool}" for (pool, _), names in groups.items()]
    widths = [f"{w} on {_and(names)}" for (_, w), names in groups.items()]
    return (f"; the ST-FCNs' localisation nets see the input pooled more than their classifiers "
            f"do, {_and(pools)}, which leaves the ST-FCN Aff's classifier more hidden units on "
            f"the same budget ({_and(widths)}; chosen on validation data: "
            "`results/recipe_study.md`)")


def batchnorm_phrase() -> str:
    """``"; on RTS and TC the FCN's and the ST-FCNs' classifiers put batch norm ..."``, from the
    registry (empty where no FCN classifier does, as the paper's)."""
    from ..models.registry import classifier_batchnorm, dataset_info

    columns = [d.upper() for d in COLUMNS if classifier_batchnorm("fcn", dataset_info(d)[0])]
    if not columns:
        return ""
    return (f"; on {_and(columns)} the FCN's and the ST-FCNs' classifiers put batch norm before "
            "each hidden ReLU (chosen on validation data: `results/recipe_study.md`)")


def iterations_phrase() -> str:
    """``"; the localisation nets of the R, P and E ST-FCN Aff and ... look twice ..."``, from
    the registry (empty when every transformer looks once, as the paper's)."""
    from ..models.registry import MODEL_NAMES, dataset_info, transformer_iterations

    # {looks: {model titles: [data sets]}}, in the Table 1 columns' and the models' own order;
    # data sets of one shape (R, P and E) are named together
    groups: dict[int, dict[tuple[str, ...], list[str]]] = {}
    for dataset in COLUMNS:
        shape = dataset_info(dataset)[0]
        looks: dict[int, list[str]] = {}
        for name in MODEL_NAMES:
            n = transformer_iterations(name, shape)
            if n > 1:
                looks.setdefault(n, []).append(model_title(name))
        for n, titles in looks.items():
            groups.setdefault(n, {}).setdefault(tuple(titles), []).append(dataset.upper())
    said = []
    for n, by_models in sorted(groups.items()):
        names = [f"the {_and(datasets)} {_and(list(titles))}"
                 for titles, datasets in by_models.items()]
        times = "twice" if n == 2 else f"{n} times"
        many = sum(len(t) * len(d) for t, d in by_models.items()) > 1  # (model, data set) pairs
        said.append(f"the localisation net{'s' if many else ''} of {' and of '.join(names)} "
                    f"look{'' if many else 's'} {times}")
    if not said:
        return ""
    return ("; " + "; ".join(said) + " (an iterative transformer: each look sees the input warped "
            "by the warp so far and refines it; the same parameters)")


def _and(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def render_markdown(rows: list[dict[str, Any]]) -> str:
    """The report: main table, the cells that beat the paper, details, recipes, commands."""
    fake = any(r.get("data") == "fake" for r in rows)
    above = above_line(rows)
    lines = ["# Table 1: distorted MNIST, test error (%)", ""]
    if fake:
        lines += ["**Warning: measured on the synthetic test data of the test suite, not on "
                  "MNIST. These are not results.**", ""]
    lines += [
        f"Written by `torchstn reproduce table1` on {now()}; rewrite it from the run folders "
        "with `torchstn reproduce table1 --report-only` (a seed whose run folder is not there "
        "keeps its record from `table1.json`).",
        "",
        "*Ours*: test error on the fixed test set of each distortion (the 10,000 MNIST test "
        "digits, each distorted once with test seed 0: `torchstn.data.test_set`), the mean over "
        f"the seeds trained ({seeds_trained(rows)}); ± is the standard deviation over "
        "seeds where there are several. *Paper*: Jaderberg et al., *Spatial Transformer "
        "Networks* (2015), Table 1 and its TC line; on TC the ST models are the affine ones. "
        "Every model of a column has the CNN's parameter count within 10% (`torchstn models "
        f"--dataset D`){view_phrase()}{loc_pool_phrase()}{batchnorm_phrase()}"
        f"{iterations_phrase()}. "
        "*not run*: no finished run of that cell yet. **Bold**: our mean error is below the "
        "paper's.",
        "",
        *main_table(rows),
        "",
        beat_line(rows),
        "",
        *([above, ""] if above else []),
        "## Per cell",
        "",
        "Per seed: the test error of every seed's model; spread: min–max over seeds. "
        "Parameters: trainable parameters of the model. Wall time: training time of one run "
        "(sum of its epochs' times, mean over seeds). Machine: where the first training session "
        "of the first seed ran. Checkpoint: the committed model of the first seed "
        "(float16 when that copy makes exactly the same number of test errors, else float32).",
        "",
        *detail_table(rows),
        *superseded_lines(rows),
        "",
        "## Recipes",
        "",
        "The current training recipe of each column (the same for every model of a column). "
        "A run trained with another recipe is not counted in its column's mean, and the driver "
        "trains that seed again (`torchstn.reproduce.superseded`).",
        "",
        *recipe_table(),
        "",
        "## Commands",
        "",
        "For every cell that has a finished run: the driver command that (re)creates the cell, "
        "and the exact `torchstn train` command of each seed.",
        "",
        *command_lines(rows),
        "",
    ]
    return "\n".join(lines)


def write_report(rows: list[dict[str, Any]], results_dir: str | os.PathLike
                 ) -> tuple[Path, Path]:
    """Write ``table1.json`` (one object per cell) and ``table1.md``; their paths."""
    return write_files(rows, results_dir, JSON_NAME, MD_NAME, render_markdown(rows))


def write_files(rows: list[dict[str, Any]], results_dir: str | os.PathLike, json_name: str,
                md_name: str, markdown: str) -> tuple[Path, Path]:
    """Check every row has :data:`REQUIRED_KEYS`, then write the JSON list and the markdown
    (atomically); their paths."""
    missing = [k for k in REQUIRED_KEYS for r in rows if k not in r]
    if missing:
        raise ValueError(f"cell results lack the keys {sorted(set(missing))}")
    results_dir = Path(results_dir)
    js = atomic_write_text(results_dir / json_name, json.dumps(rows, indent=2) + "\n")
    md = atomic_write_text(results_dir / md_name, markdown)
    return js, md
