"""Generation throughput of every distorted MNIST variant (images/s), batch 256, float32.

    python benchmarks/data_throughput.py [--threads 2] [--batch 256] [--repeat 1] [--quick]
                                         [--out FILE]

Each row times the pure batched function (parameter draw + warp) on real MNIST test digits when
TORCHSTN_DATA (or the default cache) holds them, else on random digits. The ``train_batches`` row
times a whole training epoch slice (gather + draw + warp, no prefetch thread) for RTS. Targets
(2 cores): R, RTS, P >= 100,000 images/s; E, TC >= 30,000 images/s. On a machine shared with other
jobs, ``--repeat N`` reports the best of N medians (a stolen core stalls a whole multi-threaded
batch, which shows as 10-50x outliers at 2 threads).
"""

from __future__ import annotations

import argparse
import itertools
import sys

import torch
from common import header, median_ms, table

from torchstn import data
from torchstn.data import mnist

TARGETS = {"r": 100_000, "rts": 100_000, "p": 100_000, "e": 30_000, "tc": 30_000}


def _digits(batch: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        images, _ = mnist.load("test")
        source = "MNIST test digits"
    except FileNotFoundError:
        images = torch.randint(0, 256, (10_000, 28, 28), dtype=torch.uint8)
        source = "random digits (MNIST not found)"
    return mnist.to_float(images[:batch]), images, source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many medians")
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    min_time = 0.2 if args.quick else 1.0
    batch, split, source = _digits(args.batch)
    g = torch.Generator().manual_seed(0)
    second = batch.roll(1, 0)
    cases = {
        "r": lambda: data.r(batch, g),
        "rts": lambda: data.rts(batch, g),
        "p": lambda: data.p(batch, g),
        "e": lambda: data.e(batch, g),
        "tc": lambda: data.tc(batch, split, g),
        "addition": lambda: data.addition(batch, second, g),
        "coloc": lambda: data.coloc(batch, g),
        "coloc (clutter)": lambda: data.coloc(batch, g, split),
    }
    rows = []
    if source.startswith("MNIST"):
        batches = _epochs("rts", args.batch)
        cases["train_batches(rts)"] = lambda: next(batches)
    for name, fn in cases.items():
        ms = min(median_ms(fn, min_time) for _ in range(max(1, args.repeat)))
        rows.append(_row(name, ms, args.batch))
    text = "\n".join([header("Data generation throughput"), f"- input: {source}, batch "
                      f"{args.batch}, float32, best of {max(1, args.repeat)} median(s)", "",
                      table(rows), ""])
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


def _epochs(name: str, batch: int):
    """Training batches of ``name``, epoch after epoch (per-epoch setup included)."""
    for epoch in itertools.count():
        yield from data.train_batches(name, batch_size=batch, epoch=epoch, prefetch_depth=0)


def _row(name: str, ms: float, batch: int) -> dict[str, object]:
    rate = batch / ms * 1e3
    target = TARGETS.get(name)
    verdict = "-" if target is None else ("ok" if rate >= target else "BELOW")
    return {"variant": name, "ms / batch": ms, "images/s": f"{rate:,.0f}",
            "target": "-" if target is None else f"{target:,}", "status": verdict}


if __name__ == "__main__":
    sys.exit(main())
