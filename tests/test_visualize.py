import pytest
import torch

from torchstn.models import build_model
from torchstn.visualize import _grid_lines, transformer_views

pytest.importorskip("matplotlib")


def test_identity_grid_sits_on_pixel_centres():
    model = build_model("st-cnn-aff", (1, 28, 28), 10)
    warped, pixels, pred = transformer_views(model, torch.rand(2, 1, 28, 28))
    assert warped.shape == (2, 1, 28, 28) and pred.shape == (2,)
    # identity transform: sampling point of output pixel (i, j) is input pixel (i, j)
    assert torch.allclose(pixels[0, 3, 5], torch.tensor([5.0, 3.0]), atol=1e-4)
    assert len(_grid_lines(pixels[0], 7)) == 14


def test_figure_is_written(tmp_path):
    from torchstn.visualize import save_figure

    model = build_model("cnn", (1, 28, 28), 10)
    out = save_figure(model, torch.rand(2, 1, 28, 28), tmp_path / "f.png", torch.tensor([1, 2]))
    assert out.stat().st_size > 1000
