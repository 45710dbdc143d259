"""What every registered transform family must satisfy (registry, identity, gradients, errors)."""

import pytest
import torch
import torch.nn.functional as F

import torchstn
from torchstn.coords import base_grid
from torchstn.transforms import TRANSFORMS, Transform, get_transform

from .helpers import ALL_NAMES, NAMES_2D, out_size, random_params


def test_registry_names():
    assert set(TRANSFORMS) == {"affine", "attention", "rts", "projective", "tps", "pwa", "affine3d"}
    for name, cls in TRANSFORMS.items():
        assert cls.name == name and issubclass(cls, Transform)


def test_get_transform():
    assert get_transform("tps", grid_size=3).n_params == 18
    t = get_transform("affine")
    assert get_transform(t) is t
    with pytest.raises(ValueError, match="unknown transform 'nope'"):
        get_transform("nope")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_identity_params_shape_and_dtype(name):
    t = get_transform(name)
    p = t.identity_params(dtype=torch.float64)
    assert p.shape == (t.n_params,) and p.dtype == torch.float64
    assert name in repr(t).lower() or type(t).__name__ in repr(t)


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("hw", [(4, 4), (5, 7), (1, 3)])
def test_identity_grid_is_exactly_the_base_grid(name, hw):
    t = get_transform(name)
    size = out_size(name, hw)
    grid = t.grid(t.identity_params().expand(2, -1), size)
    assert grid.shape == (2, *size, t.dims)
    assert torch.equal(grid, base_grid(size).expand_as(grid))


@pytest.mark.parametrize("name", NAMES_2D)
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("hw", [(4, 4), (5, 7)])
def test_identity_reproduces_the_input(name, mode, hw):
    t = get_transform(name)
    x = torch.rand(2, 3, *hw)
    y = torchstn.sample(x, t.grid(t.identity_params().expand(2, -1), hw), mode=mode)
    assert (y - x).abs().max() < 1e-5


# Identity to another size is F.interpolate(bilinear, align_corners=False): both sample at
# src = (dst + 0.5) * in / out - 0.5. Downsampling keeps src inside [0, in - 1]; upsampling reaches
# outside by up to half an input pixel, where interpolate clamps to the edge: that is
# grid_sample's padding="border", while "zeros" would fade the border pixels.
@pytest.mark.parametrize("name", NAMES_2D)
@pytest.mark.parametrize(
    "in_hw,out_hw,padding",
    [((8, 8), (4, 4), "zeros"), ((7, 9), (5, 4), "zeros"), ((4, 5), (9, 7), "border"),
     ((5, 7), (10, 14), "border"), ((6, 6), (3, 10), "border")],
)
def test_identity_to_other_size_is_bilinear_interpolate(name, in_hw, out_hw, padding):
    t = get_transform(name)
    x = torch.rand(1, 2, *in_hw)
    y = torchstn.sample(x, t.grid(t.identity_params(), out_hw), padding=padding)
    ref = F.interpolate(x, size=out_hw, mode="bilinear", align_corners=False, antialias=False)
    assert (y - ref).abs().max() < 1e-5


def test_upsampling_with_zero_padding_differs_at_the_border():
    # documents why the test above needs padding="border" when upsampling
    x = torch.ones(1, 1, 4, 4)
    y = torchstn.sample(x, base_grid((8, 8))[None])
    assert y[0, 0, 0, 0] < 1 and y[0, 0, 4, 4] == 1


@pytest.mark.parametrize("name", ALL_NAMES)
def test_gradcheck(name):
    t = get_transform(name)
    params = random_params(name, n=2).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: t.grid(p, out_size(name)), (params,))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_parameter_gets_a_gradient(name):
    t = get_transform(name)
    params = random_params(name, n=2, dtype=torch.float32).requires_grad_()
    size = out_size(name, (8, 8))
    grid = t.grid(params, size)
    (grid * torch.randn_like(grid)).sum().backward()
    assert params.grad is not None and torch.isfinite(params.grad).all()
    assert (params.grad != 0).all()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_batch_equals_one_at_a_time_and_keeps_dtype(name):
    t = get_transform(name)
    params = random_params(name, n=3)
    size = out_size(name)
    grid = t.grid(params, size)
    assert grid.dtype == torch.float64
    for i in range(3):
        assert torch.allclose(grid[i], t.grid(params[i], size)[0], atol=1e-12)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_bad_input_raises(name):
    t = get_transform(name)
    size = out_size(name)
    good = t.identity_params()[None]
    with pytest.raises(ValueError, match=f"\\(N, {t.n_params}\\)"):
        t.grid(torch.zeros(1, t.n_params + 1), size)
    with pytest.raises(ValueError):
        t.grid(good[None], size)  # 3-D params
    with pytest.raises(TypeError, match="floating-point"):
        t.grid(good.long(), size)
    with pytest.raises(TypeError, match="torch.Tensor"):
        t.grid(good.tolist(), size)
    for bad in (float("nan"), float("inf")):
        p = good.clone()
        p[0, 0] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            t.grid(p, size)
    zero = (0,) * t.dims
    for bad_size in (zero, (3,) * (t.dims + 1), (-2,) * t.dims, (2.5,) * t.dims):
        with pytest.raises(ValueError, match="out_size"):
            t.grid(good, bad_size)


def test_finite_check_can_be_switched_off():
    t = get_transform("affine")
    p = torch.full((1, 6), float("nan"))
    torchstn.set_finite_checks(False)
    try:
        assert torch.isnan(t.grid(p, (2, 2))).all()
    finally:
        torchstn.set_finite_checks(True)
