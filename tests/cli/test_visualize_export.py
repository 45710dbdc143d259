"""``torchstn visualize`` and ``torchstn export`` on a tiny trained run."""

import pytest

from torchstn.cli.main import main
from torchstn.train import TrainConfig, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vis") / "run"
    train(TrainConfig(dataset="rts", model="st-cnn-aff", out=str(out), epochs=1, batch_size=32,
                      limit=64, tensorboard=False, extra={"fake_data": True}), progress=False)
    return out


def test_visualize_writes_png(run_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    fig = tmp_path / "fig.png"
    assert main(["visualize", str(run_dir), "--out", str(fig), "--n", "3", "--fake-data"]) == 0
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_export_onnx_verified(run_dir, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out)]) == 0
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out and out.is_file()
