"""SpatialTransformer: identity at init, gradients, every 2D family, lazy and in_shape variants."""

import pytest
import torch
from torch import nn

import torchstn
from torchstn import SpatialTransformer, conv_localization, fc_localization
from torchstn.coords import base_grid
from torchstn.modules import IdentityInitLinear
from torchstn.transforms import TRANSFORMS, MatrixTransform, get_transform

TWO_D = sorted(name for name, cls in TRANSFORMS.items() if cls.dims == 2)
SHAPE = (2, 8, 10)  # (C, H, W) of the test images


def small_loc(in_shape=None):
    """A tiny conv localisation net (lazy fc when no in_shape)."""
    first = nn.LazyLinear(8) if in_shape is None else None
    layers = [nn.Conv2d(SHAPE[0], 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if first is None:
        c, h, w = in_shape
        first = nn.Linear(4 * ((h - 2) // 2) * ((w - 2) // 2), 8)
    return nn.Sequential(*layers, first, nn.Tanh())


def make(transform="affine", lazy=False, **kw):
    torch.manual_seed(0)
    if lazy:
        return SpatialTransformer(small_loc(), transform, **kw)
    return SpatialTransformer(small_loc(SHAPE), transform, in_shape=SHAPE, **kw)


def images(n=3, dtype=torch.float32, seed=1):
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("name", ["affine", *[t for t in TWO_D if t != "affine"]])
def test_identity_at_init(name, lazy):
    st = make(name, lazy=lazy).double()
    x = images(dtype=torch.float64)
    out = st(x)
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)
    identity = st.transform.identity_params(dtype=torch.float64)
    torch.testing.assert_close(st.last_params, identity.expand(3, -1), atol=0, rtol=0)
    assert torch.all(st.regressor.weight == 0)


def test_identity_at_init_float32():
    st = make("affine")
    x = images()
    torch.testing.assert_close(st(x), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("lazy", [False, True])
def test_regressor_initialised_to_identity(lazy):
    st = make("affine", lazy=lazy)
    if lazy:
        assert st.regressor.has_uninitialized_params()
        st(images())
    assert type(st.regressor) is IdentityInitLinear
    assert st.regressor.in_features == 8
    assert torch.all(st.regressor.weight == 0)
    assert st.regressor.bias.tolist() == get_transform("affine").identity_params().tolist()
    with torch.no_grad():
        st.regressor.weight.normal_()
    st.regressor.reset_parameters()  # re-initialisation keeps the paper's init
    assert torch.all(st.regressor.weight == 0)


def test_in_shape_infers_regressor_size_from_builders():
    loc = conv_localization((1, 42, 42))
    st = SpatialTransformer(loc, "attention", in_shape=(1, 42, 42))
    assert st.regressor.in_features == 20
    assert st.regressor.out_features == 3
    fc = SpatialTransformer(fc_localization((1, 6, 7), hidden=(5, 4)), "rts", in_shape=(1, 6, 7))
    assert fc.regressor.in_features == 4


def test_in_shape_dummy_forward_leaves_batchnorm_alone():
    loc = nn.Sequential(nn.Conv2d(SHAPE[0], 3, 3), nn.BatchNorm2d(3), nn.Flatten())
    stats = loc[1].running_mean.clone()
    st = SpatialTransformer(loc, "affine", in_shape=SHAPE)
    assert st.training and loc.training and loc[1].training
    assert torch.equal(loc[1].running_mean, stats)
    assert loc[1].num_batches_tracked.item() == 0


@pytest.mark.parametrize("out_size,expected", [((4, 6), (4, 6)), (5, (5, 5)), ((16, 3), (16, 3))])
def test_out_size_differs_from_input(out_size, expected):
    st = make("affine", out_size=out_size)
    assert st(images()).shape == (3, SHAPE[0], *expected)
    assert st.grid(images()).shape == (3, *expected, 2)


def test_identity_downsampling_matches_direct_sampling():
    # at init with a smaller out_size the output is the input sampled on the smaller base grid
    st = make("affine", out_size=(4, 5))
    x = images()
    grid = base_grid((4, 5)).expand(3, 4, 5, 2)
    torch.testing.assert_close(st(x), nn.functional.grid_sample(x, grid, align_corners=False))


@pytest.mark.parametrize("name", TWO_D)
def test_grid_params_and_matrix_at_init(name):
    st = make(name)
    x = images()
    params = st.params(x)
    assert params.shape == (3, st.transform.n_params)
    torch.testing.assert_close(st.grid(x), base_grid(SHAPE[1:]).expand(3, *SHAPE[1:], 2),
                               atol=1e-5, rtol=0)
    if isinstance(st.transform, MatrixTransform):
        torch.testing.assert_close(st.matrix(x), torch.eye(3).expand(3, 3, 3), atol=1e-6, rtol=0)
    else:
        with pytest.raises(TypeError, match="expected a matrix transform"):
            st.matrix(x)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("name", TWO_D)
def test_every_parameter_gets_a_gradient(name, lazy):
    """With zero regressor weights the loc-net gradient (W^T dL/dtheta) is exactly 0 at step 0,
    so: step 0 gives every parameter a finite gradient and the regressor a nonzero one; after one
    optimiser step (W != 0) every parameter gets a nonzero gradient."""
    st = make(name, lazy=lazy)
    x = images()
    target = torch.roll(x, shifts=(1, 2), dims=(2, 3))  # a shift: the identity is not optimal
    st(x)  # materialise a lazy regressor before building the optimiser
    opt = torch.optim.SGD(st.parameters(), lr=0.5)
    for step in range(2):
        opt.zero_grad()
        loss = (st(x) - target).pow(2).mean()
        loss.backward()
        for pname, p in st.named_parameters():
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname
            nonzero = p.grad.abs().sum() > 0
            if step == 1 or pname.startswith("regressor"):
                assert nonzero, (step, pname)
            else:
                assert not nonzero, pname  # blocked by the zero regressor weights
        opt.step()


def test_last_params_is_live_and_updates():
    st = make("affine")
    assert st.last_params is None
    x = images()
    st(x)
    assert st.last_params.requires_grad and st.last_params.shape == (3, 6)
    st.last_params.sum().backward()  # a loss on the parameters reaches the regressor
    assert st.regressor.bias.grad is not None
    st(x[:1])
    assert st.last_params.shape == (1, 6)


def test_state_dict_round_trip():
    a, b = make("affine"), make("affine")
    with torch.no_grad():
        a.regressor.weight.normal_()
    b.load_state_dict(a.state_dict())
    x = images()
    torch.testing.assert_close(a(x), b(x))


def test_adaptive_localisation_accepts_other_input_sizes():
    loc = nn.Sequential(nn.Conv2d(SHAPE[0], 4, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    st = SpatialTransformer(loc, "attention", in_shape=SHAPE)
    x = torch.rand(2, SHAPE[0], 13, 17)
    torch.testing.assert_close(st(x), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["border", "reflection"])
def test_modes_and_paddings_identity(mode, padding):
    st = make("affine", mode=mode, padding=padding)
    x = images()
    torch.testing.assert_close(st(x), x, atol=1e-5, rtol=0)


@pytest.mark.skipif("affine3d" not in TRANSFORMS, reason="affine3d not registered")
def test_volume_transformer_identity():
    loc = nn.Sequential(nn.Conv3d(1, 2, 3), nn.Flatten())
    st = SpatialTransformer(loc, "affine3d", in_shape=(1, 5, 6, 7), out_size=(5, 6, 7)).double()
    x = torch.rand(2, 1, 5, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(st(x), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["affine", "tps"])
def test_recompute_same_values_and_gradients_less_saved(name):
    torch.manual_seed(0)
    plain = make(name)
    with torch.no_grad():  # a transform away from the identity
        plain.regressor.weight.normal_(0, 0.05)
    again = make(name, recompute=True)
    again.load_state_dict(plain.state_dict())
    x = images(dtype=torch.float32).requires_grad_()
    outs, grads, saved = [], [], []
    for st in (plain, again):
        count: list = []

        def keep(t, count=count):
            count.append(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            out = st(x)
        saved.append(sum(t.numel() for t in count))
        grads.append(torch.autograd.grad(out.square().sum(), [x, *st.parameters()]))
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0])
    for a, b in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(a, b)
    assert saved[1] <= x.numel() < saved[0]  # only the input is kept
    assert "recompute=True" in repr(again)


@pytest.mark.parametrize("name", TWO_D)
def test_an_iterative_transformer_is_the_identity_at_init(name):
    st = make(name, iterations=3).double()
    x = images(dtype=torch.float64)
    torch.testing.assert_close(st(x), x, atol=1e-6, rtol=0)
    assert "iterations=3" in repr(st) and "iterations" not in repr(make(name))


@pytest.mark.parametrize("name", ["affine", "projective", "tps"])
def test_an_iterative_transformer_refines_with_what_it_sees_after_the_first_warp(name):
    """Two looks: the correction is predicted on the input warped by the first guess (at the
    input's size), composed with it by ``refine``, and the input sampled once with the result."""
    st = make(name, iterations=2, out_size=(5, 6)).double()
    one = make(name).double()
    with torch.no_grad():
        st.regressor.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(3))
    one.load_state_dict(st.state_dict())
    x = images(dtype=torch.float64)
    first = one.params(x)
    seen = torchstn.sample(x, one.transform.grid(first, SHAPE[1:]))
    want = one.transform.refine(first, one.params(seen))
    torch.testing.assert_close(st.params(x), want)
    torch.testing.assert_close(st(x), torchstn.sample(x, one.transform.grid(want, (5, 6))))
    torch.testing.assert_close(st.last_params, want)
    assert not torch.allclose(want, first)


@pytest.mark.parametrize("name", ["affine", "tps"])
def test_an_iterative_transformer_gradcheck_and_every_parameter_gets_a_gradient(name):
    st = make(name, iterations=2).double()
    with torch.no_grad():
        st.regressor.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(4))
    x = images(n=2, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: st(v).sum((1, 2, 3)), (x,))
    st(x).square().sum().backward()
    for pname, p in st.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("iterations, match", [
    (0, "expected an int >= 1, got 0"), (1.0, "expected an int >= 1, got 1.0"),
    (True, "expected an int >= 1, got True")])
def test_bad_iterations_raise(iterations, match):
    with pytest.raises(ValueError, match=match):
        make("affine", iterations=iterations)


def test_a_volume_transformer_cannot_iterate():
    loc = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4 * 4, 8))
    with pytest.raises(ValueError, match="iterations=2: expected a transform that composes"):
        SpatialTransformer(loc, "affine3d", in_shape=(2, 4, 4, 4), iterations=2)
