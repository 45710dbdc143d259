"""``torchstn models``: the model registry and its parameter table per data set."""

from __future__ import annotations

import argparse
import json

COLUMNS = ("model", "widths", "pool", "localization", "classifier", "total", "vs CNN")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "models", help="list models with their parameter counts",
        description="Parameter table of every model for a data set (all models of a data set "
                    "are matched to the CNN baseline's parameter count).")
    p.add_argument("--dataset", action="append",
                   help="data set (repeatable; default: every labelled data set)")
    p.add_argument("--model", action="append", help="only these models (repeatable)")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _cells(row: dict) -> list[str]:
    pool = str(row["pool"])
    if row.get("loc_pool", row["pool"]) != row["pool"]:  # the localisation nets see less
        pool += f" (loc {row['loc_pool']})"
    if row.get("view") is not None:  # the transformer samples a smaller view than its input
        pool += f" (view {row['view']})"
    if row.get("batchnorm"):  # an FCN classifier with batch norm before each hidden ReLU
        pool += " (bn)"
    if row.get("iterations", 1) > 1:  # the localisation net looks again at its own warp
        pool += f" (looks {row['iterations']}x)"
    return [row["model"], "/".join(map(str, row["widths"])), pool,
            f"{row['localization']:,}", f"{row['classifier']:,}", f"{row['total']:,}",
            f"{100 * row['vs_cnn']:+.1f}%"]


def format_table(dataset: str, rows: list[dict], in_shape, num_classes: int,
                 markdown: bool = False) -> str:
    from ..models.registry import baseline_model

    # the rows come in the registry's order, the baseline not always first
    base = next((r for r in rows if r["model"] == baseline_model(dataset)), rows[0])
    title = (f"dataset {dataset}: input {tuple(in_shape)}, {num_classes} classes, "
             f"baseline {base['model']} {base['total']:,} parameters")
    cells = [_cells(r) for r in rows]
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join("---" for _ in COLUMNS) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([title, fmt.format(*COLUMNS), *(fmt.format(*c) for c in cells)]) + "\n"


def labelled_datasets() -> list[str]:
    from ..data import DATASETS

    return [k for k, v in DATASETS.items() if getattr(v, "num_classes", None)]


def run(args: argparse.Namespace) -> int:
    from ..models import dataset_info, parameter_table, parse_name

    for n in args.model or ():
        parse_name(n)
    datasets = args.dataset or labelled_datasets()
    out = {}
    for ds in datasets:
        in_shape, k = dataset_info(ds)
        rows = parameter_table(ds, tuple(args.model) if args.model else None)
        out[ds] = {"in_shape": list(in_shape), "num_classes": k, "models": rows}
        if not args.json:
            print(format_table(ds, rows, in_shape, k, args.markdown))
    if args.json:
        print(json.dumps(out, indent=2))
    return 0
