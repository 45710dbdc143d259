"""Figure-1/Figure-3-style pictures of what a trained spatial transformer does.

One row per test image: the distorted input with the transformer's sampling grid drawn over it,
the transformer's output, and the predicted label. Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

GRID_LINES = 7  # lines of the sampling grid drawn per direction
CELL_INCHES = 1.6
GRID_COLOR = "tab:red"


def _import_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("visualize needs matplotlib: pip install 'torchstn[plot]'") from None
    return Figure


def _show(image: Tensor):
    """``(C, H, W)`` -> ``(H, W)``: one channel as is, several as their maximum."""
    return image.max(dim=0).values.numpy()


@torch.no_grad()
def transformer_views(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(warped (N, C, H', W'), grid_pixels (N, H', W', 2), predicted (N,))`` for ``images``.

    ``grid_pixels`` are the sampling points in the input's pixel coordinates (pixel centres at
    integers, as matplotlib's ``imshow`` draws them). Baselines get the identity grid.
    """
    model.eval()
    pred = model(images).argmax(1)
    st = getattr(model, "transformer", None)
    if st is None:
        from .coords import base_grid

        warped = images
        grid = base_grid(tuple(images.shape[2:])).expand(images.shape[0], -1, -1, -1)
    else:
        warped = st(images)
        grid = st.grid(images)
    h, w = images.shape[2:]
    scale = torch.tensor([w, h], dtype=grid.dtype)
    # normalised (align_corners=False) -> pixel coordinates with centres at integers
    pixels = (grid + 1) * scale / 2 - 0.5
    return warped, pixels, pred


def _grid_lines(pixels: Tensor, lines: int) -> list[Tensor]:
    """Polylines ``(L, 2)`` along rows and columns of one grid ``(H', W', 2)``."""
    h, w = pixels.shape[:2]
    rows = torch.linspace(0, h - 1, min(lines, h)).round().long()
    cols = torch.linspace(0, w - 1, min(lines, w)).round().long()
    return [pixels[i] for i in rows] + [pixels[:, j] for j in cols]


def figure(model: nn.Module, images: Tensor, labels: Tensor | None = None,
           lines: int = GRID_LINES):
    """A matplotlib ``Figure``: rows of (input + grid | transformer output | prediction)."""
    Figure = _import_figure()
    warped, pixels, pred = transformer_views(model, images)
    n = images.shape[0]
    fig = Figure(figsize=(3 * CELL_INCHES, n * CELL_INCHES), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    for i in range(n):
        a_in, a_out, a_lab = axes[i]
        a_in.imshow(_show(images[i]), cmap="gray", vmin=0, vmax=1)
        for line in _grid_lines(pixels[i], lines):
            a_in.plot(line[:, 0].numpy(), line[:, 1].numpy(), color=GRID_COLOR, linewidth=0.6)
        h, w = images.shape[2:]
        a_in.set_xlim(-0.5, w - 0.5)
        a_in.set_ylim(h - 0.5, -0.5)
        a_out.imshow(_show(warped[i]), cmap="gray", vmin=0, vmax=1)
        text = str(int(pred[i]))
        color = "black"
        if labels is not None:
            right = int(pred[i]) == int(labels[i])
            color = "tab:green" if right else "tab:red"
            text += "" if right else f"\n(true {int(labels[i])})"
        a_lab.text(0.5, 0.5, text, ha="center", va="center", fontsize=20, color=color)
        for a in (a_in, a_out, a_lab):
            a.set_xticks([])
            a.set_yticks([])
        a_lab.set_frame_on(False)
    for a, title in zip(axes[0], ("input + sampling grid", "transformer output", "prediction"),
                        strict=True):
        a.set_title(title, fontsize=8)
    return fig


def save_figure(model: nn.Module, images: Tensor, path: str | os.PathLike,
                labels: Tensor | None = None, dpi: int = 120) -> Path:
    """Draw :func:`figure` and write it to ``path`` (format from the suffix: png, pdf, svg)."""
    fig = figure(model, images, labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
