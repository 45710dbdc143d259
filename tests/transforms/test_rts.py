"""RTS: angle (radians), log-scale, translation; a hand-worked 90-degree rotation."""

import math

import torch

import torchstn
from torchstn.transforms import RTS

from .helpers import random_params


def test_matrix_by_hand():
    m = RTS().matrix(torch.tensor([[math.pi / 6, math.log(2.0), 0.3, -0.1]], dtype=torch.float64))
    c, s = 2 * math.cos(math.pi / 6), 2 * math.sin(math.pi / 6)
    ref = torch.tensor([[c, -s, 0.3], [s, c, -0.1], [0, 0, 1]], dtype=torch.float64)
    assert torch.allclose(m[0], ref, atol=1e-12)


def test_rotation_by_90_degrees_is_rot90():
    # a = pi/2: A = [[0, -1, 0], [1, 0, 0]], so x_s = -y_t and y_s = x_t. On a 4x4 image the
    # normalised centre of index k is (2k+1)/4 - 1 and -((2i+1)/4 - 1) = (2(3-i)+1)/4 - 1, so
    # out[i, j] = in[j, 3 - i], which is torch.rot90(in, k=1, dims=(-2, -1)).
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    grid = RTS().grid(torch.tensor([[math.pi / 2, 0.0, 0.0, 0.0]]), (4, 4))
    for mode in ("bilinear", "nearest"):
        y = torchstn.sample(x, grid, mode=mode)
        assert (y - torch.rot90(x, 1, dims=(-2, -1))).abs().max() < 1e-5


def test_log_scale_zoom():
    # l = log 2: x_s = 2 x_t, the output shows the input shrunk by 2 around the centre
    grid = RTS().grid(torch.tensor([[0.0, math.log(2.0), 0.0, 0.0]]), (3, 5))
    assert torch.allclose(grid, 2 * torchstn.coords.base_grid((3, 5)), atol=1e-6)


def test_inverse_compose_identity():
    t = RTS()
    params = random_params("rts", n=4, scale=1.0)
    eye = torch.eye(3, dtype=params.dtype)
    assert (t.compose(params, t.inverse(params)) - eye).abs().max() < 1e-5
