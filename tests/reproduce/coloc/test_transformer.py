"""The co-localising transformer (``torchstn.reproduce.coloc.transformer``): its view inside the
canvas, its identity start and the scale curriculum it follows."""

from __future__ import annotations

import pytest
import torch

from torchstn.reproduce import coloc


def test_inside_attention_box_known_answer_and_bounds():
    """InsideAttention: t = (1 - s) tanh(u). u = atanh(-1/2), atanh(1/2) at s = 1/3 is the box
    x in [14, 42), y in [42, 70), exactly what predict_boxes reports and the view samples; any
    u keeps the box on the canvas; at s = 1 the view is the whole canvas."""
    st = coloc.coloc_transformer()
    assert isinstance(st.transform, coloc.InsideAttention)
    x = torch.rand(2, 1, 84, 84)
    half = torch.atanh(torch.tensor(0.5)).item()
    with torch.no_grad():
        st.regressor.bias.copy_(torch.tensor([1 / 3, -half, half]))
        out = st(x)
    x0, y0, x1, y1 = coloc.predict_boxes(st, x)[0].round().int().tolist()
    assert (x0, y0, x1, y1) == (14, 42, 42, 70)
    assert torch.allclose(out, x[:, :, y0:y1, x0:x1], atol=1e-5)
    raw = torch.cat([torch.rand(50, 1), 20 * torch.randn(50, 2)], 1)
    boxes = coloc.boxes_from_params(coloc.inside_params(raw))
    assert boxes.min() >= -1e-4 and boxes.max() <= 84 + 1e-4
    whole = coloc.inside_params(torch.tensor([[1.0, 5.0, -5.0]]))
    assert torch.equal(whole, torch.tensor([[1.0, 0.0, 0.0]]))


def test_transformer_starts_at_the_identity_and_scale_follows_the_curriculum():
    st = coloc.coloc_transformer()
    st(torch.rand(3, 1, 84, 84))
    assert torch.allclose(st.last_params, torch.tensor([[1.0, 0.0, 0.0]] * 3))
    cfg = coloc.ColocConfig(steps=100, anneal=0.5)
    assert coloc.scale_at(0, cfg) == 1.0
    assert coloc.scale_at(25, cfg) == pytest.approx((1 + 1 / 3) / 2)
    assert coloc.scale_at(50, cfg) == coloc.scale_at(100, cfg) == pytest.approx(1 / 3)
