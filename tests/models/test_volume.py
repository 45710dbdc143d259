"""The 3D experiment's models (``models/volume.py``): names, identity start, gradients, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchstn.io import load_model, save_model
from torchstn.models import (
    MODEL_NAMES,
    VOLUME_MODEL_NAMES,
    build_for_dataset,
    build_model,
    count_parameters,
    dataset_models,
    parameter_table,
    parse_name,
)
from torchstn.models.volume import VIEW_POOL, VolumeView

SHAPE = (60, 60, 60)


def _volumes(n: int = 2) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(0))


def test_names_and_the_models_of_each_data_set():
    assert VOLUME_MODEL_NAMES == ("proj-cnn", "st3d-cnn")
    assert parse_name("st3d-cnn") == ("cnn", "affine3d")
    assert parse_name("proj-cnn") == ("cnn", None)
    assert dataset_models("3d") == VOLUME_MODEL_NAMES and dataset_models("rts") == MODEL_NAMES
    rows = parameter_table("3d")
    assert [r["model"] for r in rows] == list(VOLUME_MODEL_NAMES)
    assert rows[0]["localization"] == 0 and rows[1]["localization"] > 0
    # the same classifier with and without the transformer
    assert rows[0]["classifier"] == rows[1]["classifier"]


def test_the_transformer_starts_as_the_baselines_view():
    torch.manual_seed(0)
    st, base = build_for_dataset("st3d-cnn", "3d"), build_for_dataset("proj-cnn", "3d")
    x = _volumes()
    with torch.no_grad():
        seen = st.warp(x)
        assert seen.shape == (2, 1, SHAPE[1] // VIEW_POOL, SHAPE[2] // VIEW_POOL)
        assert torch.allclose(seen, base.warp(x), atol=1e-5)
        expected = F.avg_pool3d(x.unsqueeze(1), VIEW_POOL).amax(2)  # worked out by hand
        assert torch.allclose(base.warp(x), expected)


def test_every_parameter_receives_a_gradient():
    torch.manual_seed(0)
    model = build_for_dataset("st3d-cnn", "3d")
    with torch.no_grad():  # move off the identity's zero weights so every layer matters
        model.transformer.transformer.regressor.weight.normal_(0, 1e-3)
    F.cross_entropy(model(_volumes()), torch.tensor([3, 7])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_save_and_load_give_the_same_outputs(tmp_path):
    torch.manual_seed(1)
    model = build_for_dataset("st3d-cnn", "3d").eval()
    path = save_model(model, tmp_path / "m.safetensors", dataset="3d")
    again = load_model(path).eval()
    assert isinstance(again.transformer, VolumeView)
    assert count_parameters(again) == count_parameters(model)
    x = _volumes()
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_bad_inputs_raise():
    model = build_for_dataset("proj-cnn", "3d")
    with pytest.raises(ValueError, match=r"expected shape \(N, 60, 60, 60\)"):
        model(torch.rand(2, 1, 60, 60))
    with pytest.raises(ValueError, match="at least 56 voxels a side"):
        build_model("st3d-cnn", (28, 28, 28), 10)
