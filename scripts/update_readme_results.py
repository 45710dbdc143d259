"""Copy the main tables of results/table1.md, addition.md, 3d.md and colocalisation.md into
the README.

    python scripts/update_readme_results.py [--check]

The README's results section lies between ``<!-- results-table -->`` and
``<!-- /results-table -->``; everything between is rewritten from the reports (which
``torchstn reproduce table1|addition|3d|coloc --report-only`` regenerate from the run folders).
``--check`` rewrites nothing and exits 1 when the README is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results-table -->", "<!-- /results-table -->"
def column_settings(field: str) -> str:
    """``" (R and RTS: 0.1, chosen ...)"``: the Table 1 columns whose recipe sets ``field`` to
    another value than the default recipe does (optimiser defaults filled in), grouped by value;
    empty when every column keeps the default."""
    from torchstn.reproduce.recipes import COLUMN_TITLES, COLUMNS
    from torchstn.reproduce.report import resolved_recipe

    default = getattr(resolved_recipe(), field)
    groups: dict[object, list[str]] = {}
    for d in COLUMNS:
        value = getattr(resolved_recipe(d), field)
        if value != default:
            groups.setdefault(value, []).append(COLUMN_TITLES[d])
    if not groups:
        return ""
    return " (" + "; ".join(f"{' and '.join(names)}: {value:g}" for value, names in groups.items()
                            ) + ", chosen on held-out training digits)"


def intro() -> str:
    """The paragraph above the table; the batch size and weight decay of the default recipe, and
    the columns whose recipe departs from them, from the recipes."""
    from torchstn.reproduce.report import resolved_recipe

    default = resolved_recipe()
    return (
        "Test error (%) on the fixed test sets, ours (one seed unless ± is shown) next to the "
        "paper's; from `results/table1.md` (commands, wall times, machine and checkpoints per "
        f"cell there). Trained on the 2-core development CPUs, one thread per run{gpu_text()}; "
        "recipe: AdamW, "
        f"one-cycle lr 2e-3, 70 epochs, batch {default.batch_size}{column_settings('batch_size')}, "
        f"bf16 autocast, weight decay {default.weight_decay:g}{column_settings('weight_decay')} "
        "(`torchstn/reproduce/recipes.py`; "
        "how it was chosen, with a disclosure, in `results/exploration.md` and "
        "`results/recipe_study.md`). The P column is harder than the paper's: "
        "`results/p_column.md` measures how many P test digits the specified homographies "
        "squeeze out of sight. `results/recipe_study.md` redoes the recipe choice on held-out "
        "training digits (GPU): training 2-3 times longer does not close the gap to the paper; "
        "weight decay 0.1 lowers the ST-CNN validation errors by 0.16-0.18 points. Runs of an "
        "older recipe are listed as superseded in `results/table1.md` and left out of the means."
    )


def report_rows(path: Path) -> list[dict]:
    """The cells of the report ``path`` (``results/<experiment>.json``); none when it is absent."""
    import json

    return json.loads(path.read_text()) if path.exists() else []


def gpu_text(path: Path = ROOT / "results" / "table1.json") -> str:
    """The clause naming the cells of the report ``path`` (``results/<experiment>.json``) with
    seeds trained, in whole or in part, on a GPU (each run's ``gpus``: the GPUs its training
    sessions ran on); empty when there are none."""
    from torchstn.reproduce.report import cell_title

    cells, gpus = [], set()
    for row in report_rows(path):
        runs = [r for r in row.get("runs", []) if r.get("gpus")]
        if runs:
            cells.append(f"{cell_title(row)} (seed{'s' if len(runs) > 1 else ''} "
                         f"{', '.join(str(r['seed']) for r in runs)})")
            gpus |= {g for r in runs for g in r["gpus"]}
    if not cells:
        return ""
    return (f", except these seeds, trained in whole or in part on a lent "
            f"{' / '.join(sorted(gpus))} (several runs sharing it): {', '.join(cells)}")


def epochs_text(path: Path) -> str:
    """The epochs the reported models of ``path`` (``results/<experiment>.json``) trained: "640",
    or "150 / 640" where they differ."""
    return " / ".join(str(e) for e in sorted({r["epochs"] for r in report_rows(path)
                                              if r.get("error") is not None
                                              and r.get("epochs") is not None}))


def block(path: Path, first: str, last: str | None) -> list[str]:
    """The lines of ``path`` from the one starting with ``first`` up to the one starting with
    ``last`` (inclusive), or to the end of that table when ``last`` is None."""
    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(first))
    out = []
    for ln in lines[start:]:
        if last is None and not ln.startswith("|"):
            break
        out.append(ln)
        if last is not None and ln.startswith(last):
            break
    return out


FIGURES = (("r", "R"), ("rts", "RTS"), ("p", "P"), ("e", "E"), ("tc", "TC"))
FIGURE_WIDTH = 180  # pixels per picture in the README


def figures() -> list[str]:
    """The Figure-1-style pictures that exist, side by side."""
    found = [(f"results/figures/{d}-st-cnn.png", t) for d, t in FIGURES
             if (ROOT / "results" / "figures" / f"{d}-st-cnn.png").exists()]
    if not found:
        return []
    return ["", "What the affine ST-CNNs learned (`torchstn reproduce figures`; each row: the "
            "input with the transformer's sampling grid, its output, the prediction): "
            + ", ".join(t for _, t in found) + ".", "",
            " ".join(f'<img src="{path}" alt="{t}" width="{FIGURE_WIDTH}">'
                     for path, t in found)]


def experiment(name: str, picture: str, intro: str, first: str = "| Model |") -> list[str]:
    """The main table of ``results/<name>.md`` (from its line starting with ``first``) after
    ``intro``, and its picture, if they exist."""
    report = ROOT / "results" / f"{name}.md"
    if not report.exists():
        return []
    parts = ["", intro, "", *block(report, first, None)]
    if (ROOT / "results" / "figures" / picture).exists():
        parts += ["", f'<img src="results/figures/{picture}" alt="{name}" '
                      f'width="{2 * FIGURE_WIDTH}">']
    return parts


def section() -> str:
    table1 = block(ROOT / "results" / "table1.md", "| Model |", "**Cells that beat")
    above = [ln for ln in (ROOT / "results" / "table1.md").read_text().splitlines()
             if ln.startswith("**Cells at or above")]
    table1 += ["", *above] if above else []
    parts = [START, intro(), "", *table1, *figures()]
    addition = ROOT / "results" / "addition.json"
    parts += experiment(
        "addition", "addition-2xst-fcn.png",
        "MNIST addition (two RTS digits, label = their sum; `results/addition.md`, with the "
        "picture of what each of the two transformers attends to). Trained with the Table 1 "
        f"recipe for {epochs_text(addition)} epochs, on the development CPUs"
        f"{gpu_text(addition)}:")
    parts += experiment(
        "3d", "3d-st3d-cnn.png",
        "3D MNIST (an extruded digit turned in 3D in a 60^3 volume; the paper reports pictures "
        "only; `results/3d.md`, with the learned projections):")
    parts += experiment(
        "colocalisation", "coloc.png",
        "Co-localisation (share of each class's 100 images localised with IoU > 0.5, trained "
        "with the triplet loss only; `results/colocalisation.md`, with the encoder and the scale "
        "curriculum it uses, and the predicted boxes):", "| Setting |")
    if (ROOT / "results" / "coloc_exploration.md").exists() and \
            not (ROOT / "results" / "colocalisation.md").exists():
        parts += ["", "Co-localisation (appendix A.2) is not reproduced yet; "
                      "`results/coloc_exploration.md` records what was tried and measured."]
    return "\n".join([*parts, END])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text()
    a, b = text.index(START), text.index(END) + len(END)
    new = text[:a] + section() + text[b:]
    if args.check:
        if new != text:
            print("README.md: the results section is out of date; run "
                  "python scripts/update_readme_results.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
