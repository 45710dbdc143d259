"""The 3D experiment's models (paper A.3): a volume is looked at as a 2D image.

``VolumeView``: volumes ``(N, D, H, W)`` in [0, 1] -> ``(N, 1, D', H', W')`` -> **maximum along
depth** -> images ``(N, 1, H', W')`` in [0, 1], which a 2D classifier reads. The paper "flattens"
the output volume along depth; torchstn takes the maximum (a maximum-intensity projection), which
keeps a face-on digit in [0, 1] whatever its thickness. Between the two:

* with a 3D affine transformer (``st3d-cnn``): the transformer's output volume
  ``(D/k, H/k, W/k)``; it starts as the identity, which samples the whole volume at 1/k resolution;
* without (``proj-cnn``, the baseline): a ``k x k x k`` average pool, which is exactly what the
  identity transform samples (bilinear at the centre of every ``k = 2`` cell); so both models
  start out seeing the same image and differ only by what the transformer learns.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..modules import SpatialTransformer
from .classifiers import Normalize

VIEW_POOL = 2  # the view has half the volume's resolution: 60^3 -> 30x30 images
# localisation net (ours, the paper gives none): it reads the volume at 1/4 resolution
LOC_POOL = 4
LOC_CHANNELS = (16, 32)
LOC_KERNELS = (5, 3)
LOC_HIDDEN = 32


class VolumeView(nn.Module):
    """``(N, D, H, W)`` -> ``(N, 1, D/k, H/k, W/k)`` (transformer or average pool) -> max over
    depth -> ``(N, 1, H/k, W/k)``.

    Attributes:
        transformer: the 3D :class:`~torchstn.modules.SpatialTransformer`, or ``None``.
        pool: ``k``.
    """

    def __init__(self, transformer: SpatialTransformer | None, pool: int = VIEW_POOL) -> None:
        super().__init__()
        self.transformer = transformer
        self.pool = pool

    def volume(self, x: Tensor) -> Tensor:
        """The volume before the projection, ``(N, 1, D/k, H/k, W/k)``."""
        v = x.unsqueeze(1)
        return F.avg_pool3d(v, self.pool) if self.transformer is None else self.transformer(v)

    def forward(self, x: Tensor) -> Tensor:
        return self.volume(x).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pool={self.pool}"


def _conv_side(side: int) -> int:
    for i, k in enumerate(LOC_KERNELS):
        side = (side if i == 0 else -(-side // 2)) - (k - 1)  # max-pool 2 (ceil) between convs
    return side


def volume_localization(in_shape: tuple[int, int, int]) -> nn.Sequential:
    """``(N, 1, D, H, W)`` -> ``(N, LOC_HIDDEN)``: avg-pool 4 -> normalise -> conv3d 5 -> ReLU ->
    max-pool 2 -> conv3d 3 -> ReLU -> fc -> ReLU (60^3: 15 -> 11 -> 6 -> 4)."""
    sides = [_conv_side(s // LOC_POOL) for s in in_shape]
    if min(sides) < 1:
        raise ValueError(f"in_shape: a volume of at least {LOC_POOL * 12} voxels a side is "
                         f"needed by the localisation net, got {in_shape}")
    a, b = LOC_CHANNELS
    return nn.Sequential(
        nn.AvgPool3d(LOC_POOL), Normalize(),
        nn.Conv3d(1, a, LOC_KERNELS[0]), nn.ReLU(), nn.MaxPool3d(2, ceil_mode=True),
        nn.Conv3d(a, b, LOC_KERNELS[1]), nn.ReLU(), nn.Flatten(),
        nn.Linear(b * sides[0] * sides[1] * sides[2], LOC_HIDDEN), nn.ReLU(),
    )


def volume_transformer(in_shape: tuple[int, int, int], pool: int = VIEW_POOL) -> SpatialTransformer:
    """The 3D affine transformer of ``st3d-cnn``: volumes ``(N, 1, D, H, W)`` (``in_shape`` =
    ``(D, H, W)``) -> ``(N, 1, D/pool, H/pool, W/pool)``."""
    out = tuple(s // pool for s in in_shape)
    return SpatialTransformer(volume_localization(in_shape), "affine3d", out_size=out,
                              in_shape=(1, *in_shape))
