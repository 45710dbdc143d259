"""The paper's sampler written out from its equations (§3.3, eq. 3-7): a slow, readable reference.

``V_i^c = sum_n sum_m U_nm^c k(x_s - m) k(y_s - n)`` with the bilinear kernel
``k(d) = max(0, 1 - |d|)`` (eq. 5) or the integer kernel ``k = delta(floor(d + 0.5))`` (eq. 4).
``(x_s, y_s)`` are the grid's normalised points converted to pixel indices,
``x_pix = ((x + 1) W - 1) / 2`` (``align_corners=False``, see :mod:`torchstn.coords`), so pixel
``m`` has its centre at ``x_pix = m``. Points outside the image see zeros (``padding="zeros"``).

Only the kernel support region is evaluated (the 2x2 neighbours ``floor(x_pix) + {0, 1}``), as the
paper suggests; everything is vectorised over the batch. The bilinear backward pass implements
eq. 6-7 explicitly (no autograd through the forward):

* ``dV/dU_nm = k(x_s - m) k(y_s - n)`` (scattered back onto the input),
* ``dV/dx_s = sum_nm U_nm k(y_s - n) * s(m, x_s)`` with ``s = -1`` for the left neighbour
  ``m = floor(x_s)`` and ``+1`` for the right one (``y`` alike).

Sub-gradient at the kinks (``x_s`` an integer): the paper's "+1 if m >= x_s" is one-sided in a
mixed way; we take the *right* derivative, which is what ``F.grid_sample`` computes, so that the
fast and reference samplers agree everywhere, not only almost everywhere. Finally
``dx_pix/dx = W / 2`` (``dy_pix/dy = H / 2``) carries the gradient to normalised coordinates.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .sampler import check_input_and_grid

REFERENCE_MODES = ("bilinear", "nearest")


def reference_sample(input: Tensor, grid: Tensor, mode: str = "bilinear") -> Tensor:
    """Sample ``input`` at ``grid`` with the paper's equations (zeros padding).

    Args:
        input: ``(N, C, H_in, W_in)`` floating-point images.
        grid: ``(N, H_out, W_out, 2)`` normalised points (x, y), ``align_corners=False``.
        mode: ``"bilinear"`` (eq. 5, explicit backward of eq. 6-7) or ``"nearest"`` (eq. 4;
            differentiable in ``input`` only, the grid gets a zero gradient).

    Returns:
        ``(N, C, H_out, W_out)``; equals ``torchstn.sample(input, grid, mode, "zeros")`` (for
        ``"nearest"`` away from ties ``x_pix = k + 0.5``, which the integer kernel rounds up and
        ``F.grid_sample`` rounds half to even).
    """
    check_input_and_grid(input, grid, (4,), "(N, C, H, W)")
    if mode not in REFERENCE_MODES:
        raise ValueError(f"mode: expected one of {REFERENCE_MODES}, got {mode!r}")
    grid = grid.to(input.dtype)
    if mode == "nearest":
        return _nearest(input, grid)
    return _Bilinear.apply(input, grid)


def _to_pixels(grid: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Normalised grid ``(N, Ho, Wo, 2)`` -> pixel coordinates ``x_pix, y_pix`` ``(N, Ho*Wo)``.

    ``x_pix = ((x + 1) W - 1) / 2``: pixel ``m`` has its centre at ``x_pix = m``.
    """
    h, w = size
    n = grid.shape[0]
    x = ((grid[..., 0] + 1) * w - 1) / 2
    y = ((grid[..., 1] + 1) * h - 1) / 2
    return x.reshape(n, -1), y.reshape(n, -1)


def _neighbours(x: Tensor, y: Tensor, size: tuple[int, int]):
    """The 4 support pixels of each point: flat indices, in-image masks and bilinear weights.

    Each returned list is ordered ``(m0, n0), (m1, n0), (m0, n1), (m1, n1)`` with
    ``m0 = floor(x)``, ``m1 = m0 + 1`` (``n`` alike); every tensor is ``(N, P)``.
    Out-of-image neighbours get index 0 and mask False (zeros padding).
    """
    h, w = size
    m0 = torch.floor(x)
    n0 = torch.floor(y)
    kx = (1 - (x - m0), x - m0)  # k(x - m0), k(x - m1)
    ky = (1 - (y - n0), y - n0)
    index, valid, weight = [], [], []
    for j in (0, 1):
        for i in (0, 1):
            m, n = m0 + i, n0 + j
            ok = (m >= 0) & (m <= w - 1) & (n >= 0) & (n <= h - 1)
            flat = torch.where(ok, n * w + m, torch.zeros_like(m)).long()
            index.append(flat)
            valid.append(ok)
            weight.append(kx[i] * ky[j])
    return index, valid, weight, kx, ky


def _gather(flat_input: Tensor, index: Tensor) -> Tensor:
    """``flat_input`` ``(N, C, H*W)`` at ``index`` ``(N, P)`` -> ``(N, C, P)``."""
    c = flat_input.shape[1]
    return flat_input.gather(2, index[:, None, :].expand(-1, c, -1))


class _Bilinear(torch.autograd.Function):
    """Bilinear sampling with the explicit gradients of eq. 6-7."""

    @staticmethod
    def forward(ctx, input: Tensor, grid: Tensor) -> Tensor:
        n, c, h, w = input.shape
        out_hw = grid.shape[1:3]
        x, y = _to_pixels(grid, (h, w))
        index, valid, weight, _, _ = _neighbours(x, y, (h, w))
        flat = input.reshape(n, c, h * w)
        out = input.new_zeros(n, c, x.shape[1])
        for idx, ok, wt in zip(index, valid, weight, strict=True):
            out = out + _gather(flat, idx) * (wt * ok)[:, None, :]
        ctx.save_for_backward(input, grid)
        return out.reshape(n, c, *out_hw)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        input, grid = ctx.saved_tensors
        n, c, h, w = input.shape
        x, y = _to_pixels(grid, (h, w))
        index, valid, weight, kx, ky = _neighbours(x, y, (h, w))
        g = grad_out.reshape(n, c, -1)  # (N, C, P)
        grad_input = grad_grid = None
        if ctx.needs_input_grad[0]:
            # eq. 6: dV/dU_nm = k(x_s - m) k(y_s - n), summed over the points that touch U_nm
            grad_flat = input.new_zeros(n, c, h * w)
            for idx, ok, wt in zip(index, valid, weight, strict=True):
                contrib = g * (wt * ok)[:, None, :]
                grad_flat.scatter_add_(2, idx[:, None, :].expand(-1, c, -1), contrib)
            grad_input = grad_flat.reshape(n, c, h, w)
        if ctx.needs_input_grad[1]:
            # eq. 7: dk(x_s - m)/dx_s = -1 for m = floor(x_s), +1 for m = floor(x_s) + 1
            flat = input.reshape(n, c, h * w)
            sign = (-1.0, 1.0)
            dx = torch.zeros_like(x)
            dy = torch.zeros_like(y)
            for k, (idx, ok) in enumerate(zip(index, valid, strict=True)):
                i, j = k % 2, k // 2
                u = (_gather(flat, idx) * g).sum(1) * ok  # sum_c dL/dV^c U^c_nm, (N, P)
                dx = dx + u * sign[i] * ky[j]
                dy = dy + u * sign[j] * kx[i]
            # chain rule to normalised coordinates: x_pix = ((x + 1) W - 1) / 2
            grad_grid = torch.stack([dx * (w / 2), dy * (h / 2)], dim=-1).reshape(grid.shape)
        return grad_input, grad_grid


def _nearest(input: Tensor, grid: Tensor) -> Tensor:
    """Integer kernel (eq. 4): ``V = U[floor(y_pix + 0.5), floor(x_pix + 0.5)]`` or 0 outside."""
    n, c, h, w = input.shape
    x, y = _to_pixels(grid, (h, w))
    m = torch.floor(x + 0.5)
    r = torch.floor(y + 0.5)
    ok = (m >= 0) & (m <= w - 1) & (r >= 0) & (r <= h - 1)
    idx = torch.where(ok, r * w + m, torch.zeros_like(m)).long()
    out = _gather(input.reshape(n, c, h * w), idx) * ok[:, None, :]
    return out.reshape(n, c, *grid.shape[1:3])


__all__ = ["reference_sample", "REFERENCE_MODES"]
