"""3D affine transform (paper A.3): 12 parameters, the ``3 x 4`` matrix row-major.

``(x_s, y_s, z_s) = A_theta (x_t, y_t, z_t, 1)`` in normalised coordinates (output -> input), with
x along W, y along H and z along D. ``grid(params, (D, H, W))`` is ``(N, D, H, W, 3)`` holding
``(x, y, z)`` and equals ``F.affine_grid(theta, (N, C, D, H, W), align_corners=False)``.
Identity: ``(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_params
from ..coords import base_coords
from .base import Transform


class Affine3D(Transform):
    name = "affine3d"
    n_params = 12
    dims = 3

    def _identity(self) -> Tensor:
        return torch.eye(3, 4).flatten()

    def matrix(self, params: Tensor) -> Tensor:
        """The ``(N, 4, 4)`` backward-map matrix (last row ``(0, 0, 0, 1)``)."""
        params = check_params(params, self.n_params, self.name)
        last = torch.zeros(params.shape[0], 1, 4, device=params.device, dtype=params.dtype)
        last[:, 0, 3] = 1
        return torch.cat([params.view(-1, 3, 4), last], dim=1)

    def inverse(self, params: Tensor) -> Tensor:
        """Matrix ``(N, 4, 4)`` of the inverse map."""
        return torch.linalg.inv(self.matrix(params))

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        d, h, w = out_size
        xs, ys, zs = (base_coords(n, device=params.device, dtype=params.dtype) for n in (w, h, d))
        t = params.view(-1, 3, 4, 1, 1, 1)  # (N, 3 rows, 4 columns, D, H, W) broadcast
        out = t[:, :, 0] * xs + t[:, :, 1] * ys[:, None] + t[:, :, 2] * zs[:, None, None]
        return (out + t[:, :, 3]).permute(0, 2, 3, 4, 1)
