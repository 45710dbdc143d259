"""The PNG preview: a valid PNG with the right pixels, the same layout for every variant."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

from torchstn.data import preview as P

from .test_sets import NAMES


def _decode(path) -> np.ndarray:
    """Minimal PNG reader for what write_png produces (8-bit, filter 0, grey or RGB)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", raw[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and b"IEND" in chunks
    channels = {0: 1, 2: 3}[colour]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, -1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, channels).squeeze(-1) if channels == 1 else \
        rows[:, 1:].reshape(h, w, 3)


@pytest.mark.parametrize("shape", [(5, 7), (4, 6, 3)])
def test_png_round_trip(tmp_path, shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    P.write_png(tmp_path / "x.png", pixels)
    np.testing.assert_array_equal(_decode(tmp_path / "x.png"), pixels)


def test_png_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="expected"):
        P.write_png(tmp_path / "x.png", np.zeros((2, 2, 4), np.uint8))


def test_tile_layout():
    images = torch.zeros(5, 2, 4, 3)
    images[0, 1] = 1
    out = P.tile(images, zoom=1)
    # 3 per row, 2 rows; tile = 2 channels of width 3 plus a gutter
    tile_w = 2 * 3 + P.GUTTER
    assert out.shape == (2 * (4 + P.GUTTER) + P.GUTTER, 3 * (tile_w + P.GUTTER) + P.GUTTER, 3)
    g = P.GUTTER
    assert (out[g : g + 4, g + 3 + g : g + tile_w] == 255).all()  # sample 0, channel 1
    assert (out[g : g + 4, g : g + 3] == 0).all()  # sample 0, channel 0
    assert P.tile(images).shape[0] == 2 * out.shape[0]  # default zoom


@pytest.mark.parametrize("name", NAMES)
def test_preview_every_variant(tmp_path, fake_root, name):
    path = P.preview(name, tmp_path / f"{name}.png", root=fake_root, n=9)
    pixels = _decode(path)
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    red = (pixels == np.array(P.BOX_RGB, np.uint8)).all(-1).any()
    assert red == (name == "coloc")  # boxes drawn for co-localisation only


def test_preview_of_volumes_shows_the_front_and_the_side(tmp_path, fake_root):
    path = P.preview("3d", tmp_path / "3d.png", root=fake_root, n=1)
    pixels = _decode(path)
    side = 60 * P.ZOOM
    # one tile of two 60x60 views (front, side) separated by a gutter
    assert pixels.shape[:2] == ((side + 2 * P.GUTTER * P.ZOOM),
                                2 * side + 3 * P.GUTTER * P.ZOOM)
    g = P.GUTTER * P.ZOOM
    front = pixels[g : g + side, g : g + side]
    assert front.min() == 0 and front.max() > P.GUTTER_GREY  # a digit on a black background
