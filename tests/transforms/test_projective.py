"""Projective: 8 entries of a homography with H[2, 2] = 1; divides by w."""

import torch
import torch.nn.functional as F

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
