"""How far a trained model is from fitting its training data: its error on fixed distorted copies
of *training* digits beside its error on the test set.

    python scripts/fit_gap.py checkpoints/addition/*.safetensors [--pairs 5000] [--data-dir DIR]

For each checkpoint, the first ``--pairs`` images of ``validation_set(dataset)`` (distorted
copies of the last 10,000 MNIST training digits, which a model trained on all 60,000 has seen:
its training error on one fixed draw of the distortions) and of ``test_set(dataset)``, evaluated
with :func:`torchstn.evaluate.evaluate`. A model whose training error is close to its test error
under-fits: more iterations or a stronger recipe can still lower both (README, MNIST addition).
Prints a Markdown table; the data set is the one the checkpoint records.
"""

from __future__ import annotations

import argparse
import sys

import torch

from torchstn.cli.eval import TRAIN_DIGITS
from torchstn.data import test_set, validation_set
from torchstn.data.sets import VALIDATION_SIZE
from torchstn.evaluate import evaluate
from torchstn.io import load_model_with_record

PAIRS = 5000


def gap_row(path: str, n: int, root: str | None = None) -> dict:
    """``{"path", "dataset", "epoch", "train_error", "test_error", "n"}`` (errors in %)."""
    model, record = load_model_with_record(path)
    dataset = record.get("dataset")
    if not dataset:
        raise ValueError(f"{path}: the model file names no data set")
    used = int(record.get("train_limit") or TRAIN_DIGITS)
    if used <= TRAIN_DIGITS - VALIDATION_SIZE:  # the validation digits were held out
        raise ValueError(f"{path}: the model trained on the first {used} training digits only, "
                         "so the validation digits are held out; use torchstn eval --validation")
    out = {"path": path, "dataset": dataset, "epoch": record.get("epoch"), "n": n}
    for key, make in (("train_error", validation_set), ("test_error", test_set)):
        x, y = make(dataset, root, stop=n)
        out[key] = 100 * evaluate(model, x, y)["error"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="model files (torchstn.load_model)")
    ap.add_argument("--pairs", type=int, default=PAIRS,
                    help=f"images of each set (default {PAIRS})")
    ap.add_argument("--data-dir", help="folder holding the MNIST files (default $TORCHSTN_DATA)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.pairs < 1:
        ap.error(f"--pairs: expected a positive integer, got {args.pairs}")
    torch.set_num_threads(args.threads)
    print("| Checkpoint | Data set | Epoch | Error on training digits (%) | Test error (%) | "
          "Images |")
    print("|---|---|---|---|---|---|")
    for path in args.checkpoints:
        r = gap_row(path, args.pairs, args.data_dir)
        print(f"| `{r['path']}` | {r['dataset']} | {r['epoch']} | {r['train_error']:.2f} | "
              f"{r['test_error']:.2f} | {r['n']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
