"""Attention (eq. 2): [[s, 0, tx], [0, s, ty]]; a crop of a known quadrant."""

import torch

import torchstn
from torchstn.transforms import Affine, Attention

from .helpers import random_params


def test_matrix_is_eq_2():
    m = Attention().matrix(torch.tensor([[0.5, 0.2, -0.3]]))
    assert torch.equal(m[0], torch.tensor([[0.5, 0, 0.2], [0, 0.5, -0.3], [0, 0, 1]]))


def test_crop_of_top_left_quadrant():
    # out pixel j of 4 sits at x_t = (2j+1)/4 - 1; x_s = x_t/2 - 1/2 = (2j+1)/8 - 1, the centre
    # of input pixel j of 8: the crop is exactly the top-left 4x4 block.
    x = torch.rand(2, 3, 8, 8)
    params = torch.tensor([0.5, -0.5, -0.5]).expand(2, 3)
    for mode in ("bilinear", "nearest", "bicubic"):
        y = torchstn.sample(x, Attention().grid(params, (4, 4)), mode=mode)
        assert (y - x[..., :4, :4]).abs().max() < 1e-6


def test_equals_affine_with_the_same_matrix():
    s, tx, ty = 0.7, 0.1, -0.2
    grid = Attention().grid(torch.tensor([[s, tx, ty]]), (5, 6))
    ref = Affine().grid(torch.tensor([[s, 0, tx, 0, s, ty]]), (5, 6))
    assert torch.allclose(grid, ref, atol=1e-7)


def test_inverse_compose_identity():
    t = Attention()
    params = random_params("attention", n=4)
    eye = torch.eye(3, dtype=params.dtype)
    assert (t.compose(params, t.inverse(params)) - eye).abs().max() < 1e-5
    assert (t.compose(t.inverse(params), params) - eye).abs().max() < 1e-5
