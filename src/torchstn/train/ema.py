"""An exponential moving average (EMA) of a model's weights, kept beside it during training.

After every optimizer step ``t`` (counted from 0) the average moves toward the model's weights:
``avg <- d_t * avg + (1 - d_t) * w`` with ``d_t = min(decay, (1 + t) / (10 + t))``, the usual
warm-up that keeps the first steps from freezing the average near the initial weights. Floating
point parameters and buffers (batch norm's running statistics) are averaged; integer buffers
(batch norm's step counter) are copied. The average is a full copy of the model, so it is
evaluated and saved like one.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

__all__ = ["WeightAverage", "ema_decay"]


def ema_decay(decay: float, step: int) -> float:
    """The decay applied at optimizer step ``step`` (0-based): ``decay``, lower while warming up."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """The EMA of ``model``'s weights: :attr:`module` is a copy of ``model`` holding the average.

    Args:
        model: the model being trained (its current weights start the average).
        decay: the weight of the old average at each step, in (0, 1); its horizon is about
            ``1 / (1 - decay)`` steps.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"ema decay: expected a value in (0, 1), got {decay!r}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        # which tensors are averaged and which copied, fixed once: load_state_dict copies into
        # these same tensors, so the lists stay valid
        avg = [t.data for t in self.module.state_dict(keep_vars=True).values()]
        self._is_float = [t.is_floating_point() for t in avg]
        self._avg_floats = [t for t, f in zip(avg, self._is_float, strict=True) if f]
        self._avg_others = [t for t, f in zip(avg, self._is_float, strict=True) if not f]

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average toward ``model``'s weights after optimizer step ``step`` (0-based)."""
        cur = [t.data for t in model.state_dict(keep_vars=True).values()]
        if len(cur) != len(self._is_float):
            raise ValueError(f"ema: the model has {len(cur)} tensors, the average "
                             f"{len(self._is_float)}")
        floats = [t for t, f in zip(cur, self._is_float, strict=True) if f]
        others = [t for t, f in zip(cur, self._is_float, strict=True) if not f]
        if floats:
            torch._foreach_lerp_(self._avg_floats, floats, 1.0 - ema_decay(self.decay, step))
        for a, c in zip(self._avg_others, others, strict=True):
            a.copy_(c)

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged weights on the CPU (for a checkpoint)."""
        return {k: v.detach().cpu() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.module.load_state_dict(state)
