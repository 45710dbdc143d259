"""3D affine: equals F.affine_grid on 5-D; identity reproduces a volume."""

import pytest
import torch
import torch.nn.functional as F

import torchstn
from torchstn.transforms import Affine3D


@pytest.mark.parametrize("size", [(2, 3, 4), (4, 4, 4), (5, 1, 3)])
def test_equals_affine_grid_5d(size):
    theta = torch.randn(3, 3, 4, generator=torch.Generator().manual_seed(2))
    grid = Affine3D().grid(theta.reshape(3, 12), size)
    ref = F.affine_grid(theta, (3, 1, *size), align_corners=False)
    assert grid.shape == (3, *size, 3)
    assert (grid - ref).abs().max() < 1e-6


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_reproduces_a_volume(mode):
    t = Affine3D()
    x = torch.rand(2, 2, 3, 4, 5)
    y = torchstn.sample(x, t.grid(t.identity_params().expand(2, -1), (3, 4, 5)), mode=mode)
    assert (y - x).abs().max() < 1e-5


def test_one_voxel_shift_in_depth():
    # z_s = z_t + 2/D: output slice k shows input slice k + 1
    d = 4
    params = Affine3D().identity_params()
    params[11] = 2 / d
    x = torch.rand(1, 1, d, 3, 3)
    y = torchstn.sample(x, Affine3D().grid(params, (d, 3, 3)))
    assert (y[:, :, :-1] - x[:, :, 1:]).abs().max() < 1e-5 and y[:, :, -1].abs().max() < 1e-5


def test_matrix_and_inverse():
    t = Affine3D()
    params = t.identity_params(dtype=torch.float64) + 0.1 * torch.randn(2, 12, dtype=torch.float64)
    m = t.matrix(params)
    assert m.shape == (2, 4, 4) and torch.equal(m[:, :3].reshape(2, 12), params)
    eye = torch.eye(4, dtype=m.dtype)
    assert (t.inverse(params) @ m - eye).abs().max() < 1e-10
