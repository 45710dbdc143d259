"""3D MNIST (``data/volume.py``): the rotation, known answers, the registered set."""

from __future__ import annotations

import math

import pytest
import torch

from torchstn import data
from torchstn.data import mnist
from torchstn.data.rng import CHUNK
from torchstn.data.volume import (
    BOX,
    MAX_ANGLE,
    SLAB_DEPTH,
    VOLUME,
    rotation_matrix,
    volume,
    volume_apply,
    volume_params,
)


def _digits(n: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g)


def test_rotation_matrix_is_a_rotation_with_the_documented_axes():
    angles = (torch.rand(50, 3, generator=torch.Generator().manual_seed(1)) - 0.5) * 6
    r = rotation_matrix(angles)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(r), torch.ones(50), atol=1e-6)
    q = math.pi / 2  # a quarter turn about z takes x to y; about x takes y to z; about y z to x
    x, y, z = torch.eye(3)
    assert torch.allclose(rotation_matrix(torch.tensor([[0, 0, q]]))[0] @ x, y, atol=1e-6)
    assert torch.allclose(rotation_matrix(torch.tensor([[q, 0, 0]]))[0] @ y, z, atol=1e-6)
    assert torch.allclose(rotation_matrix(torch.tensor([[0, q, 0]]))[0] @ z, x, atol=1e-6)


def test_unturned_digit_is_an_extruded_slab_at_its_corner():
    digits = _digits()
    corner = torch.tensor([[0, 0, 0], [VOLUME - BOX, VOLUME - BOX, VOLUME - BOX], [5, 9, 2]])
    v = volume_apply(digits, {"angles": torch.zeros(3, 3), "corner": corner})
    assert v.shape == (3, VOLUME, VOLUME, VOLUME)
    off = (BOX - 28) // 2
    for i, (x, y, z) in enumerate(corner.tolist()):
        front = v[i].amax(0)  # the maximum along depth is the digit, where it was put
        inside = front[y + off : y + off + 28, x + off : x + off + 28]
        assert torch.allclose(inside, digits[i, 0], atol=1e-5)
        assert front.sum() == pytest.approx(digits[i].sum().item(), rel=1e-5)
        depth = v[i].sum((1, 2)).nonzero().squeeze(1)  # SLAB_DEPTH slices, centred in the box
        zc = z + BOX // 2
        assert depth.tolist() == list(range(zc - SLAB_DEPTH // 2, zc + SLAB_DEPTH // 2))
    assert torch.allclose(v.sum((1, 2, 3)), SLAB_DEPTH * digits.sum((1, 2, 3)), rtol=1e-5)


def test_quarter_turn_about_x_stands_the_digit_along_depth():
    digits = _digits(1)
    params = {"angles": torch.tensor([[math.pi / 2, 0, 0]]), "corner": torch.zeros(1, 3).long()}
    v = volume_apply(digits, params)[0]
    off = (BOX - 28) // 2
    # rows of the digit (y) now run along depth (z): seen from above (max along H) it is upright
    top = v.amax(1)[off : off + 28, off : off + 28]
    assert torch.allclose(top, digits[0, 0], atol=1e-4)


def test_parameters_stay_in_their_ranges_and_are_deterministic():
    p = volume_params(4000, torch.Generator().manual_seed(3))
    assert p["angles"].abs().max() <= MAX_ANGLE and p["angles"].abs().max() > 0.99 * MAX_ANGLE
    assert p["corner"].min() == 0 and p["corner"].max() == VOLUME - BOX
    again = volume_params(4000, torch.Generator().manual_seed(3))
    assert all(torch.equal(p[k], again[k]) for k in p)
    assert BOX >= 2 * math.hypot(14, 14, SLAB_DEPTH / 2)  # every turn of the slab fits


def test_uint8_and_float_digits_give_the_same_volumes():
    images = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    a = volume(images, torch.Generator().manual_seed(0))
    b = volume(images.unsqueeze(1).float() / 255, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_registered_set_windows_are_slices_and_labels_are_the_digits(fake_root):
    spec = data.DATASETS["3d"]
    assert spec.volume and spec.in_shape == (VOLUME, VOLUME, VOLUME) and spec.num_classes == 10
    start, stop = CHUNK - 3, CHUNK + 2
    whole, labels = data.test_set("3d", fake_root, stop=stop)
    part, part_labels = data.test_set("3d", fake_root, start=start, stop=stop)
    assert torch.equal(part, whole[start:]) and torch.equal(part_labels, labels[start:])
    assert torch.equal(labels, mnist.load("test", fake_root)[1][:stop])
    x, y = next(iter(data.train_batches("3d", root=fake_root, batch_size=4, limit=8,
                                        prefetch_depth=0)))
    assert x.shape == (4, VOLUME, VOLUME, VOLUME) and y.shape == (4,)
