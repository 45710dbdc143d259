"""TC (translated and cluttered, 60x60) and co-localisation (84x84) of DATASETS.md.

Both paste a 28x28 digit at an integer top-left position into a black canvas and add 6x6 crops of
other digits ("clutter") at integer positions, then clamp to [0, 1]. No resampling is involved, so
this is pure index arithmetic: flat canvas indices ``(n S + row) S + col`` for the whole batch,
written with one ``index_add_`` for the digits and one per clutter slot (within a slot no two
writes collide, so the summation order, hence every bit, is fixed). Crops are gathered from the
source with advanced indexing. Clutter digits are distinct and, when the sample's own index is
known (``own``), different from the pasted digit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .geometric import DIGIT
from .mnist import MAX_PIXEL
from .rng import Params

__all__ = [
    "TC_CANVAS", "TC_PATCHES", "PATCH", "COLOC_CANVAS", "COLOC_PATCHES",
    "distinct_indices", "clutter_params", "compose",
    "tc_params", "tc_apply", "tc", "coloc_params", "coloc_apply", "coloc",
]

PATCH = 6
TC_CANVAS = 60
TC_PATCHES = 6
COLOC_CANVAS = 84
COLOC_PATCHES = 16


def distinct_indices(n: int, k: int, high: int, generator: torch.Generator) -> Tensor:
    """``(n, k)`` int64, each row ``k`` distinct values uniform in ``0 .. high-1`` (rows with a
    repeat are redrawn whole, so every row is a uniform draw without replacement)."""
    if k > high:
        raise ValueError(f"cannot draw {k} distinct indices from {high} candidates")
    idx = torch.randint(high, (n, k), generator=generator)
    while k > 1:
        ordered = idx.sort(dim=1).values
        bad = (ordered[:, 1:] == ordered[:, :-1]).any(dim=1).nonzero().squeeze(1)
        if bad.numel() == 0:
            break
        idx[bad] = torch.randint(high, (bad.numel(), k), generator=generator)
    return idx


def clutter_params(
    n: int, generator: torch.Generator, *, canvas: int, patches: int, n_source: int,
    own: Tensor | None = None,
) -> Params:
    """``pos`` ``(n, 2)`` digit top-left (x, y) in ``0 .. canvas-28``; ``index`` ``(n, patches)``
    distinct clutter digits (``!= own`` if given); ``crop`` ``(n, patches, 2)`` crop top-left in
    ``0 .. 22``; ``at`` ``(n, patches, 2)`` paste top-left in ``0 .. canvas-6``."""
    pos = torch.randint(canvas - DIGIT + 1, (n, 2), generator=generator)
    candidates = n_source - (1 if own is not None else 0)
    if patches:
        index = distinct_indices(n, patches, candidates, generator)
    else:
        index = torch.zeros(n, 0, dtype=torch.long)
    if own is not None:  # skip the own index: j -> j + 1 for j >= own keeps the draw uniform
        index = index + (index >= own.view(-1, 1)).long()
    crop = torch.randint(DIGIT - PATCH + 1, (n, patches, 2), generator=generator)
    at = torch.randint(canvas - PATCH + 1, (n, patches, 2), generator=generator)
    return {"pos": pos, "index": index, "crop": crop, "at": at}


def _as_float(pixels: Tensor) -> Tensor:
    return pixels.float().div_(MAX_PIXEL) if pixels.dtype == torch.uint8 else pixels


def _flat_index(n: int, pos: Tensor, size: int, canvas: int) -> Tensor:
    """``(n, size, size)`` flat indices of the ``size``-square at top-left ``pos`` ``(n, 2)``."""
    ar = torch.arange(size)
    rows = pos[:, 1, None, None] + ar[:, None]
    cols = pos[:, 0, None, None] + ar
    return (torch.arange(n)[:, None, None] * canvas + rows) * canvas + cols


def compose(images: Tensor, params: Params, source: Tensor | None, canvas: int) -> Tensor:
    """Paste ``images`` ``(N, 1, 28, 28)`` and add the clutter crops of ``source``
    (``(M, 1, 28, 28)`` float or ``(M, 28, 28)`` uint8 MNIST pixels); clamp to [0, 1].

    Returns ``(N, 1, canvas, canvas)``.
    """
    n = images.shape[0]
    out = images.new_zeros(n * canvas * canvas)
    out.index_add_(0, _flat_index(n, params["pos"], DIGIT, canvas).view(-1),
                   images.reshape(-1))
    index, crop, at = params["index"], params["crop"], params["at"]
    if index.shape[1]:
        if source is None:
            raise ValueError("clutter requested but no clutter source given")
        pixels = source.reshape(source.shape[0], DIGIT, DIGIT)
        ar = torch.arange(PATCH)
        rows = crop[..., 1, None, None] + ar[:, None]  # (N, P, 6, 1)
        cols = crop[..., 0, None, None] + ar  # (N, P, 1, 6)
        crops = _as_float(pixels[index[..., None, None], rows, cols]).to(images.dtype)
        for slot in range(index.shape[1]):
            flat = _flat_index(n, at[:, slot], PATCH, canvas).view(-1)
            out.index_add_(0, flat, crops[:, slot].reshape(-1))
        out.clamp_(0, 1)
    return out.view(n, 1, canvas, canvas)


def tc_params(
    n: int, generator: torch.Generator, n_source: int, own: Tensor | None = None
) -> Params:
    """TC: digit at ``0 .. 32``, 6 crops pasted at ``0 .. 54`` (see :func:`clutter_params`)."""
    return clutter_params(n, generator, canvas=TC_CANVAS, patches=TC_PATCHES, n_source=n_source,
                          own=own)


def tc_apply(images: Tensor, params: Params, source: Tensor) -> Tensor:
    """``(N, 1, 28, 28)`` -> ``(N, 1, 60, 60)``."""
    return compose(images, params, source, TC_CANVAS)


def tc(images: Tensor, clutter_source: Tensor, generator: torch.Generator) -> Tensor:
    """TC distortion of a batch ``(N, 1, 28, 28)`` in [0, 1], clutter cut from ``clutter_source``
    (``(M, 1, 28, 28)`` float or ``(M, 28, 28)`` uint8 digits of the same split)."""
    params = tc_params(images.shape[0], generator, clutter_source.shape[0])
    return tc_apply(images, params, clutter_source)


def coloc_params(
    n: int, generator: torch.Generator, *, clutter: bool = False, n_source: int = 0,
    own: Tensor | None = None,
) -> Params:
    """Co-localisation: digit at ``0 .. 56``; with ``clutter`` 16 crops pasted at ``0 .. 78``."""
    return clutter_params(n, generator, canvas=COLOC_CANVAS,
                          patches=COLOC_PATCHES if clutter else 0, n_source=n_source, own=own)


def coloc_apply(
    images: Tensor, params: Params, source: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """``(N, 1, 28, 28)`` -> images ``(N, 1, 84, 84)`` and boxes ``(N, 4)`` float32
    ``(x0, y0, x1, y1)`` in pixel coordinates (edges: the digit covers ``[x0, x1] x [y0, y1]``)."""
    pos = params["pos"].float()
    boxes = torch.cat([pos, pos + DIGIT], dim=1)
    return compose(images, params, source, COLOC_CANVAS), boxes


def coloc(
    images: Tensor, generator: torch.Generator, clutter_source: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Co-localisation images and boxes of a batch; cluttered when ``clutter_source`` is given."""
    n_source = 0 if clutter_source is None else clutter_source.shape[0]
    params = coloc_params(images.shape[0], generator, clutter=clutter_source is not None,
                          n_source=n_source)
    return coloc_apply(images, params, clutter_source)
