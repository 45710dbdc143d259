"""Fused Triton warp against F.affine_grid + F.grid_sample (and kornia's TPS), same run, on CUDA.

    python benchmarks/gpu_fused.py [--quick] [--out results/gpu_fused.md]

Rows: affine at (256, 3, 224, 224) and (1024, 1, 60, 60), float32 and bfloat16: forward and
forward+backward (gradients of input and theta), fused backward with atomics and deterministic
(sort-free gather; "det sorted": the general sorted gather of projective/TPS maps and border
padding, forced here for comparison);
TPS with 16 control points at (256, 1, 28, 28) against kornia (``get_tps_transform`` +
``warp_image_tps``, skipped when kornia is absent). Times are medians of CUDA-event timings.
Bandwidth = the minimum bytes a sampler must move (read input, write output; backward: read
grad_out and input, write grad_input) / time, as a fraction of the card's peak. Also checks that
the deterministic backward is bit-identical across runs. Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys

import torch
import torch.nn.functional as F
from common import header, report_sections, table

from torchstn.kernels import fused_warp, triton_available
from torchstn.transforms import control_points

AFFINE_SHAPES = [(256, 3, 224, 224), (1024, 1, 60, 60)]
TPS_SHAPE = (256, 1, 28, 28)
TPS_GRID = 4  # 16 control points, as in the paper
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
PEAK_BYTES_PER_S = [("H200", 4.8e12), ("H100 PCIe", 2.0e12), ("H100", 3.35e12)]
WARMUP = 3
REPEATS = 25
QUICK_REPEATS = 5
INNER = 10  # calls between two CUDA events: a steady stream, as in training, not one cold call


def peak_bandwidth(name: str) -> float | None:
    for key, peak in PEAK_BYTES_PER_S:
        if key in name:
            return peak
    return None


def median_ms(fn, repeats: int, sorted_gather: bool = False) -> float:
    """Median over ``repeats`` samples of the time per call of ``fn()``, each sample ``INNER``
    back-to-back calls between two CUDA events, after a warm-up (compilation included there).
    Where the host cannot keep the GPU busy this measures the host's time per call.

    ``sorted_gather``: make the deterministic backward of affine maps take the general sorted
    gather instead of the sort-free one (for comparison)."""
    if sorted_gather:
        kernels = importlib.import_module("torchstn.kernels.triton_sampler")
        kernels.AFFINE_GATHER = False
        try:
            return median_ms(fn, repeats)
        finally:
            kernels.AFFINE_GATHER = True
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(INNER):
            fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) / INNER)
    return sorted(times)[len(times) // 2]


def random_affine(n: int, gen: torch.Generator) -> torch.Tensor:
    """Rotation up to 10 deg, scale 0.9-1.1, shift up to 0.1: realistic STN outputs."""
    angle = (torch.rand(n, generator=gen) - 0.5) * math.radians(20)
    scale = 0.9 + 0.2 * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * 0.2
    c, s = torch.cos(angle) * scale, torch.sin(angle) * scale
    rows = [torch.stack([c, -s, shift[:, 0]], 1), torch.stack([s, c, shift[:, 1]], 1)]
    return torch.stack(rows, 1)  # (N, 2, 3)


def fwd_bwd(fn, x, theta, grad):
    def run():
        out = fn(x, theta)
        return torch.autograd.grad(out, (x, theta), grad)

    return run


def affine_rows(shape, dtype_name: str, repeats: int, peak: float | None) -> list[dict]:
    n, c, h, w = shape
    dtype = DTYPES[dtype_name]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to("cuda", dtype).requires_grad_(True)
    theta = random_affine(n, gen).cuda().requires_grad_(True)
    grad = torch.randn(shape, generator=gen).to("cuda", dtype)

    def reference(a, t):
        grid = F.affine_grid(t.to(a.dtype), list(a.shape), align_corners=False)
        return F.grid_sample(a, grid, align_corners=False)

    def fused(det):
        return lambda a, t: fused_warp(a, t, (h, w), backend="triton", deterministic=det)

    with torch.no_grad():
        t_ref_f = median_ms(lambda: reference(x, theta), repeats)
        t_fus_f = median_ms(lambda: fused(False)(x, theta), repeats)
    t_ref_b = median_ms(fwd_bwd(reference, x, theta, grad), repeats)
    t_atom_b = median_ms(fwd_bwd(fused(False), x, theta, grad), repeats)
    t_det_b = median_ms(fwd_bwd(fused(True), x, theta, grad), repeats)
    t_sorted_b = median_ms(fwd_bwd(fused(True), x, theta, grad), repeats, sorted_gather=True)
    plane = n * c * h * w * x.element_size()
    bytes_f, bytes_b = 2 * plane, 5 * plane  # fwd: in + out; fwd+bwd adds grad_out, in, grad_in

    def bw(nbytes: float, ms: float) -> str:
        rate = nbytes / (ms * 1e-3)
        frac = f" ({rate / peak:.0%})" if peak else ""
        return f"{rate / 1e9:.0f} GB/s{frac}"

    common = {"shape": str(shape), "dtype": dtype_name}
    return [
        {**common, "pass": "forward", "torch ms": t_ref_f, "fused ms": t_fus_f,
         "speed-up": t_ref_f / t_fus_f, "fused bandwidth": bw(bytes_f, t_fus_f),
         "det ms": "-", "det / atomic": "-", "det sorted ms": "-"},
        {**common, "pass": "fwd+bwd", "torch ms": t_ref_b, "fused ms": t_atom_b,
         "speed-up": t_ref_b / t_atom_b, "fused bandwidth": bw(bytes_b, t_atom_b),
         "det ms": t_det_b, "det / atomic": t_det_b / t_atom_b, "det sorted ms": t_sorted_b},
    ]


def tps_rows(repeats: int) -> list[dict]:
    n, c, h, w = TPS_SHAPE
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(TPS_SHAPE, generator=gen).cuda().requires_grad_(True)
    ctrl = control_points(TPS_GRID).expand(n, -1, -1).cuda()
    targets = (ctrl.cpu() + 0.1 * torch.randn(ctrl.shape, generator=gen)).cuda()
    targets.requires_grad_(True)
    grad = torch.randn(TPS_SHAPE, generator=gen).cuda()

    def fused(a, t):
        return fused_warp(a, t, (h, w), kind="tps", backend="triton")

    def torch_path(a, t):
        return fused_warp(a, t, (h, w), kind="tps", backend="torch")

    t_fused = median_ms(fwd_bwd(fused, x, targets, grad), repeats)
    t_torch = median_ms(fwd_bwd(torch_path, x, targets, grad), repeats)
    rows = [{"method": "torchstn TPS grid + grid_sample", "fwd+bwd ms": t_torch,
             "fused speed-up": t_torch / t_fused},
            {"method": "torchstn fused (Triton)", "fwd+bwd ms": t_fused, "fused speed-up": 1.0}]
    try:
        from kornia.geometry.transform import get_tps_transform, warp_image_tps
    except ImportError:
        rows.append({"method": "kornia", "fwd+bwd ms": "not installed", "fused speed-up": "-"})
        return rows

    def kornia_warp(a, t):
        kernel_w, affine_w = get_tps_transform(t, ctrl)
        return warp_image_tps(a, ctrl, kernel_w, affine_w, align_corners=False)

    t_kornia = median_ms(fwd_bwd(kornia_warp, x, targets, grad), repeats)
    rows.append({"method": "kornia get_tps_transform + warp_image_tps", "fwd+bwd ms": t_kornia,
                 "fused speed-up": t_kornia / t_fused})
    return rows


def determinism_rows() -> list[dict]:
    rows = []
    for kind in ("affine", "tps"):
        for dtype_name, dtype in DTYPES.items():
            shape = AFFINE_SHAPES[0] if kind == "affine" else TPS_SHAPE
            n, _, h, w = shape
            gen = torch.Generator().manual_seed(2)
            x = torch.randn(shape, generator=gen).to("cuda", dtype).requires_grad_(True)
            if kind == "affine":
                theta = random_affine(n, gen).cuda()
            else:
                ctrl = control_points(TPS_GRID).expand(n, -1, -1)
                theta = (ctrl + 0.1 * torch.randn(ctrl.shape, generator=gen)).cuda()
            theta.requires_grad_(True)
            grad = torch.randn(shape, generator=gen).to("cuda", dtype)

            def run(det, kind=kind, h=h, w=w, x=x, theta=theta, grad=grad):
                out = fused_warp(x, theta, (h, w), kind=kind, backend="triton", deterministic=det)
                return torch.autograd.grad(out, (x, theta), grad)

            first, second, atomic = run(True), run(True), run(False)
            rows.append({
                "kind": kind, "dtype": dtype_name, "shape": str(shape),
                "bit-identical": all(torch.equal(a, b) for a, b in zip(first, second, strict=True)),
                "max |det - atomic| grad input": (first[0] - atomic[0]).abs().max().item(),
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_fused: no CUDA device here; this benchmark needs a GPU (nothing measured).")
        return 0
    if not triton_available():
        print("gpu_fused: CUDA is here but Triton is not (pip install 'torchstn[triton]').")
        return 1
    repeats = QUICK_REPEATS if args.quick else REPEATS
    name = torch.cuda.get_device_name()
    peak = peak_bandwidth(name)
    torch.backends.cudnn.benchmark = False
    peak_text = f"{peak / 1e12:.2f} TB/s" if peak else "unknown (fraction not shown)"
    sections = [
        ("### Affine (targets: forward >= 3x, fwd+bwd >= 2x, deterministic <= 1.5x atomic)",
         lambda: table([row for shape in AFFINE_SHAPES for dt in DTYPES
                        for row in affine_rows(shape, dt, repeats, peak)])),
        (f"### TPS, {TPS_GRID ** 2} control points, {TPS_SHAPE}, fwd+bwd (target: >= 5x kornia)",
         lambda: table(tps_rows(repeats))),
        ("### Deterministic backward: two runs compared bit for bit",
         lambda: table(determinism_rows())),
    ]
    parts = [header("Fused Triton warp vs F.affine_grid + F.grid_sample"),
             f"Card: {name}; peak memory bandwidth used for the fraction: {peak_text}. "
             f"Median of {repeats} CUDA-event timings of {INNER} back-to-back calls each."]
    return report_sections(parts, sections, args.out)

if __name__ == "__main__":
    sys.exit(main())
