"""Training a co-localising transformer: the scale curriculum, a stage of Adam on the hinge,
the curriculum and refinement stages of one run, and the restarts with the run of lowest loss
kept (chosen by the objective alone, no box)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TextIO

import torch
from torch import Tensor

from ...data.clutter import COLOC_CANVAS
from ...data.geometric import DIGIT
from ...modules import SpatialTransformer
from .config import ColocConfig
from .embedding import Embed
from .loss import random_crops, triplet_loss
from .transformer import coloc_transformer

LOG_EVERY = 250
EVAL_DRAWS = 20  # random-crop draws that average a trained transformer's loss
EVAL_SEED = 12345  # those draws' seed: one fixed draw for every restart and class


def scale_at(step: int, cfg: ColocConfig, canvas: int = COLOC_CANVAS) -> float:
    """The curriculum: 1 at step 0, ``28 / canvas`` from ``anneal * steps`` on, linear between."""
    progress = min(1.0, step / max(1, round(cfg.anneal * cfg.steps)))
    return 1.0 + progress * (DIGIT / canvas - 1.0)


def hold_scale(st: SpatialTransformer, scale: float) -> None:
    """The transformer's scale output (the regression layer's row 0) becomes ``scale``."""
    with torch.no_grad():
        st.regressor.weight[0].zero_()
        st.regressor.bias[0] = scale


def train_stage(st: SpatialTransformer, images: Tensor, embed: Embed, steps: int,
                scale: Callable[[int], float], cfg: ColocConfig, gen: torch.Generator,
                log: TextIO | None = None, label: str = "") -> Tensor:
    """``steps`` of a fresh Adam (``cfg.lr``) on the hinge loss under ``embed``: every step all
    views, one random crop of each image drawn with ``gen``; the scale is ``scale(step)``, not
    learned. The loss of the last step."""
    opt = torch.optim.Adam(st.parameters(), lr=cfg.lr)
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        hold_scale(st, scale(step))
        loss = triplet_loss(embed(st(images)), embed(random_crops(images, gen)), cfg.margin)
        opt.zero_grad()
        loss.backward()
        st.regressor.weight.grad[0] = 0  # the scale follows the schedule, not the gradient
        st.regressor.bias.grad[0] = 0
        opt.step()
        if log is not None and (step + 1) % LOG_EVERY == 0:
            print(f"{label}step {step + 1}/{steps}: loss {loss.item():.4f}", file=log, flush=True)
    return loss


def localise(images: Tensor, embed: Embed, cfg: ColocConfig, log: TextIO | None = None,
             label: str = "", refine: Sequence[Embed] = ()) -> tuple[SpatialTransformer, float]:
    """Train a co-localising transformer on ``images`` ``(N, 1, H, W)``; it and its final loss.

    :func:`train_stage` for ``cfg.steps`` with ``embed`` under the scale curriculum, then for
    each stage of ``cfg.refine`` with its own embedding (``refine``, in order), the scale held at
    its final value; one stream of random crops throughout."""
    if len(refine) != len(cfg.refine):
        raise ValueError(f"refine: expected {len(cfg.refine)} embeddings (one per stage of "
                         f"cfg.refine), got {len(refine)}")
    torch.manual_seed(cfg.seed)
    canvas = images.shape[-1]
    st = coloc_transformer(canvas, cfg.inside)
    gen = torch.Generator().manual_seed(cfg.seed)
    stages = [(embed, cfg.steps, "", lambda step: scale_at(step, cfg, canvas))]
    final = scale_at(cfg.steps, cfg, canvas)
    stages += [(e, n, f"refine {k + 1}/{len(refine)} ", lambda step: final)
               for k, (e, (_, n)) in enumerate(zip(refine, cfg.refine, strict=True))]
    loss = torch.tensor(float("nan"))
    for e, steps, stage, scale in stages:
        loss = train_stage(st, images, e, steps, scale, cfg, gen, log, label + stage)
    hold_scale(st, final)
    return st.eval(), float(loss.detach())


@torch.no_grad()
def mean_loss(st: SpatialTransformer, images: Tensor, embed: Embed, cfg: ColocConfig,
              draws: int = EVAL_DRAWS) -> float:
    """The loss of a trained transformer averaged over ``draws`` sets of random crops (a fixed
    draw, the same for every restart): the one-batch loss of the last step is too noisy to
    compare runs by. It needs no box, so choosing by it stays unsupervised."""
    gen = torch.Generator().manual_seed(EVAL_SEED)
    z = embed(st(images))
    return sum(float(triplet_loss(z, embed(random_crops(images, gen)), cfg.margin))
               for _ in range(draws)) / draws


def localise_best(images: Tensor, embed: Embed, cfg: ColocConfig, log: TextIO | None = None,
                  label: str = "", refine: Sequence[Embed] = (), first: int = 0
                  ) -> tuple[SpatialTransformer, list[float], int]:
    """:func:`localise` from seeds ``cfg.seed + k`` for ``k`` in ``first .. cfg.restarts - 1``;
    the run of lowest :func:`mean_loss` (under the last stage's embedding: the objective each
    run ended on), the losses of those runs and the index (among them) of the one kept."""
    runs, losses = [], []
    last = refine[-1] if refine else embed
    for k in range(first, cfg.restarts):
        st, _ = localise(images, embed, dataclasses.replace(cfg, seed=cfg.seed + k), log,
                         f"{label}restart {k + 1}/{cfg.restarts} ", refine)
        runs.append(st)
        losses.append(mean_loss(st, images, last, cfg))
    best = min(range(len(runs)), key=losses.__getitem__)
    return runs[best], losses, best
