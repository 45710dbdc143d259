"""What every transform family provides, and the shared machinery of the matrix families.

A transform is a small stateless object (not an ``nn.Module``): it knows how many parameters it
takes, what the identity is, and how to turn a batch of parameters into a sampling grid in the
convention of :mod:`torchstn.coords`. Families with a matrix form (affine, attention, RTS,
projective) also give ``matrix``, ``inverse`` and ``compose``. Every 2D family gives ``refine``:
the parameters of its map followed by a correction predicted on its own output (an iterative
spatial transformer's step, :class:`torchstn.modules.SpatialTransformer` ``iterations``).
"""

from __future__ import annotations

import contextlib

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

    def refine(self, params: Tensor, correction: Tensor) -> Tensor:
        """Parameters ``(N, n_params)`` of ``p -> f_params(f_correction(p))``: the warp by
        ``params`` refined by a ``correction`` that was predicted on that warp's output.

        Backward maps (output -> input), so the correction acts first on an output point. Exact
        for the matrix families (their maps compose into one of the same family); a control-grid
        family returns the interpolant through the composed control points. Computed in float32
        at least, autocast off: a refined warp is fed back in, so its round-off would compound.
        """
        params = check_params(params, self.n_params, self.name)
        correction = check_params(correction, self.n_params, f"{self.name} correction")
        if correction.shape[0] != params.shape[0]:
            raise ValueError(f"correction: expected {params.shape[0]} rows like params, "
                             f"got {correction.shape[0]}")
        dtype = compute_dtype(torch.promote_types(params.dtype, correction.dtype))
        with no_autocast(params.device.type):
            return self._refine(params.to(dtype), correction.to(dtype))

    @property
    def refinable(self) -> bool:
        """Whether :meth:`refine` is implemented (every 2D family; not :class:`Affine3D`)."""
        return type(self)._refine is not Transform._refine

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _identity(self) -> Tensor:
        raise NotImplementedError

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        raise NotImplementedError

    def _refine(self, params: Tensor, correction: Tensor) -> Tensor:
        raise NotImplementedError(f"transform {self.name!r} has no refine (composition)")


def no_autocast(device_type: str):
    """Context that switches autocast off on ``device_type`` (a no-op where it does not exist)."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 at least: half and bfloat16 are promoted, float64 stays."""
    return torch.promote_types(dtype, torch.float32)


def affine_grid_from_matrix(theta: Tensor, out_size: tuple[int, int]) -> Tensor:
    """Grid ``(N, H, W, 2)`` of the affine backward map ``theta`` ``(N, 2, 3)`` (or ``(N, 3, 3)``).

    ``(x_s, y_s) = A[:, 0] x + (A[:, 1] y + A[:, 2])``, computed in the planar layout
    ``(N, 2, H, W)`` (long contiguous inner loops; no ``(H*W, 3)`` base grid and batched matmul as
    in ``F.affine_grid``) and returned as a permuted view, which ``grid_sample`` reads just as fast.
    Same numbers as ``F.affine_grid(align_corners=False)``. Measured (256 x 42 x 42, 1 thread):
    0.2 ms against 1.3 ms for the interleaved ``(N, H, W, 2)`` broadcast and 4.5 ms for
    ``F.affine_grid``; its backward (autograd's reductions) beats a custom ``bmm`` backward too.
    """
    h, w = out_size
    xs = base_coords(w, device=theta.device, dtype=theta.dtype)  # (W,)
    ys = base_coords(h, device=theta.device, dtype=theta.dtype)[:, None]  # (H, 1)
    t = theta[:, :2, :, None, None]  # (N, 2, 3, 1, 1)
    return (t[:, :, 0] * xs + (t[:, :, 1] * ys + t[:, :, 2])).permute(0, 2, 3, 1)


def homogeneous_base(out_size: tuple[int, int], *, device=None,
                     dtype: torch.dtype = torch.float32) -> Tensor:
    """``(3, H*W)`` rows ``x; y; 1`` of the normalised pixel centres, row-major over ``(H, W)``."""
    h, w = out_size
    xs = base_coords(w, device=device, dtype=dtype).expand(h, w)
    ys = base_coords(h, device=device, dtype=dtype)[:, None].expand(h, w)
    return torch.stack([xs, ys, torch.ones_like(xs)]).view(3, h * w)


MIN_W = 1e-6  # |w| below this divides as this (sign kept): a vanishing w gives far points, not inf


def safe_w(w: Tensor) -> Tensor:
    """``w`` with magnitudes below :data:`MIN_W` raised to it, sign kept (0 counts as positive).

    Where a homography's horizon crosses the output, ``w`` passes through 0: an exact 0 made
    ``u / w`` inf or NaN, so NaN pixels and NaN parameter gradients (a P ST-CNN Proj run diverged
    so). A point with ``|w| < MIN_W`` lies over ``1e6`` image widths out unless ``|u|`` is as
    small, so values change only on such points. The fused Triton kernels do the same."""
    mag = w.abs().clamp_min(MIN_W)
    return torch.where(w < 0, -mag, mag)


class _PerspectiveDivide(torch.autograd.Function):
    """``(N, 3, P)`` homogeneous points -> ``(N, 2, P)`` ``(u / w, v / w)``, with a backward that
    writes the ``(N, 3, P)`` gradient in one go (autograd's division backward, with its broadcast
    reductions and slice-backward zero fills, was 3x the cost of the whole forward)."""

    @staticmethod
    def forward(ctx, uvw: Tensor) -> Tensor:
        w = safe_w(uvw[:, 2:])
        out = uvw[:, :2] / w
        ctx.save_for_backward(uvw, w, out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        # the guard of safe_w passes gradients straight through (the derivative at w_safe)
        uvw, w, out = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiable ops of the input only
            w = safe_w(uvw[:, 2:])
            d_uv = grad / w
            return torch.cat([d_uv, -(grad * uvw[:, :2]).sum(1, keepdim=True) / (w * w)], dim=1)
        d = grad.new_empty(uvw.shape)
        torch.div(grad, w, out=d[:, :2])  # d/du = g_x / w, d/dv = g_y / w
        # d/dw = -(g_x u + g_y v) / w^2 = -(g / w) . out, without temporaries
        dw = torch.mul(d[:, 0], out[:, 0], out=d[:, 2])
        dw.addcmul_(d[:, 1], out[:, 1]).neg_()
        return d


def perspective_divide(uvw: Tensor) -> Tensor:
    """``(N, 3, P)`` -> ``(N, 2, P)`` = ``(u / w, v / w)`` (custom backward when one is needed)."""
    if torch.is_grad_enabled() and uvw.requires_grad:
        return _PerspectiveDivide.apply(uvw)
    return uvw[:, :2] / safe_w(uvw[:, 2:])  # plain ops: also what tracers (ONNX export) see


def projective_grid_from_matrix(matrix: Tensor, out_size: tuple[int, int]) -> Tensor:
    """Grid ``(N, H, W, 2)`` of the projective backward map ``matrix`` ``(N, 3, 3)``.

    ``(x_s, y_s) = (u / w, v / w)`` with ``(u, v, w) = matrix @ (x, y, 1)``: one GEMM
    ``(N*3, 3) @ (3, H*W)`` in the planar layout, the division, and a permuted view. Computed in
    float32 at least with autocast off (a bfloat16 grid would be off by up to 1/256 of the image).
    """
    h, w = out_size
    dtype = torch.promote_types(matrix.dtype, torch.float32)
    with _no_autocast(matrix.device.type):
        base = homogeneous_base(out_size, device=matrix.device, dtype=dtype)
        uvw = (matrix.to(dtype).reshape(-1, 3) @ base).view(-1, 3, h * w)
        return perspective_divide(uvw).view(-1, 2, h, w).permute(0, 2, 3, 1)


def _no_autocast(device_type: str):
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


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

    def _params(self, matrix: Tensor) -> Tensor:
        """The ``(N, n_params)`` parameters of a ``(N, 3, 3)`` matrix of this family."""
        raise NotImplementedError

    def _refine(self, params: Tensor, correction: Tensor) -> Tensor:
        return self._params(self._matrix(params) @ self._matrix(correction))

    def _grid(self, params: Tensor, out_size: tuple[int, ...]) -> Tensor:
        m = self._matrix(params)
        if self.projective:
            return projective_grid_from_matrix(m, out_size)
        # float32 at least: a half/bfloat16 grid (autocast) would be off by up to 1/256 of the image
        return affine_grid_from_matrix(m.to(torch.promote_types(m.dtype, torch.float32)), out_size)


def rows_to_matrix(rows: Tensor) -> Tensor:
    """``(N, 6)`` row-major affine entries, or ``(N, 8)`` homography entries -> ``(N, 3, 3)``."""
    n = rows.shape[0]
    if rows.shape[1] == 6:
        tail = torch.tensor([0.0, 0.0, 1.0], device=rows.device, dtype=rows.dtype).expand(n, 3)
    else:
        tail = torch.ones(n, 1, device=rows.device, dtype=rows.dtype)
    return torch.cat([rows, tail], dim=1).view(n, 3, 3)
