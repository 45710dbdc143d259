"""Warping in the frame of DATASETS.md: backward maps in pixel units relative to the image centres.

A distortion builds its backward map (output pixel -> source point) in *centred pixel coordinates*
(pixel coordinates minus ``(W/2, H/2)``, see :mod:`torchstn.coords`); these helpers convert it to
normalised coordinates with :mod:`torchstn.coords` and sample bilinearly with zeros outside the
source through :func:`torchstn.sample`, the project's own grid and sampler code.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..coords import base_grid, denormalize_points, pixel_to_normalized_matrix
from ..sampler import sample
from ..transforms.base import affine_grid_from_matrix, projective_grid_from_matrix

__all__ = ["warp_matrix", "centred_pixel_grid"]


def warp_matrix(
    images: Tensor, backward: Tensor, out_size: tuple[int, int], *, projective: bool = False
) -> Tensor:
    """Warp ``images`` ``(N, C, H, W)`` by ``backward`` ``(N, 3, 3)`` (centred pixel coordinates,
    output -> input) to ``(N, C, *out_size)``. Affine unless ``projective``."""
    in_size = (images.shape[-2], images.shape[-1])
    theta = pixel_to_normalized_matrix(backward, in_size, out_size, centered=True)
    if not projective:
        return sample(images, affine_grid_from_matrix(theta, out_size))
    return sample(images, outside_if_far(projective_grid_from_matrix(theta, out_size)))


# Any normalised coordinate beyond this samples zeros (the image spans [-1, 1]).
FAR = 2.0


def outside_if_far(grid: Tensor) -> Tensor:
    """Clamp grid points to ``[-FAR, FAR]``, NaN/inf (``w = 0`` in a homography) to ``FAR``.

    A random homography can send a pixel very far (its ``w`` vanishes; ``safe_w`` keeps the
    coordinate finite, a NaN or inf could only come from non-finite parameters). Clamping keeps
    every far point outside the image, so with zeros padding the values are unchanged and no NaN
    reaches a training batch.
    """
    return torch.nan_to_num(grid, nan=FAR, posinf=FAR, neginf=-FAR).clamp_(-FAR, FAR)


def centred_pixel_grid(size: tuple[int, int], *, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(H, W, 2)`` centres of the pixels of an ``(H, W)`` image in centred pixel coordinates."""
    h, w = size
    centre = torch.tensor([w / 2, h / 2], dtype=dtype)
    return denormalize_points(base_grid(size, dtype=dtype), size) - centre

