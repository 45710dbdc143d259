"""``torchstn demo``: offline, a bundled ST-CNN on 256 bundled RTS-distorted MNIST digits."""

from __future__ import annotations

import argparse
import sys

from ..demo import FIGURE_ROWS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="offline demo: a trained ST-CNN on RTS-distorted digits",
        description="Classify 256 bundled MNIST test digits, distorted as in the fixed RTS "
                    "test set, with the bundled ST-CNN; print the accuracy and write a "
                    "Figure-1-style picture. Needs no network and no data download.")
    p.add_argument("--out", default="demo.png", help="picture to write (default demo.png)")
    p.add_argument("--checkpoint", help="a model trained on rts instead of the bundled one")
    p.add_argument("--rows", type=int, default=FIGURE_ROWS, help="digits in the picture")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..demo import run_demo
    from ..evaluate import format_stats

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads: expected a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    result = run_demo(args.checkpoint, args.out, args.rows)
    s = result["stats"]
    right = s["n"] - s["errors"]
    print(f"{result['model']} on {s['n']} RTS-distorted MNIST test digits "
          f"(the first {s['n']} of the fixed RTS test set)")
    print(f"accuracy {100 * right / s['n']:.2f}% ({right} of {s['n']} right); "
          f"{format_stats(s)}")
    if result["figure"] is not None:
        print(f"wrote {result['figure']}: each row shows the input with the transformer's "
              "sampling grid, the transformer's output and the prediction")
    else:
        print(f"no picture drawn: {result['figure_error']}", file=sys.stderr)
    return 0
