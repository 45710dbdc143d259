"""Fused spatial transformer warp: grid generation inside the bilinear sampler (paper §3.3-3.4).

:func:`fused_warp` gives the same values and gradients as "transform grid + :func:`torchstn.sample`"
(bilinear, ``align_corners=False``) without materialising the ``(N, H, W, 2)`` grid. On CUDA tensors
with Triton installed it runs the kernels of :mod:`.triton_sampler`; everywhere else it runs that
existing torch path. Backends:

* ``"torch"``: grid + ``F.grid_sample`` (always available).
* ``"triton"``: the fused kernels; CUDA tensors, or CPU tensors under ``TRITON_INTERPRET=1``
  (Triton's interpreter, slow: for tests).
* ``"auto"`` (default): ``"triton"`` for float32/bfloat16/float16 CUDA tensors when Triton imports,
  else ``"torch"``. CPU tensors take the interpreter only when both ``TRITON_INTERPRET=1`` and
  ``TORCHSTN_FORCE_TRITON=1`` are set (CI).

A per-call ``backend`` other than ``"auto"`` wins over the module-level :func:`set_backend`.

Deterministic backward: ``deterministic=True``, or ``torch.use_deterministic_algorithms(True)``,
computes the input gradient by an atomic-free gather, bit-identical across runs: each input pixel
sums its contributions in a fixed order, finding them from the map itself (affine maps, zeros
padding: the rows of the support square's preimage, and the exact columns on each row) or through
a stable sort of the output pixels by support cell (any map and padding).
Otherwise the input gradient is scattered with fp32 atomics (faster; rounding varies run to run).
The parameter gradient is a fixed-order reduction of per-block partials in both modes. With the
global flag on, ``deterministic=False`` is overridden. The torch backend's CUDA backward is
PyTorch's (which raises under the global flag).

Importing this module never imports Triton.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..checks import check_float, check_rank, check_size, check_tensor
from ..sampler import sample
from ..transforms.base import affine_grid_from_matrix, projective_grid_from_matrix
from ..transforms.control_grid import control_points
from ..transforms.tps import TPS

KINDS = ("affine", "projective", "tps")
FUSED_PADDINGS = ("zeros", "border")
BACKENDS = ("auto", "triton", "torch")
TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_KIND_ID = {"affine": 0, "projective": 1, "tps": 2}  # = triton_sampler.KIND_*
_ENV_INTERPRET = "TRITON_INTERPRET"
_ENV_FORCE = "TORCHSTN_FORCE_TRITON"

_backend = "auto"


def set_backend(name: str) -> None:
    """Default backend of :func:`fused_warp`: ``"auto"``, ``"triton"`` or ``"torch"``."""
    global _backend
    _backend = _check_choice(name, BACKENDS, "backend")


def get_backend() -> str:
    """The module-level default set by :func:`set_backend` (``"auto"`` initially)."""
    return _backend


@functools.lru_cache(maxsize=1)
def triton_available() -> bool:
    """Whether Triton imports (checked once, only when a dispatch needs to know)."""
    try:
        importlib.import_module("triton")
    except ImportError:
        return False
    return True


def fused_warp(
    input: Tensor,
    theta: Tensor,
    out_size: int | tuple[int, int],
    *,
    kind: str = "affine",
    padding: str = "zeros",
    deterministic: bool | None = None,
    backend: str = "auto",
) -> Tensor:
    """Warp ``input`` by the backward map ``theta`` with bilinear sampling, fused.

    Args:
        input: ``(N, C, H, W)`` images (float32/bfloat16/float16 on the Triton path; accumulation is
            float32).
        theta: the map from output to input points in normalised coordinates:
            ``kind="affine"``: ``(N, 2, 3)`` (or ``(N, 3, 3)``, last row ignored; e.g. the
            ``matrix()`` of the affine, attention and RTS transforms);
            ``kind="projective"``: ``(N, 3, 3)``;
            ``kind="tps"``: ``(N, K*K, 2)`` target points of the ``K x K`` control grid of
            :mod:`torchstn.transforms.control_grid` (identity: the control points themselves).
        out_size: ``(H_out, W_out)`` or an int for a square output.
        kind: ``"affine"``, ``"projective"`` or ``"tps"``.
        padding: ``"zeros"`` or ``"border"``.
        deterministic: atomic-free, bit-reproducible input gradient. ``None`` follows
            ``torch.are_deterministic_algorithms_enabled()``.
        backend: ``"auto"``, ``"triton"`` or ``"torch"`` (see the module docstring).

    Returns:
        ``(N, C, H_out, W_out)`` in the input's dtype, differentiable in ``input`` and ``theta``.
    """
    out_hw = _check_args(input, theta, out_size, kind, padding)
    if _use_triton(input, _check_choice(backend, BACKENDS, "backend")):
        return _triton_warp(input, theta, out_hw, kind, padding, _deterministic(deterministic))
    return torch_warp(input, theta, out_hw, kind=kind, padding=padding)


def torch_warp(
    input: Tensor, theta: Tensor, out_size: tuple[int, int], *, kind: str, padding: str
) -> Tensor:
    """The existing path: the transform's grid, then :func:`torchstn.sample` (bilinear)."""
    if kind == "affine":
        grid = affine_grid_from_matrix(theta[:, :2], out_size)
    elif kind == "projective":
        grid = projective_grid_from_matrix(theta, out_size)
    else:
        k = _grid_size(theta)
        shift = theta - control_points(k, device=theta.device, dtype=theta.dtype)
        grid = TPS(grid_size=k).grid(shift.reshape(theta.shape[0], -1), out_size)
    return sample(input, grid, "bilinear", padding)


def kernel_inputs(theta: Tensor, kind: str, out_size: tuple[int, int]
                  ) -> tuple[Tensor, Tensor, Tensor, int]:
    """What the kernels read: the parameter rows (``theta`` itself when it is float32 and
    contiguous, so the common case adds no autograd node), and for TPS the ``(M, 2)`` control
    points, the ``(M, H_out W_out)`` spline weights of the output pixels (cached per size and
    device) and ``M`` (placeholders and 0 otherwise)."""
    params = theta if theta.dtype == torch.float32 else theta.float()
    params = params.contiguous()
    if kind != "tps":
        return params, params, params, 0
    ctrl, weights = _tps_constants(_grid_size(theta), out_size, theta.device)
    return params, ctrl, weights, ctrl.shape[0]


@dataclass(frozen=True)
class _Spec:
    kind: int
    n_ctrl: int
    out_size: tuple[int, int]
    border: bool
    deterministic: bool


class _FusedWarp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input: Tensor, params: Tensor, ctrl: Tensor, weights: Tensor, spec: _Spec
                ) -> Tensor:
        out = _kernels().warp_forward(
            input, params, ctrl, weights, spec.kind, spec.n_ctrl, spec.out_size, spec.border
        )
        ctx.save_for_backward(input, params)
        ctx.constants = (ctrl, weights)  # cached constants (never modified): not version-tracked
        ctx.spec = spec
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        input, params = ctx.saved_tensors
        spec: _Spec = ctx.spec
        deterministic = spec.deterministic or torch.are_deterministic_algorithms_enabled()
        grad_input, grad_params = _kernels().warp_backward(
            input, grad_out.contiguous(), params, *ctx.constants, spec.kind, spec.n_ctrl,
            spec.border, deterministic, ctx.needs_input_grad[0], ctx.needs_input_grad[1],
        )
        return grad_input, grad_params, None, None, None


def _triton_warp(input, theta, out_size, kind, padding, deterministic) -> Tensor:
    params, ctrl, weights, n_ctrl = kernel_inputs(theta, kind, out_size)
    spec = _Spec(_KIND_ID[kind], n_ctrl, out_size, padding == "border", deterministic)
    return _FusedWarp.apply(input.contiguous(), params, ctrl, weights, spec)


def use_triton(input: Tensor) -> bool:
    """Whether :func:`fused_warp` (``backend="auto"``) takes the Triton path for ``input``."""
    return _use_triton(input, "auto")


def _kernels():
    # looked up in sys.modules on every call, so that tests can re-import it under the interpreter
    return importlib.import_module(__package__ + ".triton_sampler")


def _use_triton(input: Tensor, backend: str) -> bool:
    if backend == "auto":
        backend = _backend
    if backend == "torch":
        return False
    interpret = os.environ.get(_ENV_INTERPRET) == "1"
    runnable = input.is_cuda or (input.device.type == "cpu" and interpret)
    if backend == "triton":
        if not triton_available():
            raise RuntimeError(
                "backend='triton' needs Triton, which is not installed "
                "(pip install 'torchstn[triton]'); use backend='torch' or 'auto'"
            )
        if not runnable:
            raise ValueError(
                f"backend='triton': expected CUDA tensors (or CPU ones with {_ENV_INTERPRET}=1), "
                f"got device {input.device}"
            )
        if input.dtype not in TRITON_DTYPES:
            raise TypeError(
                f"backend='triton': expected input dtype float32, bfloat16 or float16, got "
                f"{input.dtype}; use backend='torch'"
            )
        return True
    if input.dtype not in TRITON_DTYPES:
        return False
    if not input.is_cuda and not (runnable and os.environ.get(_ENV_FORCE) == "1"):
        return False
    return triton_available()


def _deterministic(flag: bool | None) -> bool:
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"deterministic: expected True, False or None, got {flag!r}")
    return bool(flag) or torch.are_deterministic_algorithms_enabled()


def _check_choice(value: object, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value  # type: ignore[return-value]


def _check_args(input, theta, out_size, kind, padding) -> tuple[int, int]:
    check_tensor(input, "input")
    check_tensor(theta, "theta")
    check_rank(input, (4,), "input", "(N, C, H, W)")
    check_float(input, "input")
    check_float(theta, "theta")
    _check_choice(kind, KINDS, "kind")
    _check_choice(padding, FUSED_PADDINGS, "padding")
    n = input.shape[0]
    expected = {"affine": "(N, 2, 3) or (N, 3, 3)", "projective": "(N, 3, 3)",
                "tps": "(N, K*K, 2)"}[kind]
    ok = theta.dim() == 3 and theta.shape[0] == n
    if kind == "affine":
        ok = ok and theta.shape[1:] in ((2, 3), (3, 3))
    elif kind == "projective":
        ok = ok and theta.shape[1:] == (3, 3)
    else:
        ok = ok and theta.shape[2] == 2 and _is_square_grid(theta.shape[1])
    if not ok:
        raise ValueError(
            f"theta: expected shape {expected} with N = {n} (the input's batch) for "
            f"kind={kind!r}, got {tuple(theta.shape)}"
        )
    if theta.device != input.device:
        raise ValueError(f"theta: expected device {input.device} (the input's), got {theta.device}")
    return check_size(out_size, 2)


def _is_square_grid(points: int) -> bool:
    k = math.isqrt(points)
    return k >= 2 and k * k == points


def _grid_size(theta: Tensor) -> int:
    return math.isqrt(theta.shape[1])


@functools.lru_cache(maxsize=16)
def _tps_constants(k: int, out_size: tuple[int, int], device: torch.device
                   ) -> tuple[Tensor, Tensor]:
    """float32 control points ``(K*K, 2)`` and the transposed spline weights ``(K*K, H_out W_out)``
    of :meth:`TPS.weights` (``x_s = x_t + sum_m w_m (t_m - c_m)``; rows contiguous per point)."""
    # a constant made under inference_mode could not be used by a later backward pass
    with torch.inference_mode(False):
        ctrl = control_points(k, device=device, dtype=torch.float32).contiguous()
        weights = TPS(grid_size=k).weights(out_size, device=device, dtype=torch.float32)
        return ctrl, weights.t().contiguous()
