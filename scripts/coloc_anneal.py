"""Co-localisation (PAPER.md §3, A.2) with a scale curriculum: exploratory, not the paper's recipe.

    python scripts/coloc_anneal.py --digits 0,1,2,3,4,5,6,7,8,9 [--clutter] [--steps 1000]
        [--anneal 0.7] [--lr 3e-3] [--encoder checkpoints/r/cnn-seed0.safetensors]

The paper's localisation net (conv 8 9x9 stride 4, max-pool 2, fc 8, fc 8, fc 3) drives an
attention transformer (scale, tx, ty) over the 100 images of one digit class (84x84,
``coloc_set``). The only loss is the triplet hinge of ``torchstn.reproduce.coloc.triplet_loss``: the
encoder's softmax of each 28x28 output against the other images' outputs and against a random
28x28 crop of the same image. The transformer starts at the identity (the whole canvas in view).
With the scale learned it zooms *out* (views that all look alike satisfy the loss), so here the
scale is fixed and annealed from 1 to 28/84 over the first ``--anneal`` share of the steps, and the
net learns the translation only. Prints the share of images localised with IoU > 0.5 (the paper's
measure) every 250 steps, then one RESULT line per digit.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from torchstn import SpatialTransformer, load_model
from torchstn.data.sets import coloc_set
from torchstn.reproduce.coloc import (
    box_iou,
    hold_scale,
    predict_boxes,
    softmax_embedding,
    triplet_loss,
)
from torchstn.sampler import sample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from coloc_objective import CANVAS, CROP, crops_at  # noqa: E402

N_IMAGES = 100
FINAL_SCALE = CROP / CANVAS


def localiser() -> SpatialTransformer:
    """The paper's localisation net on an attention transformer, identity start."""
    loc = nn.Sequential(nn.Conv2d(1, 8, 9, stride=4), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
    return SpatialTransformer(loc, "attention", out_size=(CROP, CROP), in_shape=(1, CANVAS, CANVAS))


def hit_rate(st: SpatialTransformer, x: torch.Tensor, boxes: torch.Tensor) -> float:
    """Share of images whose predicted box has IoU > 0.5 with the true 28x28 box."""
    return (box_iou(predict_boxes(st, x), boxes) > 0.5).float().mean().item()


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``(N, 1, H, W)`` convolved with a Gaussian of ``sigma`` pixels (zero padding)."""
    if sigma <= 0:
        return x
    r = math.ceil(3 * sigma)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(x, k.view(1, 1, 1, -1), padding=(0, r))
    return F.conv2d(x, k.view(1, 1, -1, 1), padding=(r, 0))


def run(digit: int, args: argparse.Namespace, embed) -> float:
    torch.manual_seed(args.seed)
    x, boxes = coloc_set(digit, N_IMAGES, clutter=args.clutter, root=args.data_dir)
    st = localiser()
    opt = torch.optim.Adam(st.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    anneal_steps = max(1, round(args.anneal * args.steps))
    for step in range(args.steps + 1):
        if step % 250 == 0 or step == args.steps:
            print(f"digit {digit} step {step}: IoU > 0.5 for {hit_rate(st, x, boxes):.0%} "
                  f"({time.time() - start:.0f} s)", flush=True)
        if step == args.steps:
            break
        progress = min(1.0, step / anneal_steps)
        hold_scale(st, 1.0 + progress * (FINAL_SCALE - 1.0))
        corners = torch.randint(0, CANVAS - CROP + 1, (N_IMAGES, 2), generator=gen)
        # the transformer samples a blurred canvas (sharp at the end of the curriculum): a digit
        # out of view still pulls the crop towards it; the localisation net sees the sharp image
        theta = st.params(x)
        grid = st.transform.grid(theta, (CROP, CROP))
        view = sample(blurred(x, args.blur * (1 - progress)), grid)
        loss = triplet_loss(embed(view), embed(crops_at(x, corners)), args.margin)
        opt.zero_grad()
        loss.backward()
        st.regressor.weight.grad[0] = 0  # the scale follows the schedule, not the gradient
        st.regressor.bias.grad[0] = 0
        opt.step()
    rate = hit_rate(st, x, boxes)
    print(f"RESULT digit {digit} clutter {args.clutter}: IoU > 0.5 for {rate:.0%}, "
          f"final loss {loss.item():.3g}", flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", default="3", help="comma-separated digit classes")
    ap.add_argument("--clutter", action="store_true")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--anneal", type=float, default=0.7, help="share of steps to reach 28/84")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--blur", type=float, default=0.0,
                    help="Gaussian blur (pixels) of the sampled canvas at the start, annealed to 0")
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encoder", default="checkpoints/r/cnn-seed0.safetensors")
    ap.add_argument("--data-dir", help="MNIST folder (default $TORCHSTN_DATA)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # an encoder for larger inputs (the RTS CNN: 42x42) sees the crop centred on black
    embed = softmax_embedding(load_model(args.encoder))

    rates = [run(int(d), args, embed) for d in args.digits.split(",")]
    print(f"mean IoU > 0.5 over {len(rates)} digit classes: {sum(rates) / len(rates):.0%}")


if __name__ == "__main__":
    main()
