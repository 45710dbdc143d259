import math

import pytest

from torchstn.train.schedule import ONECYCLE_END, ONECYCLE_START, ONECYCLE_WARMUP, lr_factor


def test_step_divides_by_ten_at_thirds():
    # the paper: /10 every 50k of 150k iterations
    assert lr_factor("step", 0, 150) == 1
    assert lr_factor("step", 49, 150) == 1
    assert lr_factor("step", 50, 150) == pytest.approx(0.1)
    assert lr_factor("step", 100, 150) == pytest.approx(0.01)


def test_cosine_and_constant():
    assert lr_factor("cosine", 0, 100) == 1
    assert lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0)
    assert lr_factor("constant", 77, 100) == 1


def test_onecycle_shape():
    total = 1000
    peak = int(ONECYCLE_WARMUP * total)
    assert lr_factor("onecycle", 0, total) == pytest.approx(ONECYCLE_START)
    assert lr_factor("onecycle", peak, total) == pytest.approx(1.0)
    assert lr_factor("onecycle", total, total) == pytest.approx(ONECYCLE_END)
    values = [lr_factor("onecycle", s, total) for s in range(total)]
    assert max(values) == pytest.approx(1.0) and not any(math.isnan(v) for v in values)


def test_bad_schedule():
    with pytest.raises(ValueError, match="schedule"):
        lr_factor("poly", 0, 10)
    with pytest.raises(ValueError, match="total"):
        lr_factor("step", 0, 0)
