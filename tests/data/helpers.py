"""Helpers of the data-layer tests: a small fake MNIST directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from torchstn.data import mnist
from torchstn.data.idx import write_idx

FAKE_TEST = 700  # more than one generation chunk (512), so chunk boundaries are exercised
FAKE_TRAIN = 300


def write_fake_mnist(root: Path, n_train: int = FAKE_TRAIN, n_test: int = FAKE_TEST) -> Path:
    """Write the four MNIST files (gz) with random digits and cycling labels into ``root/mnist``."""
    rng = np.random.default_rng(1234)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in [("train", n_train), ("test", n_test)]:
        image_name, label_name, _ = mnist.SPLITS[split]
        write_idx(folder / image_name, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / label_name, (np.arange(n) % 10).astype(np.uint8))
    return root
