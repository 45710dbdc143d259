"""Bad input raises ValueError/TypeError whose message names what was expected and what arrived."""

import pytest
import torch
from torch import nn

import torchstn
from torchstn import (
    ParallelTransformers,
    SpatialTransformer,
    conv_localization,
    fc_localization,
    get_transform,
    reference_sample,
    sample,
)
from torchstn.transforms import TRANSFORMS

X = torch.rand(2, 1, 6, 6)
GRID = torch.rand(2, 3, 4, 2) * 2 - 1
AFFINE = get_transform("affine")
IDENTITY = AFFINE.identity_params().expand(2, -1)
SHAPE = (1, 6, 6)


def st(**kw):
    kw.setdefault("in_shape", SHAPE)
    return SpatialTransformer(fc_localization(SHAPE, hidden=(4,)), "affine", **kw)


# --- sample() / reference_sample() -----------------------------------------------------------
@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_wrong_rank(fn):
    with pytest.raises(ValueError, match=r"input: expected shape \(N, C, H, W\).*got 3-D"):
        fn(X[0], GRID)


@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_non_float_input(fn):
    with pytest.raises(TypeError, match="input: expected a floating-point.*got dtype torch.uint8"):
        fn((X * 255).to(torch.uint8), GRID)


@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_int_grid(fn):
    with pytest.raises(TypeError, match="grid: expected a floating-point.*got dtype torch.int64"):
        fn(X, GRID.long())


@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_batch_mismatch(fn):
    with pytest.raises(ValueError, match="batch size 3 does not match input batch size 2"):
        fn(X, torch.zeros(3, 3, 4, 2))


@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_unknown_mode(fn):
    with pytest.raises(ValueError, match=r"mode: expected one of \(.*'bilinear'.*got 'cubic'"):
        fn(X, GRID, mode="cubic")


def test_reference_sample_has_no_bicubic():
    with pytest.raises(ValueError, match=r"expected one of \('bilinear', 'nearest'\), got 'bicub"):
        reference_sample(X, GRID, mode="bicubic")


def test_sample_unknown_padding():
    with pytest.raises(ValueError, match=r"padding: expected one of \(.*'zeros'.*got 'wrap'"):
        sample(X, GRID, padding="wrap")


@pytest.mark.parametrize("fn", [sample, reference_sample])
def test_sample_grid_last_dim(fn):
    with pytest.raises(ValueError, match=r"grid: expected shape \(N, .*2\).*got \(2, 3, 4, 3\)"):
        fn(X, torch.zeros(2, 3, 4, 3))


def test_sample_not_a_tensor():
    with pytest.raises(TypeError, match="input: expected a torch.Tensor, got ndarray"):
        sample(X.numpy(), GRID)


def test_bicubic_on_volume():
    vol, grid = torch.rand(1, 1, 3, 4, 5), torch.zeros(1, 2, 2, 2, 3)
    match = r"bicubic.*expected a 4-D.*got 5-D shape \(1, 1, 3, 4, 5\)"
    with pytest.raises(ValueError, match=match):
        sample(vol, grid, mode="bicubic")


# --- transforms' grid() ------------------------------------------------------------------------
def test_params_wrong_length():
    with pytest.raises(ValueError, match=r"affine params: expected shape \(N, 6\), got \(2, 5\)"):
        AFFINE.grid(torch.zeros(2, 5), (4, 4))


def test_params_non_float():
    with pytest.raises(TypeError, match="affine params: expected a floating-point.*torch.int64"):
        AFFINE.grid(IDENTITY.long(), (4, 4))


@pytest.mark.parametrize("size,match", [((0, 4), r"positive, got \(0, 4\)"),
                                        ((4,), r"expected 2 positive ints, got \(4,\)")])
def test_out_size_bad(size, match):
    with pytest.raises(ValueError, match=f"out_size: .*{match}"):
        AFFINE.grid(IDENTITY, size)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_params_and_switch(bad):
    params = IDENTITY.clone()
    params[1, 2] = bad
    with pytest.raises(ValueError, match="affine params: contains NaN or inf"):
        AFFINE.grid(params, (4, 4))
    torchstn.set_finite_checks(False)
    try:
        assert AFFINE.grid(params, (4, 4)).shape == (2, 4, 4, 2)  # check disabled
    finally:
        torchstn.set_finite_checks(True)
    with pytest.raises(ValueError, match="NaN or inf"):
        AFFINE.grid(params, (4, 4))


def test_unknown_transform_name():
    with pytest.raises(ValueError, match=r"unknown transform 'similarity'; expected one of \["):
        get_transform("similarity")
    with pytest.raises(ValueError, match="unknown transform 'similarity'"):
        SpatialTransformer(nn.Flatten(), "similarity")


@pytest.mark.skipif("tps" not in TRANSFORMS, reason="tps not registered")
def test_tps_control_grid_smaller_than_2x2():
    with pytest.raises(ValueError, match="grid_size: expected an int >= 2.*got 1"):
        get_transform("tps", grid_size=1)


# --- SpatialTransformer ------------------------------------------------------------------------
def test_transformer_wrong_rank():
    with pytest.raises(ValueError, match=r"input: expected shape \(N, C, H, W\), got 3-D"):
        st()(X[0])


def test_transformer_channel_mismatch():
    with pytest.raises(ValueError, match=r"input: expected 1 channels \(in_shape.*got 3"):
        st()(torch.rand(2, 3, 6, 6))


def test_transformer_non_float_input():
    with pytest.raises(TypeError, match="input: expected a floating-point.*got dtype torch.int64"):
        st()(torch.ones(2, 1, 6, 6, dtype=torch.long))


def test_transformer_input_size_other_than_in_shape():
    with pytest.raises(ValueError, match=r"expected shape \(N, \*in_shape\) = \(N, 1, 6, 6\).*"
                                         r"got \(2, 1, 7, 7\)"):
        st()(torch.rand(2, 1, 7, 7))  # the fc localisation net cannot take 7x7
    loc = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())  # takes any size, features vary
    conv = SpatialTransformer(loc, "affine", in_shape=SHAPE)
    with pytest.raises(ValueError, match=r"features: expected 32 per sample .*got 50"):
        conv(torch.rand(2, 1, 7, 7))


def test_transformer_in_shape_channel_mismatch():
    loc = conv_localization(1)
    with pytest.raises(ValueError, match=r"expects 1 input channels, got in_shape \(3, 28, 28\)"):
        SpatialTransformer(loc, "affine", in_shape=(3, 28, 28))


def test_transformer_in_shape_rejected_by_localisation():
    loc = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
    with pytest.raises(ValueError, match=r"failed on a dummy input of shape \(1, 1, 5, 5\)"):
        SpatialTransformer(loc, "affine", in_shape=(1, 5, 5))


@pytest.mark.parametrize("kw,match", [
    ({"out_size": (0, 3)}, r"out_size: every entry must be positive, got \(0, 3\)"),
    ({"in_shape": (1, 6)}, r"in_shape: expected 3 positive ints, got \(1, 6\)"),
    ({"mode": "area"}, r"mode: expected one of .*got 'area'"),
    ({"padding": "edge"}, r"padding: expected one of .*got 'edge'"),
])
def test_transformer_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        st(**kw)


def test_transformer_localization_not_a_module():
    with pytest.raises(TypeError, match="localization: expected an nn.Module, got function"):
        SpatialTransformer(lambda x: x, "affine")


# --- composition and builders ------------------------------------------------------------------
def test_parallel_branches_different_out_sizes():
    with pytest.raises(ValueError, match=r"same out_size, got \[\(3, 3\), \(4, 4\)\]"):
        ParallelTransformers(st(out_size=3), st(out_size=4))
    mixed = ParallelTransformers(st(out_size=3), st())  # None: the input's size, known at forward
    with pytest.raises(ValueError, match=r"one spatial size, got \[\(3, 3\), \(6, 6\)\]"):
        mixed(X)


def test_parallel_wants_transformers():
    with pytest.raises(TypeError, match="expected a SpatialTransformer, got Linear"):
        ParallelTransformers(st(), nn.Linear(2, 2))


@pytest.mark.parametrize("call,match", [
    (lambda: conv_localization((1, 20, 20)), r"at least 28x28 pixels.*got 20x20"),
    (lambda: conv_localization(1, channels=()), r"channels: expected one or more .*got \(\)"),
    (lambda: conv_localization(1, downsample_mode="min"), r"expected one of .*got 'min'"),
    (lambda: conv_localization((1, 28)), r"in_channels: expected 3 positive ints, got \(1, 28\)"),
    (lambda: fc_localization(36, hidden=(32, 0)), r"hidden: expected .*positive ints, got \(32"),
])
def test_builders_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
