import os
import pickle

import pytest
import torch

from torchstn.train.checkpoint import (
    META_KEY,
    atomic_write,
    atomic_write_text,
    load_state,
    load_weights,
    save_state,
    save_weights,
)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "old")

    def boom(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_weights_round_trip_with_record(tmp_path):
    sd = {"w": torch.randn(3, 4), "n": torch.tensor([1, 2])}
    save_weights(tmp_path / "m.safetensors", sd, {"model": {"name": "cnn"}})
    got, meta = load_weights(tmp_path / "m.safetensors")
    assert torch.equal(got["w"], sd["w"]) and torch.equal(got["n"], sd["n"])
    assert meta["model"] == {"name": "cnn"} and meta["storage_dtype"] == "float32"


def test_float16_storage_loads_as_float32(tmp_path):
    w = torch.randn(100)
    save_weights(tmp_path / "m.safetensors", {"w": w}, {}, dtype="float16")
    got, meta = load_weights(tmp_path / "m.safetensors")
    assert got["w"].dtype == torch.float32 and meta["storage_dtype"] == "float16"
    assert torch.equal(got["w"], w.half().float())
    assert (tmp_path / "m.safetensors").stat().st_size < 100 * 4


def test_bad_storage_dtype(tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        save_weights(tmp_path / "m.safetensors", {}, {}, dtype="int8")


def test_missing_and_corrupt_weights(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_weights(bad)


def test_safetensors_without_record(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ValueError, match=META_KEY):
        load_weights(tmp_path / "x.safetensors")


def test_state_round_trip(tmp_path):
    state = {"epoch": 3, "rng": torch.get_rng_state(), "opt": {"state": {0: {"m": torch.ones(2)}}}}
    save_state(tmp_path / "s.pt", state)
    got = load_state(tmp_path / "s.pt")
    assert got["epoch"] == 3 and torch.equal(got["rng"], state["rng"])


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_RAN",))


def test_state_loading_never_runs_pickled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.pt"
    torch.save({"x": _Evil()}, path)
    with pytest.raises(ValueError, match="corrupt or not a torchstn checkpoint"):
        load_state(path)
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ValueError):
        load_state(path)
    assert not (tmp_path / "EVIL_RAN").exists()


def test_missing_and_truncated_state(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_state(tmp_path / "none.pt")
    save_state(tmp_path / "s.pt", {"a": torch.ones(1000)})
    data = (tmp_path / "s.pt").read_bytes()
    (tmp_path / "s.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_state(tmp_path / "s.pt")
