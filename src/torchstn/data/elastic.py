"""E: the elastic (thin plate spline) distortion of DATASETS.md, 28x28.

Control points ``c_k``: the 4x4 grid with x, y in {-14, -14/3, 14/3, 14} (centred pixels). Each
sample moves them by ``e_k ~ N(0, 1.5^2)``; ``f`` is the TPS
(:func:`torchstn.transforms.tps.tps_fit`) with ``f(c_k + e_k) = c_k`` and the backward map is
``p_digit = S^-1(f(p_out))``, ``S`` the scaling by ``s ~ U(0.75, 1)`` about the centre.

Speed: the spline is fitted and evaluated in normalised coordinates (centred pixels / 14, converted
with :mod:`torchstn.coords`). A TPS is equivariant under uniform scaling (``U(l r) = l^2 U(r) +
l^2 r^2 log l^2`` and the extra quadratic term is cancelled by the side conditions), so this is the
same map, but the system is well scaled for float32. Its values are then the normalised sampling
grid directly. The output points are fixed, so their half of the squared distances
``|p - q|^2 = [|p|^2, x, y, 1] . [1, -2 q_x, -2 q_y, |q|^2]`` and the affine basis are built once;
per batch that leaves one small batched matmul, one ``log`` and one more matmul, done in blocks
of samples that stay in cache (:func:`e_grid`), which equals
:func:`torchstn.transforms.tps.tps_apply` (tested) at a fraction of its cost. ``S^-1`` is folded
into the spline coefficients (the spline is linear in them).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch
from torch import Tensor

from ..coords import base_grid, denormalize_points, normalize_points
from ..sampler import sample
from ..transforms.tps import tps_apply, tps_fit
from .geometric import DIGIT, HALF, P_SCALE
from .rng import Params

__all__ = ["E_SCALE", "E_STD", "control_points", "e_params", "e_map", "e_grid", "e_apply", "e"]

E_SCALE = P_SCALE
E_STD = 1.5
GRID = 4  # control points per axis
N_AFFINE = 3
_SIZE = (DIGIT, DIGIT)
_BLOCK = 64  # samples per kernel block: 64 x 784 x 16 floats (3 MB) stay in cache
_TINY = 1e-20  # floor of r^2 before the log: r^2 log r^2 -> 0 there, and no NaN from rounding


def control_points(*, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(16, 2)`` control points (x, y) in centred pixels, row-major (x varies fastest)."""
    axis = torch.linspace(-HALF, HALF, GRID, dtype=torch.float64)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs, ys], dim=-1).view(-1, 2).to(dtype)


def _to_norm(points: Tensor) -> Tensor:
    return normalize_points(points + HALF, _SIZE)


def _from_norm(points: Tensor) -> Tensor:
    return denormalize_points(points, _SIZE) - HALF


def e_params(n: int, generator: torch.Generator) -> Params:
    """``scale`` ``(n,)`` ~ U(0.75, 1), ``offsets`` ``(n, 16, 2)`` ~ N(0, 1.5^2) (pixels)."""
    lo, hi = E_SCALE
    scale = torch.rand(n, generator=generator) * (hi - lo) + lo
    offsets = torch.randn(n, GRID * GRID, 2, generator=generator) * E_STD
    return {"scale": scale, "offsets": offsets}


@contextlib.contextmanager
def _one_thread():
    """Run the enclosed torch ops on one intra-op thread (the setting is per calling thread).

    The batched 19x19 solve of ``tps_fit`` is a LAPACK call per matrix, each parallelised: on a
    loaded 2-core machine every one of them can wait for a descheduled thread (measured: up to 2 s
    for 512 systems at 2 threads, 2 ms at 1). One thread is as fast when the machine is idle.
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit(params: Params) -> tuple[Tensor, Tensor]:
    """Moved control points ``(N, 16, 2)`` and coefficients ``(N, 19, 2)`` of ``S^-1 f``, both in
    normalised coordinates."""
    centres = control_points().expand_as(params["offsets"])
    moved = _to_norm(centres + params["offsets"])
    with _one_thread():
        coeffs = tps_fit(moved, _to_norm(centres))  # f(c_k + e_k) = c_k
    return moved, coeffs / params["scale"].view(-1, 1, 1)


def e_map(params: Params, points: Tensor) -> Tensor:
    """The backward map output -> digit, ``S^-1(f(points))``, at ``points`` ``(N, P, 2)`` (or
    ``(1, P, 2)``) in centred pixel coordinates, through the general ``tps_apply``.

    Returns ``(N, P, 2)`` centred pixel coordinates in the digit.
    """
    moved, coeffs = _fit(params)
    points = _to_norm(points.float()).expand(moved.shape[0], -1, -1)
    return _from_norm(tps_apply(coeffs, moved, points))


@functools.lru_cache(maxsize=1)
def _fixed_terms() -> tuple[Tensor, Tensor]:
    """Output pixel centres' ``(P, 4)`` distance factors ``[|p|^2, x, y, 1]`` and ``(3, P)`` affine
    basis ``[1; x; y]`` (normalised)."""
    p = base_grid(_SIZE).view(-1, 2)
    ones = torch.ones_like(p[:, :1])
    return torch.cat([(p * p).sum(1, keepdim=True), p, ones], 1), torch.cat([ones, p], 1).T


def _log(x: Tensor) -> Tensor:
    """Natural logarithm. On the CPU numpy's SIMD loop is used (measured 2.7x faster than
    ``torch.log`` for float32 here; the log is most of the cost of E)."""
    if x.device.type != "cpu" or x.requires_grad:
        return torch.log(x)
    out = torch.empty_like(x)
    np.log(x.numpy(), out=out.numpy())
    return out


def e_grid(params: Params) -> Tensor:
    """Normalised sampling grid ``(N, 28, 28, 2)`` of the E backward map (fast evaluation)."""
    moved, coeffs = _fit(params)
    n = moved.shape[0]
    left, affine_basis = _fixed_terms()
    ones = torch.ones_like(moved[..., :1])
    right = torch.cat([ones, -2 * moved, (moved * moved).sum(-1, keepdim=True)], -1).transpose(1, 2)
    weights_t = coeffs[:, :-N_AFFINE].transpose(1, 2)  # (N, 2, K)
    grid_t = coeffs[:, -N_AFFINE:].transpose(1, 2) @ affine_basis  # (N, 2, P): the affine part
    for lo in range(0, n, _BLOCK):  # blocks small enough for the (B, P, K) kernel to stay cached
        hi = min(lo + _BLOCK, n)
        r2 = torch.bmm(left.expand(hi - lo, -1, -1), right[lo:hi]).clamp_min_(_TINY)
        kernel = _log(r2).mul_(r2)  # U = r^2 log r^2, (B, P, K)
        grid_t[lo:hi].baddbmm_(weights_t[lo:hi], kernel.transpose(1, 2))
    return grid_t.transpose(1, 2).reshape(n, DIGIT, DIGIT, 2)


def e_apply(images: Tensor, params: Params) -> Tensor:
    """``(N, 1, 28, 28)`` -> ``(N, 1, 28, 28)``."""
    return sample(images, e_grid(params))


def e(images: Tensor, generator: torch.Generator) -> Tensor:
    """E distortion of a batch ``(N, 1, 28, 28)`` in [0, 1]."""
    return e_apply(images, e_params(images.shape[0], generator))
