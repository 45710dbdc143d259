"""The co-localisation loss around the true box, for each Table 1 CNN as the embedding.

    python scripts/coloc_profile.py --clutter no --digits 1,5,7
    python scripts/coloc_profile.py --encoders tc --embedding maps --move y --shifts=-5,0,5

For each class's set (100 images, 84x84), every view is the 28x28 crop at the true box moved by
(k, k) px (``--move diagonal``, k in 0, 2, 4, 6, 8, 12: IoU with the true box 1, 0.75, 0.58, 0.45,
0.34, 0.18) or by k px along one axis (``--move x`` or ``y``; negative k: left or up), every view
of a set by the same move, and the paper's triplet loss is averaged over 5 draws of random crops.
A loss that is flat while IoU drops below 0.5 cannot tell a localised view from a missed one
(``results/coloc_exploration.md`` §6); one lower away from the true box draws the runs there
(§11).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from torchstn import load_model
from torchstn.data import coloc_set
from torchstn.reproduce.coloc import (
    EMBEDDINGS,
    EVAL_DRAWS,
    EVAL_SEED,
    ColocConfig,
    make_embedding,
    random_crops,
    triplet_loss,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from coloc_objective import CANVAS, CROP, crops_at  # noqa: E402

SHIFTS = (0, 2, 4, 6, 8, 12)
COLUMNS = ("r", "p", "e", "rts", "tc")
DRAWS = 5


MOVES = {"diagonal": (1, 1), "x": (1, 0), "y": (0, 1)}


def shifted_views(x: torch.Tensor, boxes: torch.Tensor, k: int, move: str = "diagonal"
                  ) -> torch.Tensor:
    """The 28x28 crops ``(N, 1, 28, 28)`` of ``x`` at the true ``boxes`` moved by k px along
    ``move`` (:data:`MOVES`: (k, k), (k, 0) or (0, k)), kept on the canvas."""
    step = torch.tensor(MOVES[move]) * k
    return crops_at(x, (boxes[:, :2].round().long() + step).clamp(0, CANVAS - CROP))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clutter", choices=("no", "yes"), default="no")
    ap.add_argument("--digits", default="1,5,7")
    ap.add_argument("--draws", type=int, default=DRAWS,
                    help=f"draws of random crops averaged (default {DRAWS}; the driver's restart "
                         f"choice uses {EVAL_DRAWS})")
    ap.add_argument("--encoders", default=",".join(COLUMNS))
    ap.add_argument("--contrast", action="store_true",
                    help="logits minus an empty view's (softmax_embedding(contrast=True))")
    ap.add_argument("--embedding", choices=EMBEDDINGS, default="softmax",
                    help="the encoders' softmax (default), last hidden activations (features) "
                         "or last convolutional feature maps (maps)")
    ap.add_argument("--move", choices=tuple(MOVES), default="diagonal")
    ap.add_argument("--split", choices=("train", "test"), default="train",
                    help="the sets of training digits (default) or of test digits")
    ap.add_argument("--shifts", default=",".join(map(str, SHIFTS)),
                    help="the moves k in px, comma-separated; --shifts=-3,0,3 when the first "
                         "is negative (default %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = ColocConfig(embedding=args.embedding, contrast=args.contrast, clutter_embedding=None)
    shifts = [int(k) for k in args.shifts.split(",")]
    embeds = {c: make_embedding(load_model(f"checkpoints/{c}/cnn-seed0.safetensors"), cfg)
              for c in args.encoders.split(",")}
    print("| digit | encoder | " + " | ".join(f"{k:+d} px" for k in shifts) + " |")
    print("|---|---|" + "---|" * len(shifts))
    for d in (int(v) for v in args.digits.split(",")):
        x, boxes = coloc_set(d, 100, clutter=args.clutter == "yes", split=args.split)
        for column, e in embeds.items():
            losses = []
            with torch.no_grad():
                for k in shifts:
                    z = e(shifted_views(x, boxes, k, args.move))
                    g = torch.Generator().manual_seed(EVAL_SEED)
                    losses.append(sum(float(triplet_loss(z, e(random_crops(x, g))))
                                      for _ in range(args.draws)) / args.draws)
            print(f"| {d} | {column} | " + " | ".join(f"{v:.3f}" for v in losses) + " |")


if __name__ == "__main__":
    main()
