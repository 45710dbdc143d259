"""Data sets: registry, fixed test sets (bit-identical per sample whatever the window or
process), training batches (deterministic per (seed, epoch), sharded), and the real MNIST sets."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from torchstn import data
from torchstn.data import mnist, sets
from torchstn.data.rng import CHUNK, chunked

from .helpers import FAKE_TEST, FAKE_TRAIN

NAMES = ["r", "rts", "p", "e", "tc", "addition", "coloc"]  # 2D; "3d": test_volume.py


def _digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def _drawn(name: str, n: int, seed: int = data.TEST_SEED, stream=("test",)):
    return chunked(sets._draw(name, n), seed, (name, *stream), 0, n)


def test_registry():
    assert list(data.DATASETS) == [*NAMES, "3d"]
    assert data.DATASETS["addition"].num_classes == 19
    assert data.DATASETS["addition"].in_shape == (2, 42, 42)
    assert all(s.num_classes == 10 for n, s in data.DATASETS.items() if n != "addition")
    with pytest.raises(ValueError, match="expected one of"):
        data.test_set("rotated")


@pytest.mark.parametrize("name", NAMES)
def test_test_set_shapes_labels_and_windows(fake_root, name):
    images, labels = data.test_set(name, fake_root)
    assert images.shape == (FAKE_TEST, *data.DATASETS[name].in_shape)
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1
    truth = mnist.load("test", fake_root)[1]
    if name == "addition":
        assert torch.equal(labels, truth[_drawn(name, FAKE_TEST)["index"]].sum(1))
    else:
        assert torch.equal(labels, truth)
    # any window, across chunk boundaries, is the same bits as slicing the whole set
    for start, stop in [(100, 650), (CHUNK - 3, CHUNK + 2), (FAKE_TEST - 1, FAKE_TEST), (7, 7)]:
        part, part_labels = data.test_set(name, fake_root, start=start, stop=stop)
        assert torch.equal(part, images[start:stop]) and torch.equal(part_labels,
                                                                     labels[start:stop])


def test_seed_changes_the_set_and_default_is_documented(fake_root):
    a, _ = data.test_set("rts", fake_root, stop=50)
    assert torch.equal(a, data.test_set("rts", fake_root, seed=data.TEST_SEED, stop=50)[0])
    assert not torch.equal(a, data.test_set("rts", fake_root, seed=1, stop=50)[0])
    with pytest.raises(ValueError, match="start/stop"):
        data.test_set("rts", fake_root, start=5, stop=FAKE_TEST + 1)


_SCRIPT = """
import hashlib, json, sys, torch
from torchstn import data
torch.set_num_threads(1)
out = {}
for name in %r:
    x, y = data.test_set(name, sys.argv[1], start=500, stop=600)
    h = hashlib.sha256(x.contiguous().numpy().tobytes() + y.numpy().tobytes())
    out[name] = h.hexdigest()
print(json.dumps(out))
"""


def test_bit_identical_in_another_process(fake_root):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", _SCRIPT % NAMES, str(fake_root)],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    theirs = json.loads(run.stdout)
    for name in NAMES:
        x, y = data.test_set(name, fake_root)  # the whole set here, sliced
        assert theirs[name] == _digest(x[500:600], y[500:600]), name


def test_coloc_test_set_boxes(fake_root):
    images, labels, boxes = data.coloc_test_set(fake_root, stop=40)
    assert torch.equal(images, data.test_set("coloc", fake_root, stop=40)[0])
    for k in range(40):
        x0, y0, x1, y1 = boxes[k].int().tolist()
        inside = images[k, 0, y0:y1, x0:x1].sum()
        assert torch.isclose(inside, images[k].sum())


def test_coloc_set(fake_root):
    images, boxes = data.coloc_set(3, n=20, root=fake_root)
    assert images.shape == (20, 1, 84, 84) and boxes.shape == (20, 4)
    cluttered, boxes2 = data.coloc_set(3, n=20, clutter=True, root=fake_root)
    assert torch.equal(boxes, boxes2)  # same digits and places, plus clutter
    assert (cluttered.sum((1, 2, 3)) > images.sum((1, 2, 3))).all()
    with pytest.raises(ValueError, match="only"):
        data.coloc_set(3, n=FAKE_TRAIN, root=fake_root)
    with pytest.raises(ValueError, match="digit"):
        data.coloc_set(10, root=fake_root)


def _epoch(name, root, **kw):
    xs, ys = zip(*data.train_batches(name, root=root, **kw), strict=True)
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("name", ["rts", "e", "tc", "addition"])
def test_train_batches_deterministic_fresh_and_batch_size_free(fake_root, name):
    x, y = _epoch(name, fake_root, batch_size=64, seed=3, epoch=0)
    assert x.shape == (FAKE_TRAIN, *data.DATASETS[name].in_shape) and y.dtype == torch.int64
    x2, y2 = _epoch(name, fake_root, batch_size=64, seed=3, epoch=0, prefetch_depth=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    # sample k depends on (seed, epoch, k) only: another batch size gives the same samples
    x3, y3 = _epoch(name, fake_root, batch_size=100, seed=3, epoch=0)
    torch.testing.assert_close(x3, x, atol=1e-6, rtol=0)
    assert torch.equal(y3, y)
    assert not torch.equal(_epoch(name, fake_root, batch_size=64, seed=3, epoch=1)[0], x)
    assert not torch.equal(_epoch(name, fake_root, batch_size=64, seed=4, epoch=0)[0], x)


def test_background_generation_leaves_the_callers_threads_alone(fake_root):
    before = torch.get_num_threads()
    for _ in data.train_batches("e", root=fake_root, batch_size=64, generation_threads=1):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_train_labels_follow_the_permutation(fake_root):
    _, y = _epoch("r", fake_root, batch_size=50, seed=0, epoch=2)
    order = sets._rank_indices(FAKE_TRAIN, 0, 2, 0, 1)
    assert torch.equal(y, mnist.load("train", fake_root)[1][order])
    assert sorted(order.tolist()) == list(range(FAKE_TRAIN))


def test_sharding_like_distributed_sampler(fake_root):
    world = 7  # 300 digits: padded to 301
    per_rank = math.ceil(FAKE_TRAIN / world)
    counts = set()
    seen = []
    for rank in range(world):
        batches = list(data.train_batches("p", root=fake_root, batch_size=16, rank=rank,
                                          world_size=world, prefetch_depth=0))
        counts.add(len(batches))
        assert sum(len(b[1]) for b in batches) == per_rank
        seen.append(sets._rank_indices(FAKE_TRAIN, 0, 0, rank, world))
    assert counts == {data.num_train_batches("p", root=fake_root, batch_size=16,
                                             world_size=world)}
    assert set(torch.cat(seen).tolist()) == set(range(FAKE_TRAIN))


def test_limit_and_drop_last(fake_root):
    assert data.num_train_batches("r", root=fake_root, batch_size=16, limit=50) == 4
    assert data.num_train_batches("r", root=fake_root, batch_size=16, limit=50,
                                  drop_last=True) == 3
    x, y = _epoch("tc", fake_root, batch_size=16, limit=50)
    assert x.shape[0] == 50 and y.max() <= 9
    assert len(list(data.train_batches("r", root=fake_root, batch_size=16, limit=50,
                                       drop_last=True))) == 3


def test_training_clutter_comes_from_other_digits(fake_root):
    p = chunked(sets._draw("tc", FAKE_TRAIN), 0, ("tc", "train", 0), 0, FAKE_TRAIN)
    assert (p["index"] != torch.arange(FAKE_TRAIN)[:, None]).all()


@pytest.mark.parametrize("kw,match", [
    ({"batch_size": 0}, "batch_size"), ({"rank": 2, "world_size": 2}, "rank"),
    ({"epoch": -1}, "epoch"), ({"limit": 0}, "limit"),
])
def test_train_batches_validates(fake_root, kw, match):
    with pytest.raises(ValueError, match=match):
        data.train_batches("r", root=fake_root, **kw)


def test_missing_data_raises_at_the_call(tmp_path):
    with pytest.raises(FileNotFoundError, match="torchstn data download"):
        data.train_batches("r", root=tmp_path)


# ---- real MNIST (TORCHSTN_DATA) -----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_real_test_sets(real_root, name):
    images, labels = data.test_set(name, real_root)
    assert images.shape == (10_000, *data.DATASETS[name].in_shape)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    truth = mnist.load("test", real_root)[1]
    if name == "addition":
        expected = truth[_drawn(name, 10_000)["index"]].sum(1)
        assert labels.min() >= 0 and labels.max() <= 18
    else:
        expected = truth
    assert torch.equal(labels, expected)


def test_real_training_batch(real_root):
    batches = data.train_batches("rts", root=real_root, batch_size=256, prefetch_depth=0)
    x, y = next(batches)
    assert x.shape == (256, 1, 42, 42) and y.shape == (256,)
    assert data.num_train_batches("rts", root=real_root) == math.ceil(60_000 / 256)


@pytest.mark.parametrize("name", ["rts", "tc", "addition"])
def test_validation_set_holds_out_the_last_training_digits(fake_root, name):
    size = FAKE_TRAIN - 100
    images, labels = data.validation_set(name, fake_root, size=size)
    assert images.shape == (size, *data.DATASETS[name].in_shape)
    train_images, train_labels = mnist.load("train", fake_root)
    if name == "addition":  # partners drawn among the held-out digits only
        index = chunked(sets._draw(name, size), data.TEST_SEED, (name, "val"), 0, size)["index"]
        assert int(index.max()) < size
        assert torch.equal(labels, train_labels[-size:][index].sum(1))
    else:
        assert torch.equal(labels, train_labels[-size:])
    # a window is the same bits as slicing; it differs from the test set's stream
    part, _ = data.validation_set(name, fake_root, size=size, start=40, stop=90)
    assert torch.equal(part, images[40:90])
    assert not torch.equal(images[:20], data.test_set(name, fake_root, stop=20)[0])
    if name == "rts":  # each sample's ink is its own held-out digit's (RTS keeps it inside)
        mass = images.sum((1, 2, 3))
        digits = mnist.to_float(train_images[-size:]).flatten(1).sum(1)
        ratio = mass / digits
        assert ratio.min() > 0.3 and ratio.max() < 1.6  # s^2 in [0.49, 1.44], plus blur


def test_validation_set_validates(fake_root):
    with pytest.raises(ValueError, match="size"):
        data.validation_set("r", fake_root, size=0)
    with pytest.raises(ValueError, match="fewer than"):
        data.validation_set("r", fake_root, size=FAKE_TRAIN)


def test_data_source_windows_match_the_fixed_sets(fake_root):
    from torchstn.train.data import DataSource

    src = DataSource("p", 8, root=str(fake_root))
    windows = list(src.test_windows(limit=600, window=CHUNK))
    assert [w[0].shape[0] for w in windows] == [CHUNK, 600 - CHUNK]
    assert torch.equal(torch.cat([w[0] for w in windows]), data.test_set("p", fake_root,
                                                                         stop=600)[0])
    val = list(src.test_windows(validation=100, window=64))
    assert torch.equal(torch.cat([w[1] for w in val]),
                       data.validation_set("p", fake_root, size=100)[1])
