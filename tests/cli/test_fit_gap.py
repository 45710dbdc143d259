"""``scripts/fit_gap.py``: a model's error on training digits beside its test error."""

from __future__ import annotations

import pytest
import torch

import torchstn
from torchstn.data import test_set, validation_set
from torchstn.evaluate import evaluate
from torchstn.models import build_for_dataset

from .conftest import real_mnist_root

ROOT = real_mnist_root()
# the validation digits are the last 10,000 of the 60,000: a fake MNIST would need them all
pytestmark = pytest.mark.skipif(ROOT is None, reason="needs the real MNIST files (TORCHSTN_DATA)")


@pytest.fixture()
def fit_gap(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "scripts"))
    import fit_gap

    return fit_gap


def test_gap_row_is_evaluate_on_the_two_sets(tmp_path, fit_gap):
    torch.manual_seed(0)
    model = build_for_dataset("cnn", "rts")
    path = tmp_path / "cnn.safetensors"
    torchstn.save_model(model, path, dataset="rts", epoch=3)
    row = fit_gap.gap_row(str(path), 40, ROOT)
    assert row["dataset"] == "rts" and row["epoch"] == 3 and row["n"] == 40
    model = torchstn.load_model(path)
    for key, make in (("train_error", validation_set), ("test_error", test_set)):
        x, y = make("rts", ROOT, stop=40)
        assert row[key] == 100 * evaluate(model, x, y)["error"]


def test_a_model_that_held_out_the_validation_digits_is_refused(tmp_path, fit_gap):
    path = tmp_path / "cnn.safetensors"
    torchstn.save_model(build_for_dataset("cnn", "rts"), path, dataset="rts", train_limit=50_000)
    with pytest.raises(ValueError, match="held out"):
        fit_gap.gap_row(str(path), 10, ROOT)
