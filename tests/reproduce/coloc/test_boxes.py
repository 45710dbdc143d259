"""The boxes a transformer looks at and their IoU (``torchstn.reproduce.coloc.boxes``)."""

from __future__ import annotations

import torch

from torchstn.reproduce import coloc


def test_boxes_and_iou_known_answers():
    params = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 0.0, 0.0], [1 / 3, -2 / 3, 0.5]])
    boxes = coloc.boxes_from_params(params)
    expected = torch.tensor([[0, 0, 84, 84], [28, 28, 56, 56], [0, 49, 28, 77]], dtype=torch.float)
    assert torch.allclose(boxes, expected, atol=1e-4)
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2]])
    b = torch.tensor([[0.0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6]])
    assert torch.allclose(coloc.box_iou(a, b), torch.tensor([1.0, 2 / 6, 0.0]))


def test_the_box_is_what_the_transformer_samples():
    """At an integer-aligned box the attention view is exactly that crop of the canvas (the
    coordinate convention of boxes_from_params is the sampler's)."""
    st = coloc.coloc_transformer(inside=False)
    x = torch.rand(2, 1, 84, 84)
    with torch.no_grad():
        st.regressor.bias.copy_(torch.tensor([1 / 3, -2 / 3, 0.5]))
        out = st(x)
    x0, y0, x1, y1 = coloc.boxes_from_params(st.last_params)[0].round().int().tolist()
    assert (x0, y0, x1, y1) == (0, 49, 28, 77)
    assert torch.allclose(out, x[:, :, y0:y1, x0:x1], atol=1e-5)
