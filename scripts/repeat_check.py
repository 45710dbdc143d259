"""Repeat one cell of Table 1 from scratch and check it lands within the reported spread.

    python scripts/repeat_check.py --cell r:st-fcn-aff [--threads 1] [--data-dir DIR]

Trains the cell's seed 0 again in a fresh run folder (``runs/repeat/...``, the same recipe,
through ``torchstn reproduce table1``), tests it on the fixed test set, and writes
``results/repeat-<dataset>-<model>.md``: the cell's reported per-seed errors and their spread
(``results/table1.json``), the repeat's error, whether it lies within the spread, and whether
the repeated model's weights equal the original run's bit for bit. Run it after the cell has
its seeds in the report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
REPEAT = Path("runs") / "repeat"


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_file(str(a)), load_file(str(b))
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", required=True, help="DATASET:MODEL, e.g. r:st-fcn-aff")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    dataset, model = args.cell.split(":")
    rows = json.loads((ROOT / "results" / "table1.json").read_text())
    row = next((r for r in rows if (r["dataset"], r["model"]) == (dataset, model)), None)
    if row is None or not row["errors"]:
        sys.exit(f"{args.cell}: no finished run in results/table1.json")
    seed = 0  # the driver trains seeds 0..N-1 of a fresh folder: seed 0 is the one repeated
    runs = REPEAT / "seed0"
    cmd = ["torchstn", "reproduce", "table1", "--cells", args.cell, "--runs-dir", str(runs),
           "--results-dir", str(runs / "results"), "--checkpoints-dir",
           str(runs / "checkpoints"), "--no-figures", "--no-progress", "--threads",
           str(args.threads)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    subprocess.run([sys.executable, "-m", "torchstn.cli.main", *cmd[1:]], cwd=ROOT, check=True)
    again = json.loads((ROOT / runs / "results" / "table1.json").read_text())
    mine = next(r for r in again if (r["dataset"], r["model"]) == (dataset, model))
    first = next(r for r in row["runs"] if r["seed"] == seed)
    error, low, high = mine["errors"][0], row["error_min"], row["error_max"]
    identical = same_weights(ROOT / first["run_dir"] / "model.safetensors",
                             ROOT / runs / dataset / model / f"seed{seed}" /
                             "model.safetensors")
    run = mine["runs"][0]
    lines = [
        "# A Table 1 cell repeated from scratch",
        "",
        f"Written by `python scripts/repeat_check.py --cell {args.cell}`.",
        "",
        f"The cell {args.cell} was trained again, seed {seed}, in a fresh run folder "
        f"(`{runs.as_posix()}`), with the same recipe, and tested on the same fixed test set.",
        "",
        "| Cell | Reported seeds | Reported errors (%) | Spread (%) | Repeat of seed "
        f"{seed} (%) | Within the spread | Same weights as the original run |",
        "|---|---|---|---|---|---|---|",
        f"| {args.cell} | {', '.join(map(str, row['seeds']))} | "
        f"{', '.join(f'{e:.2f}' for e in row['errors'])} | {low:.2f}–{high:.2f} | {error:.2f} | "
        f"{'yes' if low <= error <= high else 'no'} | {'yes' if identical else 'no'} |",
        "",
        f"Repeat: commit {run['commit'][:10]}{' (uncommitted changes)' if run['dirty'] else ''}, "
        f"{run['machine']} ({run['device']}, {run['threads']} threads), "
        f"{run['wall_time_s']:.0f} s of training; original seed {seed}: commit "
        f"{first['commit'][:10]}, {first['wall_time_s']:.0f} s.",
        "",
        "```bash",
        " ".join(cmd),
        run["command"],
        "```",
        "",
    ]
    out = ROOT / "results" / f"repeat-{dataset}-{model}.md"
    out.write_text("\n".join(lines))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
