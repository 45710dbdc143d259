"""The recipe (``torchstn.reproduce.coloc.config``): its checks and each setting's own fields."""

from __future__ import annotations

import pytest
import torch

from torchstn.models import build_model
from torchstn.reproduce import coloc


@pytest.mark.parametrize("bad", [{"steps": 0}, {"anneal": 0.0}, {"anneal": 1.5}, {"lr": -1.0},
                                 {"margin": 0.0}, {"restarts": 0}, {"refine": (("a", 0),)},
                                 {"refine": (("a", 1.5),)}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        coloc.ColocConfig(**bad)


def test_config_embedding_choices():
    # the recipe's (results/coloc_exploration.md §10-11): maps without clutter, features with it
    cfg = coloc.ColocConfig()
    assert (cfg.for_setting(False).embedding, cfg.for_setting(True).embedding) == (
        "maps", "features")
    assert cfg.for_setting(True).clutter_embedding is None
    assert coloc.ColocConfig(clutter_embedding=None).for_setting(True).embedding == "maps"
    for bad in ({"embedding": "logits"}, {"clutter_embedding": "logits"}):
        with pytest.raises(ValueError, match="embedding"):
            coloc.ColocConfig(**bad)
    with pytest.raises(ValueError, match="contrast"):
        coloc.ColocConfig(embedding="softmax", contrast=True)  # the cluttered features
    coloc.ColocConfig(embedding="softmax", clutter_embedding=None, contrast=True)
    enc = build_model("cnn", (1, 28, 28), 10)
    v = torch.rand(2, 1, 28, 28)
    assert coloc.make_embedding(enc, coloc.ColocConfig(embedding="softmax"))(v).shape == (2, 10)
    assert coloc.make_embedding(enc, coloc.ColocConfig(embedding="features"))(v).shape == (
        2, enc.classifier[-1].in_features)
    assert coloc.make_embedding(enc, cfg)(v).shape == coloc.map_embedding(enc)(v).shape


def test_clutter_restarts_pick_the_count_of_each_setting():
    cfg = coloc.ColocConfig(restarts=3, clutter_restarts=8)
    assert cfg.for_setting(False).restarts == 3 and cfg.for_setting(True).restarts == 8
    assert cfg.for_setting(True).clutter_restarts is None
    assert coloc.ColocConfig(restarts=2, clutter_restarts=None).for_setting(True).restarts == 2
    with pytest.raises(ValueError, match="clutter_restarts"):
        coloc.ColocConfig(clutter_restarts=0)
