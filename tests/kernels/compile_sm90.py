"""Compile the fused-sampler kernels for an H100/H200 (sm_90) on a machine without a GPU.

    python tests/kernels/compile_sm90.py [--all]

Triton's interpreter runs the kernels' Python, but only the compiler sees what compiled code may
not do (a kernel reading a non-constexpr global, a loop-carried type change, ...). This builds
every kernel through Triton's full pipeline to a cubin for ``GPUTarget("cuda", 90, 32)``; the
default set covers each kernel, each transform kind and both paddings in float32 plus the bfloat16
forward, ``--all`` every specialisation the launchers can ask for. Run without TRITON_INTERPRET
(``tests/kernels`` runs it in a subprocess). Prints one line per failure; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from torchstn.kernels import triton_sampler as ks  # noqa: E402

TARGET = GPUTarget("cuda", 90, 32)
KINDS = [(ks.KIND_AFFINE, 6, 0), (ks.KIND_PROJECTIVE, 9, 0), (ks.KIND_TPS, 32, 16)]  # PAR_STRIDE, M
SIZES = dict.fromkeys(["C", "H", "W", "H_OUT", "W_OUT", "N_BLOCKS"], "i32")


def compile_kernel(kernel, types: dict[str, str], constants: dict[str, int]) -> None:
    names = kernel.arg_names
    signature = {n: "constexpr" if n in constants else types[n] for n in names}
    source = ASTSource(kernel, signature, {(names.index(k),): v for k, v in constants.items()})
    triton.compile(source, target=TARGET, options=ks.launch_options())


def jobs(everything: bool):
    """(label, kernel, argument types, constexpr values) for each specialisation to build."""
    dtypes = ["fp32", "bf16", "fp16"] if everything else ["fp32"]
    for dt, (kind, n_par, k), border in itertools.product(dtypes, KINDS, (0, 1)):
        common = dict(KIND=kind, PAR_STRIDE=n_par, M=k, BORDER=border)
        ptrs = dict(inp_ptr=f"*{dt}", gout_ptr=f"*{dt}", par_ptr="*fp32", ctrl_ptr="*fp32",
                    wmat_ptr="*fp32",
                    out_ptr=f"*{dt}", gin32_ptr="*fp32", part_ptr="*fp32", perm_ptr="*i64",
                    gin_ptr=f"*{dt}")
        tag = f"{dt} kind {kind} border {border}"
        yield (f"forward {tag}", ks.warp_forward_kernel, {**ptrs, **SIZES},
               dict(common, BLOCK=ks.FWD_BLOCK))
        modes = [(1, 0, 1), (0, 1, 1), (0, 0, 1), (1, 0, 0), (0, 1, 0)] if everything else \
            [(1, 0, 1), (0, 1, 1)]  # (SCATTER, KEYS, PARAM_GRAD)
        if everything or (dt, border) == ("fp32", 0):  # the single program per small sample
            yield (f"backward {tag} one block", ks.warp_backward_kernel,
                   {**ptrs, **SIZES, "key_ptr": "*i32"},
                   dict(common, SCATTER=1, KEYS=0, PARAM_GRAD=1, BLOCK=ks.SINGLE_BLOCK_MAX))
        for (scatter, keys, grads), key_dt in itertools.product(modes, ["i32", "i64"]):
            if not keys and key_dt == "i64":
                continue
            yield (f"backward {tag} scatter {scatter} keys {keys} {key_dt} params {grads}",
                   ks.warp_backward_kernel, {**ptrs, **SIZES, "key_ptr": f"*{key_dt}"},
                   dict(common, SCATTER=scatter, KEYS=keys, PARAM_GRAD=grads, BLOCK=ks.BWD_BLOCK))
        for seg_dt in ["i32", "i64"] if everything else ["i32"]:
            yield (f"sorted gather {tag} {seg_dt}", ks.warp_gather_kernel,
                   {**ptrs, **SIZES, "seg_ptr": f"*{seg_dt}"},
                   dict(common, BLOCK=ks.GATHER_BLOCK, BLOCK_C=4))
        if kind == ks.KIND_AFFINE and not border:
            for caps in (True, False):
                yield (f"affine gather {dt} caps {caps}", ks.warp_gather_affine_kernel,
                       {**ptrs, **SIZES},
                       dict(PAR_STRIDE=n_par, BLOCK=ks.GATHER_BLOCK, BLOCK_C=4, CAPS=caps))
    if not everything:
        yield ("forward bf16 tps", ks.warp_forward_kernel,
               {"inp_ptr": "*bf16", "par_ptr": "*fp32", "ctrl_ptr": "*fp32", "wmat_ptr": "*fp32",
                "out_ptr": "*bf16", **SIZES},
               dict(KIND=ks.KIND_TPS, PAR_STRIDE=32, M=16, BORDER=0, BLOCK=ks.FWD_BLOCK))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every specialisation (minutes)")
    args = parser.parse_args(argv)
    failures = built = 0
    for label, kernel, types, constants in jobs(args.all):
        try:
            compile_kernel(kernel, types, constants)
            built += 1
        except Exception as error:  # noqa: BLE001 - each failure is reported, then the status
            failures += 1
            print(f"FAILED {label}: {type(error).__name__}: {str(error).strip()[-800:]}")
    print(f"compiled {built} kernel specialisations for sm_90, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
