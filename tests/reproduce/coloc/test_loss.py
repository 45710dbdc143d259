"""The triplet hinge and the random crops (``torchstn.reproduce.coloc.loss``)."""

from __future__ import annotations

import pytest
import torch

from torchstn.reproduce import coloc


def test_triplet_loss_known_answers():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # each view 1 from the other and 0 from its random crop: every pair pays 1 - 0 + 1
    assert coloc.triplet_loss(z, z.clone()).item() == pytest.approx(2.0)
    # random crops 3 away (9 squared): every hinge is inactive
    assert coloc.triplet_loss(z, z + torch.tensor([0.0, 3.0])).item() == 0.0
    # margin 0.5, crops 1 away: pair (0, 1) pays 1 - 1 + 0.5; the diagonal does not count
    three = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    far = three + torch.tensor([0.0, 1.0])
    # pairs (0,1), (1,0), (1,2), (2,1): 0.5 each; (0,2), (2,0): 0 - 1 + 0.5 -> 0
    assert coloc.triplet_loss(three, far, 0.5).item() == pytest.approx(4 * 0.5 / 6)


def test_triplet_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        coloc.triplet_loss(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        coloc.triplet_loss(torch.zeros(4, 3), torch.zeros(4, 2))


def test_random_crops_are_slices_at_the_drawn_places():
    x = torch.rand(5, 2, 30, 40)
    crops = coloc.random_crops(x, torch.Generator().manual_seed(7), size=8)
    g = torch.Generator().manual_seed(7)
    top = torch.randint(0, 23, (5,), generator=g)
    left = torch.randint(0, 33, (5,), generator=g)
    assert crops.shape == (5, 2, 8, 8)
    for i in range(5):
        assert torch.equal(crops[i], x[i, :, top[i]:top[i] + 8, left[i]:left[i] + 8])
