"""Fixtures of the data-layer tests: small fake MNIST directories and the real data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchstn.data import mnist

from .helpers import write_fake_mnist


@pytest.fixture
def fresh_cache():
    mnist.clear_cache()
    yield
    mnist.clear_cache()


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory) -> Path:
    return write_fake_mnist(tmp_path_factory.mktemp("fake_mnist"))


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The real MNIST files from TORCHSTN_DATA; skip when they are not there."""
    root = os.environ.get("TORCHSTN_DATA")
    if not root:
        pytest.skip("real MNIST needed: set TORCHSTN_DATA to a directory holding the MNIST files")
    missing = [n for n in mnist.RESOURCES if mnist.find_file(n, root) is None]
    if missing:
        pytest.skip(f"real MNIST needed: {missing} not found in {root} or {root}/mnist")
    return Path(root)
