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
BRANCH_COLORS = ("tab:red", "tab:cyan", "tab:orange", "tab:green")  # parallel transformers


def _import_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("visualize needs matplotlib: pip install 'torchstn[plot]'") from None
    return Figure


def _show(image: Tensor):
    """``(C, H, W)`` -> ``(H, W)``: one channel as is, several as their maximum."""
    return image.max(dim=0).values.numpy()


def _pixels(grid: Tensor, size: tuple[int, int]) -> Tensor:
    """Normalised grid (align_corners=False) -> pixel coordinates with centres at integers."""
    h, w = size
    scale = torch.tensor([w, h], dtype=grid.dtype)
    return (grid + 1) * scale / 2 - 0.5


@torch.no_grad()
def branch_views(model: nn.Module, images: Tensor
                 ) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Per transformer branch: ``([warped (N, C, H', W')], [grid_pixels (N, H', W', 2)],
    predicted (N,))``; one branch for a single transformer or a baseline (the identity grid),
    one per branch of a :class:`~torchstn.modules.ParallelTransformers` (the paper's 2xST)."""
    from .modules import ParallelTransformers

    model.eval()
    pred = model(images).argmax(1)
    st = getattr(model, "transformer", None)
    size = tuple(images.shape[2:])
    if st is None:
        from .coords import base_grid

        grid = base_grid(size).expand(images.shape[0], -1, -1, -1)
        return [images], [_pixels(grid, size)], pred
    branches = list(st.branches) if isinstance(st, ParallelTransformers) else [st]
    return ([b(images) for b in branches], [_pixels(b.grid(images), size) for b in branches],
            pred)


def transformer_views(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(warped (N, C, H', W'), grid_pixels (N, H', W', 2), predicted (N,))`` for ``images``.

    ``grid_pixels`` are the sampling points in the input's pixel coordinates (pixel centres at
    integers, as matplotlib's ``imshow`` draws them). Baselines get the identity grid. Models
    with parallel transformers: see :func:`branch_views`.
    """
    warped, pixels, pred = branch_views(model, images)
    if len(warped) != 1:
        raise ValueError(f"transformer_views: the model has {len(warped)} parallel "
                         "transformers; use branch_views")
    return warped[0], pixels[0], pred


def _grid_lines(pixels: Tensor, lines: int) -> list[Tensor]:
    """Polylines ``(L, 2)`` along rows and columns of one grid ``(H', W', 2)``."""
    h, w = pixels.shape[:2]
    rows = torch.linspace(0, h - 1, min(lines, h)).round().long()
    cols = torch.linspace(0, w - 1, min(lines, w)).round().long()
    return [pixels[i] for i in rows] + [pixels[:, j] for j in cols]


def figure(model: nn.Module, images: Tensor, labels: Tensor | None = None,
           lines: int = GRID_LINES):
    """A matplotlib ``Figure``: rows of (input + sampling grid | transformer output | prediction);
    with parallel transformers, every branch's grid in its own colour and one output column per
    branch. Several channels are shown as their maximum."""
    Figure = _import_figure()
    warped, pixels, pred = branch_views(model, images)
    n, k = images.shape[0], len(warped)
    fig = Figure(figsize=((k + 2) * CELL_INCHES, n * CELL_INCHES), layout="constrained")
    axes = fig.subplots(n, k + 2, squeeze=False)
    colors = [GRID_COLOR] if k == 1 else BRANCH_COLORS
    h, w = images.shape[2:]
    for i in range(n):
        a_in, *a_outs, a_lab = axes[i]
        a_in.imshow(_show(images[i]), cmap="gray", vmin=0, vmax=1)
        for b in range(k):
            for line in _grid_lines(pixels[b][i], lines):
                a_in.plot(line[:, 0].numpy(), line[:, 1].numpy(),
                          color=colors[b % len(colors)], linewidth=0.6)
        a_in.set_xlim(-0.5, w - 0.5)
        a_in.set_ylim(h - 0.5, -0.5)
        for b, a_out in enumerate(a_outs):
            a_out.imshow(_show(warped[b][i]), cmap="gray", vmin=0, vmax=1)
            if k > 1:
                for side in a_out.spines.values():
                    side.set_edgecolor(colors[b % len(colors)])
                    side.set_linewidth(2)
        _prediction(axes[i], int(pred[i]), None if labels is None else int(labels[i]))
    outs = (["transformer output"] if k == 1
            else [f"transformer {b + 1} output" for b in range(k)])
    for a, title in zip(axes[0], ("input + sampling grid", *outs, "prediction"), strict=True):
        a.set_title(title, fontsize=8)
    return fig


def _prediction(row, pred: int, label: int | None) -> None:
    """Write the prediction in the last axes of ``row`` (green if right, red with the truth if
    wrong) and strip the ticks of the row."""
    text, color = str(pred), "black"
    if label is not None:
        right = pred == label
        color = "tab:green" if right else "tab:red"
        text += "" if right else f"\n(true {label})"
    row[-1].text(0.5, 0.5, text, ha="center", va="center", fontsize=20, color=color)
    for a in row:
        a.set_xticks([])
        a.set_yticks([])
    row[-1].set_frame_on(False)


@torch.no_grad()
def volume_views(model: nn.Module, volumes: Tensor) -> tuple[list[Tensor], Tensor]:
    """A volume model's views of ``volumes`` ``(N, D, H, W)``: ``[front, side, out_front,
    out_side]`` (each ``(N, H', W')``: the maximum of the input and of the transformer's output
    volume along depth and along width) and the predictions ``(N,)``."""
    model.eval()
    pred = model(volumes).argmax(1)
    out = model.transformer.volume(volumes)[:, 0]  # (N, D', H', W')
    # the side view: maximum along width, depth running left to right, (N, H, D)
    return ([volumes.amax(1), volumes.amax(3).transpose(1, 2), out.amax(1),
             out.amax(3).transpose(1, 2)], pred)


def volume_figure(model: nn.Module, volumes: Tensor, labels: Tensor | None = None):
    """Rows of (input from the front | from the side | the transformer's output from the front,
    which the classifier reads | from the side | prediction) for a volume model (``st3d-cnn``;
    ``proj-cnn`` shows its plain pooled view)."""
    Figure = _import_figure()
    views, pred = volume_views(model, volumes)
    n = volumes.shape[0]
    fig = Figure(figsize=(5 * CELL_INCHES, n * CELL_INCHES), layout="constrained")
    axes = fig.subplots(n, 5, squeeze=False)
    for i in range(n):
        for a, view in zip(axes[i], views, strict=False):
            a.imshow(view[i].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        _prediction(axes[i], int(pred[i]), None if labels is None else int(labels[i]))
    titles = ("input: front", "input: side", "output: front (read by the CNN)",
              "output: side", "prediction")
    for a, title in zip(axes[0], titles, strict=True):
        a.set_title(title, fontsize=7)
    return fig


def save_figure(model: nn.Module, images: Tensor, path: str | os.PathLike,
                labels: Tensor | None = None, dpi: int = 120) -> Path:
    """Draw :func:`figure` (:func:`volume_figure` for a volume model) and write it to ``path``
    (format from the suffix: png, pdf, svg)."""
    from .models.volume import VolumeView

    volume = isinstance(getattr(model, "transformer", None), VolumeView)
    fig = (volume_figure if volume else figure)(model, images, labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
