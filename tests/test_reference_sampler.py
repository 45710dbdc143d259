"""The paper's sampler (reference) against F.grid_sample (fast path) and hand-worked answers."""

import pytest
import torch
from torch.autograd import gradcheck

from torchstn import reference_sample, sample

KINK_MARGIN = 0.05  # keep random points this far (in pixels) from kernel kinks / rounding ties


def random_grid(n, out_hw, in_hw, *, lo=-1.3, hi=1.3, avoid=0.0, seed=0):
    """Uniform normalised points in [lo, hi]^2, ``(n, *out_hw, 2)`` float64, whose pixel
    coordinates keep ``KINK_MARGIN`` from ``integer + avoid`` (0: bilinear kinks, 0.5: ties)."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.rand(n, *out_hw, 2, generator=g, dtype=torch.float64) * (hi - lo) + lo
    size = torch.tensor([in_hw[1], in_hw[0]], dtype=torch.float64)
    pix = ((grid + 1) * size - 1) / 2
    frac = (pix - avoid) - torch.floor(pix - avoid)
    near = (frac < KINK_MARGIN) | (frac > 1 - KINK_MARGIN)
    pix = torch.where(near, pix + 0.5, pix)  # move to the middle between kinks
    return (2 * pix + 1) / size - 1


def _grads(fn, u, grid, seed=1):
    out = fn(u, grid)
    go = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return (out, *torch.autograd.grad(out, (u, grid), go))


@pytest.mark.parametrize(
    "n,c,in_hw,out_hw", [(2, 3, (5, 6), (4, 7)), (1, 1, (7, 4), (9, 9)), (3, 2, (1, 8), (2, 3))]
)
def test_reference_matches_grid_sample_value_and_gradient(n, c, in_hw, out_hw):
    u = torch.randn(n, c, *in_hw, dtype=torch.float64, requires_grad=True)
    grid = random_grid(n, out_hw, in_hw).requires_grad_()
    assert (grid.abs() > 1).any()  # some points fall outside the image (zeros padding)
    ref = _grads(reference_sample, u, grid)
    fast = _grads(lambda a, b: sample(a, b, "bilinear", "zeros"), u, grid)
    for r, f in zip(ref, fast, strict=True):
        torch.testing.assert_close(r, f, atol=1e-6, rtol=0)


def test_reference_matches_grid_sample_at_kinks():
    # points exactly on pixel centres and on the image border: the sub-gradient choice is the same
    h, w = 3, 4
    xs = torch.tensor([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    ys = torch.tensor([-1.0, 0.0, 1.0, 2.0, 3.0, 1.5], dtype=torch.float64)
    grid = torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], -1).view(1, 1, 6, 2)
    grid = grid.expand(2, 1, 6, 2).contiguous().requires_grad_()
    u = torch.randn(2, 2, h, w, dtype=torch.float64, requires_grad=True)
    for r, f in zip(_grads(reference_sample, u, grid), _grads(sample, u, grid), strict=True):
        torch.testing.assert_close(r, f, atol=1e-12, rtol=0)


def test_gradcheck_reference_bilinear():
    u = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    grid = random_grid(2, (3, 4), (5, 6), seed=3).requires_grad_()
    assert gradcheck(reference_sample, (u, grid), eps=1e-6, atol=1e-6)


def test_hand_worked_bilinear_values():
    u = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    # (0, 0) is the image centre: pixel coords (0.5, 0.5), the mean of the 4 pixels
    # x = -1 is the left edge: pixel x = -0.5, half of column 0 (zeros beyond the edge)
    grid = torch.tensor([[[[0.0, 0.0], [-1.0, -0.5]]]])
    out = reference_sample(u, grid)
    torch.testing.assert_close(out, torch.tensor([[[[1.5, 0.5 * 0.0]]]]))
    grid_far = torch.tensor([[[[5.0, 0.0]]]])  # far outside: zeros
    assert reference_sample(u, grid_far).item() == 0.0


def test_hand_worked_eq7_gradient():
    # one row [a, b]: between the pixels dV/dx_pix = b - a (eq. 7), dV/dx = (b - a) * W / 2
    a, b, w = 2.0, 5.0, 2
    u = torch.tensor([[[[a, b]]]], dtype=torch.float64, requires_grad=True)
    grid = torch.tensor([[[[0.1, 0.0]]]], dtype=torch.float64, requires_grad=True)
    out = reference_sample(u, grid)
    (g_u, g_grid) = torch.autograd.grad(out.sum(), (u, grid))
    assert g_grid[0, 0, 0, 0].item() == pytest.approx((b - a) * w / 2)
    x_pix = ((0.1 + 1) * w - 1) / 2
    # H = 1, y on the row centre (a kink): the right derivative fades into the zero padding below
    v = (1 - x_pix) * a + x_pix * b
    assert g_grid[0, 0, 0, 1].item() == pytest.approx(-v * 1 / 2)
    torch.testing.assert_close(
        g_u, torch.tensor([[[[1 - x_pix, x_pix]]]], dtype=torch.float64)  # eq. 6: the weights
    )


def test_reference_nearest_matches_fast_away_from_ties():
    u = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    grid = random_grid(2, (7, 8), (6, 5), avoid=0.5, seed=5)
    ref = reference_sample(u, grid, "nearest")
    fast = sample(u, grid, "nearest")
    torch.testing.assert_close(ref, fast, atol=0, rtol=0)
    g_ref, g_fast = (torch.autograd.grad(v.sum(), u)[0] for v in (ref, fast))
    torch.testing.assert_close(g_ref, g_fast)


def test_reference_nearest_rounds_ties_up():
    # the integer kernel delta(floor(x + 0.5) - m): x = 0 is pixel x = 0.5 of a 2-wide row
    u = torch.tensor([[[[10.0, 20.0]]]])
    grid = torch.tensor([[[[0.0, 0.0]]]])
    assert reference_sample(u, grid, "nearest").item() == 20.0


def test_reference_accepts_float32_and_casts_grid():
    u = torch.rand(1, 1, 4, 4)
    grid = random_grid(1, (2, 2), (4, 4))  # float64 grid, float32 input
    out = reference_sample(u, grid)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, sample(u, grid))
