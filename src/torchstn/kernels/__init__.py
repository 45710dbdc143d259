"""Fused GPU kernels (Triton, an optional extra: ``pip install 'torchstn[triton]'``).

:func:`fused_warp` generates the sampling grid inside the bilinear sampler. Importing this package
never imports Triton; it is imported on the first call that dispatches to it.
"""

from __future__ import annotations

from .fused import (
    BACKENDS,
    FUSED_PADDINGS,
    KINDS,
    fused_warp,
    get_backend,
    set_backend,
    torch_warp,
    triton_available,
)

__all__ = [
    "BACKENDS",
    "FUSED_PADDINGS",
    "KINDS",
    "fused_warp",
    "get_backend",
    "set_backend",
    "torch_warp",
    "triton_available",
]
