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

    def _pairs(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor], list[Tensor],
                                                 list[Tensor]]:
        """(averaged floats, model floats, other averaged, other model) tensors, in order."""
        avg = list(self.module.state_dict(keep_vars=True).values())
        cur = list(model.state_dict(keep_vars=True).values())
        if len(avg) != len(cur):
            raise ValueError(f"ema: the model has {len(cur)} tensors, the average {len(avg)}")
        floats = [i for i, t in enumerate(avg) if t.is_floating_point()]
        others = [i for i, t in enumerate(avg) if not t.is_floating_point()]
        return ([avg[i].data for i in floats], [cur[i].data for i in floats],
                [avg[i].data for i in others], [cur[i].data for i in others])

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average toward ``model``'s weights after optimizer step ``step`` (0-based)."""
        avg_f, cur_f, avg_o, cur_o = self._pairs(model)
        if avg_f:
            torch._foreach_lerp_(avg_f, cur_f, 1.0 - ema_decay(self.decay, step))
        for a, c in zip(avg_o, cur_o, strict=True):
            a.copy_(c)

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged weights on the CPU (for a checkpoint)."""
        return {k: v.detach().cpu() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.module.load_state_dict(state)
