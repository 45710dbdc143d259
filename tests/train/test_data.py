import torch

from torchstn.train.data import DataSource


def test_fake_source_is_deterministic_and_sharded():
    src = DataSource("rts", batch_size=16, seed=3, limit=100, fake=True)
    a = list(src.batches(epoch=1))
    b = list(src.batches(epoch=1))
    assert all(torch.equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    assert len(a) == src.num_batches() == 7
    assert a[0][0].shape == (16, 1, 42, 42) and float(a[0][0].max()) <= 1
    other = list(src.batches(epoch=2))
    assert not torch.equal(a[0][0], other[0][0])
    shards = [list(src.batches(epoch=1, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == src.num_batches(2)
    n = sum(y.numel() for _, y in shards[0]) + sum(y.numel() for _, y in shards[1])
    assert n == 100


def test_fake_test_set():
    images, labels = DataSource("addition", 8, fake=True).test_set(limit=10)
    assert images.shape == (10, 2, 42, 42) and int(labels.max()) < 19


def test_test_windows_are_consecutive_slices_of_the_set():
    src = DataSource("rts", 8, fake=True)
    images, labels = src.test_set(limit=300)
    windows = list(src.test_windows(limit=300, window=128))
    assert [w[0].shape[0] for w in windows] == [128, 128, 44]
    assert torch.equal(torch.cat([w[0] for w in windows]), images)
    assert torch.equal(torch.cat([w[1] for w in windows]), labels)
    val = list(src.test_windows(validation=100, window=64))
    assert torch.equal(torch.cat([w[0] for w in val]), src.validation_set(100)[0])

