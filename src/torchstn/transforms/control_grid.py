"""Shared machinery of the control-grid families (thin plate spline, piecewise affine).

Both use ``K x K`` control points ``c_k`` on a regular grid spanning ``[-1, 1]^2`` in normalised
*output* coordinates, corners included: ``c_k = (-1 + 2 j / (K - 1), -1 + 2 i / (K - 1))`` for
``k = i K + j`` (row ``i`` top to bottom, column ``j`` left to right, x fastest).

Parameters are the displacements ``d_k``, shape ``(N, 2 K^2)`` laid out
``[dx_0, dy_0, dx_1, dy_1, ...]`` (i.e. ``params.view(N, K*K, 2)``). The backward map f interpolates
``f(c_k) = c_k + d_k``; f is *linear* in the targets, so for fixed control points and output size it
is one matrix ``M`` of shape ``(H*W, K*K)``. Both families reproduce affine maps exactly, so
``M c = base grid`` and the grid is computed as ``base_grid + M d`` (the identity ``d = 0`` gives
the base grid exactly, and the small ``d`` keeps rounding small).

``M`` is built once in float64 and cached per (family, grid size, output size, device, dtype). The
grid is computed in float32 at least, with autocast off: half/bfloat16 parameters give a float32
grid (the sampler casts it to the input's dtype).
"""

from __future__ import annotations

import contextlib
import functools

import torch
from torch import Tensor

from ..coords import base_grid
from .base import Transform, compute_dtype, no_autocast

CACHE_SIZE = 64  # distinct (family, grid size, out size, device, dtype) weight matrices kept


def control_points(grid_size: int, *, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``(K*K, 2)`` regular control grid (x, y) over ``[-1, 1]^2``, corners included."""
    axis = torch.linspace(-1.0, 1.0, grid_size, dtype=torch.float64)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs, ys], dim=-1).reshape(-1, 2).to(device=device, dtype=dtype)


class ControlGridTransform(Transform):
    """A family whose grid is ``base_grid + M d`` for a fixed ``(H*W, K*K)`` weight matrix ``M``.

    Subclasses implement :meth:`point_weights` (float64, on the CPU).
    """

    def __init__(self, grid_size: int = 4) -> None:
        if not isinstance(grid_size, int) or isinstance(grid_size, bool):
            raise TypeError(f"grid_size: expected an int >= 2, got {type(grid_size).__name__}")
        if grid_size < 2:
            raise ValueError(f"grid_size: expected an int >= 2 (corners included), got {grid_size}")
        self.grid_size = grid_size
        self.n_params = 2 * grid_size * grid_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid_size={self.grid_size})"

    @staticmethod
    def point_weights(grid_size: int, points: Tensor) -> Tensor:
        """``(P, K*K)`` float64 weights ``W``: ``f(points) = W @ targets`` (targets of the grid)."""
        raise NotImplementedError

    def control_points(self, *, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
        """This transform's ``(K*K, 2)`` control points."""
        return control_points(self.grid_size, device=device, dtype=dtype)

    def weights(
        self, out_size: tuple[int, int], *, device=None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """The (cached) ``(H*W, K*K)`` matrix ``M`` of the grid at ``out_size = (H, W)``."""
        key = (type(self), self.grid_size, tuple(out_size), torch.device(device or "cpu"), dtype)
        if torch.compiler.is_compiling():  # never cache tensors made while tracing (fake tensors)
            return _build_weights(*key)
        return _cached_weights(*key)

    def _identity(self) -> Tensor:
        return torch.zeros(self.n_params)

    def _refine(self, params: Tensor, correction: Tensor) -> Tensor:
        # the control points' images under the composed map, f_params(c_k + e_k), are the targets
        # of the result: exact there, this family's interpolation in between
        # in float64: float32 solves of the TPS system are off by ~1e-4, so that two looks at
        # the identity would not give the identity
        n, k2, dtype = params.shape[0], self.grid_size**2, params.dtype
        params, correction = params.double(), correction.double()
        c = self.control_points(device=params.device, dtype=params.dtype)
        inner = (c + correction.view(n, k2, 2)).reshape(-1, 2)
        w = self.point_weights(self.grid_size, inner).view(n, k2, k2)
        return (w @ (c + params.view(n, k2, 2)) - c).reshape(n, -1).to(dtype)

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        h, w = out_size
        dtype = compute_dtype(params.dtype)
        with no_autocast(params.device.type):
            m = self.weights(out_size, device=params.device, dtype=dtype)  # (H*W, K*K)
            # one GEMM (N*2, K*K) @ (K*K, H*W) into the planar layout (N, 2, H, W), returned as a
            # permuted view: a batched (H*W, K*K) @ (K*K, 2) matmul per sample is ~10x slower
            d = params.to(dtype).view(-1, self.grid_size**2, 2).transpose(1, 2)  # (N, 2, K*K)
            planar = (d.reshape(-1, self.grid_size**2) @ m.t()).view(-1, 2, h, w)
            base = base_grid(out_size, device=params.device, dtype=dtype).permute(2, 0, 1)
            return (planar + base).permute(0, 2, 3, 1)


def _build_weights(cls, grid_size, out_size, device, dtype) -> Tensor:
    # a matrix made under inference_mode could not be saved for a later backward pass
    inference = torch.inference_mode(False) if torch.is_inference_mode_enabled() else None
    with inference or contextlib.nullcontext(), no_autocast("cpu"):
        points = base_grid(out_size, dtype=torch.float64).reshape(-1, 2)
        return cls.point_weights(grid_size, points).to(dtype).to(device)


_cached_weights = functools.lru_cache(maxsize=CACHE_SIZE)(_build_weights)
