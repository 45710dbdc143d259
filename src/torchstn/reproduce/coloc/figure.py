"""The figure: the first images of each class, with and without clutter, the true box in green
and the transformer's in red."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

FIGURE_NAME = "coloc.png"
FIGURE_IMAGES = 3  # images per class and setting in the figure


def write_figure(rows: list[dict[str, Any]], path: Path, root: str | None = None,
                 log: TextIO | None = None) -> Path | None:
    """Rows of classes, the first images of each with the true and predicted boxes."""
    log = log or sys.stderr
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError as e:
        print(f"torchstn reproduce: no figure: {e}", file=log)
        return None
    from ...data import coloc_set

    digits = sorted({r["digit"] for r in rows})
    cols = 2 * FIGURE_IMAGES
    fig, axes = plt.subplots(len(digits), cols, figsize=(1.3 * cols, 1.3 * len(digits)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r in rows:
        images, boxes = coloc_set(r["digit"], r["images"], clutter=r["clutter"], root=root,
                                  split=r.get("split", "train"))
        for k, pred in enumerate(r["boxes"]):
            ax = axes[digits.index(r["digit"]), k + FIGURE_IMAGES * r["clutter"]]
            ax.imshow(images[k, 0], cmap="gray", vmin=0, vmax=1)
            for (x0, y0, x1, y1), colour in ((boxes[k].tolist(), "lime"), (pred, "red")):
                # pixel i covers [i - 0.5, i + 0.5] in imshow's coordinates
                ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                       edgecolor=colour, linewidth=1))
    fig.tight_layout(pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"torchstn reproduce: wrote {path}", file=log)
    return path
