"""The co-localising transformer: the paper's localisation net and an attention transform,
``(N, 1, canvas, canvas)`` -> ``(N, 1, 28, 28)``, optionally with its view kept on the canvas."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...data.clutter import COLOC_CANVAS
from ...data.geometric import DIGIT
from ...modules import SpatialTransformer
from ...transforms.attention import Attention

# the paper's localisation net: conv 8 filters 9x9 stride 4 -> max-pool 2x2 -> fc 8 -> fc 8
LOC_CONV = {"out_channels": 8, "kernel_size": 9, "stride": 4}
LOC_POOL = 2
LOC_HIDDEN = 8


def localization_net(canvas: int = COLOC_CANVAS) -> nn.Sequential:
    """The paper's localisation net up to its last hidden layer: ``(N, 1, canvas, canvas)`` ->
    ``(N, 8)``; :class:`SpatialTransformer` adds the regression layer."""
    side = (canvas - LOC_CONV["kernel_size"]) // LOC_CONV["stride"] + 1
    flat = LOC_CONV["out_channels"] * (side // LOC_POOL) ** 2
    return nn.Sequential(
        nn.Conv2d(1, **LOC_CONV), nn.MaxPool2d(LOC_POOL), nn.ReLU(), nn.Flatten(),
        nn.Linear(flat, LOC_HIDDEN), nn.ReLU(), nn.Linear(LOC_HIDDEN, LOC_HIDDEN), nn.ReLU())


class InsideAttention(Attention):
    """The attention transform with its view kept inside the input: parameters ``(s, u_x, u_y)``
    give the translation ``t = (1 - s) tanh(u)`` (:func:`inside_params`), so the box
    ``[t - s, t + s]`` never leaves ``[-1, 1]``. Identity: ``(1, 0, 0)``, as for attention.

    Without it, the lowest loss on cluttered canvases was sometimes a view off the canvas: empty
    views all look alike, and the random crops do not (``results/coloc_exploration.md``)."""

    name = "attention-inside"

    def _matrix(self, params: Tensor) -> Tensor:
        return super()._matrix(inside_params(params))


def inside_params(params: Tensor) -> Tensor:
    """``(N, 3)`` ``(s, u_x, u_y)`` -> the attention parameters ``(s, t_x, t_y)`` with
    ``t = (1 - s) tanh(u)`` (0 when ``s >= 1``)."""
    scale = params[:, :1]
    return torch.cat([scale, (1 - scale).clamp(min=0) * torch.tanh(params[:, 1:])], 1)


def coloc_transformer(canvas: int = COLOC_CANVAS, inside: bool = True) -> SpatialTransformer:
    """Attention transformer ``(N, 1, canvas, canvas)`` -> ``(N, 1, 28, 28)``, identity start;
    ``inside``: its view stays on the canvas (:class:`InsideAttention`)."""
    transform = InsideAttention() if inside else "attention"
    return SpatialTransformer(localization_net(canvas), transform, out_size=(DIGIT, DIGIT),
                              in_shape=(1, canvas, canvas))
