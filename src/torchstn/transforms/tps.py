"""Thin plate spline (TPS) transform over a ``K x K`` control grid: ``2 K^2`` parameters.

A TPS through control points ``c_k`` is ``f(p) = sum_k w_k U(|p - c_k|) + a_0 + a_x x + a_y y``
with kernel ``U(r) = r^2 log r^2`` (``U(0) = 0``), interpolating ``f(c_k) = t_k`` exactly under the
side conditions ``sum_k w_k = 0``, ``sum_k w_k c_k = 0`` (so affine maps are reproduced exactly).

:class:`TPS` uses the fixed control grid of :mod:`.control_grid` in normalised *output*
coordinates and targets ``t_k = c_k + d_k``; its parameters are the displacements ``d_k``,
``params.view(N, K*K, 2)`` = ``[dx_0, dy_0, dx_1, dy_1, ...]``, point ``k = i K + j`` (row ``i``,
column ``j``). Identity: all zeros. The interpolation system is solved once in float64 per
output size and cached; the grid is then one matmul, computed in float32 at least (also under
half/bfloat16 autocast).

:func:`tps_fit` and :func:`tps_apply` are the general, batched TPS for arbitrary control points
(e.g. random per sample), differentiable in every argument and computed in float32 at least.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_float, check_tensor
from .control_grid import ControlGridTransform, compute_dtype, control_points, no_autocast

N_AFFINE = 3  # affine part: a_0, a_x, a_y


def tps_kernel(r2: Tensor) -> Tensor:
    """``U = r^2 log r^2`` from squared distances ``r2``; 0 at ``r2 = 0`` with a finite gradient."""
    safe = torch.where(r2 > 0, r2, torch.ones_like(r2))  # log(1) = 0: no NaN/inf, also in backward
    return r2 * safe.log()


def _sq_dist(a: Tensor, b: Tensor) -> Tensor:
    """Squared distances ``(N, P, K)`` of ``(N, P, 2)`` to ``(N, K, 2)`` (no sqrt: smooth).

    Per coordinate, ``dx * dx + dy * dy``: the same numbers as reducing an ``(N, P, K, 2)``
    difference over its last dimension, at half the cost (no length-2 inner loops).
    """
    dx = a[..., :, None, 0] - b[..., None, :, 0]
    dy = a[..., :, None, 1] - b[..., None, :, 1]
    return dx * dx + dy * dy


def _basis(points: Tensor, control: Tensor) -> Tensor:
    """``(N, P, K+3)``: the kernel of each point to each control point, then ``1, x, y``."""
    ones = torch.ones_like(points[..., :1])
    return torch.cat([tps_kernel(_sq_dist(points, control)), ones, points], dim=-1)


def _system(control: Tensor) -> Tensor:
    """The ``(N, K+3, K+3)`` interpolation matrix ``[[U, P], [P^T, 0]]`` with ``P = [1, x, y]``."""
    top = _basis(control, control)  # (N, K, K+3)
    side = top[..., control.shape[-2]:].transpose(-1, -2)  # P^T, (N, 3, K)
    zeros = side.new_zeros(*side.shape[:-1], N_AFFINE)
    return torch.cat([top, torch.cat([side, zeros], dim=-1)], dim=-2)


def _check_points(x: object, name: str) -> Tensor:
    check_tensor(x, name)
    check_float(x, name)
    if x.dim() not in (2, 3) or x.shape[-1] != 2:
        raise ValueError(f"{name}: expected shape (N, K, 2) or (K, 2), got {tuple(x.shape)}")
    return x


def tps_fit(control: Tensor, target: Tensor) -> Tensor:
    """Coefficients of the TPS with ``f(control_k) = target_k``.

    Args:
        control: ``(N, K, 2)`` control points (x, y), ``K >= 3`` and not all on one line.
        target: ``(N, K, 2)`` their images. A batch of 1 (or a 2-D ``(K, 2)``) broadcasts.

    Returns:
        ``(N, K+3, 2)``: rows ``w_0 .. w_{K-1}`` (kernel weights), then ``a_0, a_x, a_y``; one
        column per output coordinate. float32 at least.
    """
    control, target = _check_points(control, "control"), _check_points(target, "target")
    if control.shape[-2] != target.shape[-2] or control.shape[-2] < N_AFFINE:
        raise ValueError(
            f"control/target: expected the same number K >= 3 of points, got "
            f"{tuple(control.shape)} and {tuple(target.shape)}"
        )
    dtype = compute_dtype(torch.promote_types(control.dtype, target.dtype))
    with no_autocast(control.device.type):
        control, target = control.to(dtype), target.to(dtype)
        rhs = torch.cat([target, target.new_zeros(*target.shape[:-2], N_AFFINE, 2)], dim=-2)
        return torch.linalg.solve(_system(control), rhs)


def tps_apply(coeffs: Tensor, control: Tensor, points: Tensor) -> Tensor:
    """Evaluate the TPS ``coeffs`` ``(N, K+3, 2)`` (from :func:`tps_fit` with ``control``
    ``(N, K, 2)``) at ``points`` ``(N, P, 2)``. Returns ``(N, P, 2)``, float32 at least."""
    control, points = _check_points(control, "control"), _check_points(points, "points")
    check_tensor(coeffs, "coeffs")
    if coeffs.shape[-2:] != (control.shape[-2] + N_AFFINE, 2):
        raise ValueError(
            f"coeffs: expected shape (N, {control.shape[-2] + N_AFFINE}, 2) for "
            f"{control.shape[-2]} control points, got {tuple(coeffs.shape)}"
        )
    dtype = compute_dtype(torch.promote_types(coeffs.dtype, points.dtype))
    with no_autocast(points.device.type):
        return _basis(points.to(dtype), control.to(dtype)) @ coeffs.to(dtype)


def tps_grid_weights(grid_size: int, points: Tensor) -> Tensor:
    """``(P, K*K)`` matrix ``M`` with ``f(points) = M @ targets`` for the regular control grid.

    ``M = B L^-1[:, :K*K]`` with ``B`` the basis of ``points`` ``(P, 2)`` and ``L`` the system
    matrix; computed in the dtype of ``points`` (float64 for the cached grids).
    """
    control = control_points(grid_size, device=points.device, dtype=points.dtype)
    n = control.shape[0]
    rhs = torch.eye(n + N_AFFINE, n, dtype=points.dtype, device=points.device)  # [I; 0]
    return _basis(points, control) @ torch.linalg.solve(_system(control), rhs)


class TPS(ControlGridTransform):
    """Thin plate spline transform; ``TPS(grid_size=4)`` has the paper's 16 control points."""

    name = "tps"

    @staticmethod
    def point_weights(grid_size: int, points: Tensor) -> Tensor:
        return tps_grid_weights(grid_size, points)
