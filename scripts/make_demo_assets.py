#!/usr/bin/env python3
"""Write the demo's bundled digits: src/torchstn/assets/mnist_test_256.npz.

The selection is the first 256 digits of the MNIST test split, in file order (so the demo's RTS
images are exactly the first 256 images of the fixed RTS test set). Stored as a compressed npz
of ``images`` uint8 (256, 28, 28) and ``labels`` uint8 (256,): about 50 KB.

    python scripts/make_demo_assets.py [--data-dir /path/to/mnist]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from torchstn.data import load
from torchstn.demo import DEMO_DIGITS, DIGITS_FILE

OUT = Path(__file__).resolve().parents[1] / "src" / "torchstn" / "assets" / DIGITS_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder holding the MNIST files ($TORCHSTN_DATA)")
    parser.add_argument("--out", default=str(OUT), help=f"default {OUT}")
    args = parser.parse_args(argv)
    images, labels = load("test", args.data_dir)
    images, labels = images[:DEMO_DIGITS].numpy(), labels[:DEMO_DIGITS].numpy()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images.astype(np.uint8), labels=labels.astype(np.uint8))
    print(f"wrote {out} ({out.stat().st_size} bytes): {images.shape[0]} digits, labels "
          f"{labels[:10].tolist()}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
