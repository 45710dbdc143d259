"""Per-epoch metrics: a JSON-lines file (always) and TensorBoard (when it is installed)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tb"


class RunningStats:
    """Sums of loss, correct predictions and samples, kept as tensors (no sync per step)."""

    def __init__(self) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64)
        self.correct = torch.zeros((), dtype=torch.int64)
        self.count = 0

    def update(self, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        """``loss`` is the batch mean; ``logits`` ``(N, K)``; ``labels`` ``(N,)``."""
        n = labels.shape[0]
        self.loss_sum += loss.detach().double().cpu() * n
        self.correct += (logits.detach().argmax(1) == labels).sum().cpu()
        self.count += n

    def as_tensor(self) -> Tensor:
        """``(3,)`` float64 [loss_sum, correct, count], the form that is all-reduced."""
        return torch.stack([self.loss_sum, self.correct.double(), torch.tensor(float(self.count),
                                                                               dtype=torch.float64)])

    def load_tensor(self, t: Tensor) -> None:
        self.loss_sum = t[0].clone()
        self.correct = t[1].round().long()
        self.count = int(t[2].item())

    @staticmethod
    def summary(t: Tensor) -> dict[str, float]:
        """``{"loss", "acc"}`` from :meth:`as_tensor` (possibly summed over ranks)."""
        n = float(t[2])
        if n == 0:
            return {"loss": math.nan, "acc": math.nan}
        return {"loss": float(t[0]) / n, "acc": float(t[1]) / n}


class MetricsLogger:
    """Appends one JSON object per line to ``run_dir/metrics.jsonl``; mirrors to TensorBoard.

    Only the process that logs (rank 0) creates one; ``enabled=False`` makes every call a no-op.
    """

    def __init__(self, run_dir: str | os.PathLike, enabled: bool = True,
                 tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.enabled = enabled
        use_tb = enabled and tensorboard
        self._tb = _tensorboard_writer(Path(run_dir) / TENSORBOARD_DIR) if use_tb else None

    def log(self, record: dict[str, Any], step: int | None = None) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None and step is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch":
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a run's metrics file (an empty list when there is none)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def truncate_metrics(run_dir: str | os.PathLike, last_epoch: int) -> None:
    """Drop records of epochs after ``last_epoch``: they were logged but never checkpointed."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return
    keep = [r for r in read_metrics(run_dir) if r.get("epoch", 0) <= last_epoch]
    from .checkpoint import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))


def _tensorboard_writer(log_dir: Path):
    """A ``SummaryWriter`` or ``None`` when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional dependency
        return None
    return SummaryWriter(log_dir=str(log_dir))
