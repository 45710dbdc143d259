"""What every transform family provides, and the shared machinery of the matrix families.

A transform is a small stateless object (not an ``nn.Module``): it knows how many parameters it
takes, what the identity is, and how to turn a batch of parameters into a sampling grid in the
convention of :mod:`torchstn.coords`. Families with a matrix form (affine, attention, RTS,
projective) also give ``matrix``, ``inverse`` and ``compose``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_params, check_size
from ..coords import base_coords


class Transform:
    """Base class: subclasses set ``name``, ``n_params``, implement ``_identity``, ``_grid``."""

    name: str = "transform"
    n_params: int = 0
    dims: int = 2  # spatial dimensions of the grid it produces

    def identity_params(self, *, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Parameters of the identity map, shape ``(n_params,)``."""
        return self._identity().to(device=device, dtype=dtype)

    def grid(self, params: Tensor, out_size: int | tuple[int, ...]) -> Tensor:
        """Sampling grid ``(N, H, W, 2)`` (3D: ``(N, D, H, W, 3)``) for params ``(N, n_params)``.

        Differentiable in ``params``.
        """
        params = check_params(params, self.n_params, self.name)
        return self._grid(params, check_size(out_size, self.dims))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _identity(self) -> Tensor:
        raise NotImplementedError

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        raise NotImplementedError


def affine_grid_from_matrix(theta: Tensor, out_size: tuple[int, int]) -> Tensor:
    """Grid ``(N, H, W, 2)`` of the affine backward map ``theta`` ``(N, 2, 3)`` (or ``(N, 3, 3)``).

    ``(x_s, y_s) = A[:, 0] x + (A[:, 1] y + A[:, 2])``, broadcast so that only the final add touches
    all ``H * W`` points (``F.affine_grid`` multiplies a materialised ``(H*W, 3)`` base grid
    instead). Same numbers as ``F.affine_grid(align_corners=False)``; contiguous output.
    """
    h, w = out_size
    xs = base_coords(w, device=theta.device, dtype=theta.dtype).view(1, 1, w, 1)
    ys = base_coords(h, device=theta.device, dtype=theta.dtype).view(1, h, 1, 1)
    cols = theta[:, :2, :].transpose(1, 2).unsqueeze(2).unsqueeze(2)  # (N, 3, 1, 1, 2)
    return cols[:, 0] * xs + (cols[:, 1] * ys + cols[:, 2])


def projective_grid_from_matrix(matrix: Tensor, out_size: tuple[int, int]) -> Tensor:
    """Grid ``(N, H, W, 2)`` of the projective backward map ``matrix`` ``(N, 3, 3)``.

    ``(x_s, y_s) = (u / w, v / w)`` with ``(u, v, w) = matrix @ (x, y, 1)``.
    """
    h, w = out_size
    xs = base_coords(w, device=matrix.device, dtype=matrix.dtype)
    ys = base_coords(h, device=matrix.device, dtype=matrix.dtype)
    m = matrix[:, :, :, None, None]  # (N, 3, 3, 1, 1)
    uvw = m[:, :, 0] * xs + m[:, :, 1] * ys[:, None] + m[:, :, 2]  # (N, 3, H, W)
    return (uvw[:, :2] / uvw[:, 2:]).permute(0, 2, 3, 1)


def invert(matrix: Tensor) -> Tensor:
    """Inverse of a batch of 2D transform matrices ``(N, 3, 3)``."""
    return torch.linalg.inv(matrix)


def compose(first: Tensor, second: Tensor) -> Tensor:
    """Matrix of "apply ``first``, then ``second``" (as maps of points): ``second @ first``.

    Both ``(N, 3, 3)``. For backward maps (output -> input) chain them in sampling order.
    """
    return second @ first


class MatrixTransform(Transform):
    """A 2D family with a 3x3 matrix form. Subclasses implement ``matrix(params) -> (N, 3, 3)``."""

    projective: bool = False

    def matrix(self, params: Tensor) -> Tensor:
        """The ``(N, 3, 3)`` backward-map matrix (output -> input, normalised coordinates)."""
        params = check_params(params, self.n_params, self.name)
        return self._matrix(params)

    def inverse(self, params: Tensor) -> Tensor:
        """Matrix ``(N, 3, 3)`` of the inverse map."""
        return invert(self.matrix(params))

    def compose(self, first: Tensor, second: Tensor) -> Tensor:
        """Matrix ``(N, 3, 3)`` of ``first`` followed by ``second`` (both params or ``(N,3,3)``)."""
        return compose(self._as_matrix(first), self._as_matrix(second))

    def _as_matrix(self, x: Tensor) -> Tensor:
        return x if x.dim() == 3 and x.shape[-2:] == (3, 3) else self.matrix(x)

    def _matrix(self, params: Tensor) -> Tensor:
        raise NotImplementedError

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        m = self._matrix(params)
        if self.projective:
            return projective_grid_from_matrix(m, out_size)
        return affine_grid_from_matrix(m, out_size)


def rows_to_matrix(rows: Tensor) -> Tensor:
    """``(N, 6)`` row-major affine entries, or ``(N, 8)`` homography entries -> ``(N, 3, 3)``."""
    n = rows.shape[0]
    if rows.shape[1] == 6:
        tail = torch.tensor([0.0, 0.0, 1.0], device=rows.device, dtype=rows.dtype).expand(n, 3)
    else:
        tail = torch.ones(n, 1, device=rows.device, dtype=rows.dtype)
    return torch.cat([rows, tail], dim=1).view(n, 3, 3)
