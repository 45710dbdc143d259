"""Co-localisation with refinement stages, measured after every stage (exploration).

    python scripts/coloc_refine.py --clutter no --digits 7,5 --stages p:500,e:300,r:300 --lr 3e-3
    python scripts/coloc_refine.py --clutter no --digits 1 --encoder tc --embedding maps \
        --stages none --seed 1

One restart (``--seed``, default 0) of the driver's curriculum with the RTS CNN (``--encoder``:
another column's CNN; ``torchstn.reproduce.coloc``, refinement off), then each stage trains the
same transformer on with another Table 1 CNN's softmax as the embedding (``COLUMN:STEPS``:
``checkpoints/<column>/cnn-seed0.safetensors``), the scale held at 28/84, a fresh Adam. Printed
after every stage: the share of images localised (IoU > 0.5), the mean IoU, a 5-bin IoU
histogram and the mean and spread of the boxes' offset from the true ones (x, y in px; negative:
left, up). ``--stages none``: the curriculum alone. It looks at the boxes: an exploration tool,
not the protocol (``results/coloc_exploration.md`` §6, §10, §11).
"""

from __future__ import annotations

import argparse
import time

import torch

from torchstn import load_model
from torchstn.data import coloc_set
from torchstn.reproduce.coloc import (
    EMBEDDINGS,
    ColocConfig,
    box_iou,
    localise,
    make_embedding,
    predict_boxes,
    scale_at,
    train_stage,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clutter", choices=("no", "yes"), default="no")
    ap.add_argument("--digits", default="7")
    ap.add_argument("--stages", default="p:500,e:300,r:300")
    ap.add_argument("--lr", type=float, default=ColocConfig.lr)
    ap.add_argument("--encoder", default="rts", help="the curriculum's column (default rts)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--contrast", action="store_true",
                    help="logits minus an empty view's (softmax_embedding(contrast=True))")
    ap.add_argument("--embedding", choices=EMBEDDINGS, default="softmax")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    args = ap.parse_args()
    torch.set_num_threads(1)
    stages = [] if args.stages == "none" else [
        (c, int(n)) for c, n in (s.split(":") for s in args.stages.split(","))]
    cfg = ColocConfig(lr=args.lr, restarts=1, refine=(), seed=args.seed, contrast=args.contrast,
                      embedding=args.embedding, clutter_embedding=None)
    embeds = {c: make_embedding(load_model(f"checkpoints/{c}/cnn-seed0.safetensors"), cfg)
              for c in {args.encoder, *(c for c, _ in stages)}}
    final = scale_at(cfg.steps, cfg)  # the refinement holds the scale where the curriculum ends

    def rate(st, x, boxes) -> str:
        pred = predict_boxes(st, x)
        iou = box_iou(pred, boxes)
        hist = torch.histc(iou, 5, 0, 1).int().tolist()
        # box centres, predicted minus true
        offset = (pred[:, :2] + pred[:, 2:] - boxes[:, :2] - boxes[:, 2:]) / 2
        mean, spread = offset.mean(0).tolist(), offset.std(0).tolist()
        return (f"{(iou > 0.5).float().mean():.2f} (IoU {iou.mean():.2f} hist {hist}, offset "
                f"({mean[0]:+.1f}, {mean[1]:+.1f}) ± ({spread[0]:.1f}, {spread[1]:.1f}) px)")

    for d in (int(v) for v in args.digits.split(",")):
        x, boxes = coloc_set(d, 100, clutter=args.clutter == "yes", split=args.split)
        start = time.time()
        st, _ = localise(x, embeds[args.encoder], cfg)
        out = [f"{args.encoder} {rate(st, x, boxes)}"]
        for column, steps in stages:
            st.train()
            train_stage(st, x, embeds[column], steps, lambda _: final, cfg,
                        torch.Generator().manual_seed(1))
            st.eval()
            out.append(f"{column}:{steps} {rate(st, x, boxes)}")
        print(f"clutter={args.clutter} digit {d}: " + " -> ".join(out)
              + f"  [{time.time() - start:.0f}s]", flush=True)


if __name__ == "__main__":
    main()
