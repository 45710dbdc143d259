"""The offline demo: a bundled ST-CNN, trained on RTS-distorted MNIST, classifies 256 bundled
MNIST test digits that it distorts the way the fixed RTS test set does.

Bundled in ``torchstn/assets``: :data:`CHECKPOINT_FILE` (the affine ST-CNN of Table 1's RTS
column) and :data:`DIGITS_FILE` (the first 256 MNIST test digits, uint8, written by
``scripts/make_demo_assets.py``). The distortion uses the test set's parameters (test seed 0),
so the demo's images are exactly the first 256 images of ``torchstn.data.test_set("rts")``.
Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

ASSETS = Path(__file__).resolve().parent / "assets"
CHECKPOINT_FILE = "st-cnn-aff-rts.safetensors"
DIGITS_FILE = "mnist_test_256.npz"
DEMO_DIGITS = 256  # the first 256 MNIST test digits
DEMO_DATASET = "rts"
FIGURE_ROWS = 8
DIGIT_SIDE = 28


def bundled_checkpoint() -> Path:
    return ASSETS / CHECKPOINT_FILE


def bundled_digits() -> Path:
    return ASSETS / DIGITS_FILE


def load_digits(path: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """The bundled digits: ``(images uint8 (N, 28, 28), labels int64 (N,))``."""
    path = Path(path) if path is not None else bundled_digits()
    if not path.is_file():
        raise FileNotFoundError(f"the demo's digits {str(path)!r} are missing from this "
                                "installation; reinstall torchstn (or, in a checkout, run "
                                "scripts/make_demo_assets.py)")
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    if (images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (DIGIT_SIDE,) * 2
            or labels.shape != images.shape[:1]):
        raise ValueError(f"{str(path)!r}: expected uint8 images (N, 28, 28) and N labels, got "
                         f"{images.dtype} {images.shape} and labels {labels.shape}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def distort(digits: Tensor) -> Tensor:
    """uint8 digits ``(N, 28, 28)`` (the first N test digits) -> their images ``(N, 1, 42, 42)``
    in the fixed RTS test set (same parameters: test seed 0, stream ``("rts", "test")``)."""
    from .data.geometric import rts_apply, rts_params
    from .data.mnist import to_float
    from .data.rng import chunked
    from .data.sets import TEST_SEED

    n = digits.shape[0]
    params = chunked(lambda k, g, first: rts_params(k, g), TEST_SEED, (DEMO_DATASET, "test"), 0,
                     n)
    return rts_apply(to_float(digits), params)


def load_demo_model(checkpoint: str | os.PathLike | None = None) -> nn.Module:
    """The bundled ST-CNN (or the model at ``checkpoint``), checked to take RTS images."""
    from .io import load_model
    from .models import dataset_info

    path = Path(checkpoint) if checkpoint is not None else bundled_checkpoint()
    if checkpoint is None and not path.is_file():
        raise FileNotFoundError(
            f"the bundled checkpoint {CHECKPOINT_FILE} is missing from this installation "
            f"(looked in {str(ASSETS)!r}); pass --checkpoint PATH with a model trained on rts, "
            "e.g. runs/table1/rts/st-cnn-aff/seed0/model.safetensors")
    model = load_model(path)
    in_shape, num_classes = dataset_info(DEMO_DATASET)
    spec = model.spec
    if tuple(spec.in_shape) != tuple(in_shape) or spec.num_classes != num_classes:
        raise ValueError(f"checkpoint {str(path)!r}: expected a model for {DEMO_DATASET} images "
                         f"{tuple(in_shape)} with {num_classes} classes, got {spec.name} for "
                         f"{tuple(spec.in_shape)} with {spec.num_classes} classes")
    return model


def run_demo(checkpoint: str | os.PathLike | None = None, out: str | os.PathLike = "demo.png",
             rows: int = FIGURE_ROWS) -> dict[str, Any]:
    """Classify the bundled digits; draw the first ``rows`` of them (Figure 1 style).

    Returns ``{"model", "checkpoint", "stats"}`` (:func:`torchstn.evaluate.evaluate`) and
    ``"figure"``: the file written, or None with ``"figure_error"`` when matplotlib is missing.
    """
    from .evaluate import evaluate

    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows!r}")
    model = load_demo_model(checkpoint)
    digits, labels = load_digits()
    images = distort(digits)
    stats = evaluate(model, images, labels, batch_size=images.shape[0])
    result: dict[str, Any] = {"model": model.spec.name, "stats": stats, "figure": None,
                              "checkpoint": str(checkpoint or bundled_checkpoint())}
    try:
        from .visualize import save_figure

        result["figure"] = save_figure(model, images[:rows], out, labels[:rows])
    except ImportError as e:  # matplotlib is an optional extra
        result["figure_error"] = str(e)
    return result
