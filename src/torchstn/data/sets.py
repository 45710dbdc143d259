"""The distorted MNIST data sets: registry, fixed test sets, training batches.

Names: ``r``, ``rts``, ``p``, ``e``, ``tc``, ``addition``, ``coloc``, ``3d`` (:data:`DATASETS`).

Determinism (DATASETS.md: sample k is a pure function of (seed, k)):

* Test sets (:func:`test_set`): the 10,000 test digits in file order, one distorted copy each. The
  parameters come from :func:`torchstn.data.rng.chunked` with stream ``(name, "test")``, and each
  chunk of :data:`~torchstn.data.rng.CHUNK` samples is also *warped* whole, then sliced. So any
  ``start``/``stop`` window, in any process, gives bit-identical samples. The default seed is
  :data:`TEST_SEED` = 0; the training streams are keyed differently, so they never coincide.
* Validation sets (:func:`validation_set`): the *last* ``size`` training digits, made like a test
  set (stream ``(name, "val")``; TC clutter and addition partners drawn from those digits only).
  A run trained with ``limit = 60000 - size`` never sees them: select recipes on them, never on
  the test set.
* Training (:func:`train_batches`): every epoch draws fresh parameters for all training digits,
  sample k from stream ``(name, "train", epoch)``, so they depend on (seed, epoch, k) only. The
  order is a permutation seeded by (seed, epoch), shared by all ranks and split like
  ``DistributedSampler`` (padded by repeating the start, then rank ``r`` takes every
  ``world_size``-th index from ``r``), so every rank gets the same number of batches. Each batch is
  gathered and warped in one vectorised call, optionally in a background thread
  (:mod:`.prefetch`) so that generation overlaps the training step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_int
from .clutter import COLOC_CANVAS, TC_CANVAS, coloc_apply, coloc_params, tc_apply, tc_params
from .elastic import e_apply, e_params
from .geometric import (
    DIGIT,
    RTS_CANVAS,
    p_apply,
    p_params,
    r_apply,
    r_params,
    rts_apply,
    rts_params,
)
from .mnist import load, to_float
from .pairs import addition_apply, addition_params
from .prefetch import prefetch
from .rng import CHUNK, Params, chunked, generator
from .volume import VOLUME, volume_apply, volume_params

__all__ = [
    "TEST_SEED",
    "DatasetSpec",
    "DATASETS",
    "test_set",
    "validation_set",
    "VALIDATION_SIZE",
    "coloc_test_set",
    "coloc_set",
    "train_batches",
    "num_train_batches",
]

TEST_SEED = 0
Root = str | os.PathLike | None


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a data set."""

    name: str
    in_shape: tuple[int, int, int]  # (C, H, W); (D, H, W) for the volumes of "3d"
    num_classes: int
    description: str
    volume: bool = False  # in_shape is a volume (D, H, W), one channel


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec("r", (1, DIGIT, DIGIT), 10, "rotated by U(-90, 90) deg, 28x28"),
        DatasetSpec("rts", (1, RTS_CANVAS, RTS_CANVAS), 10,
                    "rotated U(-45, 45) deg, scaled U(0.7, 1.2), translated in a 42x42 canvas"),
        DatasetSpec("p", (1, DIGIT, DIGIT), 10,
                    "projective: scaled U(0.75, 1), corners moved by N(0, 5^2), 28x28"),
        DatasetSpec("e", (1, DIGIT, DIGIT), 10,
                    "elastic: thin plate spline, 4x4 points moved by N(0, 1.5^2), 28x28"),
        DatasetSpec("tc", (1, TC_CANVAS, TC_CANVAS), 10,
                    "translated in a 60x60 canvas with 6 clutter crops of other digits"),
        DatasetSpec("addition", (2, RTS_CANVAS, RTS_CANVAS), 19,
                    "two RTS digits, one per channel; label = their sum"),
        DatasetSpec("coloc", (1, COLOC_CANVAS, COLOC_CANVAS), 10,
                    "co-localisation: one digit at a random place in 84x84 (box target)"),
        DatasetSpec("3d", (VOLUME, VOLUME, VOLUME), 10,
                    "extruded digit turned in 3D at a random place in a 60^3 volume (D, H, W)",
                    volume=True),
    ]
}

# name -> (params(n, generator), apply(images, params)) for the one-digit warps
_WARPS = {
    "r": (r_params, r_apply),
    "rts": (rts_params, rts_apply),
    "p": (p_params, p_apply),
    "e": (e_params, e_apply),
    "3d": (volume_params, volume_apply),
}


def _check_name(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {list(DATASETS)}, got {name!r}")
    return DATASETS[name]


def _draw(name: str, n_source: int) -> Callable[[int, torch.Generator, int], Params]:
    """Parameter draw of ``name`` for samples ``first .. first+n-1`` of an ``n_source`` split."""

    def draw(n: int, g: torch.Generator, first: int) -> Params:
        if name in _WARPS:
            return _WARPS[name][0](n, g)
        if name == "tc":
            return tc_params(n, g, n_source, own=torch.arange(first, first + n))
        if name == "addition":
            return addition_params(n, g, n_source)
        return coloc_params(n, g)

    return draw


def _make(
    name: str, images: Tensor, labels: Tensor, index: Tensor, params: Params
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Samples for digit ``index`` ``(B,)`` of the uint8 split ``images``: (x, y, boxes or None)."""
    if name == "addition":
        return addition_apply(images, params), labels[params["index"]].sum(1), None
    digits, y = to_float(images[index]), labels[index]
    if name in _WARPS:
        return _WARPS[name][1](digits, params), y, None
    if name == "tc":
        return tc_apply(digits, params, images), y, None
    x, boxes = coloc_apply(digits, params)
    return x, y, boxes


def _fixed(name: str, root: Root, seed: int, start: int, stop: int | None, download: bool,
           holdout: int | None = None):
    """A fixed set: the test split, or (``holdout``) the last ``holdout`` training digits."""
    _check_name(name)
    check_int(seed, "seed", 0)
    images, labels = load("test" if holdout is None else "train", root, download=download)
    stream = "test"
    if holdout is not None:
        check_int(holdout, "size", 1)
        if holdout >= images.shape[0]:
            raise ValueError(f"size: expected fewer than the {images.shape[0]} training digits, "
                             f"got {holdout}")
        images, labels, stream = images[-holdout:], labels[-holdout:], "val"
    n = images.shape[0]
    stop = n if stop is None else stop
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop <= n):
        raise ValueError(f"start/stop: expected 0 <= start <= stop <= {n}, got {start}, {stop}")
    spec, draw = DATASETS[name], _draw(name, n)
    x = torch.empty(stop - start, *spec.in_shape)
    y = torch.empty(stop - start, dtype=torch.long)
    boxes = torch.empty(stop - start, 4) if name == "coloc" else None
    for c in range(start // CHUNK, math.ceil(stop / CHUNK)):
        lo, hi = c * CHUNK, min((c + 1) * CHUNK, n)  # each chunk is generated whole...
        params = chunked(draw, seed, (name, stream), lo, hi)
        part = _make(name, images, labels, torch.arange(lo, hi), params)
        a, b = max(lo, start), min(hi, stop)  # ...and the wanted rows copied out
        for out, values in zip((x, y, boxes), part, strict=True):
            if out is not None:
                out[a - start : b - start] = values[a - lo : b - lo]
    return x, y, boxes


def test_set(
    name: str, root: Root = None, seed: int = TEST_SEED, *, start: int = 0,
    stop: int | None = None, download: bool = False,
) -> tuple[Tensor, Tensor]:
    """The fixed test set ``name``: ``(images float32 (N, C, H, W) in [0, 1], labels int64 (N,))``.

    One distorted copy of each MNIST test digit, in file order (N = 10,000); ``start``/``stop``
    select a window (bit-identical to slicing the full set). ``addition``: 2x42x42, both digits
    drawn uniformly from the test split, label = sum of their labels. ``coloc``: 84x84 without
    clutter, label = digit class; the boxes come from :func:`coloc_test_set`.
    """
    x, y, _ = _fixed(name, root, seed, start, stop, download)
    return x, y


VALIDATION_SIZE = 10_000  # default held-out training digits: train with limit = 50,000


def validation_set(
    name: str, root: Root = None, seed: int = TEST_SEED, *, size: int = VALIDATION_SIZE,
    start: int = 0, stop: int | None = None, download: bool = False,
) -> tuple[Tensor, Tensor]:
    """A fixed validation set for model selection: the last ``size`` MNIST *training* digits,
    one distorted copy each, like :func:`test_set` (``(images, labels)``, ``start``/``stop``
    windows bit-identical to slicing). Train on the others with ``limit = 60000 - size``."""
    x, y, _ = _fixed(name, root, seed, start, stop, download, holdout=size)
    return x, y


def coloc_test_set(
    root: Root = None, seed: int = TEST_SEED, *, start: int = 0, stop: int | None = None,
    download: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`test_set` ``("coloc")`` plus the true boxes ``(N, 4)`` ``(x0, y0, x1, y1)``."""
    return _fixed("coloc", root, seed, start, stop, download)


def coloc_set(
    digit: int, n: int = 100, clutter: bool = False, seed: int = TEST_SEED, *, root: Root = None,
    split: str = "train", download: bool = False,
) -> tuple[Tensor, Tensor]:
    """A co-localisation data set: ``n`` images ``(n, 1, 84, 84)`` of class ``digit`` and their
    boxes ``(n, 4)`` ``(x0, y0, x1, y1)`` (pixels). The digits are drawn without replacement from
    ``split``; with ``clutter``, 16 crops of other digits of the split are added."""
    if not isinstance(digit, int) or not 0 <= digit <= 9:
        raise ValueError(f"digit: expected an int in 0..9, got {digit!r}")
    check_int(n, "n", 1)
    images, labels = load(split, root, download=download)
    candidates = (labels == digit).nonzero().squeeze(1)
    if candidates.numel() < n:
        raise ValueError(f"n: split {split!r} has only {candidates.numel()} digits {digit}, "
                         f"asked for {n}")
    g = generator(seed, "coloc", split, digit)  # same digits and places with or without clutter
    index = candidates[torch.randperm(candidates.numel(), generator=g)[:n]]
    params = coloc_params(n, g, clutter=clutter, n_source=images.shape[0], own=index)
    return coloc_apply(to_float(images[index]), params, images if clutter else None)


def _train_split(root: Root, limit: int | None, download: bool) -> tuple[Tensor, Tensor]:
    images, labels = load("train", root, download=download)
    if limit is not None:
        check_int(limit, "limit", 1)
        images, labels = images[:limit], labels[:limit]
    return images, labels


def _per_rank(n: int, world_size: int) -> int:
    return math.ceil(n / world_size)


def num_train_batches(
    name: str, *, root: Root = None, batch_size: int = 256, world_size: int = 1,
    limit: int | None = None, drop_last: bool = False, download: bool = False,
) -> int:
    """How many batches :func:`train_batches` yields per epoch on each rank."""
    _check_name(name)
    check_int(batch_size, "batch_size", 1)
    check_int(world_size, "world_size", 1)
    per_rank = _per_rank(_train_split(root, limit, download)[0].shape[0], world_size)
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)


def _rank_indices(n: int, seed: int, epoch: int, rank: int, world_size: int) -> Tensor:
    order = torch.randperm(n, generator=generator(seed, "order", epoch))
    total = _per_rank(n, world_size) * world_size
    order = order.repeat(math.ceil(total / n))[:total]  # pad by repeating the start
    return order[rank:total:world_size]


def train_batches(
    name: str, *, root: Root = None, batch_size: int = 256, seed: int = 0, epoch: int = 0,
    rank: int = 0, world_size: int = 1, limit: int | None = None, drop_last: bool = False,
    prefetch_depth: int = 2, generation_threads: int = 1, download: bool = False,
    worker: tuple[int, int] = (0, 1),
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of freshly distorted training batches ``(images float32, labels int64)``.

    Deterministic given ``(seed, epoch)`` (and the sharding arguments); different epochs get
    different distortions and order. ``limit`` uses only the first ``limit`` training digits (tiny
    runs). ``prefetch_depth`` batches are generated ahead in a background thread (0: none, generate
    in the caller's thread with its settings) using ``generation_threads`` intra-op threads, by
    default 1 so that the generation does not fight the training step for the cores. The data is
    loaded (and errors raised) at the call, before the first batch. ``worker = (i, k)`` yields only
    batches ``i, i + k, i + 2k, ...`` of the epoch (a ``DataLoader`` worker's share, see
    :class:`torchstn.data.TrainBatches`).
    """
    _check_name(name)
    for value, label, low in [(batch_size, "batch_size", 1), (seed, "seed", 0),
                              (epoch, "epoch", 0), (world_size, "world_size", 1),
                              (prefetch_depth, "prefetch_depth", 0),
                              (generation_threads, "generation_threads", 1)]:
        check_int(value, label, low)
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank: expected an int in 0..{world_size - 1}, got {rank!r}")
    worker_id, num_workers = worker
    if not 0 <= worker_id < num_workers:
        raise ValueError(f"worker: expected (i, k) with 0 <= i < k, got {worker!r}")
    images, labels = _train_split(root, limit, download)
    n = images.shape[0]
    params = chunked(_draw(name, n), seed, (name, "train", epoch), 0, n)
    index = _rank_indices(n, seed, epoch, rank, world_size)
    count = num_train_batches(name, root=root, batch_size=batch_size, world_size=world_size,
                              limit=limit, drop_last=drop_last)

    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for b in range(worker_id, count, num_workers):
            sel = index[b * batch_size : (b + 1) * batch_size]
            x, y, _ = _make(name, images, labels, sel, {k: v[sel] for k, v in params.items()})
            yield x, y

    if not prefetch_depth:
        return batches()
    return prefetch(_threads(batches(), generation_threads), prefetch_depth)


def _threads(items: Iterator, n: int) -> Iterator:
    """Iterate ``items`` with ``n`` intra-op threads in the iterating thread (a per-thread setting
    for torch's OpenMP backend; restored at the end)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield from items
    finally:
        torch.set_num_threads(before)


# names starting with "test" would otherwise be collected by pytest where they are imported
test_set.__test__ = False  # type: ignore[attr-defined]
coloc_test_set.__test__ = False  # type: ignore[attr-defined]
