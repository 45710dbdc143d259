"""Validation at the public boundary: errors that say what was expected and what arrived.

The finiteness check on transform parameters costs a device sync; switch it off for speed with
``torchstn.set_finite_checks(False)`` or the environment variable ``TORCHSTN_CHECK_FINITE=0``.
It is skipped automatically while ``torch.compile`` traces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

_CHECK_FINITE = os.environ.get("TORCHSTN_CHECK_FINITE", "1") not in ("0", "false", "False", "")


def set_finite_checks(enabled: bool) -> None:
    """Turn the NaN/inf check on transform parameters on or off (default: on)."""
    global _CHECK_FINITE
    _CHECK_FINITE = bool(enabled)


def finite_checks_enabled() -> bool:
    return _CHECK_FINITE and not torch.compiler.is_compiling()


def eager() -> bool:
    """True in plain eager execution: not tracing (ONNX export), scripting or ``torch.compile``.
    Hand-written autograd Functions and Python-side tricks are used only then; the traced and
    compiled graphs get the standard ops."""
    return not (torch.jit.is_tracing() or torch.jit.is_scripting()
                or torch.compiler.is_compiling())


def check_tensor(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    return x


def check_float(x: Tensor, name: str) -> Tensor:
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor (float16/bfloat16/float32/float64), "
            f"got dtype {x.dtype}; convert with .float() (images as values in [0, 1])"
        )
    return x


def check_rank(x: Tensor, ranks: Sequence[int], name: str, layout: str) -> Tensor:
    if x.dim() not in ranks:
        raise ValueError(f"{name}: expected shape {layout}, got {x.dim()}-D shape {tuple(x.shape)}")
    return x


def check_size(size: object, dims: int, name: str = "out_size") -> tuple[int, ...]:
    """A positive integer size of ``dims`` entries (an int is repeated)."""
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size,) * dims
    if (
        not isinstance(size, Sequence)
        or len(size) != dims
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in size)
    ):
        raise ValueError(f"{name}: expected {dims} positive ints, got {size!r}")
    if any(s <= 0 for s in size):
        raise ValueError(f"{name}: every entry must be positive, got {tuple(size)}")
    return tuple(size)


def check_int(value: object, name: str, low: int) -> int:
    """``value`` itself if it is an int ``>= low`` (not a bool, not a float)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def check_bool(value: object, name: str) -> bool:
    """``value`` itself if it is True or False (not 1, "yes" or None)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return value


def check_params(params: Tensor, n_params: int, name: str) -> Tensor:
    """Transform parameters ``(N, n_params)``; a 1-D ``(n_params,)`` is taken as a batch of one."""
    check_tensor(params, f"{name} params")
    check_float(params, f"{name} params")
    if params.dim() == 1:
        params = params.unsqueeze(0)
    if params.dim() != 2 or params.shape[1] != n_params:
        raise ValueError(
            f"{name} params: expected shape (N, {n_params}), got {tuple(params.shape)}"
        )
    check_finite(params, f"{name} params")
    return params


def check_finite(x: Tensor, name: str) -> Tensor:
    if finite_checks_enabled() and not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"{name}: contains NaN or inf (the localisation net diverged?); "
            "disable this check with torchstn.set_finite_checks(False)"
        )
    return x
