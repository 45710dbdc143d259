"""Localisation-net builders of the paper's distorted-MNIST experiments (PAPER.md §2).

Both end in a ReLU hidden layer; :class:`~torchstn.modules.SpatialTransformer` appends the
regression layer. Flatten sizes are computed from the input shape when it is given (no magic
numbers) and inferred at the first forward (``nn.LazyLinear``) when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from ..checks import check_size

POOLS = ("max", "avg")
POOL_SIZE = 2  # the max-pool 2x2 between convolutions


def _positive_ints(values: object, name: str) -> tuple[int, ...]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    if (
        not isinstance(values, Sequence)
        or len(values) == 0
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    ):
        raise ValueError(f"{name}: expected one or more positive ints, got {values!r}")
    return tuple(values)


def _split_shape(in_shape: object, name: str) -> tuple[int, tuple[int, int] | None]:
    """``C`` -> ``(C, None)``; ``(C, H, W)`` -> ``(C, (H, W))``."""
    if isinstance(in_shape, int) and not isinstance(in_shape, bool):
        return check_size(in_shape, 1, name)[0], None
    c, h, w = check_size(in_shape, 3, name)
    return c, (h, w)


def conv_localization(
    in_channels: int | tuple[int, int, int],
    channels: Sequence[int] = (20, 20),
    kernel_size: int = 5,
    hidden: int = 20,
    downsample: int = 2,
    downsample_mode: str = "max",
) -> nn.Sequential:
    """ST-CNN localisation net: ``pool(downsample) -> [conv k x k -> ReLU -> max-pool 2] ... ->
    conv k x k -> ReLU -> flatten -> fc(hidden) -> ReLU`` (no max-pool after the last conv).

    Args:
        in_channels: ``C``, or the input shape ``(C, H, W)``; with the shape the fc layer's input
            size is computed (and checked to be positive), otherwise it is an ``nn.LazyLinear``
            that is sized at the first forward.
        channels: filters of each convolution (paper: ``(20, 20)``).
        kernel_size: square kernel size of every convolution (paper: 5).
        hidden: width of the final fc layer (paper: 20).
        downsample: factor of the initial pooling (paper: 2); 1 disables it.
        downsample_mode: ``"max"`` or ``"avg"`` pooling for the downsampling.

    Returns:
        ``nn.Sequential`` mapping ``(N, C, H, W)`` to ``(N, hidden)``.
    """
    c, size = _split_shape(in_channels, "in_channels")
    channels = _positive_ints(channels, "channels")
    (kernel_size,) = _positive_ints(kernel_size, "kernel_size")
    (hidden,) = _positive_ints(hidden, "hidden")
    (downsample,) = _positive_ints(downsample, "downsample")
    if downsample_mode not in POOLS:
        raise ValueError(f"downsample_mode: expected one of {POOLS}, got {downsample_mode!r}")

    layers: list[nn.Module] = []
    if downsample > 1:
        pool = nn.MaxPool2d if downsample_mode == "max" else nn.AvgPool2d
        layers.append(pool(downsample))
    prev = c
    for i, out in enumerate(channels):
        if i > 0:
            layers.append(nn.MaxPool2d(POOL_SIZE))
        layers += [nn.Conv2d(prev, out, kernel_size), nn.ReLU()]
        prev = out
    layers.append(nn.Flatten())
    if size is None:
        layers.append(nn.LazyLinear(hidden))
    else:
        h, w = (_conv_out(s, len(channels), kernel_size, downsample) for s in size)
        if h < 1 or w < 1:
            need = _min_size(len(channels), kernel_size, downsample)
            raise ValueError(
                f"in_channels: expected an input of at least {need}x{need} pixels for "
                f"{len(channels)} convs of {kernel_size}x{kernel_size} after a {downsample}x "
                f"downsampling, got {size[0]}x{size[1]}"
            )
        layers.append(nn.Linear(prev * h * w, hidden))
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _conv_out(size: int, n_convs: int, kernel: int, downsample: int) -> int:
    """Spatial size after the downsampling, the convs (valid) and the pools between them."""
    size //= downsample
    for i in range(n_convs):
        if i > 0:
            size //= POOL_SIZE
        size -= kernel - 1
    return size


def _min_size(n_convs: int, kernel: int, downsample: int) -> int:
    """Smallest input side for which :func:`_conv_out` is at least 1."""
    size = 1
    for i in reversed(range(n_convs)):
        size += kernel - 1
        if i > 0:
            size *= POOL_SIZE
    return size * downsample


def fc_localization(
    in_features: int | tuple[int, int, int] | None, hidden: Sequence[int] = (32, 32, 32)
) -> nn.Sequential:
    """ST-FCN localisation net: ``flatten -> [fc -> ReLU] x len(hidden)``.

    Args:
        in_features: flattened input size ``C*H*W``, the input shape ``(C, H, W)``, or ``None``
            for an ``nn.LazyLinear`` first layer sized at the first forward.
        hidden: widths of the fc layers (paper: three of 32).

    Returns:
        ``nn.Sequential`` mapping ``(N, C, H, W)`` (any shape ``(N, ...)``) to ``(N, hidden[-1])``.
    """
    hidden = _positive_ints(hidden, "hidden")
    if in_features is None:
        first: nn.Module = nn.LazyLinear(hidden[0])
    else:
        if isinstance(in_features, int) and not isinstance(in_features, bool):
            n = check_size(in_features, 1, "in_features")[0]
        else:
            n = math.prod(check_size(in_features, 3, "in_features"))
        first = nn.Linear(n, hidden[0])
    layers: list[nn.Module] = [nn.Flatten(), first, nn.ReLU()]
    for a, b in zip(hidden[:-1], hidden[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


__all__ = ["conv_localization", "fc_localization"]
