import os
import pickle

import pytest
import torch

import torchstn
from torchstn.io import load_model_with_record, resolve_model_path
from torchstn.models import build_model


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = build_model("st-cnn-aff", (1, 28, 28), 10)
    with torch.no_grad():  # a non-identity transformer, so the test sees its weights
        m.transformer.regressor.weight.normal_(0, 0.01)
    return m


def test_save_and_load_round_trip(tmp_path, model):
    path = torchstn.save_model(model, tmp_path / "m.safetensors", dataset="r", epoch=3)
    loaded = torchstn.load_model(path)
    assert not loaded.training and loaded.spec == model.spec
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    _, record = load_model_with_record(path)
    assert record["dataset"] == "r" and record["epoch"] == 3


def test_float16_storage(tmp_path, model):
    path = torchstn.save_model(model, tmp_path / "m.safetensors", dtype="float16")
    loaded = torchstn.load_model(path)
    p = next(loaded.parameters())
    assert p.dtype == torch.float32
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model.eval()(x), atol=1e-2)


def test_run_folder_resolution(tmp_path, model):
    with pytest.raises(FileNotFoundError, match="holds no model file"):
        resolve_model_path(tmp_path)
    torchstn.save_model(model, tmp_path / "last.safetensors")
    assert resolve_model_path(tmp_path).name == "last.safetensors"
    torchstn.save_model(model, tmp_path / "model.safetensors")
    assert resolve_model_path(tmp_path).name == "model.safetensors"
    with pytest.raises(FileNotFoundError):
        torchstn.load_model(tmp_path / "nope")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_RAN",))


@pytest.mark.parametrize("name, write", [
    ("evil.pt", lambda p: torch.save({"model": _Evil(), "record": {}}, p)),
    ("evil.safetensors", lambda p: torch.save(_Evil(), p)),
    ("evil.bin", lambda p: p.write_bytes(pickle.dumps(_Evil()))),
])
def test_crafted_pickle_raises_and_runs_nothing(tmp_path, monkeypatch, name, write):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    write(path)
    with pytest.raises(ValueError):
        torchstn.load_model(path)
    assert not (tmp_path / "EVIL_RAN").exists()


def test_record_with_unknown_model_is_rejected(tmp_path):
    from torchstn.train.checkpoint import save_weights

    save_weights(tmp_path / "m.safetensors", {}, {"kind": "torchstn.model", "model": {
        "name": "st-cnn-evil", "in_shape": [1, 28, 28], "num_classes": 10, "widths": [1, 2],
        "pool": 1}})
    with pytest.raises(ValueError, match="unknown model"):
        torchstn.load_model(tmp_path / "m.safetensors")


def test_weights_that_do_not_fit(tmp_path, model):
    from torchstn.train.checkpoint import save_weights

    record = {"kind": "torchstn.model", "model": model.spec.to_dict()}
    save_weights(tmp_path / "m.safetensors", {"x": torch.zeros(1)}, record)
    with pytest.raises(ValueError, match="do not fit"):
        torchstn.load_model(tmp_path / "m.safetensors")


def test_shape_mismatch_names_the_tensors(tmp_path, model):
    from torchstn.train.checkpoint import save_weights

    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.dim() == 2)
    state[key] = torch.zeros(3, 5)
    del state[next(k for k in state if k != key)]
    state["extra.bias"] = torch.zeros(2)
    save_weights(tmp_path / "m.safetensors", state,
                 {"kind": "torchstn.model", "model": model.spec.to_dict()})
    with pytest.raises(ValueError) as info:
        torchstn.load_model(tmp_path / "m.safetensors")
    text = str(info.value)
    assert "\n" not in text and "missing" in text and "unexpected extra.bias" in text
    assert f"{key} is (3, 5), expected" in text


def test_the_record_alone_is_the_record_of_the_whole_file(tmp_path, model, monkeypatch):
    from torchstn import io

    path = torchstn.save_model(model, tmp_path / "m.safetensors", epoch=3)
    record = io.read_model_file(path)[1]
    # the header only: reading a tensor would fail here
    monkeypatch.setattr(io, "load_weights", lambda p: pytest.fail("weights read"))
    assert io.read_model_record(path) == record and record["epoch"] == 3
    (tmp_path / "bad.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"{broken}")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        io.read_model_record(tmp_path / "bad.safetensors")
