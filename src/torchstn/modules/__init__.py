"""``nn.Module`` building blocks: the spatial transformer, its compositions, localisation nets."""

from .composition import ParallelTransformers, SeriesTransformers
from .localization import conv_localization, fc_localization
from .transformer import (
    IdentityInitLinear,
    LazyIdentityInitLinear,
    SpatialTransformer,
    localization_param_groups,
)

__all__ = [
    "SpatialTransformer",
    "SeriesTransformers",
    "ParallelTransformers",
    "conv_localization",
    "fc_localization",
    "localization_param_groups",
    "IdentityInitLinear",
    "LazyIdentityInitLinear",
]
