"""The one coordinate convention of torchstn. Every grid, matrix and data set uses it.

* **Normalised coordinates**: x runs left to right and y top to bottom over [-1, 1]; -1 and +1 are
  the *outer edges* of the extreme pixels (PyTorch's ``align_corners=False``). The centre of pixel
  (row i, column j) of a W-wide, H-high image is ``x = (2 j + 1) / W - 1``,
  ``y = (2 i + 1) / H - 1``.
* **Pixel coordinates**: continuous, in pixel units, origin at the image's top-left corner; pixel
  (i, j) covers ``[j, j+1] x [i, i+1]`` and its centre is ``(j + 0.5, i + 0.5)``.
* **Centred pixel coordinates**: pixel coordinates minus ``(W/2, H/2)`` (the frame of
  ``DATASETS.md``).
* **Backward mapping**: a transform's parameters (``theta``) map *output* (target) points to *input*
  (source) points, as in the paper's eq. 1. Grids have shape ``(N, H_out, W_out, 2)`` with x before
  y in the last dimension (``(N, D, H, W, 3)`` with x, y, z for volumes), exactly what
  ``torch.nn.functional.grid_sample(..., align_corners=False)`` expects.
* Matrices act on column vectors ``(x, y, 1)``; 2D matrices are ``(N, 3, 3)`` (affine ones may be
  ``(N, 2, 3)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "ALIGN_CORNERS",
    "base_coords",
    "base_grid",
    "normalize_points",
    "denormalize_points",
    "normalization_matrix",
    "centered_normalization_matrix",
    "pixel_to_normalized_matrix",
    "normalized_to_pixel_matrix",
    "to_homogeneous",
]

ALIGN_CORNERS = False


def base_coords(n: int, *, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised centres of ``n`` pixels along one axis: ``(2 k + 1) / n - 1``, shape ``(n,)``."""
    return (torch.arange(n, device=device, dtype=dtype) * 2 + 1) / n - 1


def base_grid(size: tuple[int, ...], *, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Identity sampling grid of normalised pixel centres.

    ``size`` is ``(H, W)`` -> ``(H, W, 2)`` holding (x, y), or ``(D, H, W)`` -> ``(D, H, W, 3)``
    holding (x, y, z). Equals ``F.affine_grid`` with the identity matrix.
    """
    axes = [base_coords(n, device=device, dtype=dtype) for n in size]
    mesh = torch.meshgrid(*axes, indexing="ij")  # (z,) y, x order
    return torch.stack(mesh[::-1], dim=-1)


def to_homogeneous(points: Tensor) -> Tensor:
    """Append a 1 to the last dimension: ``(..., d)`` -> ``(..., d + 1)``."""
    return torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)


def _size_tensor(size: tuple[int, int], like: Tensor) -> Tensor:
    h, w = size
    return torch.tensor([w, h], device=like.device, dtype=like.dtype)


def normalize_points(points: Tensor, size: tuple[int, int]) -> Tensor:
    """Pixel coordinates ``(..., 2)`` (x, y) of an image of ``size = (H, W)`` -> normalised."""
    return points * (2 / _size_tensor(size, points)) - 1


def denormalize_points(points: Tensor, size: tuple[int, int]) -> Tensor:
    """Normalised coordinates ``(..., 2)`` -> pixel coordinates of an image of ``size = (H, W)``."""
    return (points + 1) * (_size_tensor(size, points) / 2)


def normalization_matrix(
    size: tuple[int, int], *, device=None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """``(3, 3)`` matrix taking pixel coordinates of an ``(H, W)`` image to normalised ones."""
    h, w = size
    return torch.tensor(
        [[2.0 / w, 0.0, -1.0], [0.0, 2.0 / h, -1.0], [0.0, 0.0, 1.0]], device=device, dtype=dtype
    )


def centered_normalization_matrix(
    size: tuple[int, int], *, device=None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """``(3, 3)`` matrix taking *centred* pixel coordinates of an ``(H, W)`` image to normalised."""
    h, w = size
    return torch.tensor(
        [[2.0 / w, 0.0, 0.0], [0.0, 2.0 / h, 0.0], [0.0, 0.0, 1.0]], device=device, dtype=dtype
    )


def pixel_to_normalized_matrix(
    matrix: Tensor, in_size: tuple[int, int], out_size: tuple[int, int], *, centered: bool = False
) -> Tensor:
    """Convert a backward map in pixel space to normalised space.

    ``matrix`` ``(..., 3, 3)`` (or ``(..., 2, 3)``) maps output-image pixel coordinates to
    input-image pixel coordinates (centred ones if ``centered``). Returns the ``(..., 3, 3)`` matrix
    mapping normalised output coordinates to normalised input coordinates:
    ``N_in @ matrix @ N_out^-1``. Sizes are ``(H, W)`` and need not be equal or square.
    """
    matrix = _as_3x3(matrix)
    make = centered_normalization_matrix if centered else normalization_matrix
    n_in = make(in_size, device=matrix.device, dtype=matrix.dtype)
    n_out = make(out_size, device=matrix.device, dtype=matrix.dtype)
    return n_in @ matrix @ torch.linalg.inv(n_out)


def normalized_to_pixel_matrix(
    matrix: Tensor, in_size: tuple[int, int], out_size: tuple[int, int], *, centered: bool = False
) -> Tensor:
    """Inverse of :func:`pixel_to_normalized_matrix`: ``N_in^-1 @ matrix @ N_out``."""
    matrix = _as_3x3(matrix)
    make = centered_normalization_matrix if centered else normalization_matrix
    n_in = make(in_size, device=matrix.device, dtype=matrix.dtype)
    n_out = make(out_size, device=matrix.device, dtype=matrix.dtype)
    return torch.linalg.inv(n_in) @ matrix @ n_out


def _as_3x3(matrix: Tensor) -> Tensor:
    if matrix.shape[-2:] == (3, 3):
        return matrix
    if matrix.shape[-2:] == (2, 3):
        last = torch.zeros(*matrix.shape[:-2], 1, 3, device=matrix.device, dtype=matrix.dtype)
        last[..., 0, 2] = 1
        return torch.cat([matrix, last], dim=-2)
    raise ValueError(
        f"expected a (..., 3, 3) or (..., 2, 3) matrix, got shape {tuple(matrix.shape)}"
    )
