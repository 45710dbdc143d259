"""Addition (DATASETS.md): two independent RTS digits, one per channel, 2x42x42; label = their sum.

(The module is not called ``addition`` so that ``torchstn.data.addition`` stays the function.)

Both channels are warped in one :func:`~torchstn.data.geometric.rts_apply` call on a ``2N`` batch
(sample ``i``'s channels are rows ``2i``, ``2i+1``), so the cost is that of RTS on ``2N`` digits.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .geometric import RTS_CANVAS, rts_apply, rts_params
from .mnist import as_float
from .rng import Params

__all__ = ["CHANNELS", "addition_params", "addition_apply", "addition"]

CHANNELS = 2


def addition_params(n: int, generator: torch.Generator, n_source: int) -> Params:
    """``index`` ``(n, 2)`` uniform digit indices in ``0 .. n_source-1`` (independent, repeats
    allowed) and the RTS parameters of both channels, each ``(n, 2)``."""
    index = torch.randint(n_source, (n, CHANNELS), generator=generator)
    rts = rts_params(n * CHANNELS, generator)
    return {"index": index, **{k: v.view(n, CHANNELS) for k, v in rts.items()}}


def _pairs(images: Tensor, params: Params) -> Tensor:
    """Warp ``images`` ``(2N, 1, 28, 28)`` (channels interleaved) -> ``(N, 2, 42, 42)``."""
    flat = {k: v.reshape(-1) for k, v in params.items() if k != "index"}
    out = rts_apply(images, flat)
    return out.view(-1, CHANNELS, RTS_CANVAS, RTS_CANVAS)


def addition_apply(source: Tensor, params: Params) -> Tensor:
    """The pairs ``params["index"]`` of ``source`` (uint8 ``(M, 28, 28)`` or float
    ``(M, 1, 28, 28)``) -> ``(N, 2, 42, 42)`` float32."""
    return _pairs(as_float(source[params["index"].reshape(-1)]), params)


def addition(images_a: Tensor, images_b: Tensor, generator: torch.Generator) -> Tensor:
    """Channel 0: RTS of ``images_a``, channel 1: RTS of ``images_b`` (both ``(N, 1, 28, 28)``)
    -> ``(N, 2, 42, 42)``."""
    n = images_a.shape[0]
    params = rts_params(n * CHANNELS, generator)
    pairs = torch.stack([images_a, images_b], dim=1).view(n * CHANNELS, *images_a.shape[1:])
    return _pairs(pairs, {k: v.view(n, CHANNELS) for k, v in params.items()})
