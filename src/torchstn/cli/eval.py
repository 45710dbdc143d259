"""``torchstn eval``: test error with its 95% confidence interval on the fixed test set, or
(``--validation``) on held-out training digits, for model selection."""

from __future__ import annotations

import argparse
import json

import torch

from ..data.sets import VALIDATION_SIZE

TRAIN_DIGITS = 60_000  # MNIST training split

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="test error of a trained model",
        description="Test error (with a 95%% Wilson confidence interval) of a run or model "
                    "file on the fixed test set of a data set.")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT", help="run folder or model/state file")
    p.add_argument("--dataset", help="data set (default: the one the model was trained on)")
    p.add_argument("--limit", type=int, help="only the first N test images")
    p.add_argument("--validation", type=int, nargs="?", const=VALIDATION_SIZE, metavar="SIZE",
                   help="evaluate on the validation set instead: the last SIZE training digits "
                        f"(default {VALIDATION_SIZE}), held out of a run trained with "
                        f"--limit {TRAIN_DIGITS - VALIDATION_SIZE}; refused for a model that "
                        "trained on them")
    p.add_argument("--batch-size", type=int, default=1000, help="images per forward pass")
    p.add_argument("--data-dir", "--data-root", dest="data_root",
                   help="folder holding the MNIST files (default $TORCHSTN_DATA)")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fake-data", action="store_true", help=argparse.SUPPRESS)  # tests only
    p.set_defaults(func=run)


def evaluate_path(path: str, dataset: str | None = None, *, limit: int | None = None,
                  batch_size: int = 1000, data_root: str | None = None, device: str = "auto",
                  fake_data: bool = False, validation: int | None = None) -> dict:
    """Test statistics of the model at ``path`` (see :func:`torchstn.evaluate.evaluate`); with
    ``validation``, on the validation set of that many held-out training digits."""
    from ..evaluate import evaluate_windows
    from ..io import load_model_with_record, resolve_model_path
    from ..train.data import DataSource, check_data_root
    from ..train.distributed import pick_device

    if limit is not None and limit < 1:
        raise ValueError(f"--limit: expected a positive integer, got {limit}")
    if batch_size < 1:
        raise ValueError(f"--batch-size: expected a positive integer, got {batch_size}")
    check_data_root(data_root)
    dev = pick_device(device)
    model, record = load_model_with_record(path, device=str(dev))
    dataset = dataset or record.get("dataset")
    if not dataset:
        raise ValueError("the model file names no data set; pass --dataset")
    source = DataSource(dataset, batch_size, root=data_root, fake=fake_data)
    in_shape, num_classes = source.info()
    if tuple(in_shape) != tuple(model.spec.in_shape) or num_classes != model.spec.num_classes:
        raise ValueError(f"--dataset {dataset}: its images {tuple(in_shape)} / {num_classes} "
                         f"classes do not fit the model ({tuple(model.spec.in_shape)} / "
                         f"{model.spec.num_classes} classes)")
    if validation is not None:
        check_held_out(record, validation)
    stats = evaluate_windows(model, source.test_windows(limit, validation), batch_size, dev)
    return {**stats, "dataset": dataset, "model": model.spec.name,
            "split": "test" if validation is None else f"validation ({validation})",
            "path": str(resolve_model_path(path)), "trained_on": record.get("dataset"),
            "epoch": record.get("epoch")}


def check_held_out(record: dict, size: int) -> None:
    """Refuse a validation set that the model trained on (its record's ``train_limit``: the
    first N training digits, 0 or missing: all of them)."""
    if not isinstance(size, int) or not 0 < size < TRAIN_DIGITS:
        raise ValueError(f"--validation: expected a size in 1..{TRAIN_DIGITS - 1}, got {size}")
    used = int(record.get("train_limit") or TRAIN_DIGITS)
    if used > TRAIN_DIGITS - size:
        raise ValueError(f"--validation {size}: the model trained on the first {used} training "
                         f"digits, which include the last {size}; train with --limit "
                         f"{TRAIN_DIGITS - size} to hold them out")


def run(args: argparse.Namespace) -> int:
    from ..evaluate import format_stats

    if args.threads:
        if args.threads < 1:
            raise ValueError(f"--threads: expected a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    stats = evaluate_path(args.path, args.dataset, limit=args.limit, batch_size=args.batch_size,
                          data_root=args.data_root, device=args.device,
                          fake_data=args.fake_data, validation=args.validation)
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        label = "test error" if args.validation is None else "validation error"
        text = format_stats(stats, label)
        print(f"{stats['model']} on {stats['dataset']}: {text}")
    return 0
