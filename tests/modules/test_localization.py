"""Localisation-net builders: flatten sizes computed from the shape, or inferred lazily."""

import pytest
import torch
from torch import nn

from torchstn import conv_localization, fc_localization
from torchstn.modules.localization import _conv_out, _min_size


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(
    "hw,flat",
    # paper's net: 2x pool, conv5, pool2, conv5 -> 20 channels of:
    # 28 -> 14 -> 10 -> 5 -> 1;  42 -> 21 -> 17 -> 8 -> 4;  60 -> 30 -> 26 -> 13 -> 9
    [((28, 28), 20 * 1 * 1), ((42, 42), 20 * 4 * 4), ((60, 60), 20 * 9 * 9), ((28, 42), 20 * 4)],
)
def test_conv_flatten_size_from_shape(hw, flat):
    net = conv_localization((1, *hw))
    assert _linears(net)[0].in_features == flat
    assert net(torch.rand(2, 1, *hw)).shape == (2, 20)


def test_conv_lazy_matches_computed():
    lazy, fixed = conv_localization(2, hidden=7), conv_localization((2, 42, 42), hidden=7)
    x = torch.rand(3, 2, 42, 42)
    assert lazy(x).shape == fixed(x).shape == (3, 7)
    assert _linears(lazy)[0].in_features == _linears(fixed)[0].in_features


def test_conv_structure_options():
    net = conv_localization((3, 64, 64), channels=(4, 5, 6), kernel_size=3, downsample=1,
                            downsample_mode="avg")
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 5, 6]
    assert not isinstance(net[0], (nn.AvgPool2d, nn.MaxPool2d))  # downsample=1: no pooling
    assert isinstance(conv_localization(1, downsample_mode="avg")[0], nn.AvgPool2d)
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 20)


@pytest.mark.parametrize("n_convs,kernel,down", [(2, 5, 2), (1, 3, 1), (3, 3, 2), (2, 9, 4)])
def test_min_size_is_tight(n_convs, kernel, down):
    need = _min_size(n_convs, kernel, down)
    assert _conv_out(need, n_convs, kernel, down) == 1
    assert _conv_out(need - 1, n_convs, kernel, down) < 1


def test_fc_variants():
    x = torch.rand(2, 1, 6, 7)
    for arg in (42, (1, 6, 7), None):
        net = fc_localization(arg)
        assert net(x).shape == (2, 32)
        assert len(_linears(net)) == 3
    assert fc_localization(42, hidden=(5,))(x).shape == (2, 5)
