"""The differentiable sampler (paper §3.3): ``V = sum_nm U_nm k(x_s - m) k(y_s - n)``.

:func:`sample` is the fast path (``F.grid_sample`` with ``align_corners=False``). The paper's
equations, written out as a reference, live in :mod:`torchstn.reference_sampler`; the tests
cross-check the two in value and gradient.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .checks import check_float, check_rank, check_tensor

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


def sample(
    input: Tensor, grid: Tensor, mode: str = "bilinear", padding: str = "zeros"
) -> Tensor:
    """Sample ``input`` at the normalised points of ``grid``.

    Args:
        input: ``(N, C, H_in, W_in)`` image batch (or ``(N, C, D, H, W)`` volumes).
        grid: ``(N, H_out, W_out, 2)`` points (x, y) in [-1, 1] (``(N, D', H', W', 3)`` for
            volumes), as produced by a transform's ``grid``. The output size is the grid's size,
            independent of the input size.
        mode: ``"bilinear"`` (trilinear for volumes), ``"nearest"`` or ``"bicubic"`` (2D only).
        padding: value for points outside the input: ``"zeros"``, ``"border"`` or ``"reflection"``.

    Returns:
        ``(N, C, H_out, W_out)`` (or ``(N, C, D', H', W')``), in ``input``'s dtype (the grid is
        cast to it).

    Raises:
        TypeError: non-tensor or non-floating-point ``input``/``grid``.
        ValueError: wrong ranks, grid last dimension, batch or device mismatch, unknown
            ``mode``/``padding``, bicubic on volumes.
    """
    dims = check_input_and_grid(input, grid, (4, 5), "(N, C, H, W) or (N, C, D, H, W)")
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if padding not in PADDINGS:
        raise ValueError(f"padding: expected one of {PADDINGS}, got {padding!r}")
    if mode == "bicubic" and dims == 3:
        raise ValueError(
            "mode='bicubic': expected a 4-D (N, C, H, W) input (bicubic is 2D only), "
            f"got 5-D shape {tuple(input.shape)}; use 'bilinear' or 'nearest' for volumes"
        )
    if grid.dtype != input.dtype:
        grid = grid.to(input.dtype)
    return F.grid_sample(input, grid, mode=mode, padding_mode=padding, align_corners=False)


def check_input_and_grid(input: Tensor, grid: Tensor, ranks: tuple[int, ...], layout: str) -> int:
    """Validate a sampler's ``input`` and ``grid`` (types, ranks, dtypes, shapes, devices).

    Returns the number of spatial dimensions (2 or 3).
    """
    check_tensor(input, "input")
    check_tensor(grid, "grid")
    check_rank(input, ranks, "input", layout)
    check_float(input, "input")
    check_float(grid, "grid")
    dims = input.dim() - 2
    if grid.dim() != input.dim() or grid.shape[-1] != dims:
        raise ValueError(
            f"grid: expected shape (N, *out_size, {dims}) for a {input.dim()}-D input, "
            f"got {tuple(grid.shape)}"
        )
    if grid.device != input.device:
        raise ValueError(f"grid: expected device {input.device} (the input's), got {grid.device}")
    if grid.shape[0] != input.shape[0]:
        raise ValueError(
            f"grid: batch size {grid.shape[0]} does not match input batch size {input.shape[0]}"
        )
    return dims
