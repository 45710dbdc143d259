"""Affine: equals F.affine_grid; hand-worked translation; matrix inverse and compose."""

import pytest
import torch
import torch.nn.functional as F

import torchstn
from torchstn.transforms import Affine, compose, invert

from .helpers import random_params


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (1, 9), (16, 3)])
def test_equals_affine_grid(size):
    theta = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(1))
    grid = Affine().grid(theta.reshape(4, 6), size)
    ref = F.affine_grid(theta, (4, 1, *size), align_corners=False)
    assert (grid - ref).abs().max() < 1e-6


def test_one_pixel_translation():
    # x_s = x_t + 2/W: one pixel is 2/W normalised units, so output column j shows input column
    # j + 1 and the last column falls outside (zero padding).
    h, w = 5, 7
    x = torch.rand(1, 2, h, w)
    params = torch.tensor([[1.0, 0.0, 2 / w, 0.0, 1.0, 0.0]])
    y = torchstn.sample(x, Affine().grid(params, (h, w)))
    expected = torch.zeros_like(x)
    expected[..., :-1] = x[..., 1:]
    assert (y - expected).abs().max() < 1e-5
    # and one pixel down in y: output row i shows input row i - 1
    params = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, -2 / h]])
    y = torchstn.sample(x, Affine().grid(params, (h, w)), mode="nearest")
    expected = torch.zeros_like(x)
    expected[..., 1:, :] = x[..., :-1, :]
    assert (y - expected).abs().max() < 1e-5


def test_matrix_and_inverse_compose_to_identity():
    t = Affine()
    params = random_params("affine", n=3)
    m = t.matrix(params)
    assert torch.equal(m[:, :2].reshape(3, 6), params)
    assert torch.equal(m[:, 2], torch.tensor([0, 0, 1.0], dtype=m.dtype).expand(3, 3))
    eye = torch.eye(3, dtype=m.dtype).expand(3, 3, 3)
    assert (t.compose(params, t.inverse(params)) - eye).abs().max() < 1e-5
    assert (compose(invert(m), m) - eye).abs().max() < 1e-5


def test_compose_order_is_first_then_second():
    t = Affine()
    shift = torch.tensor([[1.0, 0, 0.5, 0, 1, 0]])
    double = torch.tensor([[2.0, 0, 0, 0, 2, 0]])
    point = torch.tensor([1.0, 1.0, 1.0])
    # shift then double: (1, 1) -> (1.5, 1) -> (3, 2)
    assert torch.allclose(t.compose(shift, double)[0] @ point, torch.tensor([3.0, 2.0, 1.0]))
