"""Training (``torchstn.reproduce.coloc.fit``): the translation learned, the restarts, the
refinement stages."""

from __future__ import annotations

import pytest
import torch

from torchstn.models import build_model
from torchstn.reproduce import coloc


def test_localise_trains_the_translation_only():
    x = torch.rand(6, 1, 84, 84)
    embed = coloc.softmax_embedding(build_model("cnn", (1, 28, 28), 10))
    st, loss = coloc.localise(x, embed, coloc.ColocConfig(steps=4, anneal=0.5, lr=1e-2,
                                                          refine=()))
    assert loss == loss  # finite, not NaN
    st(x)
    scale, shift = st.last_params[:, 0], st.last_params[:, 1:]
    assert torch.allclose(scale, torch.full((6,), 1 / 3))
    assert shift.abs().sum() > 0  # the translation moved away from the identity's


def test_restarts_keep_the_run_of_lowest_mean_loss():
    x = torch.rand(6, 1, 84, 84)
    embed = coloc.softmax_embedding(build_model("cnn", (1, 28, 28), 10))
    cfg = coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2, seed=4, restarts=3, refine=())
    st, losses, kept = coloc.localise_best(x, embed, cfg)
    assert len(losses) == 3 and losses[kept] == min(losses)
    # restart k is the plain run from seed 4 + k, scored on the same fixed crops
    again, _ = coloc.localise(x, embed, coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2,
                                                          seed=4 + kept, refine=()))
    assert coloc.mean_loss(again, x, embed, cfg) == pytest.approx(losses[kept])
    assert torch.equal(again.regressor.bias, st.regressor.bias)


def test_refine_stages_train_with_their_own_embeddings_at_the_final_scale():
    """After the curriculum, each refine stage runs its steps with its embedding (views and
    random crops: two calls a step), the scale held at 28/84; the translation keeps moving."""
    x = torch.rand(6, 1, 84, 84)
    cnn = build_model("cnn", (1, 28, 28), 10)
    calls = {"first": 0, "second": 0}

    def counting(name):
        inner = coloc.softmax_embedding(cnn)

        def embed(v):
            calls[name] += 1
            return inner(v)
        return embed

    cfg = coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2, refine=(("p", 2), ("r", 4)))
    plain, _ = coloc.localise(x, counting("first"), coloc.ColocConfig(steps=3, anneal=0.5,
                                                                      lr=1e-2, refine=()))
    calls["first"] = 0
    st, loss = coloc.localise(x, counting("first"), cfg, refine=[counting("second")] * 2)
    assert calls == {"first": 2 * 3, "second": 2 * (2 + 4)}
    assert loss == loss
    st(x)
    assert torch.allclose(st.last_params[:, 0], torch.full((6,), 1 / 3))
    assert not torch.equal(st.regressor.bias, plain.regressor.bias)
    with pytest.raises(ValueError, match="2 embeddings"):
        coloc.localise(x, counting("first"), cfg, refine=[counting("second")])
