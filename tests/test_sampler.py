"""torchstn.sample: the fast sampler (F.grid_sample, align_corners=False)."""

import pytest
import torch
from torch.autograd import gradcheck

from torchstn import sample
from torchstn.coords import base_grid
from torchstn.sampler import MODES, PADDINGS


def identity_grid(n, size, dtype=torch.float32):
    return base_grid(size, dtype=dtype).expand(n, *size, len(size))


def grid_between_pixels(n, out_hw, in_hw, seed=0):
    """Random float64 points in [-1.3, 1.3]^2 kept 0.25 px from the bilinear/bicubic kinks."""
    g = torch.Generator().manual_seed(seed)
    size = torch.tensor([in_hw[1], in_hw[0]], dtype=torch.float64)
    lo, hi = ((-0.3 * size - 1) / 2).floor(), ((2.3 * size - 1) / 2).floor()
    u = torch.rand(2, n, *out_hw, 2, generator=g, dtype=torch.float64)
    pix = torch.floor(u[0] * (hi - lo) + lo) + 0.25 + 0.5 * u[1]
    return (2 * pix + 1) / size - 1


@pytest.mark.parametrize("out_hw", [(3, 5), (20, 30), (1, 1)])
def test_output_size_follows_grid(out_hw):
    x = torch.rand(2, 3, 8, 9)
    grid = torch.rand(2, *out_hw, 2) * 2 - 1
    assert sample(x, grid).shape == (2, 3, *out_hw)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_identity_grid_reproduces_input(mode, padding):
    x = torch.rand(2, 3, 7, 10)
    out = sample(x, identity_grid(2, (7, 10)), mode, padding)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_grid_reproduces_volume(mode):
    x = torch.rand(1, 2, 4, 5, 6)
    out = sample(x, identity_grid(1, (4, 5, 6)), mode)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "padding,expected",
    [("zeros", 0.0), ("border", 10.0), ("reflection", 15.0)],
)
def test_padding_known_answers(padding, expected):
    # a 1-row image; pixel x = -1.5 lies 1.5 px left of pixel 0's centre, outside the image.
    # border clamps to pixel 0; reflection mirrors about the left edge (x = -0.5) to x = 0.5,
    # halfway between pixels 0 and 1; zeros: both neighbours (-2, -1) are outside.
    x = torch.tensor([[[[10.0, 20.0, 30.0, 40.0]]]])
    x_norm = (2 * -1.5 + 1) / 4 - 1
    grid = torch.tensor([[[[x_norm, 0.0]]]])
    assert sample(x, grid, "bilinear", padding).item() == pytest.approx(expected)


def test_grid_dtype_follows_input():
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    grid = identity_grid(1, (4, 4))  # float32
    out = sample(x, grid)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, x)


def test_nearest_gives_no_grid_gradient():
    x = torch.rand(1, 1, 4, 4)
    grid = (torch.rand(1, 3, 3, 2) * 2 - 1).requires_grad_()
    sample(x, grid, "nearest").sum().backward()
    assert torch.all(grid.grad == 0)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_gradcheck_fast(mode, padding):
    u = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    grid = grid_between_pixels(2, (3, 4), (5, 6)).requires_grad_()
    fn = lambda a, b: sample(a, b, mode, padding)  # noqa: E731
    assert gradcheck(fn, (u, grid), eps=1e-6, atol=1e-6)
