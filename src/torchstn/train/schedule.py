"""Learning-rate schedules as pure functions of the step: resuming needs only the step count."""

from __future__ import annotations

import math
from collections.abc import Sequence

ONECYCLE_WARMUP = 0.3  # fraction of the run spent rising (torch's OneCycleLR default)
ONECYCLE_START = 1 / 25  # initial lr / max lr (OneCycleLR's div_factor)
ONECYCLE_END = 1 / 25e4  # final lr / max lr (div_factor * final_div_factor)


def _cos_between(start: float, end: float, t: float) -> float:
    """Cosine interpolation from ``start`` (t=0) to ``end`` (t=1)."""
    return end + (start - end) * (1 + math.cos(math.pi * t)) / 2


def lr_factor(
    schedule: str, step: int, total: int, milestones: Sequence[float] = (1 / 3, 2 / 3),
    drop: float = 0.1,
) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of a ``total``-step run.

    * ``step``: ``drop ** k`` after the k-th milestone (fractions of the run; the paper divides
      by 10 at 50k and 100k of 150k iterations);
    * ``cosine``: from 1 to 0 over the run;
    * ``onecycle``: cosine warm-up from 1/25 to 1 over 30% of the run, then cosine to 1/25e4;
    * ``constant``: 1.
    """
    if total < 1:
        raise ValueError(f"total: expected a positive number of steps, got {total}")
    t = min(max(step / total, 0.0), 1.0)
    if schedule == "step":
        return drop ** sum(t >= m for m in milestones)
    if schedule == "cosine":
        return _cos_between(1.0, 0.0, t)
    if schedule == "onecycle":
        if t < ONECYCLE_WARMUP:
            return _cos_between(ONECYCLE_START, 1.0, t / ONECYCLE_WARMUP)
        return _cos_between(1.0, ONECYCLE_END, (t - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"schedule: expected step, cosine, onecycle or constant, got {schedule!r}")
