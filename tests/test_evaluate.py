import pytest
import torch
from torch import nn

from torchstn.evaluate import (
    error_stats,
    evaluate,
    evaluate_windows,
    format_stats,
    predict,
    wilson_interval,
)


def test_wilson_known_answers():
    # 0 of 10: upper bound z^2 / (n + z^2) = 3.8415 / 13.8415
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.27754, abs=1e-4)
    # symmetric around 1/2 for half errors
    low, high = wilson_interval(50, 100)
    assert 0.5 - low == pytest.approx(high - 0.5)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_wilson_contains_rate_and_shrinks_with_n():
    a = wilson_interval(5, 1000)
    b = wilson_interval(50, 10000)
    assert a[0] < 0.005 < a[1] and b[0] < 0.005 < b[1]
    assert b[1] - b[0] < a[1] - a[0]


@pytest.mark.parametrize("args", [(1, 0), (11, 10), (-1, 10)])
def test_wilson_bad_input(args):
    with pytest.raises(ValueError):
        wilson_interval(*args)


class Fixed(nn.Module):
    """Predicts class = round(first pixel * 10)."""

    def forward(self, x):
        return nn.functional.one_hot((x[:, 0, 0, 0] * 10).round().long(), 10).float()


def test_evaluate_counts_errors():
    x = torch.zeros(5, 1, 2, 2)
    x[:, 0, 0, 0] = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4])
    labels = torch.tensor([0, 1, 2, 9, 9])
    assert torch.equal(predict(Fixed(), x, batch_size=2), torch.tensor([0, 1, 2, 3, 4]))
    stats = evaluate(Fixed(), x, labels, batch_size=2)
    assert (stats["errors"], stats["n"], stats["error"]) == (2, 5, 0.4)
    assert stats["ci_low"] < 0.4 < stats["ci_high"]
    assert "40.00%" in format_stats(stats)


def test_error_stats_shape_mismatch():
    with pytest.raises(ValueError):
        error_stats(torch.zeros(3), torch.zeros(4))


def test_evaluate_windows_equals_one_whole_set():
    x = torch.zeros(5, 1, 2, 2)
    x[:, 0, 0, 0] = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4])
    labels = torch.tensor([0, 1, 2, 9, 9])
    windows = [(x[:2], labels[:2]), (x[2:3], labels[2:3]), (x[3:], labels[3:])]
    assert evaluate_windows(Fixed(), windows, batch_size=2) == evaluate(Fixed(), x, labels)
    with pytest.raises(ValueError, match="expected 2 labels"):
        evaluate_windows(Fixed(), [(x[:2], labels[:3])])
    with pytest.raises(ValueError, match="no images"):
        evaluate_windows(Fixed(), [])
