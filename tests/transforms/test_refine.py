"""Transform.refine: a warp followed by a correction predicted on its output (every 2D family)."""

import pytest
import torch
import torch.nn.functional as F

from torchstn.transforms import get_transform

from .helpers import MATRIX_NAMES, NAMES_2D, random_params

GRID_NAMES = [n for n in NAMES_2D if n not in MATRIX_NAMES]


@pytest.mark.parametrize("name", NAMES_2D)
def test_the_identity_correction_changes_nothing_and_the_identity_warp_takes_the_correction(name):
    t = get_transform(name)
    p, identity = random_params(name, 3), t.identity_params(dtype=torch.float64).expand(3, -1)
    torch.testing.assert_close(t.refine(p, identity), p)
    torch.testing.assert_close(t.refine(identity, p), p)


@pytest.mark.parametrize("name", MATRIX_NAMES)
def test_a_matrix_refinement_is_the_composed_map(name):
    # backward maps: the correction moves an output point first, then the warp maps it
    t = get_transform(name)
    p, q = random_params(name, 3, seed=1), random_params(name, 3, seed=2)
    m = t.matrix(p) @ t.matrix(q)  # a homography's is scaled to 1 in its 9th entry
    torch.testing.assert_close(t.matrix(t.refine(p, q)), m / m[:, 2:, 2:])
    pts = torch.rand(3, 5, 2, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(_apply_matrix(t.matrix(t.refine(p, q)), pts),
                               _apply_matrix(t.matrix(p), _apply_matrix(t.matrix(q), pts)))


def _apply_matrix(m, pts):
    h = torch.cat([pts, torch.ones_like(pts[..., :1])], -1) @ m.transpose(1, 2)
    return h[..., :2] / h[..., 2:]


def test_known_answers_worked_out_by_hand():
    # affine: zoom 2x in (scale 0.5), then a correction shifting by 0.2: x -> 0.5 (x + 0.2) + 0.1
    aff = get_transform("affine")
    p = torch.tensor([[0.5, 0.0, 0.1, 0.0, 0.5, 0.0]])
    q = torch.tensor([[1.0, 0.0, 0.2, 0.0, 1.0, 0.0]])
    torch.testing.assert_close(aff.refine(p, q), torch.tensor([[0.5, 0.0, 0.2, 0.0, 0.5, 0.0]]))
    # attention: scales multiply, the correction's shift is scaled by the first zoom
    att = get_transform("attention")
    torch.testing.assert_close(att.refine(torch.tensor([[0.5, 0.1, -0.2]]),
                                          torch.tensor([[0.8, 0.4, 0.2]])),
                               torch.tensor([[0.4, 0.3, -0.1]]))
    # rts: angles and log scales add when there is no translation
    rts = get_transform("rts")
    torch.testing.assert_close(rts.refine(torch.tensor([[0.3, 0.1, 0.0, 0.0]]),
                                          torch.tensor([[-0.5, 0.2, 0.0, 0.0]])),
                               torch.tensor([[-0.2, 0.3, 0.0, 0.0]]))


def test_a_homography_is_returned_with_one_as_its_ninth_entry():
    t = get_transform("projective")
    p = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0]], dtype=torch.float64)
    q = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.3]], dtype=torch.float64)
    r = t.refine(p, q)
    m = t.matrix(p) @ t.matrix(q)
    torch.testing.assert_close(t.matrix(r), m / m[:, 2:, 2:])


@pytest.mark.parametrize("name", GRID_NAMES)
def test_a_control_grid_refinement_is_exact_at_the_control_points(name):
    t = get_transform(name)
    p, q = random_params(name, 2, seed=3), random_params(name, 2, seed=4)
    c = t.control_points(dtype=torch.float64)
    moved = c + q.view(2, -1, 2)  # the correction's images of the control points
    w = t.point_weights(t.grid_size, moved.reshape(-1, 2)).view(2, c.shape[0], c.shape[0])
    want = w @ (c + p.view(2, -1, 2))  # the warp at those points
    torch.testing.assert_close(c + t.refine(p, q).view(2, -1, 2), want)


@pytest.mark.parametrize("name", GRID_NAMES)
def test_a_control_grid_refinement_is_close_to_the_composed_grid(name):
    # the composed map is not in the family; its interpolant stays close for small warps
    t = get_transform(name)
    p, q = random_params(name, 2, scale=0.03, seed=5), random_params(name, 2, scale=0.03, seed=6)
    size = (9, 9)
    inner = t.grid(q, size)
    composed = F.grid_sample(t.grid(p, size).permute(0, 3, 1, 2), inner, align_corners=False,
                             padding_mode="border").permute(0, 2, 3, 1)
    inside = (inner.abs() < 1 - 1 / 9).all(-1)
    assert (t.grid(t.refine(p, q), size) - composed).abs()[inside].max() < 0.02


@pytest.mark.parametrize("name", NAMES_2D)
def test_refine_gradcheck(name):
    t = get_transform(name)
    p = random_params(name, 2, seed=7).requires_grad_()
    q = random_params(name, 2, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(t.refine, (p, q))


@pytest.mark.parametrize("name", NAMES_2D)
def test_refine_computes_in_float32_at_least(name):
    t = get_transform(name)
    p = random_params(name, 2, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert t.refine(p, p).dtype == torch.float32
    assert t.refine(p.double(), p.double()).dtype == torch.float64


def test_bad_input_raises():
    t = get_transform("affine")
    p = random_params("affine", 2)
    with pytest.raises(ValueError, match="correction: expected 2 rows like params, got 3"):
        t.refine(p, random_params("affine", 3))
    with pytest.raises(ValueError, match="6"):
        t.refine(p, torch.zeros(2, 5, dtype=torch.float64))
    a3 = get_transform("affine3d")
    assert not a3.refinable and all(get_transform(n).refinable for n in NAMES_2D)
    with pytest.raises(NotImplementedError, match="no refine"):
        a3.refine(a3.identity_params().expand(1, -1), a3.identity_params().expand(1, -1))
