"""``torchstn data``: preview, info and download through the real entry point (no network)."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest

from torchstn.cli.main import main
from torchstn.data import mnist
from torchstn.data.idx import write_idx


@pytest.fixture
def fake_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in [("train", 30), ("test", 20)]:
        images, labels, _ = mnist.SPLITS[split]
        write_idx(tmp_path / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / labels, (np.arange(n) % 10).astype(np.uint8))
    return tmp_path


def test_preview_writes_a_png(fake_dir, capsys):
    out = fake_dir / "rts.png"
    code = main(["data", "preview", "--dataset", "rts", "--out", str(out), "--data-dir",
                 str(fake_dir), "--n", "8", "--seed", "3"])
    assert code == 0 and out.read_bytes().startswith(b"\x89PNG")
    assert str(out) in capsys.readouterr().out


def test_preview_without_data_is_a_one_line_error(tmp_path, capsys):
    code = main(["data", "preview", "--dataset", "r", "--out", str(tmp_path / "x.png"),
                 "--data-dir", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("torchstn: error:") and err.count("\n") == 1
    assert "torchstn data download" in err


def test_info_lists_files_and_sets(fake_dir, capsys):
    assert main(["data", "info", "--data-dir", str(fake_dir)]) == 0
    out = capsys.readouterr().out
    assert str(fake_dir / "t10k-images-idx3-ubyte.gz") in out and "addition" in out


def test_download_skips_verified_files(fake_dir, monkeypatch, capsys):
    fake = {name: mnist.Resource(name, hashlib.md5((fake_dir / name).read_bytes()).hexdigest(),
                                 "0" * 32) for name in mnist.RESOURCES}
    monkeypatch.setattr(mnist, "RESOURCES", fake)
    monkeypatch.setattr(mnist, "MIRRORS", [])  # any download attempt would fail
    assert main(["data", "download", "--data-dir", str(fake_dir)]) == 0
    assert capsys.readouterr().out.count("checksum ok") == 4


def test_download_failure_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(mnist, "MIRRORS", [f"http://127.0.0.1:{port}/mnist/"])
    assert main(["data", "download", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torchstn: error: could not download") and err.count("\n") == 1


def test_bare_data_command_prints_help(capsys):
    assert main(["data"]) == 2
    assert "preview" in capsys.readouterr().out
