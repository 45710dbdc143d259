"""R, RTS, P: the parameters follow DATASETS.md and the warps realise the spec's forward maps."""

from __future__ import annotations

import math

import pytest
import torch

from torchstn.data import geometric as G
from torchstn.data.warp import centred_pixel_grid

N_STATS = 10_000


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _apply(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Map points ``(N, P, 2)`` by ``(N, 3, 3)`` (projective division included)."""
    h = torch.cat([points, torch.ones_like(points[..., :1])], -1) @ matrix.transpose(1, 2)
    return h[..., :2] / h[..., 2:]


def _blob(centre: torch.Tensor, size: int = G.DIGIT, sigma: float = 0.8) -> torch.Tensor:
    """``(N, 1, size, size)`` Gaussian blobs at centred pixel positions ``centre`` ``(N, 2)``."""
    grid = centred_pixel_grid((size, size))  # (H, W, 2)
    d2 = ((grid[None] - centre[:, None, None]) ** 2).sum(-1)
    return torch.exp(-d2 / (2 * sigma**2)).unsqueeze(1)


def _centroid(images: torch.Tensor) -> torch.Tensor:
    """Intensity centroid ``(N, 2)`` in centred pixel coordinates."""
    grid = centred_pixel_grid(tuple(images.shape[-2:]))
    w = images[:, 0]
    return (w[..., None] * grid).sum((1, 2)) / w.sum((1, 2))[:, None]


def test_rts_parameter_distribution():
    p = G.rts_params(N_STATS, _gen())
    deg = torch.rad2deg(p["angle"])
    assert deg.min() >= -45 and deg.max() <= 45 and deg.min() < -44 and deg.max() > 44
    assert abs(deg.mean()) < 1.0 and abs(deg.std() - 90 / math.sqrt(12)) < 0.5
    s = p["scale"]
    assert s.min() >= 0.7 and s.max() <= 1.2 and abs(s.mean() - 0.95) < 0.005
    margin = (G.RTS_CANVAS - G.DIGIT * s) / 2
    for key in ("tx", "ty"):
        unit = p[key] / margin
        assert unit.abs().max() <= 1 and unit.abs().max() > 0.999
        assert abs(unit.mean()) < 0.03 and abs(unit.std() - 1 / math.sqrt(3)) < 0.01
    assert abs(torch.corrcoef(torch.stack([p["tx"], p["ty"]]))[0, 1]) < 0.05


def test_rts_digit_frame_always_inside_canvas():
    p = G.rts_params(N_STATS, _gen(1))
    forward = torch.linalg.inv(G.rts_backward(p).double())
    corners = torch.tensor(G.CORNERS, dtype=torch.float64)
    # the bounding box of the scaled (unrotated) frame, translated: inside the canvas
    half = G.DIGIT * p["scale"].double() / 2
    assert ((p["tx"].abs() + half) <= G.RTS_CANVAS / 2 + 1e-5).all()
    centre = _apply(forward, torch.zeros(N_STATS, 1, 2, dtype=torch.float64))[:, 0]
    t = torch.stack([p["tx"], p["ty"]], 1).double()
    torch.testing.assert_close(centre, t, atol=1e-5, rtol=0)
    # corners at distance s * 14 * sqrt(2) from the translated centre: a similarity
    dist = (_apply(forward, corners.expand(N_STATS, 4, 2)) - centre[:, None]).norm(dim=-1)
    torch.testing.assert_close(dist, (half * math.sqrt(2))[:, None].expand(-1, 4), atol=1e-5,
                               rtol=0)


def test_rts_backward_inverts_the_spec_forward_map():
    p = G.rts_params(64, _gen(2))
    pts = torch.randn(64, 5, 2) * 10
    a, s = p["angle"], p["scale"]
    rot = torch.stack([torch.cos(a), -torch.sin(a), torch.sin(a), torch.cos(a)], -1).view(-1, 2, 2)
    t = torch.stack([p["tx"], p["ty"]], 1)[:, None]
    canvas = s[:, None, None] * pts @ rot.transpose(1, 2) + t
    torch.testing.assert_close(_apply(G.rts_backward(p), canvas), pts, atol=1e-4, rtol=0)


# (median, max) centroid error in pixels; P's stronger local distortion skews the blob a little
BLOB_TOLERANCE = {"r": (0.1, 0.35), "rts": (0.1, 0.35), "p": (0.15, 0.7)}


@pytest.mark.parametrize("variant", ["r", "rts", "p"])
def test_warp_moves_a_blob_where_the_forward_map_says(variant):
    """End to end (coords conversion + grid + sampler): a blob at q lands at forward(q). A
    half-pixel convention slip would move every blob by about half a pixel."""
    n = 64
    params = getattr(G, f"{variant}_params")(n, _gen(3))
    q = (torch.rand(n, 2, generator=_gen(4)) - 0.5) * 8  # near the centre: stays in frame
    out = getattr(G, f"{variant}_apply")(_blob(q), params)
    forward = torch.linalg.inv(getattr(G, f"{variant}_backward")(params).double()).float()
    expected = _apply(forward, q[:, None])[:, 0]
    error = (_centroid(out) - expected).norm(dim=-1)
    median, worst = BLOB_TOLERANCE[variant]
    assert error.median() < median and error.max() < worst


def _bar(n: int) -> torch.Tensor:
    """Horizontal bar, 22 x 3 pixels, centred."""
    img = torch.zeros(n, 1, G.DIGIT, G.DIGIT)
    img[:, :, 12:15, 3:25] = 1
    return img


def _orientation(images: torch.Tensor) -> torch.Tensor:
    """Principal axis angle (radians, y down) from second moments."""
    grid = centred_pixel_grid((G.DIGIT, G.DIGIT))
    w = images[:, 0]
    m = w.sum((1, 2))
    c = (w[..., None] * grid).sum((1, 2)) / m[:, None]
    d = grid[None] - c[:, None, None]
    mu20 = (w * d[..., 0] ** 2).sum((1, 2))
    mu02 = (w * d[..., 1] ** 2).sum((1, 2))
    mu11 = (w * d[..., 0] * d[..., 1]).sum((1, 2))
    return 0.5 * torch.atan2(2 * mu11, mu20 - mu02)


def test_r_rotation_is_recovered_from_a_bar():
    n = 200
    params = G.r_params(n, _gen(5))
    deg = torch.rad2deg(params["angle"])
    assert deg.min() >= -90 and deg.max() <= 90
    out = G.r_apply(_bar(n), params)
    found = torch.rad2deg(_orientation(out))
    diff = (found - deg + 90) % 180 - 90  # an axis: angles modulo 180 degrees
    assert diff.abs().max() < 1.5


def test_r_statistics():
    deg = torch.rad2deg(G.r_params(N_STATS, _gen(6))["angle"])
    assert abs(deg.mean()) < 2 and abs(deg.std() - 180 / math.sqrt(12)) < 1


def test_p_corner_offsets_measured_through_the_map():
    """Forward map of the built backward matrix: H(S(c_k / s)) - c_k = e_k ~ N(0, 5^2)."""
    n = 4000
    params = G.p_params(n, _gen(7))
    s = params["scale"]
    assert s.min() >= 0.75 and s.max() <= 1.0 and abs(s.mean() - 0.875) < 0.005
    forward = torch.linalg.inv(G.p_backward(params).double())
    corners = torch.tensor(G.CORNERS, dtype=torch.float64).expand(n, 4, 2)
    moved = _apply(forward, corners / s.double()[:, None, None])
    offsets = moved - corners
    torch.testing.assert_close(offsets.float(), params["offsets"], atol=1e-3, rtol=0)
    assert abs(offsets.std() - G.P_CORNER_STD) < 0.1 and offsets.mean().abs() < 0.1
    per_corner = offsets.std(0)
    assert (per_corner - G.P_CORNER_STD).abs().max() < 0.3


def _dlt(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Reference homography src -> dst from the 8x8 direct linear system."""
    x, y, u, v = src[..., 0], src[..., 1], dst[..., 0], dst[..., 1]
    z, o = torch.zeros_like(x), torch.ones_like(x)
    rows = torch.stack([torch.stack([x, y, o, z, z, z, -x * u, -y * u], -1),
                        torch.stack([z, z, z, x, y, o, -x * v, -y * v], -1)], 2).view(-1, 8, 8)
    h = torch.linalg.solve(rows, torch.stack([u, v], 2).view(-1, 8))
    return torch.cat([h, torch.ones_like(h[:, :1])], 1).view(-1, 3, 3)


def test_square_homography_matches_the_linear_solve():
    g = torch.Generator().manual_seed(8)
    corners = torch.tensor(G.CORNERS, dtype=torch.float64)
    quad = corners + 5 * torch.randn(50, 4, 2, generator=g, dtype=torch.float64)
    h = G.square_homography(quad)
    torch.testing.assert_close(_apply(h, corners.expand(50, 4, 2)), quad)
    torch.testing.assert_close(h / h[:, 2:, 2:], _dlt(corners.expand(50, 4, 2), quad))
    eye = torch.eye(3, dtype=torch.float64)
    product = G.adjugate(h) @ h
    torch.testing.assert_close(product / product[:, :1, :1], eye.expand(50, 3, 3))
    torch.testing.assert_close(G.square_homography(corners[None]), eye[None])  # no offsets


@pytest.mark.parametrize("variant,size", [("r", 28), ("rts", 42), ("p", 28)])
def test_shapes_dtype_range(variant, size):
    images = torch.rand(5, 1, 28, 28)
    out = getattr(G, variant)(images, _gen())
    assert out.shape == (5, 1, size, size) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


def test_same_generator_state_same_output():
    images = torch.rand(8, 1, 28, 28)
    assert torch.equal(G.rts(images, _gen(9)), G.rts(images, _gen(9)))
    assert not torch.equal(G.rts(images, _gen(9)), G.rts(images, _gen(10)))
