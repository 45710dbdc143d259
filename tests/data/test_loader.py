"""TrainBatches: the training stream through torch's DataLoader, with and without workers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from torchstn.data import TrainBatches, num_train_batches, train_batches


def _kwargs(fake_root):
    return {"root": fake_root, "batch_size": 16, "seed": 3, "prefetch_depth": 0}


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_yields_exactly_the_train_batches(fake_root, workers):
    kw = _kwargs(fake_root)
    expected = list(train_batches("rts", epoch=1, **kw))
    dataset = TrainBatches("rts", epoch=1, **kw)
    got = list(DataLoader(dataset, batch_size=None, num_workers=workers))
    assert len(got) == len(expected) == len(dataset) == num_train_batches(
        "rts", root=fake_root, batch_size=16)
    for (x, y), (ex, ey) in zip(got, expected, strict=True):
        assert torch.equal(x, ex) and torch.equal(y, ey)


def test_set_epoch_gives_fresh_distortions(fake_root):
    dataset = TrainBatches("rts", **_kwargs(fake_root))
    first = next(iter(dataset))[0]
    dataset.set_epoch(1)
    assert not torch.equal(next(iter(dataset))[0], first)


def test_bad_worker_share_raises(fake_root):
    with pytest.raises(ValueError, match=r"worker: expected \(i, k\)"):
        train_batches("rts", worker=(2, 2), **_kwargs(fake_root))
