import pytest
import torch
import torch.nn.functional as F

from torchstn.models.pooling import AvgPool, _SumOfViews, avg_pool


@pytest.mark.parametrize("shape, k", [((3, 2, 6, 4), 2), ((2, 1, 9, 6), 3), ((1, 4, 5, 5), 2)])
def test_equals_avg_pool2d_in_value_and_gradient(shape, k):
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    out = avg_pool(x, k)
    ref = F.avg_pool2d(x, k)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_known_answer_and_gradcheck():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # top-left window 0, 1, 4, 5 -> 2.5; bottom-right 10, 11, 14, 15 -> 12.5
    assert torch.equal(avg_pool(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    x = torch.rand(2, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: _SumOfViews.apply(x, 2), (x,))


def test_channels_last_and_bfloat16():
    x = torch.rand(4, 2, 8, 8).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(avg_pool(x, 2), F.avg_pool2d(x, 2))
    xb = x.bfloat16()
    assert avg_pool(xb, 2).dtype == torch.bfloat16


def test_module_has_no_state_and_checks_k():
    assert AvgPool(2).state_dict() == {}
    with pytest.raises(ValueError, match="positive int"):
        AvgPool(0)
