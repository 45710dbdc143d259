"""Series and parallel spatial transformers (paper §3.4, 2xST)."""

import torch
from torch import nn

from torchstn import ParallelTransformers, SeriesTransformers, SpatialTransformer, fc_localization

SHAPE = (2, 6, 7)


def st(transform="affine", out_size=None, in_shape=SHAPE):
    return SpatialTransformer(fc_localization(in_shape, hidden=(4,)), transform,
                              out_size=out_size, in_shape=in_shape)


def test_series_identity_and_params():
    torch.manual_seed(0)
    model = SeriesTransformers(st("affine"), st("attention", out_size=(3, 4), in_shape=SHAPE))
    x = torch.rand(2, *SHAPE)
    out = model(x)
    assert out.shape == (2, 2, 3, 4)
    first, second = model.last_params
    assert first.shape == (2, 6) and second.shape == (2, 3)
    identity = SeriesTransformers(st("affine"), st("rts")).double()
    xd = x.double()
    torch.testing.assert_close(identity(xd), xd, atol=1e-6, rtol=0)


def test_series_second_stage_sees_first_output():
    a, b = st(out_size=(6, 7)), st()
    x = torch.rand(2, *SHAPE)
    with torch.no_grad():
        a.regressor.bias.copy_(torch.tensor([0.5, 0.0, 0.2, 0.0, 0.5, 0.0]))  # zoom in, shift
        b.regressor.weight.normal_()
    series = SeriesTransformers(a, b)
    torch.testing.assert_close(series(x), b(a(x)))


def test_parallel_concatenates_channels_in_order():
    a, b = st(out_size=(4, 5)), st("attention", out_size=(4, 5))
    with torch.no_grad():
        b.regressor.bias.copy_(torch.tensor([0.5, 0.1, -0.2]))
    model = ParallelTransformers(a, b)
    x = torch.rand(3, *SHAPE)
    out = model(x)
    assert out.shape == (3, 4, 4, 5)
    torch.testing.assert_close(out[:, :2], a(x))
    torch.testing.assert_close(out[:, 2:], b(x))
    assert [p.shape[1] for p in model.last_params] == [6, 3]


def test_parallel_identity_at_init():
    model = ParallelTransformers(st(), st(), st("projective"), st("rts")).double()
    x = torch.rand(2, *SHAPE, dtype=torch.float64)
    torch.testing.assert_close(model(x), x.repeat(1, 4, 1, 1), atol=1e-6, rtol=0)


def test_parallel_inside_a_bigger_model_backpropagates():
    model = nn.Sequential(ParallelTransformers(st(), st()), nn.Flatten(), nn.LazyLinear(3))
    x = torch.rand(2, *SHAPE)
    model(x).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
