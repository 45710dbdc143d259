"""Helpers of the command-line tests: subprocess runs and a tiny data source.

The training data is real MNIST (``TORCHSTN_DATA``) when it is there, else the hidden fake
source (``--fake-data``), so these tests never skip for lack of data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUBPROCESS_TIMEOUT = 120


def real_mnist_root() -> str | None:
    root = os.environ.get("TORCHSTN_DATA")
    if not root:
        return None
    from torchstn.data import mnist

    found = all(mnist.find_file(n, root) is not None for n in mnist.RESOURCES)
    return root if found else None


@pytest.fixture(scope="session")
def data_args() -> list[str]:
    """Flags that select tiny training data: first 256 real digits, or fake data."""
    root = real_mnist_root()
    return ["--data-dir", root] if root else ["--fake-data"]


def cli(*args: str, env: dict | None = None, check: bool = True,
        launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run ``torchstn ARGS`` (or ``launcher`` + the module) in a fresh process, one thread."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = (launcher or [sys.executable]) + ["-m", "torchstn.cli.main", *args]
    proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT, cwd=Path(__file__).parent)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc
