"""Projective: 8 entries of a homography with H[2, 2] = 1; divides by w."""

import torch
import torch.nn.functional as F

from torchstn import sample
from torchstn.coords import base_grid
from torchstn.transforms import Affine, Projective

from .helpers import random_params


def test_affine_params_give_the_affine_grid():
    theta = torch.tensor([[0.9, -0.2, 0.1, 0.3, 1.1, -0.05]])
    params = torch.cat([theta, torch.zeros(1, 2)], dim=1)  # last row (0, 0, 1)
    grid = Projective().grid(params, (5, 7))
    ref = F.affine_grid(theta.view(1, 2, 3), (1, 1, 5, 7), align_corners=False)
    assert (grid - ref).abs().max() < 1e-6
    assert torch.allclose(Affine().grid(theta, (5, 7)), grid, atol=1e-7)


def test_perspective_division_by_hand():
    # H = [[1, 0, 0], [0, 1, 0], [0.5, 0, 1]]: (x, y) -> (x, y) / (0.5 x + 1)
    params = torch.tensor([[1.0, 0, 0, 0, 1, 0, 0.5, 0]], dtype=torch.float64)
    grid = Projective().grid(params, (4, 6))[0]
    base = base_grid((4, 6), dtype=torch.float64)
    assert torch.allclose(grid, base / (0.5 * base[..., :1] + 1), atol=1e-12)


def test_matrix_layout_and_inverse_compose():
    t = Projective()
    params = random_params("projective", n=3)
    m = t.matrix(params)
    assert torch.equal(m.reshape(3, 9)[:, :8], params) and (m[:, 2, 2] == 1).all()
    eye = torch.eye(3, dtype=params.dtype)
    assert (t.compose(params, t.inverse(params)) - eye).abs().max() < 1e-5


def test_vanishing_w_gives_far_points_and_finite_gradients():
    """w = 1 - 4 x is exactly 0 on the column x = 0.25 of a 4-wide output (and u = v = 0 at its
    middle row: 0 / 0). Those points land far outside (|w| is taken as MIN_W), so they sample
    zeros, and every gradient is finite; other columns keep the plain division."""
    params = torch.tensor([[1.0, 0, 0, 0, 1, 0, -4.0, 0]], requires_grad=True)
    img = torch.rand(1, 1, 6, 6, requires_grad=True)
    grid = Projective().grid(params, (3, 4))
    assert torch.isfinite(grid).all()
    assert (grid[0, :, 2, 0] > 1e5).all() and grid[0, 1, 2, 1] == 0
    base = base_grid((3, 4))
    keep = [0, 1, 3]
    w = 1 - 4 * base[:, keep, :1]
    assert torch.allclose(grid[0][:, keep], base[:, keep] / w)
    out = sample(img, grid)
    assert torch.equal(out[0, 0, :, 2], torch.zeros(3))
    out.square().sum().backward()
    assert torch.isfinite(params.grad).all() and torch.isfinite(img.grad).all()
    assert params.grad.abs().sum() > 0
