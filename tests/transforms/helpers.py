"""Shared helpers of the transform tests."""

import torch

from torchstn.transforms import TRANSFORMS, get_transform

NAMES_2D = [n for n, cls in TRANSFORMS.items() if cls.dims == 2]
ALL_NAMES = list(TRANSFORMS)
MATRIX_NAMES = ["affine", "attention", "rts", "projective"]


def random_params(name: str, n: int = 2, dtype=torch.float64, scale: float = 0.1, seed: int = 0):
    """Non-degenerate parameters: the identity plus a small random perturbation, ``(n, P)``."""
    t = get_transform(name)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, t.n_params, generator=gen, dtype=torch.float64) * scale
    return (t.identity_params(dtype=torch.float64) + noise).to(dtype)


def out_size(name: str, hw=(3, 4)):
    return (2, *hw) if TRANSFORMS[name].dims == 3 else hw
