"""MNIST: where the files live, how to download and verify them, and loading them once per process.

Data directory, first that applies: the explicit ``root`` argument (``--data-dir`` on the command
line), the ``TORCHSTN_DATA`` environment variable, ``$XDG_CACHE_HOME/torchstn``,
``~/.cache/torchstn``.
The four files (gzipped, as distributed, or decompressed) are accepted in ``<dir>/`` or
``<dir>/mnist/``; :func:`download` writes to ``<dir>/mnist/``.

Checksums: the mirrors serve the classic gz files whose md5s are torchvision's (``md5``). Re-packed
copies (same content, different gzip header) are accepted too by the md5 of their decompressed
content (``raw_md5``), which is what actually matters. A download is streamed to a hidden temporary
file in the target directory and moved into place with ``os.replace`` only after its md5 matched, so
a final name never holds a partial or corrupt file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .idx import read_idx

__all__ = [
    "MIRRORS",
    "RESOURCES",
    "SPLITS",
    "DownloadError",
    "data_dir",
    "find_file",
    "download",
    "load",
    "load_float",
    "clear_cache",
]

# the public mirrors, tried in turn (the same list as torchvision's)
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
IMAGE_SIZE = 28
MAX_PIXEL = 255.0
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Resource:
    name: str  # the gz name on the mirrors
    md5: str  # md5 of the gz file as served (torchvision's)
    raw_md5: str  # md5 of the decompressed IDX content


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in [
        Resource("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "6bbc9ace898e44ae57da46a324031adb"),
        Resource("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                 "a25bea736e30d166cdddb491f175f624"),
        Resource("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                 "2646ac647ad5339dbf082846283269ea"),
        Resource("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                 "27ae3e4e09519cfbb04c329615203637"),
    ]
}
# split -> (images file, labels file, number of samples)
SPLITS: dict[str, tuple[str, str, int]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected checksum."""


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data directory: ``root``, else ``$TORCHSTN_DATA``, else the per-user cache."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("TORCHSTN_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "torchstn"


def _candidates(name: str, root: str | os.PathLike | None) -> list[Path]:
    base = data_dir(root)
    plain = name[: -len(".gz")]
    return [d / n for d in (base, base / "mnist") for n in (name, plain)]


def find_file(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """The first existing copy of MNIST file ``name`` (gz or decompressed) in the data dir."""
    return next((p for p in _candidates(name, root) if p.is_file()), None)


def _md5(chunks) -> str:
    h = hashlib.md5()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _file_chunks(path: Path, opener=open):
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            yield chunk


def verify(path: Path, resource: Resource) -> bool:
    """Whether ``path`` holds ``resource``: the served gz, a re-packed gz or the plain file."""
    try:
        if _md5(_file_chunks(path)) in (resource.md5, resource.raw_md5):
            return True
        with open(path, "rb") as f:
            is_gzip = f.read(2) == b"\x1f\x8b"
        return is_gzip and _md5(_file_chunks(path, gzip.open)) == resource.raw_md5
    except (OSError, EOFError):
        return False


def _fetch(url: str, target: Path, md5: str, timeout: float) -> None:
    """Stream ``url`` to ``target`` through a temporary file; raise unless its md5 is ``md5``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(_CHUNK_BYTES):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != md5:
            raise DownloadError(f"{url}: md5 {h.hexdigest()} does not match the expected {md5}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download(
    root: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    md5s: dict[str, str] | None = None,
    timeout: float = _TIMEOUT_S,
    verbose: bool = False,
) -> list[Path]:
    """Download the four MNIST files into ``<data dir>/mnist/``, skipping those already verified.

    Args:
        root: data directory (default: see :func:`data_dir`).
        mirrors: base URLs tried in turn (default: :data:`MIRRORS`).
        md5s: expected md5 per file name, overriding :data:`RESOURCES` (for tests and new mirrors).
        timeout: seconds per connection attempt.
        verbose: print one line per file.

    Returns:
        The paths of the four files.

    Raises:
        DownloadError: a file could not be fetched with the right checksum from any mirror
            (the message lists every mirror's failure).
    """
    mirrors = list(MIRRORS if mirrors is None else mirrors)
    target_dir = data_dir(root) / "mnist"
    paths = []
    for name, res in RESOURCES.items():
        if md5s and name in md5s:
            res = Resource(name, md5s[name], md5s[name])
        existing = [p for p in _candidates(name, root) if p.is_file() and verify(p, res)]
        if existing:
            paths.append(existing[0])
            if verbose:
                print(f"{existing[0]}: present, checksum ok")
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / name
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch(url, target, res.md5, timeout)
                break
            except (OSError, urllib.error.URLError, DownloadError) as e:
                errors.append(f"{url}: {e}")
        else:
            raise DownloadError(f"could not download {name}; tried:\n  " + "\n  ".join(errors))
        if verbose:
            print(f"{target}: downloaded, checksum ok")
        paths.append(target)
    return paths


_download_all = download  # load() has a parameter of the same name


def _missing_message(name: str, root, extra: str = "") -> str:
    looked = ", ".join(str(p.parent) for p in _candidates(name, root)[::2])
    return (
        f"MNIST file {name} not found (looked in {looked}).{extra} Provide the four MNIST files "
        "by setting TORCHSTN_DATA=<dir>, passing --data-dir <dir> (root= in Python), or running "
        "`torchstn data download [--data-dir <dir>]`."
    )


_CACHE: dict[tuple[str, str], tuple[Tensor, Tensor]] = {}


def load(
    split: str, root: str | os.PathLike | None = None, *, download: bool = False
) -> tuple[Tensor, Tensor]:
    """MNIST ``split`` (``"train"``/``"test"``): ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Decoded once per process and data directory (later calls return the same tensors: do not
    modify them in place). With ``download=True`` missing files are fetched first.

    Raises:
        FileNotFoundError: a file is missing (and could not be downloaded); the message says where
            it was looked for and how to provide it.
        IDXError: a file is damaged.
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    image_name, label_name, _ = SPLITS[split]
    paths = [find_file(image_name, root), find_file(label_name, root)]
    if None in paths and download:
        try:
            _download_all(root)
        except DownloadError as e:
            missing = image_name if paths[0] is None else label_name
            message = _missing_message(missing, root, f" Download failed: {e}.")
            raise FileNotFoundError(message) from e
        paths = [find_file(image_name, root), find_file(label_name, root)]
    for name, path in zip((image_name, label_name), paths, strict=True):
        if path is None:
            raise FileNotFoundError(_missing_message(name, root))
    key = (str(paths[0].resolve()), str(paths[1].resolve()))
    if key not in _CACHE:
        # any count is accepted (small stand-in files for tests); the pair must agree
        images = read_idx(paths[0], shape=(None, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        labels = read_idx(paths[1], shape=(len(images),), dtype=np.uint8)
        _CACHE[key] = (torch.from_numpy(images), torch.from_numpy(labels).long())
    return _CACHE[key]


def load_float(split: str, root: str | os.PathLike | None = None, **kw) -> tuple[Tensor, Tensor]:
    """:func:`load` with images as float32 ``(N, 1, 28, 28)`` in [0, 1] (value / 255)."""
    images, labels = load(split, root, **kw)
    return to_float(images), labels


def to_float(images: Tensor) -> Tensor:
    """uint8 ``(N, 28, 28)`` -> float32 ``(N, 1, 28, 28)`` in [0, 1]."""
    return images.unsqueeze(1).float().div_(MAX_PIXEL)


def as_float(images: Tensor) -> Tensor:
    """:func:`to_float` for uint8 digits; float ``(N, 1, 28, 28)`` digits are returned as they
    are (the distortions accept either)."""
    return to_float(images) if images.dtype == torch.uint8 else images


def clear_cache() -> None:
    """Forget the decoded arrays (tests; memory)."""
    _CACHE.clear()
