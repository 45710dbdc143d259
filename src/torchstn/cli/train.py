"""``torchstn train``: train a model on a distorted-MNIST set into a run folder.

Runs the same under ``torchrun --nproc-per-node N -m torchstn.cli.main train ...``.
"""

from __future__ import annotations

import argparse
import sys

from ..train.config import DECAY_SCOPES, DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig

# CLI flag -> config field, for the flags whose absence means "the default" (or "as saved")
FIELDS = ("dataset", "model", "epochs", "batch_size", "optimizer", "lr", "momentum",
          "weight_decay", "decay_scope", "schedule", "lr_milestones", "lr_drop", "loc_lr_mult",
          "grad_clip", "label_smoothing", "ema", "seed", "bf16", "channels_last", "recompute",
          "threads", "limit", "data_root", "device", "prefetch", "save_dtype", "tensorboard")


def _fractions(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions like 0.33,0.67, got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model", description="Train a model into a run folder "
        "(config.json, metrics.jsonl, checkpoints, model.safetensors).")
    p.add_argument("--dataset", help="data set: r, rts, p, e, tc, addition")
    p.add_argument("--model", help="model name, e.g. cnn, st-cnn-aff (see `torchstn models`)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--epochs", type=int, help="passes over the training set (default 10)")
    p.add_argument("--batch-size", type=int, help="images per step and process (default 256)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd (momentum 0.9) or adamw")
    p.add_argument("--lr", type=float, help="base learning rate (sgd 0.01, adamw 0.001)")
    p.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, help="(sgd 0, adamw 0.01)")
    p.add_argument("--decay-scope", choices=DECAY_SCOPES,
                   help="what weight decay applies to: all parameters (default) or only "
                        "matrices and kernels, not biases and norm parameters")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default step)")
    p.add_argument("--lr-milestones", type=_fractions,
                   help="step schedule: fractions of the run where lr drops (default 1/3,2/3)")
    p.add_argument("--lr-drop", type=float, help="step schedule: factor per drop (default 0.1)")
    p.add_argument("--loc-lr-mult", type=float,
                   help="learning-rate multiplier of the localisation nets (default 1)")
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value")
    p.add_argument("--label-smoothing", type=float,
                   help="share of each target spread over all classes (default 0)")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="keep an exponential moving average of the weights with this decay per "
                        "step (e.g. 0.999) and save it as the model (default: none)")
    p.add_argument("--seed", type=int, help="seed of initialisation and data (default 0)")
    p.add_argument("--bf16", action="store_const", const=True,
                   help="bfloat16 autocast (fast on CPUs with AVX512-BF16/AMX)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format (default on: faster convolutions on CPU)")
    p.add_argument("--recompute", action="store_const", const=True,
                   help="spatial transformers keep only their input for backward and run again "
                        "there: less memory, one more transformer forward per step")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.add_argument("--limit", type=int, help="training images per epoch (default: all)")
    p.add_argument("--data-dir", "--data-root", dest="data_root",
                   help="folder holding the MNIST files (default $TORCHSTN_DATA)")
    p.add_argument("--device", choices=DEVICES, help="default auto: GPU if available")
    p.add_argument("--prefetch", type=int, help="batches generated ahead in a background "
                   "thread (default: 0 on CPU, where it competes for the cores; 2 on GPU)")
    p.add_argument("--save-fp16", dest="save_dtype", action="store_const", const="float16",
                   help="store the final model's weights as float16")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_const", const=False,
                   help="do not write TensorBoard logs even when tensorboard is installed")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="STATE",
                   help="continue the run in --out (or from the given state file)")
    p.add_argument("--overwrite", action="store_true", help="restart a run folder from scratch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--fake-data", action="store_true", help=argparse.SUPPRESS)  # tests only
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    given = {k: getattr(args, k) for k in FIELDS if getattr(args, k) is not None}
    for k in ("dataset", "model"):
        if k not in given:
            raise ValueError(f"--{k} is required (unless resuming with --resume)")
    extra = {"fake_data": True} if args.fake_data else {}
    return TrainConfig(out=args.out, extra=extra, **given)


def run(args: argparse.Namespace) -> int:
    from ..train import train

    if args.resume:
        given = {k: getattr(args, k) for k in FIELDS}
        cfg = TrainConfig(dataset="", model="", out=args.out)
        result = train(cfg, resume=args.resume, overrides=given, progress=not args.no_progress)
    else:
        result = train(config_from_args(args), overwrite=args.overwrite,
                       progress=not args.no_progress)
    if not result.is_main:
        return 0 if result.status == "done" else 130
    if result.status == "interrupted":
        print(f"torchstn: interrupted in epoch {result.epoch + 1} at step {result.step}; "
              f"checkpoint saved; continue with: torchstn train --out {result.run_dir} --resume",
              file=sys.stderr)
        return 130
    print(f"done: {result.epoch} epochs, model in {result.run_dir / 'model.safetensors'}; "
          f"test it with: torchstn eval {result.run_dir}", file=sys.stderr)
    return 0
