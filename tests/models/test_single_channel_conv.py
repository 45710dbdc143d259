import pytest
import torch
from torch import nn

from torchstn.models import single_channel_conv
from torchstn.models.single_channel_conv import Conv2dC1, _SingleChannelConv


@pytest.fixture(autouse=True)
def fast_path_on_any_cpu(monkeypatch):
    """The path is taken on AVX-512 CPUs only; these tests check it wherever they run."""
    monkeypatch.setattr(single_channel_conv, "CPU_FAST_INPUT_GRAD", True)


def _pair(c_out=5, k=3, pad=0, bias=True, dtype=torch.float64):
    torch.manual_seed(0)
    ref = nn.Conv2d(1, c_out, k, padding=pad, bias=bias).to(dtype)
    fast = Conv2dC1(1, c_out, k, padding=pad, bias=bias).to(dtype)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


@pytest.mark.parametrize("pad, bias", [(0, True), (2, True), (1, False)])
def test_matches_conv2d_values_and_all_gradients(pad, bias):
    ref, fast = _pair(pad=pad, bias=bias)
    x = torch.rand(3, 1, 7, 8, dtype=torch.float64, requires_grad=True)
    g = torch.randn_like(ref(x))
    params = [p for p in ref.parameters()]
    want = torch.autograd.grad(ref(x), [x, *params], g)
    out = fast(x)
    assert out.grad_fn is not None and "SingleChannel" in type(out.grad_fn).__name__
    got = torch.autograd.grad(out, [x, *fast.parameters()], g)
    torch.testing.assert_close(out, ref(x))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_gradcheck_float64():
    torch.manual_seed(1)
    x = torch.rand(2, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: _SingleChannelConv.apply(x, w, b, (1, 0)),
                                    (x, w, b))


def test_bfloat16_autocast_matches_conv2d():
    ref, fast = _pair(c_out=29, k=9, dtype=torch.float32)
    x = torch.rand(4, 1, 21, 21, requires_grad=True)
    with torch.autocast("cpu", torch.bfloat16):
        r, o = ref(x), fast(x)
    assert o.dtype == r.dtype == torch.bfloat16
    torch.testing.assert_close(o, r)
    gr = torch.autograd.grad(r.float().square().sum(), [x, *ref.parameters()])
    go = torch.autograd.grad(o.float().square().sum(), [x, *fast.parameters()])
    for a, b in zip(go[1:], gr[1:], strict=True):  # bf16 gradients: relative to their scale
        assert ((a - b).abs().max() / b.abs().max()).item() < 2e-2
    # the input gradient against the float64 truth for the same upstream gradient (2 o): on
    # CPUs without AMX, conv2d's own bf16 backward is off by ~2.5% of the largest value and the
    # fast path by ~0.4% (one bf16 step), so conv2d is no reference for it there
    x64 = x.detach().double().requires_grad_()
    (truth,) = torch.autograd.grad(ref.double()(x64), [x64], 2 * o.detach().double())
    assert ((go[0].double() - truth).abs().max() / truth.abs().max()).item() < 1e-2


def test_falls_back_where_the_fast_path_does_not_apply():
    x = torch.rand(2, 1, 8, 8)  # no grad wanted for the input: plain conv2d
    fast = Conv2dC1(1, 2, 3)
    assert "SingleChannel" not in type(fast(x).grad_fn).__name__
    strided = Conv2dC1(1, 2, 3, stride=2)
    xr = x.requires_grad_()
    torch.testing.assert_close(strided(xr), nn.functional.conv2d(xr, strided.weight,
                                                                 strided.bias, stride=2))
    assert "SingleChannel" not in type(strided(xr).grad_fn).__name__


def test_cpus_where_it_is_slower_use_conv2d(monkeypatch):
    assert single_channel_conv.cpu_fast_input_grad() == (
        torch.backends.cpu.get_cpu_capability().startswith("AVX512"))
    monkeypatch.setattr(single_channel_conv, "CPU_FAST_INPUT_GRAD", False)
    x = torch.rand(2, 1, 8, 8, requires_grad=True)
    assert "SingleChannel" not in type(Conv2dC1(1, 2, 3)(x).grad_fn).__name__


def test_cnn_classifier_uses_it_only_for_one_input_channel():
    from torchstn.models import cnn_classifier

    assert type(cnn_classifier((1, 28, 28), 10)[0]) is Conv2dC1
    assert type(cnn_classifier((2, 28, 28), 10)[0]) is nn.Conv2d
    # state dicts are plain Conv2d ones: old checkpoints load unchanged
    assert set(cnn_classifier((1, 28, 28), 10)[0].state_dict()) == {"weight", "bias"}


def test_batches_larger_than_one_chunk():
    from torchstn.models.single_channel_conv import FOLD_CHUNK

    ref, fast = _pair(c_out=4, k=5, pad=1)
    x = torch.rand(2 * FOLD_CHUNK + 5, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    g = torch.randn_like(ref(x))
    want = torch.autograd.grad(ref(x), x, g)[0]
    torch.testing.assert_close(torch.autograd.grad(fast(x), x, g)[0], want)
