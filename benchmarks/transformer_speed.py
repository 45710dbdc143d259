"""Grid generation + sampling against the peers, measured in the same run.

    python benchmarks/transformer_speed.py [--threads 2] [--quick] [--out FILE]

Rows: the affine transformer against ``F.affine_grid`` + ``F.grid_sample``; projective against
kornia's ``warp_perspective``; thin plate spline (16 points) against kornia's ``get_tps_transform``
+ ``warp_image_tps``. "ratio" is ours / peer (below 1 means torchstn is faster).
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F
from common import header, median_ms, table

from torchstn import sample
from torchstn.coords import normalized_to_pixel_matrix
from torchstn.transforms import get_transform

AFFINE_SHAPES = [(256, 1, 42, 42), (256, 1, 60, 60), (64, 3, 224, 224)]


def _step(fn, backward: bool, leaves: list[torch.Tensor]):
    """A closure that runs ``fn`` and, if asked, a backward pass into ``leaves``."""

    def run():
        for t in leaves:
            t.grad = None
        out = fn()
        if backward:
            out.sum().backward()

    return run


def affine_rows(shapes, min_time: float) -> list[dict]:
    affine = get_transform("affine")
    rows = []
    for shape in shapes:
        n, c, h, w = shape
        for mode, input_grad in [("forward", False), ("fwd+bwd theta", False),
                                 ("fwd+bwd theta+input", True)]:
            backward = mode != "forward"
            x = torch.rand(shape, requires_grad=input_grad)
            theta = (affine.identity_params() + 0.1 * torch.randn(n, 6)).requires_grad_(backward)
            leaves = [x, theta] if input_grad else [theta]

            def ours(x=x, theta=theta, h=h, w=w):
                return sample(x, affine.grid(theta, (h, w)))

            def peer(x=x, theta=theta, shape=shape):
                grid = F.affine_grid(theta.view(-1, 2, 3), list(shape), align_corners=False)
                return F.grid_sample(x, grid, align_corners=False)

            t_ours = median_ms(_step(ours, backward, leaves), min_time)
            t_peer = median_ms(_step(peer, backward, leaves), min_time)
            rows.append({"case": f"affine {mode}", "shape": str(shape), "torchstn ms": t_ours,
                         "peer ms": t_peer, "peer": "affine_grid+grid_sample",
                         "ratio": t_ours / t_peer})
    return rows


def kornia_rows(min_time: float) -> list[dict]:
    try:
        import kornia.geometry.transform as KT
    except ImportError:
        print("kornia not installed (pip install -e '.[bench]'): skipping kornia rows",
              file=sys.stderr)
        return []
    rows = []
    shape = (256, 1, 28, 28)
    n, c, h, w = shape
    size = (h, w)
    proj = get_transform("projective")
    tps = get_transform("tps")
    for backward in (False, True):
        label = "fwd+bwd" if backward else "forward"
        x = torch.rand(shape)
        # projective: the same map for both, as a normalised (ours) and pixel (kornia) matrix
        p8 = (proj.identity_params() + 0.02 * torch.randn(n, 8)).requires_grad_(backward)

        def ours_proj(x=x, p8=p8):
            return sample(x, proj.grid(p8, size))

        def kornia_proj(x=x, p8=p8):
            # kornia's warp_perspective takes the forward pixel map (src -> dst), align_corners=True
            m = normalized_to_pixel_matrix(proj.matrix(p8), size, size)
            return KT.warp_perspective(x, torch.linalg.inv(m), size, align_corners=True)

        rows.append(_pair(f"projective {label}", shape, ours_proj, kornia_proj, backward, [p8],
                          "kornia warp_perspective", min_time))
        # TPS with 16 control points
        d = (0.05 * torch.randn(n, tps.n_params)).requires_grad_(backward)
        src = tps.control_points().expand(n, -1, -1) if hasattr(tps, "control_points") else None

        def ours_tps(x=x, d=d):
            return sample(x, tps.grid(d, size))

        def kornia_tps(x=x, d=d, src=src):
            dst = src + d.view(n, -1, 2)
            kernel, affine = KT.get_tps_transform(dst, src)
            return KT.warp_image_tps(x, src, kernel, affine, align_corners=False)

        if src is not None:
            rows.append(_pair(f"tps-16 {label}", shape, ours_tps, kornia_tps, backward, [d],
                              "kornia get_tps_transform+warp_image_tps", min_time))
    return rows


def _pair(case, shape, ours, peer, backward, leaves, peer_name, min_time) -> dict:
    t_ours = median_ms(_step(ours, backward, leaves), min_time)
    t_peer = median_ms(_step(peer, backward, leaves), min_time)
    return {"case": case, "shape": str(shape), "torchstn ms": t_ours, "peer ms": t_peer,
            "peer": peer_name, "ratio": t_ours / t_peer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="small shapes, short timings")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    min_time = 0.1 if args.quick else 0.5
    shapes = [AFFINE_SHAPES[0]] if args.quick else AFFINE_SHAPES
    rows = affine_rows(shapes, min_time) + kornia_rows(min_time)
    text = header("Transformer: grid + sampler") + table(rows) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
