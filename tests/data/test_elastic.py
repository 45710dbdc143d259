"""E: control points and offsets as in DATASETS.md, and the fast grid equals the general TPS."""

from __future__ import annotations

import torch

from torchstn.coords import base_grid
from torchstn.data import elastic as E
from torchstn.data.warp import centred_pixel_grid


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_control_points_are_the_spec_grid():
    values = [-14, -14 / 3, 14 / 3, 14]
    expected = torch.tensor([[x, y] for y in values for x in values])
    torch.testing.assert_close(E.control_points(), expected)


def test_parameter_distribution():
    p = E.e_params(4000, _gen())
    s = p["scale"]
    assert s.min() >= 0.75 and s.max() <= 1.0 and abs(s.mean() - 0.875) < 0.005
    assert p["offsets"].shape == (4000, 16, 2)


def test_offsets_measured_through_the_backward_map():
    """The built map sends c_k + e_k to S^-1(c_k); so c_k + e_k - s * map(c_k + e_k) = e_k, and
    its spread is 1.5 pixels."""
    n = 1500
    params = E.e_params(n, _gen(1))
    moved = E.control_points() + params["offsets"]
    back = E.e_map(params, moved) * params["scale"].view(-1, 1, 1)
    displacement = moved - back
    error = (displacement - params["offsets"]).abs()
    # float32: exact to ~1e-4 px, except where two moved points nearly collide (the spline then
    # folds violently and its huge coefficients cost float32 accuracy: still < 0.1 px)
    assert (error > 2e-3).float().mean() < 1e-3 and error.max() < 0.1
    assert abs(displacement.std() - E.E_STD) < 0.03 and displacement.mean().abs() < 0.03


def test_fast_grid_equals_the_general_tps_at_the_pixel_centres():
    params = E.e_params(32, _gen(2))
    points = centred_pixel_grid((28, 28)).view(1, -1, 2)
    reference = E.e_map(params, points) / 14  # centred pixels -> normalised (28x28 digit)
    torch.testing.assert_close(E.e_grid(params).view(32, -1, 2), reference, atol=2e-5, rtol=0)


def test_zero_offsets_leave_only_the_scaling():
    params = {"scale": torch.tensor([1.0, 0.8]), "offsets": torch.zeros(2, 16, 2)}
    grid = E.e_grid(params)
    expected = base_grid((28, 28))[None] / params["scale"].view(-1, 1, 1, 1)
    torch.testing.assert_close(grid, expected, atol=1e-5, rtol=0)
    images = torch.rand(1, 1, 28, 28)
    same = E.e_apply(images, {"scale": torch.ones(1), "offsets": torch.zeros(1, 16, 2)})
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)


def test_e_batch_shape_and_range():
    out = E.e(torch.rand(6, 1, 28, 28), _gen(3))
    assert out.shape == (6, 1, 28, 28) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
