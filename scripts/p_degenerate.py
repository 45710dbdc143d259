"""How much of each P test digit survives its homography (results/p_column.md).

    python scripts/p_degenerate.py [--data-dir DIR] [--model checkpoints/p/cnn-seed0.safetensors]

For every sample of the fixed P test set, the same homography as the data warps an all-ones
28x28 image: the sum of the result is the area (in pixels) of the digit frame's image inside
the 28x28 canvas. The script prints the distribution of that area and, for each committed P
model, the test error inside each area band.
"""

from __future__ import annotations

import argparse
import math

import torch

from torchstn import load_model
from torchstn.data import geometric, sets
from torchstn.data.rng import CHUNK, chunked
from torchstn.data.sets import TEST_SEED, test_set
from torchstn.evaluate import evaluate

BANDS = (0, 50, 100, 200, 400, 785)  # visible frame area in pixels (the canvas has 784)


def visible_area(n: int) -> torch.Tensor:
    draw = sets._draw("p", n)
    out = []
    for c in range(math.ceil(n / CHUNK)):
        lo, hi = c * CHUNK, min((c + 1) * CHUNK, n)
        params = chunked(draw, TEST_SEED, ("p", "test"), lo, hi)
        out.append(geometric.p_apply(torch.ones(hi - lo, 1, 28, 28), params).sum((1, 2, 3)))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--model", action="append")
    args = ap.parse_args()
    x, y = test_set("p", args.data_dir)
    area = visible_area(x.shape[0])
    models = args.model or ["checkpoints/p/cnn-seed0.safetensors"]
    wrong = {}
    for path in models:
        model = load_model(path).eval()
        with torch.no_grad():
            pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
        wrong[path] = pred != y
        print(f"{path}: error {100 * evaluate(model, x, y)['error']:.2f}%")
    print("\n| visible frame area (px) | test samples | share | "
          + " | ".join(f"errors of {p.split('/')[-1]}" for p in models) + " |")
    print("|---|---|---|" + "---|" * len(models))
    for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
        band = (area >= lo) & (area < hi)
        errs = " | ".join(f"{int(wrong[p][band].sum())} ({100 * wrong[p][band].float().mean():.1f}%"
                          ")" if band.any() else "0" for p in models)
        print(f"| {lo}–{hi - 1} | {int(band.sum())} | {100 * band.float().mean():.2f}% | {errs} |")


if __name__ == "__main__":
    main()
