"""Piecewise affine transform over a ``K x K`` control grid: ``2 K^2`` parameters.

Control points and parameter layout are those of :mod:`.control_grid` (displacements ``d_k``,
``params.view(N, K*K, 2)``, point ``k = i K + j`` at row ``i``, column ``j``). Each grid cell is
split along its diagonal from the top-left corner ``(j, i)`` to the bottom-right corner
``(j+1, i+1)`` (y points down) into an upper-right triangle ``{(j,i), (j+1,i), (j+1,i+1)}`` and a
lower-left triangle ``{(j,i), (j,i+1), (j+1,i+1)}``. The backward map is the continuous
piecewise-affine (barycentric) interpolation of ``f(c_k) = c_k + d_k`` over these triangles; it
reproduces any affine displacement field exactly. Points outside ``[-1, 1]^2`` (never on a grid)
use the affine extension of the nearest cell's triangle. Identity: all zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .control_grid import ControlGridTransform


def piecewise_affine_weights(grid_size: int, points: Tensor) -> Tensor:
    """Barycentric weights ``(P, K*K)`` of ``points`` ``(P, 2)`` over the triangulated control grid.

    Each row has at most three non-zero entries (the point's triangle's vertices), summing to 1.
    """
    k = grid_size
    u = (points + 1) * ((k - 1) / 2)  # in cell units: control point (j, i) sits at u = (j, i)
    cell = u.floor().clamp(0, k - 2)
    fu, fv = (u - cell).unbind(dim=-1)
    j, i = cell.long().unbind(dim=-1)
    upper = fu >= fv  # upper-right triangle: its third vertex is (j+1, i), else (j, i+1)
    index = torch.stack([i * k + j, torch.where(upper, i * k + j + 1, (i + 1) * k + j),
                         (i + 1) * k + j + 1], dim=-1)
    weight = torch.stack([1 - torch.maximum(fu, fv), (fu - fv).abs(), torch.minimum(fu, fv)], -1)
    out = torch.zeros(points.shape[0], k * k, dtype=points.dtype, device=points.device)
    return out.scatter_add_(1, index, weight)


class PiecewiseAffine(ControlGridTransform):
    """Piecewise affine transform; ``PiecewiseAffine(grid_size=4)`` has ``2 * 16`` parameters."""

    name = "pwa"

    @staticmethod
    def point_weights(grid_size: int, points: Tensor) -> Tensor:
        return piecewise_affine_weights(grid_size, points)
