"""Piecewise affine: barycentric interpolation over the triangulated control grid."""

import pytest
import torch
import torch.nn.functional as F

from torchstn.coords import base_grid
from torchstn.transforms import PiecewiseAffine, control_points, piecewise_affine_weights

A = torch.tensor([[1.1, 0.2, 0.05], [-0.15, 0.9, 0.1]])


@pytest.mark.parametrize("grid_size", [2, 3, 4, 6])
@pytest.mark.parametrize("size", [(9, 11), (4, 4)])
def test_affine_displacements_give_the_affine_grid(grid_size, size):
    t = PiecewiseAffine(grid_size)
    c = t.control_points()
    d = (c @ A[:, :2].T + A[:, 2] - c).reshape(1, -1)
    ref = F.affine_grid(A[None], (1, 1, *size), align_corners=False)
    assert (t.grid(d, size) - ref).abs().max() < 1e-5


def test_one_cell_by_hand():
    # K = 2: one cell split along the diagonal from (-1, -1) to (1, 1). Moving only the
    # bottom-right corner by (delta, 0): on the upper-right triangle (x >= y) its barycentric
    # weight is v = (y + 1) / 2, on the lower-left one u = (x + 1) / 2, i.e. min(u, v).
    delta = 0.3
    params = torch.zeros(1, 8, dtype=torch.float64)
    params[0, 6] = delta  # point k = 3 (row 1, column 1), x displacement
    grid = PiecewiseAffine(2).grid(params, (5, 7))[0]
    base = base_grid((5, 7), dtype=torch.float64)
    uv = (base + 1) / 2
    assert torch.allclose(grid[..., 0] - base[..., 0], delta * uv.min(-1).values, atol=1e-12)
    assert torch.equal(grid[..., 1], base[..., 1])


def test_weights_are_barycentric():
    points = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    w = piecewise_affine_weights(4, points)
    assert w.shape == (200, 16)
    assert ((w != 0).sum(1) <= 3).all() and (w >= -1e-12).all()
    assert torch.allclose(w.sum(1), torch.ones(200, dtype=torch.float64))
    assert torch.allclose(w @ control_points(4, dtype=torch.float64), points, atol=1e-12)
    # at the control points themselves the weights are one-hot
    c = control_points(4, dtype=torch.float64)
    assert torch.allclose(piecewise_affine_weights(4, c), torch.eye(16, dtype=torch.float64))


def test_continuous_across_triangle_edges():
    gen = torch.Generator().manual_seed(5)
    targets = torch.randn(9, 2, generator=gen, dtype=torch.float64)
    eps = 1e-9
    # points on the diagonal of cell (0, 0), on a vertical and a horizontal cell border
    edge = torch.tensor([[-0.5, -0.5], [0.0, 0.3], [-0.2, 0.0]], dtype=torch.float64)
    for offset in ([eps, 0.0], [0.0, eps]):
        near = piecewise_affine_weights(3, edge + torch.tensor(offset, dtype=torch.float64))
        at = piecewise_affine_weights(3, edge)
        assert ((near - at) @ targets).abs().max() < 1e-7


def test_bad_grid_size():
    with pytest.raises(ValueError, match="grid_size"):
        PiecewiseAffine(1)
    assert PiecewiseAffine().n_params == 32
    assert repr(PiecewiseAffine(3)) == "PiecewiseAffine(grid_size=3)"
