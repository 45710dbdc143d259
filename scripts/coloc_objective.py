"""The co-localisation triplet loss (PAPER.md §3) at fixed crops: does it prefer the true box?

    python scripts/coloc_objective.py [--data-dir DIR] [--digit 3] [--encoder PATH]

For one co-localisation set (100 images of ``--digit``, 84x84, without and with clutter), the
paper's loss ``mean_n mean_{m != n} max(0, |e(T_n) - e(T_m)|^2 - |e(T_n) - e(R_n)|^2 + 1)`` is
evaluated with every T_n a 28x28 crop at one rule (the true box; the centre; the top-left corner;
the true box moved by 7 px) and R_n a uniformly random 28x28 crop of image n (mean of 5 draws).
``e`` is the encoder CNN's penultimate features, its logits, softmax or log-softmax.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from torchstn import load_model
from torchstn.data.sets import coloc_set

CROP, CANVAS, DRAWS = 28, 84, 5


def crops_at(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """28x28 crops ``(N, 1, 28, 28)`` of ``x`` ``(N, 1, 84, 84)`` with top-left ``pos`` (x, y)."""
    return torch.stack([x[i, :, y:y + CROP, x0:x0 + CROP]
                        for i, (x0, y) in enumerate(pos.tolist())])


def triplet_loss(z: torch.Tensor, z_rand: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    d = torch.cdist(z, z).square()
    hinge = F.relu(d - (z - z_rand).square().sum(1)[:, None] + margin)
    n = z.shape[0]
    return (hinge.sum() - hinge.diagonal().sum()) / (n * (n - 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--digit", type=int, default=3)
    ap.add_argument("--encoder", default="checkpoints/e/cnn-seed0.safetensors")
    args = ap.parse_args()
    enc = load_model(args.encoder).eval()

    @torch.no_grad()
    def embed(x: torch.Tensor, kind: str) -> torch.Tensor:
        h = enc.normalize(x)
        if kind == "features":
            return enc.classifier[:-1](h)
        logits = enc.classifier(h)
        return {"logits": logits, "softmax": logits.softmax(1),
                "log-softmax": logits.log_softmax(1)}[kind]

    g = torch.Generator().manual_seed(0)
    rules = ("true box", "centre", "corner", "true box + 7 px")
    print("| clutter | embedding | " + " | ".join(rules) + " |")
    print("|---|---|" + "---|" * len(rules))
    for clutter in (False, True):
        x, boxes = coloc_set(args.digit, 100, clutter=clutter, root=args.data_dir)
        truth = boxes[:, :2].long()
        at = {"true box": truth, "centre": torch.full_like(truth, (CANVAS - CROP) // 2),
              "corner": torch.zeros_like(truth),
              "true box + 7 px": (truth + 7).clamp(max=CANVAS - CROP)}
        for kind in ("features", "logits", "softmax", "log-softmax"):
            cells = []
            for rule in rules:
                z = embed(crops_at(x, at[rule]), kind)
                losses = [triplet_loss(z, embed(crops_at(x, torch.randint(
                    0, CANVAS - CROP + 1, truth.shape, generator=g)), kind)).item()
                    for _ in range(DRAWS)]
                cells.append(f"{sum(losses) / DRAWS:.3g}")
            print(f"| {clutter} | {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
