"""A PNG grid of samples of a data set (the same layout for every variant).

Tiles are laid out row-major, ``ceil(sqrt(n))`` per row, separated by a 2-pixel grey gutter; the
channels of a multi-channel sample (addition) sit side by side inside its tile (a 3D volume: its
maximum along depth and along width, the front and the side views), and
co-localisation samples get their ground-truth box drawn in red. Every pixel is magnified by an
integer factor. The PNG is written by a tiny pure-``zlib`` encoder, so no plotting library is
needed.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..checks import check_int
from .sets import DATASETS, TEST_SEED, _check_name, coloc_test_set, test_set

__all__ = ["write_png", "tile", "preview"]

GUTTER = 2
GUTTER_GREY = 96
CHANNEL_GREY = 40  # the line between the channels of one sample
BOX_RGB = (255, 32, 32)
ZOOM = 2
_MAX_U8 = 255


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Write ``pixels`` uint8 ``(H, W)`` (grey) or ``(H, W, 3)`` (RGB) as a PNG file."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"pixels: expected (H, W) or (H, W, 3), got {pixels.shape}")
    h, w = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    rows = pixels.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


def tile(images: Tensor, boxes: Tensor | None = None, zoom: int = ZOOM) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1] -> uint8 RGB ``(H', W', 3)`` grid (boxes ``(N, 4)`` drawn red)."""
    n, c, h, w = images.shape
    per_row = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / per_row)
    tile_w = c * w + (c - 1) * GUTTER
    out = np.full((rows * (h + GUTTER) + GUTTER, per_row * (tile_w + GUTTER) + GUTTER, 3),
                  GUTTER_GREY, np.uint8)
    grey = (images.clamp(0, 1) * _MAX_U8).round().to(torch.uint8).numpy()
    for k in range(n):
        top = GUTTER + (k // per_row) * (h + GUTTER)
        left = GUTTER + (k % per_row) * (tile_w + GUTTER)
        for ch in range(c):
            x = left + ch * (w + GUTTER)
            out[top : top + h, x : x + w] = grey[k, ch, :, :, None]
            if ch:
                out[top : top + h, x - GUTTER : x] = CHANNEL_GREY
        if boxes is not None:
            x0, y0, x1, y1 = (int(v) for v in boxes[k].tolist())
            x1, y1 = min(x1, w) - 1, min(y1, h) - 1
            region = out[top : top + h, left : left + w]
            region[y0, x0 : x1 + 1] = region[y1, x0 : x1 + 1] = BOX_RGB
            region[y0 : y1 + 1, x0] = region[y0 : y1 + 1, x1] = BOX_RGB
    return out.repeat(zoom, axis=0).repeat(zoom, axis=1)


def preview(
    name: str, out: str | os.PathLike, *, root=None, n: int = 64, seed: int = TEST_SEED
) -> Path:
    """Write a PNG of the first ``n`` samples of the test set ``name``; returns the path."""
    _check_name(name)
    check_int(n, "n", 1)
    if name == "coloc":
        images, _, boxes = coloc_test_set(root, seed, stop=n)
    else:
        (images, _), boxes = test_set(name, root, seed, stop=n), None
    if DATASETS[name].volume:  # a volume is shown from the front and from the side
        images = torch.stack([images.amax(1), images.amax(3).transpose(1, 2)], dim=1)
    path = Path(out)
    write_png(path, tile(images, boxes))
    return path
