"""The coordinate convention: pixel <-> normalised maps, matrices, base grids."""

import pytest
import torch
import torch.nn.functional as F

from torchstn import coords


def pixel_centres(size):
    """(H, W, 2) pixel-centre coordinates (x, y) of an (H, W) image, written out by hand."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return torch.stack([xs, ys], dim=-1).double()


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (1, 3)])
def test_base_grid_holds_normalised_pixel_centres(size):
    expected = coords.normalize_points(pixel_centres(size), size)
    assert torch.allclose(coords.base_grid(size, dtype=torch.float64), expected, atol=1e-12)


def test_base_coords_by_hand():
    # 4 pixels: centres at -3/4, -1/4, 1/4, 3/4 (edges at -1 and 1)
    assert torch.equal(coords.base_coords(4), torch.tensor([-0.75, -0.25, 0.25, 0.75]))


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (3, 1)])
def test_base_grid_equals_affine_grid_identity(size):
    ref = F.affine_grid(torch.eye(2, 3)[None], (1, 1, *size), align_corners=False)[0]
    assert torch.allclose(coords.base_grid(size), ref, atol=1e-6)


def test_base_grid_3d_equals_affine_grid_identity():
    size = (3, 4, 5)
    ref = F.affine_grid(torch.eye(3, 4)[None], (1, 1, *size), align_corners=False)[0]
    grid = coords.base_grid(size)
    assert grid.shape == (3, 4, 5, 3)
    assert torch.allclose(grid, ref, atol=1e-6)


def test_normalize_denormalize_round_trip():
    size = (5, 9)
    points = torch.rand(10, 2, dtype=torch.float64) * torch.tensor([9.0, 5.0])
    back = coords.denormalize_points(coords.normalize_points(points, size), size)
    assert torch.allclose(back, points, atol=1e-12)
    # the image's outer edges map to -1 and +1 (align_corners=False)
    edges = coords.normalize_points(torch.tensor([[0.0, 0.0], [9.0, 5.0]]), size)
    assert torch.equal(edges, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))


def apply(matrix, points):
    return (coords.to_homogeneous(points) @ matrix.transpose(-1, -2))[..., :2]


@pytest.mark.parametrize("centered", [False, True])
def test_pixel_to_normalized_matrix_maps_pixel_centres(centered):
    in_size, out_size = (5, 7), (3, 9)
    # a pixel-space backward map: rotate, scale, shift (output pixel -> input pixel)
    pix = torch.tensor([[0.8, -0.3, 1.5], [0.4, 1.1, -0.25], [0.0, 0.0, 1.0]], dtype=torch.float64)
    norm = coords.pixel_to_normalized_matrix(pix, in_size, out_size, centered=centered)
    out_pix = pixel_centres(out_size).reshape(-1, 2)
    shift_out = torch.tensor([out_size[1] / 2, out_size[0] / 2], dtype=torch.float64)
    shift_in = torch.tensor([in_size[1] / 2, in_size[0] / 2], dtype=torch.float64)
    if centered:
        in_pix = apply(pix, out_pix - shift_out) + shift_in
    else:
        in_pix = apply(pix, out_pix)
    got = apply(norm, coords.normalize_points(out_pix, out_size))
    assert torch.allclose(got, coords.normalize_points(in_pix, in_size), atol=1e-12)
    back = coords.normalized_to_pixel_matrix(norm, in_size, out_size, centered=centered)
    assert torch.allclose(back, pix, atol=1e-12)


def test_pixel_identity_between_sizes_is_a_top_left_crop():
    # output pixel (j, i) samples input pixel (j, i): normalised scale W_out / W_in
    norm = coords.pixel_to_normalized_matrix(torch.eye(3), (8, 8), (4, 4))
    assert torch.allclose(norm, torch.tensor([[0.5, 0, -0.5], [0, 0.5, -0.5], [0, 0, 1.0]]))


def test_matrix_helpers_accept_2x3_and_reject_other_shapes():
    m = coords.pixel_to_normalized_matrix(torch.eye(2, 3), (4, 4), (4, 4))
    assert torch.allclose(m, torch.eye(3))
    with pytest.raises(ValueError, match="3, 3"):
        coords.pixel_to_normalized_matrix(torch.eye(2), (4, 4), (4, 4))


def test_to_homogeneous():
    got = coords.to_homogeneous(torch.tensor([[2.0, 3.0]]))
    assert torch.equal(got, torch.tensor([[2, 3, 1.0]]))
