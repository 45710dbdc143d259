"""Warp helpers: the affine grid the data uses equals PyTorch's; centred pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from torchstn.data.warp import centred_pixel_grid, warp_matrix
from torchstn.transforms.base import affine_grid_from_matrix


def test_affine_grid_equals_torch():
    g = torch.Generator().manual_seed(0)
    theta = torch.eye(3)[:2] + 0.3 * torch.randn(5, 2, 3, generator=g)
    ours = affine_grid_from_matrix(theta, (7, 9))
    torch.testing.assert_close(ours, F.affine_grid(theta, (5, 1, 7, 9), align_corners=False))


def test_centred_pixel_grid():
    grid = centred_pixel_grid((2, 4))
    torch.testing.assert_close(grid[0, :, 0], torch.tensor([-1.5, -0.5, 0.5, 1.5]))
    torch.testing.assert_close(grid[:, 0, 1], torch.tensor([-0.5, 0.5]))


def test_identity_and_integer_shift():
    images = torch.rand(2, 1, 6, 6)
    eye = torch.eye(3).expand(2, 3, 3)
    torch.testing.assert_close(warp_matrix(images, eye, (6, 6)), images)
    shift = torch.eye(3).repeat(2, 1, 1)
    shift[:, 0, 2] = 1  # output (x, y) samples input (x + 1, y): content moves left by one
    out = warp_matrix(images, shift, (6, 6))
    torch.testing.assert_close(out[..., :-1], images[..., 1:])
    assert (out[..., -1] == 0).all()  # zeros outside the source
    # a larger canvas centres the source: 6x6 inside 8x8 with a one-pixel black border
    big = warp_matrix(images, eye, (8, 8))
    torch.testing.assert_close(big[..., 1:7, 1:7], images)
    assert big[..., 0, :].abs().sum() == 0


def test_a_homography_sending_pixels_to_infinity_gives_no_nan():
    """w = 0 on the middle column: those points go to infinity; they must sample zeros, not NaN."""
    import torch

    from torchstn.data.warp import warp_matrix

    # backward map (x, y, 1) -> (x, y, x): w = x vanishes on the vertical line x = 0 (centred px)
    h = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])
    images = torch.ones(1, 1, 4, 4)
    out = warp_matrix(images, h, (4, 5), projective=True)  # odd width: a column centre at x = 0
    assert torch.isfinite(out).all()
    assert (out[..., 2] == 0).all()  # the column at infinity samples zeros
