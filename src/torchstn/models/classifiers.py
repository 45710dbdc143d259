"""The paper's classifiers (PAPER.md §2): a CNN and an FCN, each with three weight layers.

* CNN: ``conv 9x9 -> ReLU -> max-pool 2 -> conv 7x7 -> ReLU -> max-pool 2 -> fc(classes)``,
  stride 1, no padding where the input allows it. On RTS the paper's description is inconsistent
  (42 -> avg-pool 21 -> conv9 13 -> pool 6 -> conv7: nothing left). torchstn resolves it with
  ``ceil_mode=True`` pooling (13 -> 7) and **"same" padding on any convolution whose unpadded
  output would be smaller than** :data:`MIN_FEATURE_SIDE` pixels: on RTS the 7x7 convolution is
  padded by 3, 21 -> 13 -> 7 -> 7 -> 4, leaving a 4x4 map for the last layer instead of a
  single pixel (results/exploration.md has the exploratory runs behind the choice). On 28x28
  inputs (20 -> 10 -> 4 -> 2) nothing is padded and ceil and floor pooling agree, so the paper's
  MNIST net is unchanged; TC (30 -> 22 -> 11 -> 5 -> 3) is unpadded too.
* FCN: ``flatten -> fc(h) -> ReLU -> fc(h) -> ReLU -> fc(classes)``; with ``batchnorm``, a
  ``BatchNorm1d`` between each hidden ``fc`` and its ReLU (not the paper's; the registry says
  where validation chose it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..checks import check_bool, check_size
from .single_channel_conv import Conv2dC1

CNN_KERNELS = (9, 7)  # paper [S]
POOL = 2  # max-pool 2x2 after each convolution
# a convolution whose valid output would be smaller than this gets "same" padding (RTS, addition)
MIN_FEATURE_SIDE = 2
# MNIST training-set statistics of pixel values in [0, 1] (the usual normalisation constants)
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class Normalize(nn.Module):
    """``(x - mean) / std`` with scalar statistics; the model receives images in [0, 1]."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        if not std > 0:
            raise ValueError(f"std: expected a positive number, got {std}")
        self.mean = float(mean)
        self.std = float(std)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) * (1.0 / self.std)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def cnn_paddings(size: int, kernels: Sequence[int] = CNN_KERNELS) -> tuple[int, ...]:
    """Padding of each convolution for an input side ``size``: 0, or ``k // 2`` ("same") where
    the valid output would be smaller than :data:`MIN_FEATURE_SIDE`."""
    pads = []
    for k in kernels:
        pad = 0 if size - (k - 1) >= MIN_FEATURE_SIDE else k // 2
        pads.append(pad)
        size = math.ceil((size + 2 * pad - (k - 1)) / POOL)
    return tuple(pads)


def cnn_feature_size(
    size: int, kernels: Sequence[int] = CNN_KERNELS, pads: Sequence[int] | None = None
) -> int:
    """Spatial side after the CNN's ``conv -> ceil max-pool`` stages (0 or less: too small);
    ``pads`` default to :func:`cnn_paddings` of ``size``."""
    pads = cnn_paddings(size, kernels) if pads is None else pads
    for k, pad in zip(kernels, pads, strict=True):
        size += 2 * pad - (k - 1)
        if size < 1:
            return size
        size = math.ceil(size / POOL)
    return size


def cnn_classifier(
    in_shape: tuple[int, int, int], num_classes: int, widths: Sequence[int] = (32, 64),
    kernels: Sequence[int] = CNN_KERNELS,
) -> nn.Sequential:
    """CNN mapping ``(N, C, H, W)`` to logits ``(N, num_classes)``; ``widths`` are the filters."""
    c, h, w = check_size(tuple(in_shape), 3, "in_shape")
    (num_classes,) = check_size(num_classes, 1, "num_classes")
    widths = check_size(tuple(widths), len(kernels), "widths")
    pads = cnn_paddings(min(h, w), kernels)  # one padding per layer for both axes
    fh, fw = cnn_feature_size(h, kernels, pads), cnn_feature_size(w, kernels, pads)
    layers: list[nn.Module] = []
    prev = c
    for width, k, pad in zip(widths, kernels, pads, strict=True):
        # one input channel: the fast input gradient an ST-CNN's classifier needs (same weights)
        conv = Conv2dC1 if prev == 1 else nn.Conv2d
        layers += [conv(prev, width, k, padding=pad), nn.ReLU(),
                   nn.MaxPool2d(POOL, ceil_mode=True)]
        prev = width
    layers += [nn.Flatten(), nn.Linear(prev * fh * fw, num_classes)]
    return nn.Sequential(*layers)


def fcn_classifier(
    in_shape: tuple[int, int, int], num_classes: int, hidden: Sequence[int] = (128, 128),
    batchnorm: bool = False,
) -> nn.Sequential:
    """FCN mapping ``(N, C, H, W)`` to logits ``(N, num_classes)``; ``hidden`` are the widths;
    ``batchnorm``: ``nn.BatchNorm1d`` after each hidden layer, before its ReLU."""
    check_bool(batchnorm, "batchnorm")
    shape = check_size(tuple(in_shape), 3, "in_shape")
    (num_classes,) = check_size(num_classes, 1, "num_classes")
    hidden = check_size(tuple(hidden), len(hidden) or 1, "hidden")
    layers: list[nn.Module] = [nn.Flatten()]
    prev = math.prod(shape)
    for width in hidden:
        norm = [nn.BatchNorm1d(width)] if batchnorm else []
        layers += [nn.Linear(prev, width), *norm, nn.ReLU()]
        prev = width
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_on_meta(build, *args, **kwargs) -> int:
    """Parameter count of ``build(*args, **kwargs)`` without allocating or initialising weights."""
    with torch.device("meta"):
        return count_parameters(build(*args, **kwargs))
