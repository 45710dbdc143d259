"""3D MNIST (paper A.3, DATASETS.md "3D"): an extruded digit, turned in 3D, at a random place in a
60x60x60 volume.

The digit is extruded along depth into a slab of :data:`SLAB_DEPTH` voxels, turned by the rotation
``R = Rz(c) Ry(b) Rx(a)`` about its centre inside a cube of :data:`BOX` voxels (large enough for
every rotation of the slab), and the cube is pasted at an integer corner into the black volume.
Only the cube is resampled (trilinear, zeros outside the slab): 42^3 instead of 60^3 voxels per
sample, 3x less work. A volume is stored as ``(D, H, W)``, depth first, so a batch ``(N, 60, 60,
60)`` travels through the 2D pipeline like images with 60 channels; models view it as
``(N, 1, D, H, W)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..sampler import sample
from ..transforms.affine3d import Affine3D
from .geometric import DIGIT
from .mnist import as_float
from .rng import Params

__all__ = ["VOLUME", "SLAB_DEPTH", "BOX", "MAX_ANGLE", "volume_params", "rotation_matrix",
           "volume_apply", "volume"]

VOLUME = 60  # side of the cube holding the digit (paper A.3)
SLAB_DEPTH = 8  # thickness of the extruded digit, voxels
MAX_ANGLE = math.radians(45)  # each of the three angles ~ U(-45, 45) degrees
# the slab's circumscribed sphere, sqrt(14^2 + 14^2 + 4^2) = 20.2 voxels, fits in the box
BOX = 2 * math.ceil(math.hypot(DIGIT / 2, DIGIT / 2, SLAB_DEPTH / 2))
_AFFINE3D = Affine3D()


def volume_params(n: int, generator: torch.Generator) -> Params:
    """``angles`` ``(n, 3)`` (a, b, c) ~ U(-45, 45) degrees in radians (about x, y, z), then
    ``corner`` ``(n, 3)`` (x, y, z) of the box, integers uniform in ``0 .. 60 - 42``."""
    angles = (torch.rand(n, 3, generator=generator) * 2 - 1) * MAX_ANGLE
    corner = torch.randint(VOLUME - BOX + 1, (n, 3), generator=generator)
    return {"angles": angles, "corner": corner}


def rotation_matrix(angles: Tensor) -> Tensor:
    """``(N, 3, 3)`` ``Rz(c) Ry(b) Rx(a)`` for ``angles`` ``(N, 3)`` = (a, b, c), acting on
    (x, y, z) column vectors."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(cos[:, 0]), torch.zeros_like(cos[:, 0])

    def mat(*rows: Tensor) -> Tensor:
        return torch.stack(rows, dim=-1).view(-1, 3, 3)

    (ca, cb, cc), (sa, sb, sc) = cos.unbind(1), sin.unbind(1)
    rx = mat(one, zero, zero, zero, ca, -sa, zero, sa, ca)
    ry = mat(cb, zero, sb, zero, one, zero, -sb, zero, cb)
    rz = mat(cc, -sc, zero, sc, cc, zero, zero, zero, one)
    return rz @ ry @ rx


def _box(digits: Tensor, angles: Tensor) -> Tensor:
    """The turned slabs ``(N, BOX, BOX, BOX)`` of ``digits`` ``(N, 1, 28, 28)``."""
    n = digits.shape[0]
    slab = digits.unsqueeze(2).expand(n, 1, SLAB_DEPTH, DIGIT, DIGIT)  # (N, 1, D, H, W)
    # backward map box -> slab in centred voxel units is R^T; in normalised coordinates
    # (centred voxels * 2 / side, the project's convention) it is S_slab R^T S_box^-1
    to_slab = torch.tensor([2 / DIGIT, 2 / DIGIT, 2 / SLAB_DEPTH], dtype=digits.dtype)
    theta = to_slab[:, None] * rotation_matrix(angles).transpose(1, 2).to(digits.dtype) * (BOX / 2)
    theta = torch.cat([theta, theta.new_zeros(n, 3, 1)], dim=2)
    grid = _AFFINE3D.grid(theta.flatten(1), (BOX, BOX, BOX))
    return sample(slab, grid).squeeze(1)


def volume_apply(digits: Tensor, params: Params) -> Tensor:
    """``digits`` ``(N, 1, 28, 28)`` in [0, 1] -> volumes ``(N, 60, 60, 60)`` ``(D, H, W)``."""
    boxes = _box(digits, params["angles"])
    out = digits.new_zeros(digits.shape[0], VOLUME, VOLUME, VOLUME)
    for v, b, (x, y, z) in zip(out, boxes, params["corner"].tolist(), strict=True):
        v[z : z + BOX, y : y + BOX, x : x + BOX] = b
    return out


def volume(images: Tensor, generator: torch.Generator) -> Tensor:
    """3D distortion of a batch ``(N, 1, 28, 28)`` in [0, 1] (or uint8 ``(N, 28, 28)``) ->
    ``(N, 60, 60, 60)``."""
    digits = as_float(images)
    return volume_apply(digits, volume_params(digits.shape[0], generator))
