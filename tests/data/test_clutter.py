"""TC and co-localisation: placement ranges, the digit fully inside, exactly 6 (16) clutter crops
of other digits, against a plain per-sample reference implementation."""

from __future__ import annotations

import pytest
import torch

from torchstn.data import clutter as C


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _reference(images, params, source, canvas):
    """Per-sample loops, straight from DATASETS.md."""
    out = torch.zeros(images.shape[0], 1, canvas, canvas)
    for k in range(images.shape[0]):
        x0, y0 = params["pos"][k].tolist()
        out[k, 0, y0 : y0 + 28, x0 : x0 + 28] += images[k, 0]
        for j, (cx, cy), (ax, ay) in zip(params["index"][k].tolist(), params["crop"][k].tolist(),
                                         params["at"][k].tolist(), strict=True):
            out[k, 0, ay : ay + 6, ax : ax + 6] += source[j, 0, cy : cy + 6, cx : cx + 6]
    return out.clamp(0, 1)


def test_tc_matches_the_reference_and_clamps():
    images = torch.rand(40, 1, 28, 28)
    source = torch.rand(50, 1, 28, 28)
    params = C.tc_params(40, _gen(), 50, own=torch.arange(40))
    out = C.tc_apply(images, params, source)
    torch.testing.assert_close(out, _reference(images, params, source, 60), atol=1e-6, rtol=0)
    assert out.shape == (40, 1, 60, 60) and out.max() <= 1


def test_uint8_source_equals_float_source():
    source8 = torch.randint(0, 256, (30, 28, 28), dtype=torch.uint8)
    params = C.tc_params(10, _gen(1), 30)
    images = torch.rand(10, 1, 28, 28)
    a = C.tc_apply(images, params, source8)
    b = C.tc_apply(images, params, source8.unsqueeze(1).float() / 255)
    assert torch.equal(a, b)


def test_tc_digit_inside_and_exactly_six_patches():
    n = 300
    digit_value, clutter_value = 0.5, 1 / 64  # exact in float32; 6 overlaps stay below 0.5
    images = torch.full((n, 1, 28, 28), digit_value)
    source = torch.full((20, 1, 28, 28), clutter_value)
    params = C.tc_params(n, _gen(2), 20, own=torch.arange(n) % 20)
    out = C.tc_apply(images, params, source)[:, 0]
    # the whole 28x28 digit is on the canvas, where pos says
    assert ((out >= digit_value).sum((1, 2)) == 28 * 28).all()
    for k in range(0, n, 37):
        x0, y0 = params["pos"][k].tolist()
        assert (out[k, y0 : y0 + 28, x0 : x0 + 28] >= digit_value).all()
    # the rest of the mass is exactly 6 crops of 36 pixels
    clutter_mass = out.sum((1, 2)) - 28 * 28 * digit_value
    assert torch.equal(clutter_mass / (36 * clutter_value), torch.full((n,), 6.0))


def test_tc_parameter_ranges_and_distinct_other_digits():
    n, n_source = 5000, 40
    own = torch.randint(n_source, (n,), generator=_gen(3))
    p = C.tc_params(n, _gen(4), n_source, own=own)
    assert p["pos"].min() == 0 and p["pos"].max() == 32
    assert p["crop"].min() == 0 and p["crop"].max() == 22
    assert p["at"].min() == 0 and p["at"].max() == 54
    idx = p["index"]
    assert idx.shape == (n, 6) and idx.min() >= 0 and idx.max() < n_source
    assert (idx != own[:, None]).all()
    assert (idx.sort(1).values.diff(dim=1) > 0).all()  # distinct within a sample
    counts = torch.bincount(idx.view(-1), minlength=n_source).float()
    assert counts.std() / counts.mean() < 0.1  # roughly uniform over the other digits


def test_distinct_indices_rejects_impossible_requests():
    with pytest.raises(ValueError, match="distinct"):
        C.distinct_indices(3, 5, 4, _gen())


def test_pure_tc_function():
    out = C.tc(torch.rand(4, 1, 28, 28), torch.rand(10, 1, 28, 28), _gen(5))
    assert out.shape == (4, 1, 60, 60)


@pytest.mark.parametrize("clutter", [False, True])
def test_coloc_boxes_and_clutter(clutter):
    n = 200
    images = torch.full((n, 1, 28, 28), 0.5)
    source = torch.full((30, 1, 28, 28), 1 / 64) if clutter else None
    out, boxes = C.coloc(images, _gen(6), source)
    assert out.shape == (n, 1, 84, 84) and boxes.shape == (n, 4)
    assert boxes[:, :2].min() == 0 and boxes[:, :2].max() == 56
    torch.testing.assert_close(boxes[:, 2:] - boxes[:, :2], torch.full((n, 2), 28.0))
    digit = out[:, 0] >= 0.5
    rows, cols = digit.any(2), digit.any(1)
    ar = torch.arange(84)
    torch.testing.assert_close(torch.where(cols, ar, 99).min(1).values.float(), boxes[:, 0])
    torch.testing.assert_close(torch.where(rows, ar, -1).max(1).values.float() + 1, boxes[:, 3])
    mass = out[:, 0].sum((1, 2)) - 28 * 28 * 0.5
    assert torch.equal(mass / (36 / 64), torch.full((n,), 16.0 if clutter else 0.0))


def test_coloc_clutter_positions():
    p = C.coloc_params(3000, _gen(7), clutter=True, n_source=100)
    assert p["at"].min() == 0 and p["at"].max() == 78 and p["index"].shape == (3000, 16)
