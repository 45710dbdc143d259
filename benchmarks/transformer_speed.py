"""Grid generation + sampling against the peers, measured in the same run.

    python benchmarks/transformer_speed.py [--threads 2] [--quick] [--repeat 3] [--profile]
                                           [--out FILE]

Rows: the affine transformer against ``F.affine_grid`` + ``F.grid_sample``; projective against
kornia's ``warp_perspective``; thin plate spline (16 points) against kornia's ``get_tps_transform``
+ ``warp_image_tps``. "ratio" is ours / peer (below 1: torchstn is faster). Each side is given
its natural parameters as the leaf tensors (ours: the transform's params; kornia: its pixel
homography, or its target points), built outside the timed region, and both compute the same
output: the script asserts it before timing anything.

Backward rows time ``out.sum().backward()`` into the parameters ("theta") and, where named, the
input image too. On a machine shared with other jobs ``--repeat N`` keeps the best of N medians
(ours and the peer alternate, so a burst of load hits both).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import best_median_ms, header, table, write_out

from torchstn import sample
from torchstn.coords import base_grid, normalized_to_pixel_matrix
from torchstn.transforms import get_transform
from torchstn.transforms.tps import tps_fit

AFFINE_SHAPES = [(256, 1, 42, 42), (256, 1, 60, 60), (64, 3, 224, 224)]
KORNIA_SHAPE = (256, 1, 28, 28)
AFFINE_NOISE = 0.1  # theta = identity + noise * randn: a mild random warp
PROJ_NOISE = 0.02
TPS_NOISE = 0.05
# The same map computed two ways agrees to float32 round-off of the sampled [0, 1] images.
ATOL = 1e-4


def _step(fn: Callable[[], torch.Tensor], backward: bool, leaves: list[torch.Tensor]):
    """A closure that runs ``fn`` and, if asked, a backward pass into ``leaves``."""

    def run():
        for t in leaves:
            t.grad = None
        out = fn()
        if backward:
            out.sum().backward()

    return run


MODES = [("forward", False, False), ("fwd+bwd theta", True, False),
         ("fwd+bwd theta+input", True, True)]


def _rows(case: str, shape, ours, peer, ours_leaf, peer_leaf, x, peer_name, args,
          modes=MODES) -> list[dict]:
    """Forward and backward rows of one case; ``ours``/``peer`` take (x, leaf)."""
    rows = []
    for mode, backward, input_grad in modes:
        xi = x.detach().clone().requires_grad_(input_grad)
        a = ours_leaf.detach().clone().requires_grad_(backward)
        b = peer_leaf.detach().clone().requires_grad_(backward)
        extra = [xi] if input_grad else []
        fns = [_step(functools.partial(ours, xi, a), backward, [a, *extra]),
               _step(functools.partial(peer, xi, b), backward, [b, *extra])]
        t_ours, t_peer = best_median_ms(fns, args.min_time, args.repeat)
        args.closures[f"{case} {mode} {tuple(shape)}"] = fns
        rows.append({"case": f"{case} {mode}", "shape": str(tuple(shape)), "torchstn ms": t_ours,
                     "peer ms": t_peer, "peer": peer_name, "ratio": t_ours / t_peer})
    return rows


def _assert_close(a: torch.Tensor, b: torch.Tensor, what: str, atol: float = ATOL) -> float:
    err = (a - b).abs().max().item()
    if not err <= atol:
        raise AssertionError(f"{what}: torchstn and the peer differ by {err:.3g} (> {atol})")
    return err


def affine_rows(shapes, args) -> list[dict]:
    affine = get_transform("affine")
    rows = []
    for shape in shapes:
        n, c, h, w = shape
        x = torch.rand(shape)
        theta = affine.identity_params() + AFFINE_NOISE * torch.randn(n, 6)

        def ours(x, theta, h=h, w=w):
            return sample(x, affine.grid(theta, (h, w)))

        def peer(x, theta, shape=shape):
            grid = F.affine_grid(theta.view(-1, 2, 3), list(shape), align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)

        _assert_close(ours(x, theta), peer(x, theta), f"affine {shape}")
        rows += _rows("affine", shape, ours, peer, theta, theta, x, "affine_grid+grid_sample",
                      args)
    return rows


def kornia_rows(args, notes: list[str]) -> list[dict]:
    try:
        import kornia.geometry.transform as KT
    except ImportError:
        print("kornia not installed (pip install -e '.[bench]'): skipping kornia rows",
              file=sys.stderr)
        return []
    n, c, h, w = KORNIA_SHAPE
    size = (h, w)
    x = torch.rand(KORNIA_SHAPE)

    # projective. Ours: 8 params of the normalised backward (output -> input) matrix. kornia: the
    # forward (source -> destination) homography in its pixel frame (pixel centres at integers),
    # with its default align_corners=True (the same for every kornia version): the same pixel map,
    # sampled at the same points.
    proj = get_transform("projective")
    p8 = proj.identity_params() + PROJ_NOISE * torch.randn(n, 8)
    half = torch.tensor([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])  # ours -> kornia
    back = half @ normalized_to_pixel_matrix(proj.matrix(p8), size, size) @ torch.linalg.inv(half)
    m_pix = torch.linalg.inv(back)

    def ours_proj(x, p8):
        return sample(x, proj.grid(p8, size))

    def kornia_proj(x, m):
        return KT.warp_perspective(x, m, size)

    _assert_close(ours_proj(x, p8), kornia_proj(x, m_pix), "projective")
    rows = _rows("projective", KORNIA_SHAPE, ours_proj, kornia_proj, p8, m_pix, x,
                 "kornia warp_perspective", args, MODES[:2])

    # TPS, 16 control points. Ours: the displacements d of the fixed control grid c (output
    # coordinates), f(c_k) = c_k + d_k. kornia: the target points t = c + d, fitted per call as
    # its docs prescribe, get_tps_transform(points_dst=c, points_src=t), warped with centres t.
    tps = get_transform("tps")
    ctrl = tps.control_points().expand(n, -1, -1).contiguous()
    d = TPS_NOISE * torch.randn(n, tps.n_params)
    targets = ctrl + d.view(n, -1, 2)

    def ours_tps(x, d):
        return sample(x, tps.grid(d, size))

    def kornia_tps(x, t):
        kernel, affine = KT.get_tps_transform(ctrl, t)
        return KT.warp_image_tps(x, t, kernel, affine, align_corners=False)

    mine = ours_tps(x, d)
    # same frame, direction and spline: kornia's warp of our coefficients (kernel 0.5 r^2 log r^2
    # against our r^2 log r^2, hence the factor 2) reproduces our image
    coeffs = tps_fit(ctrl, targets)
    k = ctrl.shape[1]
    _assert_close(mine, KT.warp_image_tps(x, ctrl, 2 * coeffs[:, :k], coeffs[:, k:],
                                          align_corners=False), "tps (our coefficients)")
    kernel, affine = KT.get_tps_transform(ctrl, targets)
    _assert_close(KT.warp_points_tps(ctrl, targets, kernel, affine), targets,
                  "tps (kornia interpolates the same points)", 1e-3)
    grid_err = (tps.grid(d, size) - KT.warp_points_tps(
        base_grid(size).view(1, -1, 2).expand(n, -1, -1), targets, kernel, affine
    ).view(n, h, w, 2)).abs()
    notes.append(
        f"- TPS: kornia's fit centres its kernels at the target points, ours at the control "
        f"points (the textbook spline); both interpolate the same 16 correspondences (asserted), "
        f"and kornia's warp of our coefficients reproduces our image (asserted). The two "
        f"splines' grids differ by {grid_err.mean() * w / 2:.3f} px on average, "
        f"{grid_err.max() * w / 2:.2f} px at most, between the points (same amount of work).")
    rows += _rows("tps-16", KORNIA_SHAPE, ours_tps, kornia_tps, d, targets, x,
                  "kornia get_tps_transform+warp_image_tps", args, MODES[:2])
    return rows


def profile_row(row: dict, fns, steps: int = 10, row_limit: int = 12) -> str:
    """torch.profiler's top ops (self CPU time) of both sides of ``row``."""
    from torch.profiler import ProfilerActivity, profile

    parts = [f"### Profile of the highest ratio: {row['case']} {row['shape']}", ""]
    for side, fn in zip(("torchstn", row["peer"]), fns, strict=True):
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                fn()
        parts += [f"{side}, {steps} calls:", "", "```",
                  prof.key_averages().table(sort_by="self_cpu_time_total",
                                            row_limit=row_limit).strip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="first shape only, short timings")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many medians")
    parser.add_argument("--profile", action="store_true",
                        help="append the profiler's top ops of the row with the highest ratio")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.min_time = 0.1 if args.quick else 0.5
    shapes = AFFINE_SHAPES[:1] if args.quick else AFFINE_SHAPES
    notes: list[str] = []
    args.closures = {}  # row -> (ours, peer) step closures, for --profile
    rows = affine_rows(shapes, args) + kornia_rows(args, notes)
    text = "\n".join([
        header("Transformer: grid + sampler"),
        f"- float32, bilinear, zeros padding, output size = input size; best of {args.repeat} "
        "median(s) per row; ratio = torchstn / peer (target: affine <= 1.05, projective <= 0.5,"
        " TPS fwd+bwd <= 0.2)", *notes, "", table(rows), ""])
    if args.profile:
        worst = max(rows, key=lambda r: r["ratio"])
        text += "\n" + profile_row(worst, args.closures[f"{worst['case']} {worst['shape']}"])
    print(text)
    write_out(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
