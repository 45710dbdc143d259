"""The co-localisation triplet loss (PAPER.md §3) at fixed crops: does it prefer the true box?

    python scripts/coloc_objective.py [--data-dir DIR] [--digit 3] [--encoder PATH]

For one co-localisation set (100 images of ``--digit``, 84x84, without and with clutter), the
paper's loss ``mean_n mean_{m != n} max(0, |e(T_n) - e(T_m)|^2 - |e(T_n) - e(R_n)|^2 + 1)`` is
evaluated with every T_n a 28x28 crop at one rule (the true box; the centre; the top-left corner;
the true box moved by 7 px) and R_n a uniformly random 28x28 crop of image n (mean of 5 draws).
``e`` is the encoder CNN's penultimate features, its logits, softmax or log-softmax.

``--optimise STEPS`` then asks whether gradient descent can find the boxes at all: every image
gets its own free translation (no localisation net; scale fixed at the true 28/84, the crop kept
inside the canvas), initialised at the centre and trained with Adam on the softmax loss; printed
is the share of images localised with IoU > 0.5, per digit class.
"""

from __future__ import annotations

import argparse

import torch

from torchstn import load_model
from torchstn.data.sets import coloc_set
from torchstn.reproduce.coloc import triplet_loss
from torchstn.sampler import sample
from torchstn.transforms import get_transform

CROP, CANVAS, DRAWS = 28, 84, 5


def crops_at(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """28x28 crops ``(N, 1, 28, 28)`` of ``x`` ``(N, 1, 84, 84)`` with top-left ``pos`` (x, y)."""
    return torch.stack([x[i, :, y:y + CROP, x0:x0 + CROP]
                        for i, (x0, y) in enumerate(pos.tolist())])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--digit", type=int, default=3)
    ap.add_argument("--encoder", default="checkpoints/e/cnn-seed0.safetensors")
    ap.add_argument("--optimise", type=int, metavar="STEPS", default=0)
    args = ap.parse_args()
    enc = load_model(args.encoder).eval().requires_grad_(False)

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
    if args.optimise:
        print("\n| clutter | digit | final loss | IoU > 0.5 |\n|---|---|---|---|")
        for clutter in (False, True):
            for digit in range(10):
                x, boxes = coloc_set(digit, 100, clutter=clutter, root=args.data_dir)
                loss, rate = free_translations(x, boxes, lambda v: embed_grad(enc, v),
                                               args.optimise, g)
                print(f"| {clutter} | {digit} | {loss:.3g} | {rate:.0%} |")


def embed_grad(enc, x: torch.Tensor) -> torch.Tensor:
    return enc.classifier(enc.normalize(x)).softmax(1)


def free_translations(x, boxes, embed, steps: int, g: torch.Generator, lr: float = 0.02):
    """Adam on one free translation per image; (final loss, share with IoU > 0.5)."""
    n, scale = x.shape[0], CROP / CANVAS
    raw = torch.zeros(n, 2, requires_grad=True)
    opt = torch.optim.Adam([raw], lr=lr)
    attention = get_transform("attention")

    def params() -> torch.Tensor:  # (s, tx, ty), the crop inside the canvas
        return torch.cat([torch.full((n, 1), scale), (1 - scale) * torch.tanh(raw)], 1)

    for _ in range(steps):
        z = embed(sample(x, attention.grid(params(), (CROP, CROP))))
        pos = torch.randint(0, CANVAS - CROP + 1, (n, 2), generator=g)
        loss = triplet_loss(z, embed(crops_at(x, pos)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        corner = (params()[:, 1:] - scale + 1) * CANVAS / 2  # predicted top-left, pixels
        overlap = (CROP - (corner - boxes[:, :2]).abs()).clamp(min=0).prod(1)
        iou = overlap / (2 * CROP * CROP - overlap)
    return loss.item(), (iou > 0.5).float().mean().item()


if __name__ == "__main__":
    main()
