"""``torchstn demo``: offline, bundled digits, a checkpoint given or bundled, clear errors."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import torch

import torchstn.demo as demo
from torchstn.cli.main import main
from torchstn.data.mnist import load
from torchstn.data.sets import test_set
from torchstn.io import save_model
from torchstn.models import build_for_dataset

from .conftest import real_mnist_root

PNG_MAGIC = b"\x89PNG"
MAX_ASSET_BYTES = 200_000


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """An untrained ST-CNN for RTS, saved like a trained one."""
    torch.manual_seed(0)
    return save_model(build_for_dataset("st-cnn-aff", "rts"), tmp_path / "st.safetensors",
                       dtype="float16", dataset="rts")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, and no MNIST where the library would look for it."""
    def refuse(*args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("TORCHSTN_DATA", str(tmp_path / "no-data-here"))


def test_demo_with_a_checkpoint_runs_offline_and_writes_a_png(tiny_checkpoint, tmp_path,
                                                              offline, capsys):
    out = tmp_path / "demo.png"
    rc = main(["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out),
               "--rows", "3", "--threads", "1"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert out.read_bytes()[:4] == PNG_MAGIC
    assert "accuracy" in printed and "95% CI" in printed and f"of {demo.DEMO_DIGITS}" in printed


def test_demo_result_agrees_with_evaluating_the_model(tiny_checkpoint, tmp_path, offline):
    result = demo.run_demo(tiny_checkpoint, tmp_path / "d.png", rows=2)
    model = demo.load_demo_model(tiny_checkpoint)
    digits, labels = demo.load_digits()
    wrong = int((model(demo.distort(digits)).argmax(1) != labels).sum())
    assert result["stats"]["errors"] == wrong and result["stats"]["n"] == demo.DEMO_DIGITS


def test_missing_bundled_checkpoint_is_a_clear_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(demo, "ASSETS", tmp_path)  # an installation without the checkpoint
    assert main(["demo", "--out", str(tmp_path / "d.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert demo.CHECKPOINT_FILE in err and "missing" in err and "--checkpoint" in err
    assert not (tmp_path / "d.png").exists()


def test_a_checkpoint_for_other_images_is_refused(tmp_path, capsys):
    path = save_model(build_for_dataset("cnn", "r"), tmp_path / "r.safetensors", dataset="r")
    assert main(["demo", "--checkpoint", str(path), "--out", str(tmp_path / "d.png")]) == 2
    assert "expected a model for rts" in capsys.readouterr().err


def test_without_matplotlib_the_accuracy_is_still_printed(tiny_checkpoint, tmp_path,
                                                          monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import raises ImportError
    assert main(["demo", "--checkpoint", str(tiny_checkpoint),
                 "--out", str(tmp_path / "d.png")]) == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "matplotlib" in captured.err
    assert not (tmp_path / "d.png").exists()


def test_bundled_digits_are_small_and_well_formed():
    assert demo.bundled_digits().stat().st_size < MAX_ASSET_BYTES
    images, labels = demo.load_digits()
    assert images.shape == (demo.DEMO_DIGITS, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (demo.DEMO_DIGITS,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(10))
    assert demo.distort(images).shape == (demo.DEMO_DIGITS, 1, 42, 42)


def test_bad_digits_file_is_refused(tmp_path):
    import numpy as np

    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 27, 28), np.uint8), labels=np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="expected uint8 images"):
        demo.load_digits(path)
    with pytest.raises(FileNotFoundError, match="make_demo_assets"):
        demo.load_digits(tmp_path / "absent.npz")


@pytest.mark.skipif(real_mnist_root() is None, reason="needs real MNIST in $TORCHSTN_DATA")
def test_bundled_digits_are_the_first_mnist_test_digits_and_their_rts_images():
    root = real_mnist_root()
    images, labels = demo.load_digits()
    mnist_images, mnist_labels = load("test", root)
    n = demo.DEMO_DIGITS
    assert torch.equal(images, mnist_images[:n]) and torch.equal(labels, mnist_labels[:n])
    fixed, fixed_labels = test_set("rts", root, stop=n)
    assert torch.equal(demo.distort(images), fixed) and torch.equal(fixed_labels, labels)


def test_bundled_checkpoint_classifies_the_bundled_digits(tmp_path, offline):
    """The README's main job as shipped: the bundled ST-CNN on the bundled RTS digits."""
    if not demo.bundled_checkpoint().is_file():
        pytest.skip("no bundled checkpoint in this checkout")
    result = demo.run_demo(None, tmp_path / "demo.png", rows=2)
    assert result["model"] == "st-cnn-aff"
    # a trained model, not an untrained one (chance is 90% error); the RTS test error of this
    # checkpoint is in results/table1.md
    assert result["stats"]["error"] < 0.05
    assert (tmp_path / "demo.png").read_bytes()[:4] == PNG_MAGIC
