"""``torchstn visualize``: rows of (input + sampling grid | transformer output | prediction)."""

from __future__ import annotations

import argparse

DEFAULT_ROWS = 8


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "visualize", help="draw what the transformer does",
        description="A Figure-1-style picture: for test images, the input with the sampling "
                    "grid drawn over it, the transformer's output and the predicted label.")
    p.add_argument("path", metavar="RUN", help="run folder or model file")
    p.add_argument("--dataset", help="data set (default: the one the model was trained on)")
    p.add_argument("--out", required=True, help="image file to write (png, pdf, svg)")
    p.add_argument("--n", type=int, default=DEFAULT_ROWS, help="rows (test images)")
    p.add_argument("--start", type=int, default=0, help="index of the first test image")
    p.add_argument("--data-dir", "--data-root", dest="data_root",
                   help="folder holding the MNIST files (default $TORCHSTN_DATA)")
    p.add_argument("--fake-data", action="store_true", help=argparse.SUPPRESS)  # tests only
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io import load_model_with_record
    from ..train.data import DataSource, check_data_root

    if args.n < 1:
        raise ValueError(f"--n: expected a positive integer, got {args.n}")
    if args.start < 0:
        raise ValueError(f"--start: expected >= 0, got {args.start}")
    check_data_root(args.data_root)
    try:
        from ..visualize import save_figure
    except ImportError as e:
        raise ValueError(str(e)) from None
    model, record = load_model_with_record(args.path)
    dataset = args.dataset or record.get("dataset")
    if not dataset:
        raise ValueError("the model file names no data set; pass --dataset")
    source = DataSource(dataset, 1, root=args.data_root, fake=args.fake_data)
    images, labels = source.test_set(args.start + args.n)
    images, labels = images[args.start:], labels[args.start:]
    if tuple(images.shape[1:]) != tuple(model.spec.in_shape):
        raise ValueError(f"--dataset {dataset}: images {tuple(images.shape[1:])} do not fit "
                         f"the model's input {tuple(model.spec.in_shape)}")
    try:
        out = save_figure(model, images, args.out, labels)
    except ImportError as e:
        raise ValueError(str(e)) from None
    print(f"wrote {out}")
    return 0
