import pytest

from torchstn.train.config import TrainConfig, load_config, save_config


def cfg(**kw):
    return TrainConfig(dataset="rts", model="cnn", out="x", **kw)


def test_defaults_follow_the_paper():
    c = cfg().resolved()
    assert (c.optimizer, c.lr, c.momentum, c.batch_size, c.schedule) == ("sgd", 0.01, 0.9, 256,
                                                                        "step")
    assert c.weight_decay == 0.0 and c.lr_drop == 0.1
    assert cfg(optimizer="adamw").resolved().lr == 1e-3


@pytest.mark.parametrize("kw, match", [
    ({"epochs": -1}, "epochs: expected a positive integer, got -1"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"optimizer": "adam"}, "optimizer: expected one of"),
    ({"schedule": "poly"}, "schedule"),
    ({"lr": -0.1}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"loc_lr_mult": -1.0}, "loc_lr_mult"),
    ({"lr_milestones": (0.5, 1.5)}, "lr_milestones"),
    ({"threads": 0}, "threads"),
    ({"limit": 0}, "limit"),
    ({"label_smoothing": 1.0}, r"label_smoothing: expected a value in \[0, 1\), got 1.0"),
    ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"ema": 1.0}, r"ema: expected a decay in \(0, 1\), got 1.0"),
    ({"ema": 0.0}, "ema"),
    ({"decay_scope": "biases"}, r"decay_scope: expected one of \['all', 'matrices'\], got 'bias"),
])
def test_validation_names_field_expected_and_received(kw, match):
    with pytest.raises(ValueError, match=match):
        cfg(**kw).resolved()


def test_round_trip(tmp_path):
    c = cfg(lr=0.05, lr_milestones=(0.5,), extra={"fake_data": True}).resolved()
    save_config(c, tmp_path)
    assert load_config(tmp_path) == c


def test_unknown_field_in_file():
    with pytest.raises(ValueError, match="unknown fields"):
        TrainConfig.from_dict({"dataset": "r", "model": "cnn", "out": "x", "colour": 1})
