"""Test error with its 95% confidence interval on a fixed test set.

The interval is Wilson's score interval for a binomial proportion: it stays inside [0, 1] and is
accurate for the small error rates (well under 1%) of distorted MNIST, where the normal
approximation is not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import torch
from torch import Tensor, nn

CONFIDENCE = 0.95


def wilson_interval(errors: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for ``errors`` failures out of ``n`` trials."""
    if n <= 0:
        raise ValueError(f"n: expected a positive number of samples, got {n}")
    if not 0 <= errors <= n:
        raise ValueError(f"errors: expected 0..{n}, got {errors}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a value in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the bounds at 0 and n errors are exactly 0 and 1 (the formula gives them up to rounding)
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == n else min(1.0, centre + half)
    return low, high


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 1000,
            device: torch.device | str = "cpu") -> Tensor:
    """Predicted classes ``(N,)`` for ``images`` ``(N, C, H, W)`` in [0, 1]."""
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    was_training = model.training
    model.eval()
    try:
        out = [model(images[i:i + batch_size].to(device)).argmax(1).cpu()
               for i in range(0, images.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def error_stats(pred: Tensor, labels: Tensor, confidence: float = CONFIDENCE) -> dict:
    """``{"error", "ci_low", "ci_high", "errors", "n", "confidence"}`` (error as a fraction)."""
    if pred.shape != labels.shape:
        raise ValueError(f"pred: expected shape {tuple(labels.shape)}, got {tuple(pred.shape)}")
    n = int(labels.numel())
    errors = int((pred != labels).sum())
    low, high = wilson_interval(errors, n, confidence)
    return {"error": errors / n, "ci_low": low, "ci_high": high, "errors": errors, "n": n,
            "confidence": confidence}


def evaluate(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000,
             device: torch.device | str = "cpu") -> dict:
    """Test error of ``model`` on ``(images (N, C, H, W), labels (N,))`` with its Wilson CI."""
    return evaluate_windows(model, [(images, labels)], batch_size, device)


def evaluate_windows(model: nn.Module, windows: Iterable[tuple[Tensor, Tensor]],
                     batch_size: int = 1000, device: torch.device | str = "cpu") -> dict:
    """:func:`evaluate` over consecutive ``(images, labels)`` windows of one set, for sets too
    large to hold at once (10,000 volumes of 60^3 voxels are 8.6 GB)."""
    preds, truth = [], []
    for images, labels in windows:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"labels: expected {images.shape[0]} labels, got {labels.shape[0]}")
        preds.append(predict(model, images, batch_size, device))
        truth.append(labels)
    if not truth:
        raise ValueError("evaluate: no images")
    return error_stats(torch.cat(preds), torch.cat(truth))


def format_stats(stats: dict, label: str = "test error") -> str:
    """One human line: ``test error 0.52% (95% CI 0.40-0.68%), 52 of 10000 images``."""
    pct = int(round(stats["confidence"] * 100))
    return (f"{label} {100 * stats['error']:.2f}% ({pct}% CI {100 * stats['ci_low']:.2f}-"
            f"{100 * stats['ci_high']:.2f}%), {stats['errors']} of {stats['n']} images wrong")
