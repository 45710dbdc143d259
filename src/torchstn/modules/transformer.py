"""The spatial transformer module (paper §3): localisation net -> regression -> grid -> sampler."""

from __future__ import annotations

import math

import torch
import torch.utils.checkpoint
from torch import Tensor, nn

from ..checks import check_float, check_int, check_rank, check_size, check_tensor
from ..kernels.fused import FUSED_PADDINGS, fused_warp, use_triton
from ..sampler import MODES, PADDINGS, sample
from ..transforms import TPS, MatrixTransform, Transform, get_transform


def _identity_init_(layer: nn.Linear, identity: tuple[float, ...]) -> None:
    """Zero weights and the identity transform as bias (paper §3: the module starts as identity)."""
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor(identity, dtype=layer.bias.dtype))


class IdentityInitLinear(nn.Linear):
    """Regression layer ``(N, F) -> (N, n_params)`` that (re)initialises to the identity transform.

    ``reset_parameters`` sets zero weights and ``bias = identity``, so re-initialising a model
    keeps the paper's initialisation.
    """

    def __init__(self, in_features: int, identity: tuple[float, ...]) -> None:
        self.identity_init = tuple(float(v) for v in identity)  # read by reset_parameters
        super().__init__(in_features, len(self.identity_init))

    def reset_parameters(self) -> None:
        _identity_init_(self, self.identity_init)


class LazyIdentityInitLinear(nn.LazyLinear):
    """:class:`IdentityInitLinear` whose input size is inferred at the first forward."""

    cls_to_become = IdentityInitLinear

    def __init__(self, identity: tuple[float, ...]) -> None:
        self.identity_init = tuple(float(v) for v in identity)
        super().__init__(len(self.identity_init))

    def reset_parameters(self) -> None:
        # called by LazyLinear at construction (nothing to do yet) and after materialisation
        if not self.has_uninitialized_params() and self.in_features != 0:
            _identity_init_(self, self.identity_init)


class SpatialTransformer(nn.Module):
    """A spatial transformer: ``theta = regressor(flatten(localization(x)))``, warp ``x`` by it.

    Args:
        localization: any module mapping ``(N, C, H, W)`` (``(N, C, D, H, W)`` for 3D transforms)
            to features ``(N, ...)``; they are flattened to ``(N, F)``.
        transform: a registered name (``"affine"``, ``"attention"``, ``"tps"``...) or a
            :class:`~torchstn.transforms.Transform` instance (to pass constructor options).
        out_size: output spatial size ``(H', W')`` (an int means square; ``(D', H', W')`` for
            3D); ``None`` keeps the input's spatial size.
        in_shape: input shape without the batch, ``(C, H, W)``. If given, the regressor's input
            size ``F`` is found by a dummy forward of the localisation net now (in eval mode,
            without gradients), and inputs with another channel count are rejected. If ``None``
            the regressor is lazy and is sized at the first forward.
        mode, padding: sampler options, see :func:`torchstn.sample`.
        recompute: keep only the input for backward and recompute the transformer there
            (activation checkpointing: less memory, one more transformer forward per step).
        iterations: how many times the localisation net looks (1: the paper's transformer).
            Each further look sees the input warped by the parameters so far, at the input's
            size, and predicts a correction that :meth:`Transform.refine` composes with them;
            the input is sampled once more at the end with the composed parameters, so a
            refinement never blurs it (the inverse compositional spatial transformer of Lin
            and Lucey, CVPR 2017). The same parameters; ``iterations`` passes of the
            localisation net. 2D families only.

    Attributes:
        regressor: the final ``nn.Linear`` ``(N, F) -> (N, n_params)``; starts with zero weights
            and the transform's identity parameters as bias, so at initialisation the module is
            the identity (up to interpolation round-off) when ``out_size`` equals the input size.
        last_params: the ``(N, n_params)`` parameters predicted by the last :meth:`forward`
            (``None`` before). It is the live tensor, still attached to the autograd graph (so a
            loss on it, e.g. a regulariser, back-propagates); ``.detach()`` it for logging.

    Shapes: ``forward`` maps ``(N, C, H, W)`` to ``(N, C, *out_size)``.
    """

    def __init__(
        self,
        localization: nn.Module,
        transform: str | Transform,
        out_size: int | tuple[int, ...] | None = None,
        in_shape: tuple[int, ...] | None = None,
        mode: str = "bilinear",
        padding: str = "zeros",
        recompute: bool = False,
        iterations: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(localization, nn.Module):
            raise TypeError(
                f"localization: expected an nn.Module, got {type(localization).__name__}"
            )
        self.transform = get_transform(transform)
        dims = self.transform.dims
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding: expected one of {PADDINGS}, got {padding!r}")
        if mode == "bicubic" and dims != 2:
            raise ValueError(f"mode='bicubic': expected a 2D transform, got {dims}D")
        self.localization = localization
        self.out_size = None if out_size is None else check_size(out_size, dims, "out_size")
        self.in_shape = None if in_shape is None else check_size(in_shape, dims + 1, "in_shape")
        self.mode = mode
        self.padding = padding
        # trade time for memory: keep only the input for backward and run the localisation net,
        # grid and sampler again in backward (activation checkpointing)
        self.recompute = bool(recompute)
        check_int(iterations, "iterations", 1)
        if iterations > 1 and not self.transform.refinable:
            raise ValueError(f"iterations={iterations}: expected a transform that composes with "
                             f"its own corrections (a 2D family), got {self.transform.name!r}")
        self.iterations = iterations
        self.last_params: Tensor | None = None
        identity = tuple(self.transform.identity_params().tolist())
        if self.in_shape is None:
            self.regressor: nn.Linear = LazyIdentityInitLinear(identity)
        else:
            self.regressor = IdentityInitLinear(self._infer_features(), identity)
            ref = next(localization.parameters(), None)
            if ref is not None:
                self.regressor.to(device=ref.device, dtype=ref.dtype)

    # -- construction helpers -------------------------------------------------------------------
    def _infer_features(self) -> int:
        """Flattened feature size of the localisation net on a dummy ``(1, *in_shape)`` input."""
        expected = _first_in_channels(self.localization)
        if expected is not None and expected != self.in_shape[0]:
            raise ValueError(
                f"in_shape: the localisation net expects {expected} input channels, "
                f"got in_shape {self.in_shape} with {self.in_shape[0]}"
            )
        ref = next(self.localization.parameters(), None)
        kw = {} if ref is None else {"device": ref.device, "dtype": ref.dtype}
        dummy = torch.zeros(1, *self.in_shape, **kw)
        modes = {m: m.training for m in self.localization.modules()}
        self.localization.eval()  # no batch-norm statistics update, no dropout
        try:
            with torch.no_grad():
                features = self.localization(dummy)
        except RuntimeError as err:
            raise ValueError(
                f"in_shape: the localisation net failed on a dummy input of shape "
                f"{tuple(dummy.shape)} (expected it to accept (N, *in_shape)): {err}"
            ) from err
        finally:
            for m, training in modes.items():
                m.train(training)
        return math.prod(features.shape[1:])

    # -- public API -----------------------------------------------------------------------------
    def params(self, x: Tensor) -> Tensor:
        """Transform parameters ``(N, n_params)`` predicted for ``x`` ``(N, C, H, W)`` (refined
        ``iterations - 1`` times)."""
        theta = self._predict(x)
        for _ in range(self.iterations - 1):
            # look again at the input warped so far, at the size the localisation net takes
            seen = self._sample(x, theta, self._in_size(x))
            theta = self.transform.refine(theta, self._predict(seen))
        return theta

    def _predict(self, x: Tensor) -> Tensor:
        """One pass of the localisation net and the regressor: ``(N, n_params)``."""
        self._check_input(x)
        try:
            features = self.localization(x).flatten(1)
        except RuntimeError as err:
            if self.in_shape is None or tuple(x.shape[1:]) == self.in_shape:
                raise
            raise ValueError(
                f"input: expected shape (N, *in_shape) = (N, {', '.join(map(str, self.in_shape))})"
                f" for this localisation net, got {tuple(x.shape)}; it failed with: {err}"
            ) from err
        if not isinstance(self.regressor, nn.LazyLinear):
            expected = self.regressor.in_features
            if features.shape[1] != expected:
                raise ValueError(
                    f"localisation features: expected {expected} per sample (sized for "
                    f"in_shape {self.in_shape}), got {features.shape[1]} for input shape "
                    f"{tuple(x.shape)}"
                )
        return self.regressor(features)

    def grid(self, x: Tensor) -> Tensor:
        """Sampling grid ``(N, *out_size, dims)`` for ``x`` (normalised input coordinates)."""
        return self.transform.grid(self.params(x), self._out_size(x))

    def matrix(self, x: Tensor) -> Tensor:
        """The ``(N, 3, 3)`` backward-map matrix for ``x`` (matrix transforms only)."""
        if not isinstance(self.transform, MatrixTransform):
            raise TypeError(
                f"matrix: expected a matrix transform (affine, attention, ...), "
                f"got {self.transform.name!r}"
            )
        return self.transform.matrix(self.params(x))

    def forward(self, x: Tensor) -> Tensor:
        """Warp ``x`` ``(N, C, H, W)`` -> ``(N, C, *out_size)``; stores ``last_params``.

        With ``recompute`` (and gradients on) only ``x`` is kept for backward: the localisation
        net's activations and the sampling grid are computed again there (one more forward of
        the transformer per step, in exchange for all its saved activations)."""
        if self.recompute and torch.is_grad_enabled() and not torch.jit.is_tracing():
            return torch.utils.checkpoint.checkpoint(self._warp, x, use_reentrant=False)
        return self._warp(x)

    def _warp(self, x: Tensor) -> Tensor:
        theta = self.params(x)
        self.last_params = theta
        return self._sample(x, theta, self._out_size(x))

    def _sample(self, x: Tensor, theta: Tensor, out_size: tuple[int, ...]) -> Tensor:
        """``x`` warped by ``theta``, sampled at ``out_size``."""
        fused = self._fused_kind(x)
        if fused is not None:  # CUDA + Triton: grid generated inside the sampler kernel
            return fused_warp(x, self._fused_theta(theta, fused), out_size, kind=fused,
                              padding=self.padding)
        grid = self.transform.grid(theta, out_size)
        return sample(x, grid, self.mode, self.padding)

    def _fused_kind(self, x: Tensor) -> str | None:
        """The fused kernel's ``kind`` for this transform if the Triton path applies, else None."""
        if self.mode != "bilinear" or self.padding not in FUSED_PADDINGS:
            return None
        if isinstance(self.transform, MatrixTransform):
            kind = "projective" if self.transform.projective else "affine"
        elif isinstance(self.transform, TPS):
            kind = "tps"
        else:
            return None
        return kind if use_triton(x) else None  # honours torchstn.kernels.set_backend

    def _fused_theta(self, theta: Tensor, kind: str) -> Tensor:
        if kind == "tps":  # target points of the control grid: c_k + d_k
            ctrl = self.transform.control_points(device=theta.device, dtype=theta.dtype)
            return ctrl + theta.view(theta.shape[0], -1, 2)
        return self.transform.matrix(theta)

    def extra_repr(self) -> str:
        return (
            f"transform={self.transform.name}, out_size={self.out_size}, "
            f"in_shape={self.in_shape}, mode={self.mode}, padding={self.padding}"
            + (", recompute=True" if self.recompute else "")
            + (f", iterations={self.iterations}" if self.iterations > 1 else "")
        )

    # -- helpers --------------------------------------------------------------------------------
    def _in_size(self, x: Tensor) -> tuple[int, ...]:
        # in_shape's, where known: under ONNX export the traced shape is made of tensors
        return self.in_shape[1:] if self.in_shape is not None else tuple(x.shape[2:])

    def _out_size(self, x: Tensor) -> tuple[int, ...]:
        return self.out_size if self.out_size is not None else tuple(x.shape[2:])

    def _check_input(self, x: Tensor) -> None:
        dims = self.transform.dims
        layout = "(N, C, H, W)" if dims == 2 else "(N, C, D, H, W)"
        check_tensor(x, "input")
        check_rank(x, (dims + 2,), "input", layout)
        check_float(x, "input")
        if self.in_shape is not None and x.shape[1] != self.in_shape[0]:
            raise ValueError(
                f"input: expected {self.in_shape[0]} channels (in_shape {self.in_shape}), "
                f"got {x.shape[1]} (shape {tuple(x.shape)})"
            )


def _first_in_channels(module: nn.Module) -> int | None:
    """``in_channels`` of ``module``'s first layer if that is a (non-lazy) convolution, else None.

    Only a cheap early check for a clear message; the dummy forward is the real test.
    """
    for m in module.modules():
        if next(m.parameters(recurse=False), None) is None:
            continue
        lazy = isinstance(m, nn.modules.lazy.LazyModuleMixin)
        return m.in_channels if isinstance(m, nn.modules.conv._ConvNd) and not lazy else None
    return None


def localization_param_groups(
    model: nn.Module, lr: float, loc_lr_mult: float, **kw
) -> list[dict]:
    """Optimiser parameter groups: localisation nets at ``lr * loc_lr_mult``, the rest at ``lr``.

    The localisation group holds the ``localization`` and ``regressor`` parameters of every
    :class:`SpatialTransformer` inside ``model`` (``model`` itself included); every parameter
    appears exactly once. Extra keyword arguments (``momentum``, ``weight_decay``...) go into
    both groups. Empty groups are left out. Each group also carries a ``"name"``
    (``"localization"`` or ``"rest"``), which optimisers keep and ignore.
    """
    loc: dict[int, nn.Parameter] = {}
    for m in model.modules():
        if isinstance(m, SpatialTransformer):
            for p in [*m.localization.parameters(), *m.regressor.parameters()]:
                loc.setdefault(id(p), p)
    rest = [p for p in model.parameters() if id(p) not in loc]
    groups = [
        {"params": list(loc.values()), "lr": lr * loc_lr_mult, "name": "localization", **kw},
        {"params": rest, "lr": lr, "name": "rest", **kw},
    ]
    return [g for g in groups if g["params"]]


__all__ = [
    "SpatialTransformer",
    "IdentityInitLinear",
    "LazyIdentityInitLinear",
    "localization_param_groups",
]
