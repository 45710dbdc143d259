import pytest
import torch

from torchstn.models import MNIST_MEAN, MNIST_STD, Normalize, cnn_classifier, fcn_classifier
from torchstn.models.classifiers import (
    cnn_feature_size,
    cnn_paddings,
    count_on_meta,
    count_parameters,
)


@pytest.mark.parametrize(
    "side, expected, pads", [(28, 2, (0, 0)), (21, 4, (0, 3)), (30, 3, (0, 0))]
)
def test_cnn_feature_size_known_answers(side, expected, pads):
    # 28: conv9 20, pool 10, conv7 4, pool 2; 21 (RTS after the 2x pool): conv9 13, pool 7 (ceil
    # pooling: floor would give 6), conv7 would leave 1 pixel so it is padded by 3: 7, pool 4;
    # 30 (TC after the pool): 22, 11, 5, 3
    assert cnn_paddings(side) == pads
    assert cnn_feature_size(side) == expected


def test_cnn_shapes_and_known_parameter_count():
    net = cnn_classifier((1, 28, 28), 10, (32, 64))
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    conv1 = 32 * 81 + 32
    conv2 = 64 * 32 * 49 + 64
    fc = 64 * 2 * 2 * 10 + 10
    assert count_parameters(net) == conv1 + conv2 + fc
    assert count_on_meta(cnn_classifier, (1, 28, 28), 10, (32, 64)) == conv1 + conv2 + fc


def test_cnn_on_rts_size_does_not_collapse():
    net = cnn_classifier((1, 21, 21), 10, (8, 16))
    assert net(torch.rand(3, 1, 21, 21)).shape == (3, 10)


def test_cnn_pads_where_a_valid_convolution_would_collapse():
    # 10x10: conv9 leaves 2 (kept), pool 1, conv7 would leave nothing: padded by 3 -> 1x1
    assert cnn_paddings(10) == (0, 3)
    assert cnn_classifier((1, 10, 10), 10)(torch.rand(2, 1, 10, 10)).shape == (2, 10)


def test_fcn_three_weight_layers():
    net = fcn_classifier((2, 5, 5), 19, (7, 7))
    linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(50, 7), (7, 7), (7, 19)]
    assert net(torch.rand(4, 2, 5, 5)).shape == (4, 19)


def test_normalize():
    x = torch.tensor([MNIST_MEAN, MNIST_MEAN + MNIST_STD])
    assert torch.allclose(Normalize()(x), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError):
        Normalize(0.0, 0.0)


def test_fcn_batchnorm_sits_between_each_hidden_layer_and_its_relu():
    net = fcn_classifier((2, 5, 5), 19, (7, 6), batchnorm=True)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU",
                     "Linear"]
    plain = fcn_classifier((2, 5, 5), 19, (7, 6))
    # a scale and a shift per hidden unit
    assert count_parameters(net) == count_parameters(plain) + 2 * (7 + 6)
    assert count_on_meta(fcn_classifier, (2, 5, 5), 19, (7, 6), batchnorm=True) == \
        count_parameters(net)
    x = torch.rand(4, 2, 5, 5)
    net(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    # in evaluation the running statistics apply: one image classifies as it would in a batch
    net.eval()
    assert torch.allclose(net(x[:1]), net(x)[:1], atol=1e-6)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_fcn_batchnorm_must_be_a_bool(bad):
    with pytest.raises(ValueError, match="batchnorm: expected True or False"):
        fcn_classifier((1, 5, 5), 10, (4, 4), batchnorm=bad)
