"""The matrix distortions of DATASETS.md: R (rotation), RTS (rotation, scale, translation), P
(projective).

Each variant has ``<name>_params(n, generator)`` (all its randomness, drawn in one place),
``<name>_backward(params)`` (the ``(N, 3, 3)`` backward map output -> digit in centred pixel
coordinates: the spec's forward map, inverted) and ``<name>(images, generator)`` / ``<name>_apply``
(warp a batch ``(N, 1, 28, 28)`` in [0, 1] in one call). Angles are radians; with y pointing down a
positive angle turns the digit clockwise on screen.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .rng import Params
from .warp import warp_matrix

__all__ = [
    "DIGIT", "RTS_CANVAS",
    "r_params", "r_backward", "r_apply", "r",
    "rts_params", "rts_backward", "rts_apply", "rts",
    "p_params", "p_backward", "p_apply", "p",
    "square_homography", "adjugate",
]

DIGIT = 28  # MNIST digit frame
RTS_CANVAS = 42
R_MAX_ANGLE = math.radians(90)
RTS_MAX_ANGLE = math.radians(45)
RTS_SCALE = (0.7, 1.2)
P_SCALE = (0.75, 1.0)
P_CORNER_STD = 5.0
HALF = DIGIT / 2
# corners of the digit frame relative to its centre, in the spec's order
CORNERS = ((-HALF, -HALF), (HALF, -HALF), (HALF, HALF), (-HALF, HALF))


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _backward_similarity(angle: Tensor, scale: Tensor, tx: Tensor, ty: Tensor) -> Tensor:
    """Backward ``(N, 3, 3)`` of the forward ``p -> scale R(angle) p + t``:
    ``q -> R(-angle)(q - t) / scale``."""
    c, s = torch.cos(angle) / scale, torch.sin(angle) / scale
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    rows = [c, s, -(c * tx + s * ty), -s, c, s * tx - c * ty, zero, zero, one]
    return torch.stack(rows, dim=-1).view(-1, 3, 3)


# ---- R: rotation, 28x28 ----

def r_params(n: int, generator: torch.Generator) -> Params:
    """``angle`` ``(n,)`` ~ U(-90, +90) degrees, in radians."""
    return {"angle": _uniform(n, -R_MAX_ANGLE, R_MAX_ANGLE, generator)}


def r_backward(params: Params) -> Tensor:
    zero = torch.zeros_like(params["angle"])
    return _backward_similarity(params["angle"], zero + 1, zero, zero)


def r_apply(images: Tensor, params: Params) -> Tensor:
    """``(N, 1, 28, 28)`` -> ``(N, 1, 28, 28)`` rotated about the centre."""
    return warp_matrix(images, r_backward(params), (DIGIT, DIGIT))


def r(images: Tensor, generator: torch.Generator) -> Tensor:
    """R distortion of a batch ``(N, 1, 28, 28)`` in [0, 1]."""
    return r_apply(images, r_params(images.shape[0], generator))


# ---- RTS: rotation, scale, translation, 42x42 ----

def rts_params(n: int, generator: torch.Generator) -> Params:
    """``angle`` ~ U(-45, 45) deg (radians), ``scale`` ~ U(0.7, 1.2), ``tx, ty`` ~ U(-m, m) with
    ``m = (42 - 28 scale) / 2`` (pixels), all ``(n,)``."""
    angle = _uniform(n, -RTS_MAX_ANGLE, RTS_MAX_ANGLE, generator)
    scale = _uniform(n, *RTS_SCALE, generator)
    margin = (RTS_CANVAS - DIGIT * scale) / 2
    unit = torch.rand(n, 2, generator=generator) * 2 - 1
    return {"angle": angle, "scale": scale, "tx": unit[:, 0] * margin, "ty": unit[:, 1] * margin}


def rts_backward(params: Params) -> Tensor:
    """Canvas -> digit, inverse of ``p_canvas = s R(a) p_digit + t``."""
    return _backward_similarity(params["angle"], params["scale"], params["tx"], params["ty"])


def rts_apply(images: Tensor, params: Params) -> Tensor:
    """``(N, 1, 28, 28)`` -> ``(N, 1, 42, 42)``."""
    return warp_matrix(images, rts_backward(params), (RTS_CANVAS, RTS_CANVAS))


def rts(images: Tensor, generator: torch.Generator) -> Tensor:
    """RTS distortion of a batch ``(N, 1, 28, 28)`` in [0, 1] -> ``(N, 1, 42, 42)``."""
    return rts_apply(images, rts_params(images.shape[0], generator))


# ---- P: projective, 28x28 ----

def square_homography(quad: Tensor) -> Tensor:
    """``(N, 3, 3)`` homographies ``H`` taking the frame corners :data:`CORNERS` to ``quad``
    ``(N, 4, 2)`` (same order), in closed form.

    Heckbert's unit-square-to-quad formula composed with the map of the frame onto the unit square:
    elementwise tensor ops only, no batched LAPACK call (whose per-matrix threading stalls on a
    loaded machine, and which is slower for 8x8 systems anyway).
    """
    x, y = quad[..., 0], quad[..., 1]  # (N, 4) each
    sx, sy = x[:, 0] - x[:, 1] + x[:, 2] - x[:, 3], y[:, 0] - y[:, 1] + y[:, 2] - y[:, 3]
    dx1, dx2, dy1, dy2 = x[:, 1] - x[:, 2], x[:, 3] - x[:, 2], y[:, 1] - y[:, 2], y[:, 3] - y[:, 2]
    den = dx1 * dy2 - dx2 * dy1
    g, h = (sx * dy2 - dx2 * sy) / den, (dx1 * sy - sx * dy1) / den
    a, b = x[:, 1] - x[:, 0] + g * x[:, 1], x[:, 3] - x[:, 0] + h * x[:, 3]
    d, e = y[:, 1] - y[:, 0] + g * y[:, 1], y[:, 3] - y[:, 0] + h * y[:, 3]
    unit = torch.stack([a, b, x[:, 0], d, e, y[:, 0], g, h, torch.ones_like(g)], -1).view(-1, 3, 3)
    # frame -> unit square: u = (x + 14) / 28, v = (y + 14) / 28
    to_unit = torch.tensor([[1 / DIGIT, 0, 0.5], [0, 1 / DIGIT, 0.5], [0, 0, 1]], dtype=quad.dtype)
    return unit @ to_unit


def adjugate(m: Tensor) -> Tensor:
    """Adjugate of ``(N, 3, 3)`` matrices: the inverse up to the factor ``det``, which a homography
    does not see."""
    rows = [m[:, i] for i in range(3)]
    cols = [torch.linalg.cross(rows[(i + 1) % 3], rows[(i + 2) % 3]) for i in range(3)]
    return torch.stack(cols, dim=-1)


def p_params(n: int, generator: torch.Generator) -> Params:
    """``scale`` ``(n,)`` ~ U(0.75, 1), ``offsets`` ``(n, 4, 2)`` ~ N(0, 5^2) (pixels) of the
    frame corners ``CORNERS``."""
    scale = _uniform(n, *P_SCALE, generator)
    offsets = torch.randn(n, len(CORNERS), 2, generator=generator) * P_CORNER_STD
    return {"scale": scale, "offsets": offsets}


def p_backward(params: Params) -> Tensor:
    """Output -> digit, ``S^-1 H^-1``: the inverse of ``p_out = H(S(p_digit))`` with
    ``H(c_k) = c_k + e_k``."""
    corners = torch.tensor(CORNERS, dtype=params["offsets"].dtype)
    h_inv = adjugate(square_homography(corners + params["offsets"]))  # c_k + e_k -> c_k
    scale = params["scale"]
    s_inv = torch.stack([1 / scale, 1 / scale, torch.ones_like(scale)], dim=-1)
    return h_inv * s_inv.unsqueeze(-1)  # rows 0, 1 divided by s: S^-1 @ H^-1


def p_apply(images: Tensor, params: Params) -> Tensor:
    """``(N, 1, 28, 28)`` -> ``(N, 1, 28, 28)``."""
    return warp_matrix(images, p_backward(params), (DIGIT, DIGIT), projective=True)


def p(images: Tensor, generator: torch.Generator) -> Tensor:
    """P distortion of a batch ``(N, 1, 28, 28)`` in [0, 1]."""
    return p_apply(images, p_params(images.shape[0], generator))
