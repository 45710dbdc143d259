"""Where training and evaluation get their images: the distorted-MNIST sets, or a fake source.

The fake source (``--fake-data``, a hidden testing option) yields small synthetic class patterns of
the data set's shape, deterministic in (seed, epoch): tests of the training machinery (resume,
multi-process) run with it when MNIST is not at hand.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

FAKE_TRAIN_SIZE = 1024
FAKE_TEST_SIZE = 512
EVAL_WINDOW = 1024  # samples per window of a fixed set (a multiple of the generation chunk)
FAKE_NOISE = 0.3  # noise amplitude over the class pattern: learnable, not trivial
FAKE_PATTERN_SEED = 12345  # the class patterns are the same for every run
FAKE_SHAPES = {  # used when the data registry is not importable
    "r": ((1, 28, 28), 10), "rts": ((1, 42, 42), 10), "p": ((1, 28, 28), 10),
    "e": ((1, 28, 28), 10), "tc": ((1, 60, 60), 10), "addition": ((2, 42, 42), 19),
}


def check_data_root(root: str | None) -> None:
    """A given data directory must exist (a clear error before any work starts)."""
    if root is not None and not os.path.isdir(root):
        raise FileNotFoundError(f"data directory {root!r} does not exist")


@dataclass
class DataSource:
    """Batches of one data set for one run (``batch_size`` per process)."""

    dataset: str
    batch_size: int
    seed: int = 0
    limit: int | None = None
    root: str | None = None
    fake: bool = False
    prefetch: int = 0  # batches generated ahead in a background thread (0: none)

    def batches(self, epoch: int, rank: int = 0, world_size: int = 1
                ) -> Iterator[tuple[Tensor, Tensor]]:
        """The (images ``(B, C, H, W)`` in [0, 1], labels ``(B,)``) of ``epoch`` for ``rank``."""
        if self.fake:
            return self._fake_batches(epoch, rank, world_size)
        from ..data import train_batches

        return iter(train_batches(self.dataset, root=self.root, batch_size=self.batch_size,
                                  seed=self.seed, epoch=epoch, rank=rank,
                                  world_size=world_size, limit=self.limit,
                                  prefetch_depth=self.prefetch))

    def info(self) -> tuple[tuple[int, int, int], int]:
        """``(in_shape, num_classes)`` of the data set."""
        if self.fake:
            return fake_shape(self.dataset)
        from ..models import dataset_info

        return dataset_info(self.dataset)

    def num_batches(self, world_size: int = 1) -> int:
        """Batches per epoch and process (every rank gets the same number)."""
        if self.fake:
            return math.ceil(math.ceil(self.train_size() / world_size) / self.batch_size)
        from ..data import num_train_batches

        return num_train_batches(self.dataset, root=self.root, batch_size=self.batch_size,
                                 world_size=world_size, limit=self.limit)

    def train_size(self) -> int:
        """Training images per epoch (fake source only)."""
        return FAKE_TRAIN_SIZE if self.limit is None else min(self.limit, FAKE_TRAIN_SIZE)

    def test_set(self, limit: int | None = None) -> tuple[Tensor, Tensor]:
        """The fixed test set (first ``limit`` samples)."""
        if self.fake:
            images, labels = self._fake_samples(FAKE_TEST_SIZE, ("test",))
        else:
            from ..data import test_set

            return test_set(self.dataset, root=self.root, stop=limit)
        return (images, labels) if limit is None else (images[:limit], labels[:limit])

    def test_windows(self, limit: int | None = None, validation: int | None = None,
                     window: int = EVAL_WINDOW) -> Iterator[tuple[Tensor, Tensor]]:
        """The test set (or, with ``validation``, the validation set of that size), first
        ``limit`` samples, as consecutive windows of ``window`` samples: bit-identical to slicing
        the whole set, without holding it (:func:`torchstn.evaluate.evaluate_windows`)."""
        if validation is not None:
            n = validation
        elif self.fake:
            n = FAKE_TEST_SIZE
        else:
            from ..data import load

            n = load("test", self.root)[1].shape[0]
        n = n if limit is None else min(n, limit)
        for start in range(0, n, window):
            stop = min(start + window, n)
            if self.fake:
                images, labels = (self.test_set(stop) if validation is None
                                  else self.validation_set(validation, stop))
                yield images[start:], labels[start:]
            elif validation is None:
                from ..data import test_set

                yield test_set(self.dataset, root=self.root, start=start, stop=stop)
            else:
                from ..data import validation_set

                yield validation_set(self.dataset, root=self.root, size=validation, start=start,
                                     stop=stop)

    def validation_set(self, size: int, limit: int | None = None) -> tuple[Tensor, Tensor]:
        """The fixed validation set: the last ``size`` training digits (first ``limit`` samples)."""
        if self.fake:
            images, labels = self._fake_samples(size, ("val",))
            return (images, labels) if limit is None else (images[:limit], labels[:limit])
        from ..data import validation_set

        return validation_set(self.dataset, root=self.root, size=size, stop=limit)

    # -- fake data ------------------------------------------------------------------------------
    def _fake_samples(self, n: int, stream: tuple) -> tuple[Tensor, Tensor]:
        (c, h, w), k = fake_shape(self.dataset)
        patterns = torch.rand(k, c, h, w, generator=torch.Generator().manual_seed(
            FAKE_PATTERN_SEED))
        g = _stable_generator(self.seed, *stream)
        labels = torch.randint(0, k, (n,), generator=g)
        noise = torch.rand(n, c, h, w, generator=g)
        images = ((1 - FAKE_NOISE) * patterns[labels] + FAKE_NOISE * noise).clamp(0, 1)
        return images, labels

    def _fake_batches(self, epoch: int, rank: int, world_size: int):
        n = self.train_size()
        images, labels = self._fake_samples(n, ("train", epoch))
        per_rank = math.ceil(n / world_size)
        # DistributedSampler-style: pad by wrapping around so every rank gets as many samples
        index = torch.arange(per_rank * world_size) % n
        mine = index[rank::world_size]
        for i in range(0, per_rank, self.batch_size):
            j = mine[i:i + self.batch_size]
            yield images[j], labels[j]


def _stable_generator(*key: object) -> torch.Generator:
    """A generator seeded by a hash of ``key`` that is the same in every process (unlike hash())."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)


def fake_shape(dataset: str) -> tuple[tuple[int, int, int], int]:
    """``(in_shape, num_classes)`` of ``dataset`` from the registry (or the built-in table)."""
    try:
        from ..models import dataset_info

        return dataset_info(dataset)
    except ImportError:
        if dataset not in FAKE_SHAPES:
            raise ValueError(f"unknown dataset {dataset!r}; expected one of: "
                             f"{', '.join(FAKE_SHAPES)}") from None
        return FAKE_SHAPES[dataset]
