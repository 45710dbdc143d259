"""``torchstn data``: download MNIST, show where it is, preview the distorted data sets.

    torchstn data download [--data-dir D]
    torchstn data info [--data-dir D]
    torchstn data preview --dataset rts --out rts.png [--data-dir D] [--n 64] [--seed S]

The data directory is ``--data-dir``, else ``$TORCHSTN_DATA``, else ``~/.cache/torchstn`` (see
:mod:`torchstn.data.mnist`).
"""

from __future__ import annotations

import argparse

from ..data import mnist
from ..data.preview import preview
from ..data.sets import DATASETS, TEST_SEED
from .main import CLIError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="download MNIST, preview the distorted data sets",
        description="MNIST files and the distorted MNIST data sets of the paper.",
    )
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=None,
                       help="data directory (default: $TORCHSTN_DATA, else ~/.cache/torchstn)")

    p = actions.add_parser("download", help="fetch and verify the four MNIST files")
    data_dir(p)
    p = actions.add_parser("info", help="where the MNIST files are looked for and found")
    data_dir(p)
    p = actions.add_parser("preview", help="write a PNG grid of test-set samples")
    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=TEST_SEED,
                   help=f"test-set seed (default {TEST_SEED})")
    data_dir(p)
    parser.set_defaults(func=run, data_parser=parser)


def run(args: argparse.Namespace) -> int:
    if args.data_action == "download":
        try:
            for path in mnist.download(args.data_dir, verbose=True):
                print(path)
        except mnist.DownloadError as e:
            raise CLIError(str(e).replace("\n", " ")) from e
        return 0
    if args.data_action == "info":
        print(f"data directory: {mnist.data_dir(args.data_dir)}")
        for name in mnist.RESOURCES:
            print(f"  {name}: {mnist.find_file(name, args.data_dir) or 'missing'}")
        for spec in DATASETS.values():
            c, h, w = spec.in_shape
            print(f"{spec.name:9s} {c}x{h}x{w} {spec.num_classes:2d} classes  {spec.description}")
        return 0
    if args.data_action == "preview":
        path = preview(args.dataset, args.out, root=args.data_dir, n=args.n, seed=args.seed)
        print(path)
        return 0
    args.data_parser.print_help()
    return 2
