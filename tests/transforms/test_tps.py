"""Thin plate spline: grid transform and the general tps_fit / tps_apply."""

import pytest
import torch
import torch.nn.functional as F

from torchstn.coords import base_grid
from torchstn.transforms import TPS, tps_apply, tps_fit
from torchstn.transforms.tps import tps_kernel

A = torch.tensor([[1.1, 0.2, 0.05], [-0.15, 0.9, 0.1]], dtype=torch.float64)


def affine_displacements(t, a):
    """d_k = A c_k - c_k: the parameters that encode the affine map ``a``."""
    c = t.control_points(dtype=a.dtype)
    return (c @ a[:, :2].T + a[:, 2] - c).reshape(1, -1)


@pytest.mark.parametrize("grid_size", [2, 3, 4, 5])
def test_affine_displacements_give_the_affine_grid(grid_size):
    t = TPS(grid_size)
    grid = t.grid(affine_displacements(t, A.float()), (9, 11))
    ref = F.affine_grid(A[None].float(), (1, 1, 9, 11), align_corners=False)
    assert (grid - ref).abs().max() < 1e-5


def test_grid_equals_tps_fit_and_apply():
    # the cached-matrix path and the general path compute the same spline
    t = TPS(4)
    d = 0.1 * torch.randn(2, 32, dtype=torch.float64)
    c = t.control_points(dtype=torch.float64).expand(2, -1, -1)
    coeffs = tps_fit(c, c + d.view(2, 16, 2))
    points = base_grid((6, 5), dtype=torch.float64).reshape(1, -1, 2).expand(2, -1, -1)
    ref = tps_apply(coeffs, c, points).view(2, 6, 5, 2)
    assert torch.allclose(t.grid(d, (6, 5)), ref, atol=1e-10)


def test_interpolates_the_targets():
    gen = torch.Generator().manual_seed(3)
    control = torch.rand(3, 10, 2, generator=gen, dtype=torch.float64) * 2 - 1
    target = control + 0.2 * torch.randn(3, 10, 2, generator=gen, dtype=torch.float64)
    coeffs = tps_fit(control, target)
    assert coeffs.shape == (3, 13, 2)
    assert torch.allclose(tps_apply(coeffs, control, control), target, atol=1e-10)
    # side conditions: sum w = 0 and sum w c = 0
    w = coeffs[:, :10]
    assert w.sum(1).abs().max() < 1e-10
    assert (control.transpose(1, 2) @ w).abs().max() < 1e-10


def test_fit_of_an_affine_map_has_no_kernel_part():
    control = torch.rand(1, 8, 2, dtype=torch.float64) * 2 - 1
    coeffs = tps_fit(control, control @ A[:, :2].T + A[:, 2])
    assert coeffs[0, :8].abs().max() < 1e-10
    assert torch.allclose(coeffs[0, 8:], torch.cat([A[:, 2:], A[:, :2]], dim=1).T, atol=1e-10)


def test_fit_broadcasts_a_batch_of_one_and_keeps_float32_for_half():
    control = torch.rand(1, 6, 2) * 2 - 1
    target = (control + 0.1).expand(4, -1, -1).half()
    coeffs = tps_fit(control, target)
    assert coeffs.shape == (4, 9, 2) and coeffs.dtype == torch.float32
    out = tps_apply(coeffs, control, control.half())
    assert out.dtype == torch.float32 and (out - target.float()).abs().max() < 1e-3


def test_gradcheck_fit_and_apply():
    gen = torch.Generator().manual_seed(4)
    control = (torch.rand(2, 5, 2, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    target = torch.randn(2, 5, 2, generator=gen, dtype=torch.float64).requires_grad_()
    points = torch.rand(2, 4, 2, generator=gen, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda c, t, p: tps_apply(tps_fit(c, t), c, p), (control, target, points)
    )


def test_no_nan_at_zero_distance():
    assert tps_kernel(torch.zeros(1)).item() == 0
    control = torch.tensor([[[-1.0, -1], [1, -1], [0, 1], [0.2, 0.1]]], requires_grad=True)
    target = (control.detach() + 0.1).requires_grad_()
    points = control.detach().clone().requires_grad_()  # exactly on the control points: r = 0
    out = tps_apply(tps_fit(control, target), control, points)
    out.sum().backward()
    for x in (out, control.grad, target.grad, points.grad):
        assert torch.isfinite(x).all()


def test_identity_has_no_nan_in_values_or_gradients():
    t = TPS(4)
    params = t.identity_params()[None].requires_grad_()
    grid = t.grid(params, (7, 7))
    grid.square().sum().backward()
    assert torch.isfinite(grid).all() and torch.isfinite(params.grad).all()


def test_bad_input():
    with pytest.raises(ValueError, match="grid_size"):
        TPS(1)
    with pytest.raises(TypeError, match="grid_size"):
        TPS(2.5)
    c = torch.rand(1, 5, 2)
    with pytest.raises(ValueError, match="same number"):
        tps_fit(c, torch.rand(1, 4, 2))
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        tps_fit(torch.rand(1, 5, 3), torch.rand(1, 5, 3))
    with pytest.raises(TypeError, match="floating-point"):
        tps_fit(c.long(), c)
    with pytest.raises(ValueError, match=r"\(N, 8, 2\)"):
        tps_apply(torch.rand(1, 7, 2), c, c)
    assert TPS(3).n_params == 18 and repr(TPS(3)) == "TPS(grid_size=3)"
