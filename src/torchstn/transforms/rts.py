"""Rotation-scale-translation (similarity) transform: 4 parameters ``(a, l, t_x, t_y)``.

``a`` is the rotation angle in radians, ``l`` the log of the isotropic scale, ``(t_x, t_y)`` the
translation, all in normalised coordinates (output -> input)::

    A_theta = [[e^l cos a, -e^l sin a, t_x],
               [e^l sin a,  e^l cos a, t_y]]

With y pointing down, a positive ``a`` samples the input rotated so that the *output* shows the
image turned counter-clockwise on screen for a square image (``a = pi/2`` equals
``torch.rot90(x, 1, dims=(-2, -1))``). Non-square images are rotated in normalised, not pixel,
units. Identity: ``(0, 0, 0, 0)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MatrixTransform, rows_to_matrix


class RTS(MatrixTransform):
    name = "rts"
    n_params = 4

    def _identity(self) -> Tensor:
        return torch.zeros(4)

    def _matrix(self, params: Tensor) -> Tensor:
        angle, log_scale, tx, ty = params.unbind(dim=1)
        scale = log_scale.exp()
        c, s = scale * angle.cos(), scale * angle.sin()
        return rows_to_matrix(torch.stack([c, -s, tx, s, c, ty], dim=1))

    def _params(self, matrix: Tensor) -> Tensor:
        c, s = matrix[:, 0, 0], matrix[:, 1, 0]
        return torch.stack([torch.atan2(s, c), torch.hypot(c, s).log(), matrix[:, 0, 2],
                            matrix[:, 1, 2]], dim=1)
