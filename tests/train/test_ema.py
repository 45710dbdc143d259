import pytest
import torch
from torch import nn

from torchstn.train.ema import WeightAverage, ema_decay


def test_decay_warms_up_then_holds():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 10**6) == 0.999


def test_update_is_the_moving_average_worked_by_hand():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    avg = WeightAverage(model, 0.5)
    with torch.no_grad():
        model.weight.fill_(4.0)
    avg.update(model, step=1000)  # past the warm-up: decay 0.5
    assert avg.module.weight.item() == 3.0  # 0.5 * 2 + 0.5 * 4
    avg.update(model, step=0)  # warm-up: decay 0.1
    assert avg.module.weight.item() == pytest.approx(0.1 * 3 + 0.9 * 4)
    assert model.weight.item() == 4.0 and avg.module.weight is not model.weight
    assert not avg.module.weight.requires_grad


def test_batch_norm_statistics_are_averaged_and_its_counter_copied():
    model = nn.BatchNorm1d(2)
    avg = WeightAverage(model, 0.5)
    model.train()(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))  # running mean 0 -> 0.1 * (2, 4)
    avg.update(model, step=1000)
    torch.testing.assert_close(avg.module.running_mean, torch.tensor([0.1, 0.2]))
    assert int(avg.module.num_batches_tracked) == 1
    state = avg.state_dict()
    other = WeightAverage(nn.BatchNorm1d(2), 0.5)
    other.load_state_dict(state)
    torch.testing.assert_close(other.module.running_mean, torch.tensor([0.1, 0.2]))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_bad_decay_raises(decay):
    with pytest.raises(ValueError, match=r"ema decay: expected a value in \(0, 1\)"):
        WeightAverage(nn.Linear(1, 1), decay)
