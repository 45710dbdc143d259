"""Affine transform (paper eq. 1): 6 parameters, the 2x3 matrix ``A_theta`` row-major.

``(x_s, y_s) = A_theta (x_t, y_t, 1)`` in normalised coordinates (output -> input).
Identity: ``(1, 0, 0, 0, 1, 0)``. Grids equal ``F.affine_grid(theta, align_corners=False)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MatrixTransform, rows_to_matrix


class Affine(MatrixTransform):
    name = "affine"
    n_params = 6

    def _identity(self) -> Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])

    def _matrix(self, params: Tensor) -> Tensor:
        return rows_to_matrix(params)

    def _params(self, matrix: Tensor) -> Tensor:
        return matrix[:, :2].reshape(-1, 6)
