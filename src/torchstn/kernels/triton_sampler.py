"""Triton kernels of the fused sampler: bilinear sampling with the grid generated in-kernel.

Imported lazily (only when the Triton backend runs), because importing it imports Triton and,
under ``TRITON_INTERPRET=1``, decorates the kernels for the CPU interpreter.

Every kernel recomputes the sampling point of an output pixel from the transform parameters
instead of reading a materialised ``(N, H, W, 2)`` grid. Conventions are :mod:`torchstn.coords`:
output pixel ``(i, j)`` has normalised centre ``x_t = (2 j + 1) / W_out - 1`` (``y_t`` alike),
the parameters map it to ``(x_s, y_s)``, and ``x_pix = ((x_s + 1) W - 1) / 2``
(``align_corners=False``).

Parameter layouts (float32, one row of ``N_PAR`` per sample):

* ``KIND_AFFINE``: 6 = the 2x3 matrix row-major, ``x_s = a x + b y + c``.
* ``KIND_PROJECTIVE``: 9 = the 3x3 matrix row-major, ``(x_s, y_s) = (u / w, v / w)``.
* ``KIND_TPS``: ``2 (K + 3)`` = TPS coefficients ``(K + 3, 2)`` row-major (kernel weights of the
  ``K`` control points ``ctrl`` ``(K, 2)``, then ``a_0, a_x, a_y``), ``U(r) = r^2 log r^2``.

Only Triton 3.0-era language features are used (loads/stores, atomics, reductions, loops).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

KIND_AFFINE = 0
KIND_PROJECTIVE = 1
KIND_TPS = 2
# compiled kernels may read a module global only when it is a tl.constexpr (the interpreter does not
# enforce this; tests/kernels checks it)
TINY_R2 = tl.constexpr(1e-30)  # r^2 log r^2 -> 0 at r = 0 without evaluating log(0)


@triton.jit
def _output_point(p, w_out, h_out):
    """Normalised centre (x_t, y_t) of flat output pixel ``p``."""
    i = p // w_out
    j = p - i * w_out
    xt = (j * 2 + 1).to(tl.float32) / w_out - 1.0
    yt = (i * 2 + 1).to(tl.float32) / h_out - 1.0
    return xt, yt


@triton.jit
def _tps_basis(ctrl_ptr, k, xt, yt):
    """``U(|p - c_k|) = r^2 log r^2`` for points ``(xt, yt)`` and control point ``k``."""
    dx = xt - tl.load(ctrl_ptr + 2 * k)
    dy = yt - tl.load(ctrl_ptr + 2 * k + 1)
    r2 = dx * dx + dy * dy
    return r2 * tl.log(tl.maximum(r2, TINY_R2))


@triton.jit
def _source_point(par_ptr, ctrl_ptr, xt, yt, KIND: tl.constexpr, K: tl.constexpr):
    """Normalised sampling point (x_s, y_s) and the projective denominator (1 otherwise)."""
    if KIND == 0:
        xs = tl.load(par_ptr + 0) * xt + tl.load(par_ptr + 1) * yt + tl.load(par_ptr + 2)
        ys = tl.load(par_ptr + 3) * xt + tl.load(par_ptr + 4) * yt + tl.load(par_ptr + 5)
        den = xt * 0.0 + 1.0
    elif KIND == 1:
        u = tl.load(par_ptr + 0) * xt + tl.load(par_ptr + 1) * yt + tl.load(par_ptr + 2)
        v = tl.load(par_ptr + 3) * xt + tl.load(par_ptr + 4) * yt + tl.load(par_ptr + 5)
        den = tl.load(par_ptr + 6) * xt + tl.load(par_ptr + 7) * yt + tl.load(par_ptr + 8)
        xs = u / den
        ys = v / den
    else:
        a = par_ptr + 2 * K  # affine part a_0, a_x, a_y (two columns)
        xs = tl.load(a + 0) + tl.load(a + 2) * xt + tl.load(a + 4) * yt
        ys = tl.load(a + 1) + tl.load(a + 3) * xt + tl.load(a + 5) * yt
        for k in range(K):
            basis = _tps_basis(ctrl_ptr, k, xt, yt)
            xs += tl.load(par_ptr + 2 * k) * basis
            ys += tl.load(par_ptr + 2 * k + 1) * basis
        den = xt * 0.0 + 1.0
    return xs, ys, den


@triton.jit
def _pixel(coord, size, BORDER: tl.constexpr):
    """Normalised -> pixel-index coordinate, clamped for border padding.

    Returns the coordinate (NaN-free, bounded so that the integer cast cannot overflow) and the
    factor of its gradient (0 where border padding clamps it, as ``F.grid_sample`` does).
    """
    x = ((coord + 1.0) * size - 1.0) * 0.5
    x = tl.where(x == x, x, -2.0)  # NaN -> outside
    hi = size * 1.0 - 1.0  # (not .to(): an int argument equal to 1 arrives as a constexpr)
    if BORDER:
        inside = (x > 0.0) & (x < hi)
        x = tl.minimum(tl.maximum(x, 0.0), hi)
        grad = tl.where(inside, 1.0, 0.0)
    else:
        x = tl.minimum(tl.maximum(x, -2.0), hi + 2.0)
        grad = x * 0.0 + 1.0
    return x, grad


@triton.jit
def _corners(ix, iy, w_in, h_in, live):
    """Top-left corner (x0, y0), fractions, and in-image masks of the 2x2 support."""
    x0f = tl.floor(ix)
    y0f = tl.floor(iy)
    fx = ix - x0f
    fy = iy - y0f
    x0 = x0f.to(tl.int32)
    y0 = y0f.to(tl.int32)
    mx0 = (x0 >= 0) & (x0 < w_in)
    mx1 = (x0 + 1 >= 0) & (x0 + 1 < w_in)
    my0 = (y0 >= 0) & (y0 < h_in) & live
    my1 = (y0 + 1 >= 0) & (y0 + 1 < h_in) & live
    return x0, y0, fx, fy, mx0, mx1, my0, my1


@triton.jit
def warp_forward_kernel(
    inp_ptr, par_ptr, ctrl_ptr, out_ptr,
    C, H, W, H_OUT, W_OUT,
    KIND: tl.constexpr, N_PAR: tl.constexpr, K: tl.constexpr, BORDER: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out[n, c, p] = bilinear sample of inp[n, c] at the sampling point of output pixel p."""
    pid = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    n_out = H_OUT * W_OUT
    p = pid * BLOCK + tl.arange(0, BLOCK)
    live = p < n_out
    xt, yt = _output_point(p, W_OUT, H_OUT)
    xs, ys, _ = _source_point(par_ptr + n * N_PAR, ctrl_ptr, xt, yt, KIND, K)
    ix, _ = _pixel(xs, W, BORDER)
    iy, _ = _pixel(ys, H, BORDER)
    x0, y0, fx, fy, mx0, mx1, my0, my1 = _corners(ix, iy, W, H, live)
    m00, m01, m10, m11 = my0 & mx0, my0 & mx1, my1 & mx0, my1 & mx1
    o00 = y0 * W + x0
    w00 = (1.0 - fx) * (1.0 - fy)
    w01 = fx * (1.0 - fy)
    w10 = (1.0 - fx) * fy
    w11 = fx * fy
    for c in range(C):
        src = inp_ptr + (n * C + c) * H * W + o00
        v = tl.load(src, mask=m00, other=0.0).to(tl.float32) * w00
        v += tl.load(src + 1, mask=m01, other=0.0).to(tl.float32) * w01
        v += tl.load(src + W, mask=m10, other=0.0).to(tl.float32) * w10
        v += tl.load(src + W + 1, mask=m11, other=0.0).to(tl.float32) * w11
        dst = out_ptr + (n * C + c) * n_out + p
        tl.store(dst, v.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def _store_param_grads(part_ptr, ctrl_ptr, gxs, gys, xs, ys, den, xt, yt,
                       KIND: tl.constexpr, K: tl.constexpr):
    """This block's share of dL/dparams: sum over its pixels of dL/d(x_s, y_s) d(x_s, y_s)/dparams
    (stored, not accumulated: the host reduces the blocks in a fixed order)."""
    if KIND == 0:
        tl.store(part_ptr + 0, tl.sum(gxs * xt, axis=0))
        tl.store(part_ptr + 1, tl.sum(gxs * yt, axis=0))
        tl.store(part_ptr + 2, tl.sum(gxs, axis=0))
        tl.store(part_ptr + 3, tl.sum(gys * xt, axis=0))
        tl.store(part_ptr + 4, tl.sum(gys * yt, axis=0))
        tl.store(part_ptr + 5, tl.sum(gys, axis=0))
    elif KIND == 1:
        gu = gxs / den  # x_s = u / w: dx_s/du = 1/w, dx_s/dw = -x_s/w
        gv = gys / den
        gw = -(gxs * xs + gys * ys) / den
        tl.store(part_ptr + 0, tl.sum(gu * xt, axis=0))
        tl.store(part_ptr + 1, tl.sum(gu * yt, axis=0))
        tl.store(part_ptr + 2, tl.sum(gu, axis=0))
        tl.store(part_ptr + 3, tl.sum(gv * xt, axis=0))
        tl.store(part_ptr + 4, tl.sum(gv * yt, axis=0))
        tl.store(part_ptr + 5, tl.sum(gv, axis=0))
        tl.store(part_ptr + 6, tl.sum(gw * xt, axis=0))
        tl.store(part_ptr + 7, tl.sum(gw * yt, axis=0))
        tl.store(part_ptr + 8, tl.sum(gw, axis=0))
    else:
        for k in range(K):
            basis = _tps_basis(ctrl_ptr, k, xt, yt)
            tl.store(part_ptr + 2 * k, tl.sum(gxs * basis, axis=0))
            tl.store(part_ptr + 2 * k + 1, tl.sum(gys * basis, axis=0))
        a = part_ptr + 2 * K
        tl.store(a + 0, tl.sum(gxs, axis=0))
        tl.store(a + 1, tl.sum(gys, axis=0))
        tl.store(a + 2, tl.sum(gxs * xt, axis=0))
        tl.store(a + 3, tl.sum(gys * xt, axis=0))
        tl.store(a + 4, tl.sum(gxs * yt, axis=0))
        tl.store(a + 5, tl.sum(gys * yt, axis=0))


@triton.jit
def warp_backward_kernel(
    inp_ptr, gout_ptr, par_ptr, ctrl_ptr, gin32_ptr, key_ptr, part_ptr,
    C, H, W, H_OUT, W_OUT, N_BLOCKS,
    KIND: tl.constexpr, N_PAR: tl.constexpr, K: tl.constexpr, BORDER: tl.constexpr,
    SCATTER: tl.constexpr, KEYS: tl.constexpr, PARAM_GRAD: tl.constexpr, BLOCK: tl.constexpr,
):
    """One pass over output pixels: parameter-gradient partials (in-kernel reduction per block),
    and either the input gradient scattered with fp32 atomics (``SCATTER``) or, for the
    deterministic path, the sort key of every output pixel (``KEYS``): the cell of its top-left
    support corner in an ``(H + 1) x (W + 1)`` grid (offset by one), or the sentinel
    ``N (H + 1) (W + 1)`` when the point touches no input pixel."""
    pid = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    n_out = H_OUT * W_OUT
    p = pid * BLOCK + tl.arange(0, BLOCK)
    live = p < n_out
    xt, yt = _output_point(p, W_OUT, H_OUT)
    xs, ys, den = _source_point(par_ptr + n * N_PAR, ctrl_ptr, xt, yt, KIND, K)
    ix, dix = _pixel(xs, W, BORDER)
    iy, diy = _pixel(ys, H, BORDER)
    x0, y0, fx, fy, mx0, mx1, my0, my1 = _corners(ix, iy, W, H, live)
    m00, m01, m10, m11 = my0 & mx0, my0 & mx1, my1 & mx0, my1 & mx1
    o00 = y0 * W + x0
    if KEYS:
        cells = (H + 1) * (W + 1)
        touches = (x0 >= -1) & (x0 < W) & (y0 >= -1) & (y0 < H) & live
        sentinel = tl.num_programs(1).to(tl.int64) * cells
        key = tl.where(touches, n * cells + (y0 + 1) * (W + 1) + (x0 + 1), sentinel)
        tl.store(key_ptr + n * n_out + p, key.to(key_ptr.dtype.element_ty), mask=live)
    if SCATTER or PARAM_GRAD:
        gx = tl.zeros([BLOCK], dtype=tl.float32)
        gy = tl.zeros([BLOCK], dtype=tl.float32)
        for c in range(C):
            g = tl.load(gout_ptr + (n * C + c) * n_out + p, mask=live, other=0.0).to(tl.float32)
            plane = (n * C + c) * H * W + o00
            if PARAM_GRAD:
                src = inp_ptr + plane
                v00 = tl.load(src, mask=m00, other=0.0).to(tl.float32)
                v01 = tl.load(src + 1, mask=m01, other=0.0).to(tl.float32)
                v10 = tl.load(src + W, mask=m10, other=0.0).to(tl.float32)
                v11 = tl.load(src + W + 1, mask=m11, other=0.0).to(tl.float32)
                gx += g * ((v01 - v00) * (1.0 - fy) + (v11 - v10) * fy)
                gy += g * ((v10 - v00) * (1.0 - fx) + (v11 - v01) * fx)
            if SCATTER:
                dst = gin32_ptr + plane
                tl.atomic_add(dst, g * (1.0 - fx) * (1.0 - fy), mask=m00, sem="relaxed")
                tl.atomic_add(dst + 1, g * fx * (1.0 - fy), mask=m01, sem="relaxed")
                tl.atomic_add(dst + W, g * (1.0 - fx) * fy, mask=m10, sem="relaxed")
                tl.atomic_add(dst + W + 1, g * fx * fy, mask=m11, sem="relaxed")
        if PARAM_GRAD:
            # chain rule to normalised coordinates: x_pix = ((x_s + 1) W - 1) / 2
            gxs = tl.where(live, gx * dix * (W * 0.5), 0.0)
            gys = tl.where(live, gy * diy * (H * 0.5), 0.0)
            dst = part_ptr + (n * N_BLOCKS + pid) * N_PAR
            _store_param_grads(dst, ctrl_ptr, gxs, gys, xs, ys, den, xt, yt, KIND, K)


@triton.jit
def _add_contributions(acc, gout_ptr, par, ctrl_ptr, p, hit, x, y, cs, c_live, n, C, H, W,
                       H_OUT, W_OUT, KIND: tl.constexpr, K: tl.constexpr, BORDER: tl.constexpr):
    """acc[c, q] += grad_out[n, c, p] k(x_s(p) - x) k(y_s(p) - y) for candidate output pixels p.

    Tent weights from the forward's own formulas, so a candidate outside the support adds exactly 0,
    and a recomputation that rounds a point across a cell edge still gets the right weight."""
    xt, yt = _output_point(p, W_OUT, H_OUT)
    xs, ys, _ = _source_point(par, ctrl_ptr, xt, yt, KIND, K)
    ix, _ = _pixel(xs, W, BORDER)
    iy, _ = _pixel(ys, H, BORDER)
    wx = tl.maximum(1.0 - tl.abs(ix - x.to(tl.float32)), 0.0)
    wy = tl.maximum(1.0 - tl.abs(iy - y.to(tl.float32)), 0.0)
    wgt = tl.where(hit, wx * wy, 0.0)
    src = gout_ptr + (n * C + cs[:, None]) * (H_OUT * W_OUT) + p[None, :]
    g = tl.load(src, mask=c_live[:, None] & (wgt > 0.0)[None, :], other=0.0)
    return acc + g.to(tl.float32) * wgt[None, :]


@triton.jit
def warp_gather_kernel(
    gout_ptr, par_ptr, ctrl_ptr, perm_ptr, seg_ptr, gin_ptr,
    C, H, W, H_OUT, W_OUT,
    KIND: tl.constexpr, N_PAR: tl.constexpr, K: tl.constexpr, BORDER: tl.constexpr,
    BLOCK: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Deterministic input gradient, gather-style, any map: each input pixel (y, x) sums, in a fixed
    order, the contributions of the output pixels whose top-left support corner is one of
    (y - 1 | y, x - 1 | x). Those output pixels are found in ``perm`` (output pixels stably sorted
    by that corner's cell); ``seg`` holds each cell's first position in ``perm``. Cells
    (r, x - 1) and (r, x) are adjacent, so each pixel reads two contiguous segments. No atomics.
    """
    pid = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    q = pid * BLOCK + tl.arange(0, BLOCK)
    live = q < H * W
    y = q // W
    x = q - y * W
    row = W + 1
    cells = n * (H + 1) * row
    par = par_ptr + n * N_PAR
    chan = tl.arange(0, BLOCK_C)
    for c0 in range(0, C, BLOCK_C):
        cs = c0 + chan
        c_live = cs < C
        acc = tl.zeros([BLOCK_C, BLOCK], dtype=tl.float32)
        for dy in range(2):
            # corner row y0 = y - dy, i.e. row y0 + 1 of the offset cell grid
            first = cells + (y + 1 - dy) * row + x
            start = tl.load(seg_ptr + first, mask=live, other=0)
            stop = tl.load(seg_ptr + first + 2, mask=live, other=0)
            count = tl.where(live, stop - start, 0)
            for e in range(tl.max(count, axis=0)):
                hit = live & (e < count)
                p = tl.load(perm_ptr + start + e, mask=hit, other=0) - n * (H_OUT * W_OUT)
                acc = _add_contributions(acc, gout_ptr, par, ctrl_ptr, p, hit, x, y, cs, c_live,
                                         n, C, H, W, H_OUT, W_OUT, KIND, K, BORDER)
        dst = gin_ptr + (n * C + cs[:, None]) * H * W + q[None, :]
        tl.store(dst, acc.to(gin_ptr.dtype.element_ty), mask=c_live[:, None] & live[None, :])


@triton.jit
def warp_gather_affine_kernel(
    gout_ptr, par_ptr, inv_ptr, gin_ptr,
    C, H, W, H_OUT, W_OUT,
    N_PAR: tl.constexpr, BLOCK: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Deterministic input gradient of an affine map with zeros padding, no sort: the output pixels
    whose point lies in the support square (x +- 1, y +- 1) of input pixel (y, x) form a
    parallelogram, found with the inverse map. ``inv_ptr`` rows (per sample): the inverse
    ``m00, m01, m10, m11`` of the pixel-space map ``(j, i) -> (x_pix, y_pix)``, its offsets
    ``c_x, c_y``, and the candidate counts ``n_j, n_i`` along each output axis."""
    pid = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    q = pid * BLOCK + tl.arange(0, BLOCK)
    live = q < H * W
    y = q // W
    x = q - y * W
    inv = inv_ptr + n * 8
    m00 = tl.load(inv + 0)
    m01 = tl.load(inv + 1)
    m10 = tl.load(inv + 2)
    m11 = tl.load(inv + 3)
    n_j = tl.load(inv + 6).to(tl.int32)
    n_i = tl.load(inv + 7).to(tl.int32)
    dx = x.to(tl.float32) - tl.load(inv + 4)
    dy = y.to(tl.float32) - tl.load(inv + 5)
    # first candidate along each axis: the smallest integer above centre - half extent (clamped so
    # the cast cannot overflow; far-away candidates are masked anyway)
    j_lo = tl.floor(m00 * dx + m01 * dy - (tl.abs(m00) + tl.abs(m01))) + 1.0
    i_lo = tl.floor(m10 * dx + m11 * dy - (tl.abs(m10) + tl.abs(m11))) + 1.0
    j_lo = tl.minimum(tl.maximum(j_lo, -1.0 - n_j), W_OUT * 1.0).to(tl.int32)
    i_lo = tl.minimum(tl.maximum(i_lo, -1.0 - n_i), H_OUT * 1.0).to(tl.int32)
    par = par_ptr + n * N_PAR
    chan = tl.arange(0, BLOCK_C)
    for c0 in range(0, C, BLOCK_C):
        cs = c0 + chan
        c_live = cs < C
        acc = tl.zeros([BLOCK_C, BLOCK], dtype=tl.float32)
        for di in range(n_i):
            i = i_lo + di
            i_ok = live & (i >= 0) & (i < H_OUT)
            for dj in range(n_j):
                j = j_lo + dj
                hit = i_ok & (j >= 0) & (j < W_OUT)
                p = tl.where(hit, i * W_OUT + j, 0)
                acc = _add_contributions(acc, gout_ptr, par, par, p, hit, x, y, cs, c_live,
                                         n, C, H, W, H_OUT, W_OUT, 0, 0, False)
        dst = gin_ptr + (n * C + cs[:, None]) * H * W + q[None, :]
        tl.store(dst, acc.to(gin_ptr.dtype.element_ty), mask=c_live[:, None] & live[None, :])


# ---------------------------------------------------------------- host-side launchers

FWD_BLOCK = 512  # output pixels per program of the forward
BWD_BLOCK = 256  # output pixels per program of the backward (one parameter partial each)
GATHER_BLOCK = 128  # input pixels per program of the deterministic gathers
MAX_BLOCK_C = 8  # channels per tile of the gathers
MAX_AFFINE_CANDIDATES = 64  # larger support preimages (strong zoom-in) take the sorted gather
NUM_WARPS = 4
NUM_STAGES = 1  # the channel loops are not software-pipelined (the setting checked on the H200)
# No a * b + c contraction into FMAs. With it, the float32 backward that computes both the input
# gradient (atomics) and theta's partials gave wrong input gradients for 10 to 200 pixels of a
# (32..256, 3, 224, 224) batch on an H200 (Triton 3.6), whenever a thread held two or more pixels:
# most likely the sampling point was rounded differently where it picked the input pixel and where
# it weighted it. Without contraction every copy rounds alike, and the same run gave right gradients
# (benchmarks/gpu_bisect.py -> results/gpu/bisect.txt).
FP_FUSION = False
INT32_LIMIT = 2**31 - 1


def launch_options() -> dict[str, object]:
    """The compile options of every launch (read at call time: the tuning scripts set the
    constants above)."""
    return {"num_warps": NUM_WARPS, "num_stages": NUM_STAGES, "enable_fp_fusion": FP_FUSION}


def warp_forward(input, params, ctrl, kind: int, n_ctrl: int, out_size, border: bool):
    """``(N, C, H_out, W_out)`` in the input's dtype. ``input`` contiguous, ``params`` float32
    ``(N, N_PAR)``, ``ctrl`` float32 ``(n_ctrl, 2)`` (any tensor when not TPS)."""
    n, c, h, w = input.shape
    h_out, w_out = out_size
    out = torch.empty(n, c, h_out, w_out, dtype=input.dtype, device=input.device)
    if out.numel() == 0:
        return out
    grid = (triton.cdiv(h_out * w_out, FWD_BLOCK), n)
    warp_forward_kernel[grid](
        input, params, ctrl, out, c, h, w, h_out, w_out,
        KIND=kind, N_PAR=params.shape[1], K=n_ctrl, BORDER=border, BLOCK=FWD_BLOCK,
        **launch_options(),
    )
    return out


def warp_backward(input, grad_out, params, ctrl, kind: int, n_ctrl: int, border: bool,
                  deterministic: bool, need_input: bool, need_params: bool):
    """Gradients ``(grad_input or None, grad_params or None)``.

    ``grad_params`` ``(N, N_PAR)`` float32 is the fixed-order ``torch.sum`` of per-block partials
    (deterministic in both modes). ``grad_input`` comes from fp32 atomics, or, if
    ``deterministic``, from an atomic-free gather, bit-identical across runs: through the inverse
    map for affine maps with zeros padding, else through a stable sort of the output pixels by
    support cell.
    """
    n, c, h, w = input.shape
    h_out, w_out = grad_out.shape[-2:]
    n_out = h_out * w_out
    n_par = params.shape[1]
    blocks = triton.cdiv(n_out, BWD_BLOCK)
    dev = input.device
    inverse = None
    if need_input and deterministic and kind == KIND_AFFINE and not border:
        inverse = _affine_inverse(params, (h, w), (h_out, w_out))
    scatter = need_input and not deterministic
    keys_on = need_input and deterministic and inverse is None
    cells = n * (h + 1) * (w + 1)
    key_dtype = torch.int32 if cells < INT32_LIMIT else torch.int64
    part = torch.empty(n, blocks, n_par, dtype=torch.float32, device=dev) if need_params else params
    gin32 = torch.zeros(input.shape, dtype=torch.float32, device=dev) if scatter else params
    keys = torch.empty(n * n_out, dtype=key_dtype, device=dev) if keys_on else params
    if n * n_out > 0 and (scatter or keys_on or need_params):
        warp_backward_kernel[(blocks, n)](
            input, grad_out, params, ctrl, gin32, keys, part,
            c, h, w, h_out, w_out, blocks,
            KIND=kind, N_PAR=n_par, K=n_ctrl, BORDER=border,
            SCATTER=scatter, KEYS=keys_on, PARAM_GRAD=need_params, BLOCK=BWD_BLOCK,
            **launch_options(),
        )
    grad_params = part.sum(1) if need_params else None
    grad_input = None
    if scatter:
        grad_input = gin32.to(input.dtype)
    elif keys_on:
        grad_input = _sorted_gather(input, grad_out, params, ctrl, keys, kind, n_ctrl, border)
    elif need_input:
        grad_input = _affine_gather(input, grad_out, params, inverse)
    return grad_input, grad_params


def _channel_block(c: int) -> int:
    return min(triton.next_power_of_2(max(c, 1)), MAX_BLOCK_C)


def _sorted_gather(input, grad_out, params, ctrl, keys, kind, n_ctrl, border):
    n, c, h, w = input.shape
    h_out, w_out = grad_out.shape[-2:]
    grad_input = torch.empty_like(input)
    if grad_input.numel() == 0:
        return grad_input
    sorted_keys, perm = torch.sort(keys, stable=True)  # stable: a fixed order within each cell
    cells = n * (h + 1) * (w + 1)
    queries = torch.arange(cells + 1, dtype=keys.dtype, device=keys.device)
    small = keys.numel() < INT32_LIMIT
    seg = torch.searchsorted(sorted_keys, queries, out_int32=small)  # first position per cell
    warp_gather_kernel[(triton.cdiv(h * w, GATHER_BLOCK), n)](
        grad_out, params, ctrl, perm, seg, grad_input, c, h, w, h_out, w_out,
        KIND=kind, N_PAR=params.shape[1], K=n_ctrl, BORDER=border,
        BLOCK=GATHER_BLOCK, BLOCK_C=_channel_block(c), **launch_options(),
    )
    return grad_input


def _affine_inverse(params, in_size, out_size):
    """Per-sample rows for :func:`warp_gather_affine_kernel` ``(N, 8)`` float32, or None when a
    map is singular or its support preimage has more than ``MAX_AFFINE_CANDIDATES`` pixels
    (one host sync)."""
    h, w = in_size
    h_out, w_out = out_size
    a, b, c, d, e, f = params.double().unbind(1)
    # x_pix = ((x_s + 1) W - 1) / 2 with x_t = (2 j + 1) / W_out - 1: x_pix = A j + B i + C0
    ax, bx = a * w / w_out, b * w / h_out
    cx = w / 2 * (a * (1 / w_out - 1) + b * (1 / h_out - 1) + c + 1) - 0.5
    ay, by = d * h / w_out, e * h / h_out
    cy = h / 2 * (d * (1 / w_out - 1) + e * (1 / h_out - 1) + f + 1) - 0.5
    det = ax * by - bx * ay
    m00, m01, m10, m11 = by / det, -bx / det, -ay / det, ax / det
    # the open square (x +- 1, y +- 1) maps to a parallelogram with these half extents in (j, i)
    n_j = torch.ceil(2 * (m00.abs() + m01.abs()))
    n_i = torch.ceil(2 * (m10.abs() + m11.abs()))
    rows = torch.stack([m00, m01, m10, m11, cx, cy, n_j, n_i], 1)
    count = n_j * n_i
    worst = torch.where(torch.isfinite(rows).all(1), count, torch.inf).max()
    if params.shape[0] == 0 or not bool(worst <= MAX_AFFINE_CANDIDATES):
        return None
    return rows.float().contiguous()


def _affine_gather(input, grad_out, params, inverse):
    n, c, h, w = input.shape
    h_out, w_out = grad_out.shape[-2:]
    grad_input = torch.empty_like(input)
    if grad_input.numel() == 0:
        return grad_input
    warp_gather_affine_kernel[(triton.cdiv(h * w, GATHER_BLOCK), n)](
        grad_out, params, inverse, grad_input, c, h, w, h_out, w_out,
        N_PAR=params.shape[1], BLOCK=GATHER_BLOCK, BLOCK_C=_channel_block(c),
        **launch_options(),
    )
    return grad_input
