"""Control grid layout, the weight cache, and precision under half/bfloat16."""

import pytest
import torch

from torchstn.transforms import TPS, PiecewiseAffine, control_points


def test_control_points_layout():
    # k = i K + j, x fastest; corners included
    c = control_points(3)
    assert c.shape == (9, 2)
    expected = {0: [-1.0, -1.0], 8: [1.0, 1.0], 1: [0.0, -1.0], 3: [-1.0, 0.0]}
    for k, point in expected.items():
        assert torch.equal(c[k], torch.tensor(point))


def test_displacement_layout():
    # params[2k] is dx of point k, params[2k + 1] its dy: moving the top-left corner moves the
    # top-left output pixel most
    for cls in (TPS, PiecewiseAffine):
        params = torch.zeros(1, 32)
        params[0, 1] = 0.1
        shift = cls(4).grid(params, (8, 8)) - cls(4).grid(torch.zeros(1, 32), (8, 8))
        assert shift[0, 0, 0, 1] > 0.05 and shift[..., 0].abs().max() < 1e-6


@pytest.mark.parametrize("cls", [TPS, PiecewiseAffine])
def test_weights_are_cached(cls):
    t = cls(4)
    w = t.weights((5, 6))
    assert w.shape == (30, 16)
    assert t.weights((5, 6)) is w and cls(4).weights((5, 6)) is w
    assert t.weights((5, 6), dtype=torch.float64) is not w


@pytest.mark.parametrize("cls", [TPS, PiecewiseAffine])
def test_half_and_autocast_stay_accurate(cls):
    t = cls(4)
    d = 0.1 * torch.randn(2, 32)
    ref = t.grid(d, (7, 9))
    half = t.grid(d.half(), (7, 9))
    assert half.dtype == torch.float32 and (half - ref).abs().max() < 1e-2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = t.grid(d, (7, 9))
    assert auto.dtype == torch.float32 and (auto - ref).abs().max() < 1e-5


@pytest.mark.parametrize("cls", [TPS, PiecewiseAffine])
def test_weights_made_under_inference_mode_still_support_backward(cls):
    t = cls(3)
    with torch.inference_mode():
        t.grid(torch.zeros(1, 18), (5, 3))  # first call fills the cache
    params = torch.zeros(1, 18, requires_grad=True)
    t.grid(params, (5, 3)).sum().backward()
    assert params.grad is not None
