"""Plane projective transform (homography): 8 parameters.

The parameters are the first 8 entries, row-major, of the ``3 x 3`` matrix ``H`` whose 9th entry is
fixed to 1. A normalised output point ``(x, y)`` maps to the input point ``(u / w, v / w)`` with
``(u, v, w) = H (x, y, 1)``. Identity: ``(1, 0, 0, 0, 1, 0, 0, 0)``; with the last row
``(0, 0, 1)`` it is the affine map of the first two rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MatrixTransform, rows_to_matrix, safe_w


class Projective(MatrixTransform):
    name = "projective"
    n_params = 8
    projective = True

    def _identity(self) -> Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])

    def _matrix(self, params: Tensor) -> Tensor:
        return rows_to_matrix(params)

    def _params(self, matrix: Tensor) -> Tensor:
        # a homography is defined up to scale: the one with 1 as its 9th entry (never divided by 0)
        return (matrix / safe_w(matrix[:, 2:, 2:])).reshape(-1, 9)[:, :8]
