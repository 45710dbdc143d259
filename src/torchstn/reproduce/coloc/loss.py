"""The paper's objective: the triplet hinge between the transformer's views and random crops
of the same images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...data.geometric import DIGIT


def triplet_loss(z: Tensor, z_rand: Tensor, margin: float = 1.0) -> Tensor:
    """The paper's hinge, averaged over ordered pairs ``n != m``.

    Args:
        z: ``(N, D)`` embeddings of the transformer outputs.
        z_rand: ``(N, D)`` embeddings of a random crop of each image.
    """
    if z.dim() != 2 or z.shape != z_rand.shape or z.shape[0] < 2:
        raise ValueError(f"z, z_rand: expected two (N, D) tensors with N >= 2, got "
                         f"{tuple(z.shape)} and {tuple(z_rand.shape)}")
    near = torch.cdist(z, z).square()  # (N, N): |e(T_n) - e(T_m)|^2
    far = (z - z_rand).square().sum(1, keepdim=True)  # (N, 1): |e(T_n) - e(R_n)|^2
    hinge = F.relu(near - far + margin)
    n = z.shape[0]
    return (hinge.sum() - hinge.diagonal().sum()) / (n * (n - 1))


def random_crops(x: Tensor, generator: torch.Generator, size: int = DIGIT) -> Tensor:
    """One uniformly placed ``size x size`` crop of each image: ``(N, C, H, W)`` ->
    ``(N, C, size, size)``."""
    n, _, h, w = x.shape
    top = torch.randint(0, h - size + 1, (n,), generator=generator)
    left = torch.randint(0, w - size + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(size))[:, None, :, None]  # (N, 1, size, 1)
    cols = (left[:, None] + torch.arange(size))[:, None, None, :]  # (N, 1, 1, size)
    index = torch.arange(n)[:, None, None, None]
    return x[index, torch.arange(x.shape[1])[None, :, None, None], rows, cols]
