"""Attention transform (paper eq. 2): 3 parameters ``(s, t_x, t_y)``.

``A_theta = [[s, 0, t_x], [0, s, t_y]]`` maps normalised output points to input points: isotropic
scale plus translation, i.e. a square-aspect crop (``s < 1`` zooms in on the box of half-size ``s``
centred at ``(t_x, t_y)``). Identity: ``(1, 0, 0)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MatrixTransform, rows_to_matrix


class Attention(MatrixTransform):
    name = "attention"
    n_params = 3

    def _identity(self) -> Tensor:
        return torch.tensor([1.0, 0.0, 0.0])

    def _matrix(self, params: Tensor) -> Tensor:
        s, tx, ty = params.unbind(dim=1)
        zero = torch.zeros_like(s)
        return rows_to_matrix(torch.stack([s, zero, tx, zero, s, ty], dim=1))

    def _params(self, matrix: Tensor) -> Tensor:
        return torch.stack([matrix[:, 0, 0], matrix[:, 0, 2], matrix[:, 1, 2]], dim=1)
