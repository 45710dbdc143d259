"""Launch-parameter sweep and a large-shape correctness check of the fused Triton warp, on CUDA.

    python benchmarks/gpu_tune.py [--out results/gpu_tune.md] [--no-sweep | --sweep-only]
                                  [--sweep GATHER_BLOCK,GATHER_CAPS]

1. Correctness at the benchmark's shapes: the input gradient of the deterministic and the atomic
   backward against F.affine_grid + F.grid_sample, with the worst element of each.
2. Host time per call at the small shape (a bare Triton launch, the fused and torch paths), and a
   profile of host against device time per fwd+bwd.
3. A sweep of the kernels' launch constants (pixels per program, warps per program) at the affine
   shapes of ``gpu_fused.py``, float32: forward, fwd+bwd atomic, fwd+bwd deterministic. The
   library's defaults are the constants in ``torchstn.kernels.triton_sampler``.
Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import sys

import torch
import torch.nn.functional as F
from common import header, report_sections, table
from gpu_fused import AFFINE_SHAPES, fwd_bwd, median_ms, random_affine

from torchstn.kernels import fused_warp, triton_available

REPEATS = 10
PROFILE_CALLS = 10
CHECK_SHAPES = [(256, 3, 224, 224), (16, 3, 224, 224), (1024, 1, 60, 60)]
DEVICE = "cuda"
SWEEP = {  # module constant -> values tried (one constant at a time, others at their defaults)
    "FWD_BLOCK": (256, 512, 1024, 2048),
    "BWD_BLOCK": (128, 256, 512, 1024),
    "GATHER_BLOCK": (64, 128, 256, 512),
    "GATHER_CAPS": (True, False),
    "NUM_WARPS": (2, 4, 8),
}
HOST_CALLS = 100


def grads(x, theta, grad, det: bool | None) -> torch.Tensor:
    """The input gradient (float32) of torch's path (``det=None``) or the fused one."""
    h, w = x.shape[-2:]
    if det is None:
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, align_corners=False)
    else:
        out = fused_warp(x, theta, (h, w), backend="triton", deterministic=det)
    wrt = (x, theta) if theta.requires_grad else (x,)  # theta's gradient runs the partials too
    return torch.autograd.grad(out, wrt, grad)[0].float()


def worst(got: torch.Tensor, ref: torch.Tensor) -> str:
    diff = (got - ref).abs()
    at = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (f"{diff.max().item():.3g} at {at}: {got[at].item():.4g} vs {ref[at].item():.4g}"
            f" ({int((diff > 1e-2).sum())} > 1e-2)")


def correctness_rows() -> list[dict]:
    rows = []
    for shape, dtype, theta_grad in itertools.product(
            CHECK_SHAPES, (torch.float32, torch.bfloat16), (False, True)):
        n = shape[0]
        gen = torch.Generator().manual_seed(2)
        x = torch.randn(shape, generator=gen).to(DEVICE, dtype).requires_grad_(True)
        theta = random_affine(n, gen).to(DEVICE).requires_grad_(theta_grad)
        grad = torch.randn(shape, generator=gen).to(DEVICE, dtype)
        ref, det, atomic = (grads(x, theta, grad, d) for d in (None, True, False))
        det2 = grads(x, theta, grad, True)
        rows.append({"shape": str(shape), "dtype": str(dtype).split(".")[-1],
                     "theta grad": theta_grad, "det - torch": worst(det, ref),
                     "atomic - torch": worst(atomic, ref), "det - atomic": worst(det, atomic),
                     "det bit-identical": torch.equal(det, det2)})
    return rows


def profile_text() -> str:
    """Where the time of one fwd+bwd goes at the small affine shape: host (CPU) against device
    (CUDA) time per call for torch's path and the fused one (atomic, deterministic), then the
    fused atomic path's operator table."""
    shape = AFFINE_SHAPES[-1]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(DEVICE).requires_grad_(True)
    theta = random_affine(shape[0], gen).to(DEVICE).requires_grad_(True)
    grad = torch.randn(shape, generator=gen).to(DEVICE)
    out_hw = shape[-2:]

    def reference(a, t):
        grid = F.affine_grid(t, list(a.shape), align_corners=False)
        return F.grid_sample(a, grid, align_corners=False)

    variants = {
        "torch affine_grid + grid_sample": reference,
        "fused, atomic": lambda a, t: fused_warp(a, t, out_hw, backend="triton"),
        "fused, deterministic": lambda a, t: fused_warp(a, t, out_hw, backend="triton",
                                                        deterministic=True),
    }
    rows, tables = [], {}
    for name, fn in variants.items():
        run = fwd_bwd(fn, x, theta, grad)
        for _ in range(3):
            run()
        torch.cuda.synchronize()
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(PROFILE_CALLS):
                run()
            torch.cuda.synchronize()
        events = prof.key_averages()
        cpu = sum(e.self_cpu_time_total for e in events) / PROFILE_CALLS / 1e3
        cuda = sum(getattr(e, "self_device_time_total", 0) or getattr(e, "self_cuda_time_total", 0)
                   for e in events) / PROFILE_CALLS / 1e3
        rows.append({"path (fwd+bwd, profiled)": name, "host ms per call": cpu,
                     "device ms per call": cuda})
        tables[name] = events.table(sort_by="cpu_time_total", row_limit=20)
    return (table(rows) + "\n\nThe profiler slows the host; compare the rows, not with "
            "`gpu_fused.py`.\n\n```\n" + tables["fused, atomic"] + "\n```")


def host_rows() -> list[dict]:
    """Host time per call (perf_counter over HOST_CALLS calls, no synchronisation in between) at
    the small affine shape: where the fused path's time goes when the GPU outruns the host."""
    import time

    kernels = importlib.import_module("torchstn.kernels.triton_sampler")
    shape = AFFINE_SHAPES[-1]
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(DEVICE).requires_grad_(True)
    theta = random_affine(n, gen).to(DEVICE).requires_grad_(True)
    grad = torch.randn(shape, generator=gen).to(DEVICE)
    params = theta.detach().contiguous()
    xd = x.detach()

    def reference(a, t):
        grid = F.affine_grid(t, list(a.shape), align_corners=False)
        return F.grid_sample(a, grid, align_corners=False)

    def launch_only():
        kernels.warp_forward_kernel[(triton_cdiv(h * w, kernels.FWD_BLOCK), n)](
            xd, params, params, params, out, c, h, w, h, w, KIND=0, PAR_STRIDE=6, M=0,
            BORDER=False, BLOCK=kernels.FWD_BLOCK, **kernels.launch_options())

    out = torch.empty_like(xd)
    cases = {
        "x + 1 (one small torch op)": lambda: xd + 1,
        "torch.empty like the output": lambda: torch.empty_like(xd),
        "Triton launch of the forward kernel alone": launch_only,
        "kernels.warp_forward (allocate + launch)": lambda: kernels.warp_forward(
            xd, params, params, params, 0, 0, (h, w), False),
        "fused_warp forward, no grad": lambda: fused_warp(xd, params, (h, w), backend="triton"),
        "torch forward, no grad": lambda: reference(xd, params),
        "fused_warp fwd+bwd (atomic)": fwd_bwd(
            lambda a, t: fused_warp(a, t, (h, w), backend="triton"), x, theta, grad),
        "fused_warp fwd+bwd (deterministic)": fwd_bwd(
            lambda a, t: fused_warp(a, t, (h, w), backend="triton", deterministic=True),
            x, theta, grad),
        "torch fwd+bwd": fwd_bwd(reference, x, theta, grad),
    }
    rows = []
    for name, fn in cases.items():
        grad_mode = torch.enable_grad() if "bwd" in name else torch.no_grad()
        with grad_mode:
            for _ in range(5):
                fn()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(HOST_CALLS):
                fn()
            host = (time.perf_counter() - start) / HOST_CALLS
            torch.cuda.synchronize()
        rows.append({f"call at {shape}": name, "host us per call": host * 1e6})
    return rows


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def sweep_rows(constants: list[str]) -> list[dict]:
    return [row for shape in AFFINE_SHAPES for row in sweep_shape(shape, constants)]


def sweep_shape(shape: tuple[int, int, int, int], constants: list[str]) -> list[dict]:
    kernels = importlib.import_module("torchstn.kernels.triton_sampler")
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(DEVICE).requires_grad_(True)
    theta = random_affine(n, gen).to(DEVICE).requires_grad_(True)
    grad = torch.randn(shape, generator=gen).to(DEVICE)

    def fused(det):
        return lambda a, t: fused_warp(a, t, (h, w), backend="triton", deterministic=det)

    rows = []
    for constant in constants:
        values = SWEEP[constant]
        default = getattr(kernels, constant)
        for value in values:
            setattr(kernels, constant, value)
            try:
                with torch.no_grad():
                    t_f = median_ms(lambda: fused(False)(x, theta), REPEATS)
                t_a = median_ms(fwd_bwd(fused(False), x, theta, grad), REPEATS)
                t_d = median_ms(fwd_bwd(fused(True), x, theta, grad), REPEATS)
            finally:
                setattr(kernels, constant, default)
            rows.append({"shape": str(shape), "constant": constant,
                         "value": f"{value}{' (default)' if value == default else ''}",
                         "forward ms": t_f, "fwd+bwd atomic ms": t_a, "fwd+bwd det ms": t_d})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the markdown report here")
    parser.add_argument("--no-sweep", action="store_true", help="correctness and profile only")
    parser.add_argument("--sweep", default=",".join(SWEEP),
                        help=f"constants to sweep, comma-separated (default: all of {list(SWEEP)})")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep")
    args = parser.parse_args(argv)
    constants = [name for name in args.sweep.split(",") if name]
    unknown = sorted(set(constants) - set(SWEEP))
    if unknown:
        parser.error(f"--sweep: unknown constants {unknown}; choose from {list(SWEEP)}")
    if not torch.cuda.is_available():
        print("gpu_tune: no CUDA device here; this sweep needs a GPU (nothing measured).")
        return 0
    if not triton_available():
        print("gpu_tune: CUDA is here but Triton is not (pip install 'torchstn[triton]').")
        return 1
    parts = [header("Fused Triton warp: large-shape correctness and launch-constant sweep"),
             f"Card: {torch.cuda.get_device_name()}. Median of {REPEATS} CUDA-event timings."]
    sections = [] if args.sweep_only else [
        ("### Input gradient against torch at the benchmark shapes",
         lambda: table(correctness_rows())),
        ("### Host time per call at the small affine shape", lambda: table(host_rows())),
        ("### Profile of 10 fwd+bwd at the small affine shape", profile_text)]
    if not args.no_sweep:
        sections.append(("### Launch constants (float32, affine, zeros padding)",
                         lambda: table(sweep_rows(constants))))
    return report_sections(parts, sections, args.out)


if __name__ == "__main__":
    sys.exit(main())
