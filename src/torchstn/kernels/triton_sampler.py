"""Triton kernels of the fused sampler: bilinear sampling with the grid generated in-kernel.

Imported lazily (only when the Triton backend runs), because importing it imports Triton and,
under ``TRITON_INTERPRET=1``, decorates the kernels for the CPU interpreter.

Every kernel recomputes the sampling point of an output pixel instead of reading a materialised
``(N, H, W, 2)`` grid. Conventions are :mod:`torchstn.coords`: output pixel ``(i, j)`` has
normalised centre ``x_t = (2 j + 1) / W_out - 1`` (``y_t`` alike), the parameters map it to
``(x_s, y_s)``, and the input-pixel coordinate is ``x_pix = ((x_s + 1) W - 1) / 2``
(``align_corners=False``). Each program first folds those steps into per-sample coefficients of
``(j, i)`` (:func:`_pixel_map`), so a pixel costs a few multiply-adds: ``x_pix = a j + b i + c``
for affine maps, a ratio of two such lines for projective ones, and for TPS the identity line
plus ``(W / 2) sum_m w_m(p) d_m``, with the spline's per-pixel weights ``w`` precomputed
(``(M, H_out W_out)``, see ``TPS.weights``) and ``d`` the control points' displacements.

Parameter rows (float32, ``PAR_STRIDE`` values per sample):

* ``KIND_AFFINE``: the 2x3 matrix row-major, ``x_s = a x + b y + c`` (stride 6; or a 3x3 matrix,
  stride 9, whose last row is ignored and gets a zero gradient).
* ``KIND_PROJECTIVE``: the 3x3 matrix row-major, ``(x_s, y_s) = (u / w, v / w)``.
* ``KIND_TPS``: the ``M`` target points ``(M, 2)`` of the control grid ``ctrl`` ``(M, 2)``.

Offsets inside one sample are int32 (a sample's ``C H W`` must stay below 2**31; the launchers
check), the sample's base is int64. Checked with Triton 3.6 (compiled, on an H200) and 3.9 (the
interpreter, and compiled for sm_90 without a GPU: ``tests/kernels/compile_sm90.py``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..transforms.base import MIN_W as _MIN_W

KIND_AFFINE = 0
KIND_PROJECTIVE = 1
KIND_TPS = 2
# compiled kernels may read a module global only when it is a tl.constexpr (the interpreter does not
# enforce this; tests/kernels checks it)
SLACK = tl.constexpr(1e-4)  # the affine gather's candidate windows are this much wider (in indices)
MIN_W = tl.constexpr(_MIN_W)  # |den| below this divides as this, sign kept (transforms.base.safe_w)


@triton.jit
def _output_pixel(p, W_OUT):
    """Row and column ``(i, j)`` of flat output pixel ``p`` (int32), without an integer division:
    a float estimate of the row, corrected by one where it rounded across a row boundary."""
    i = ((p.to(tl.float32) + 0.5) * (1.0 / W_OUT)).to(tl.int32)
    j = p - i * W_OUT
    i = tl.where(j < 0, i - 1, tl.where(j >= W_OUT, i + 1, i))
    j = p - i * W_OUT
    return i, j


@triton.jit
def _line(p, q, r, scale, rj, ri):
    """Coefficients ``(cj, ci, c0)`` of ``scale (p x_t + q y_t + r)`` as ``cj j + ci i + c0``, where
    ``rj = 2 scale / W_out`` and ``ri = 2 scale / H_out`` (one rounding each: exact at the
    identity when the sizes match)."""
    cj = p * rj
    ci = q * ri
    c0 = 0.5 * (cj + ci) + scale * (r - p - q)
    return cj, ci, c0


@triton.jit
def _pixel_map(par, W, H, W_OUT, H_OUT, KIND: tl.constexpr):
    """Per-sample coefficients: ``nx = ax j + bx i + cx``, ``ny`` alike and the projective
    denominator ``den = aw j + bw i + cw``; the input-pixel coordinate is ``nx`` (affine, and TPS
    before its displacement term) or ``nx / den - 0.5`` (projective)."""
    rx_j = W * 1.0 / W_OUT  # (not .to(): an int argument equal to 1 arrives as a constexpr)
    rx_i = W * 1.0 / H_OUT
    ry_j = H * 1.0 / W_OUT
    ry_i = H * 1.0 / H_OUT
    half_w = W * 0.5
    half_h = H * 0.5
    aw = tl.full([], 0.0, tl.float32)  # the denominator's line: 1 unless projective
    bw = tl.full([], 0.0, tl.float32)
    cw = tl.full([], 1.0, tl.float32)
    if KIND == 0:
        ax, bx, cx = _line(tl.load(par + 0), tl.load(par + 1), tl.load(par + 2) + 1.0, half_w,
                           rx_j, rx_i)
        ay, by, cy = _line(tl.load(par + 3), tl.load(par + 4), tl.load(par + 5) + 1.0, half_h,
                           ry_j, ry_i)
        cx = cx - 0.5
        cy = cy - 0.5
    elif KIND == 1:
        g = tl.load(par + 6)
        h = tl.load(par + 7)
        k = tl.load(par + 8)
        # x_pix = (W / 2) (u / w + 1) - 1/2 = (W / 2) (u + w) / w - 1/2
        ax, bx, cx = _line(tl.load(par + 0) + g, tl.load(par + 1) + h, tl.load(par + 2) + k,
                           half_w, rx_j, rx_i)
        ay, by, cy = _line(tl.load(par + 3) + g, tl.load(par + 4) + h, tl.load(par + 5) + k,
                           half_h, ry_j, ry_i)
        aw, bw, cw = _line(g, h, k, 1.0, 2.0 / W_OUT, 2.0 / H_OUT)
    else:
        ax, bx, cx = _line(1.0, 0.0, 1.0, half_w, rx_j, rx_i)
        ay, by, cy = _line(0.0, 1.0, 1.0, half_h, ry_j, ry_i)
        cx = cx - 0.5
        cy = cy - 0.5
    return ax, bx, cx, ay, by, cy, aw, bw, cw


@triton.jit
def _source_pixel(i, j, p, ax, bx, cx, ay, by, cy, aw, bw, cw, par, ctrl_ptr, wmat_ptr, n_out,
                  W, H, KIND: tl.constexpr, M: tl.constexpr):
    """Input-pixel coordinates ``(ix, iy)`` of output pixels ``(i, j)`` (flat ``p``, in range), from
    :func:`_pixel_map`'s coefficients, before padding, and the projective denominator (else 1)."""
    jf = j.to(tl.float32)
    fi = i.to(tl.float32)
    ix = ax * jf + bx * fi + cx
    iy = ay * jf + by * fi + cy
    den = jf * 0.0 + 1.0
    if KIND == 1:
        raw = aw * jf + bw * fi + cw
        # a vanishing w gives a far point, not inf/NaN: as the torch path's u / safe_w(w). The
        # numerator (W / 2)(u + w) holds the raw w: where w was raised, swap it for the raised one
        den = tl.where(raw < 0.0, tl.minimum(raw, -MIN_W), tl.maximum(raw, MIN_W))
        raised = den != raw
        ix = tl.where(raised, ix + (W * 0.5) * (den - raw), ix) / den - 0.5
        iy = tl.where(raised, iy + (H * 0.5) * (den - raw), iy) / den - 0.5
    if KIND == 2:
        dx = jf * 0.0
        dy = jf * 0.0
        for m in range(M):
            wgt = tl.load(wmat_ptr + m * n_out + p, mask=p < n_out, other=0.0)
            dx += wgt * (tl.load(par + 2 * m) - tl.load(ctrl_ptr + 2 * m))
            dy += wgt * (tl.load(par + 2 * m + 1) - tl.load(ctrl_ptr + 2 * m + 1))
        ix += dx * (W * 0.5)
        iy += dy * (H * 0.5)
    return ix, iy, den


@triton.jit
def _pixel(x, size, BORDER: tl.constexpr):
    """Padding applied to an input-pixel coordinate: returns it NaN-free and bounded (so that the
    integer cast cannot overflow), and the factor of its gradient (0 where border padding clamps
    it, as ``F.grid_sample`` does)."""
    x = tl.where(x == x, x, -2.0)  # NaN -> outside
    hi = size * 1.0 - 1.0
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
    inp_ptr, par_ptr, ctrl_ptr, wmat_ptr, out_ptr,
    C, H, W, H_OUT, W_OUT,
    KIND: tl.constexpr, PAR_STRIDE: tl.constexpr, M: tl.constexpr, BORDER: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out[n, c, p] = bilinear sample of inp[n, c] at the sampling point of output pixel p."""
    pid = tl.program_id(0)
    n = tl.program_id(1)
    n_out = H_OUT * W_OUT
    p = pid * BLOCK + tl.arange(0, BLOCK)
    live = p < n_out
    i, j = _output_pixel(p, W_OUT)
    par = par_ptr + n * PAR_STRIDE
    ax, bx, cx, ay, by, cy, aw, bw, cw = _pixel_map(par, W, H, W_OUT, H_OUT, KIND)
    ix, iy, _ = _source_pixel(i, j, p, ax, bx, cx, ay, by, cy, aw, bw, cw, par, ctrl_ptr, wmat_ptr,
                              n_out, W, H, KIND, M)
    ix, _ = _pixel(ix, W, BORDER)
    iy, _ = _pixel(iy, H, BORDER)
    x0, y0, fx, fy, mx0, mx1, my0, my1 = _corners(ix, iy, W, H, live)
    m00, m01, m10, m11 = my0 & mx0, my0 & mx1, my1 & mx0, my1 & mx1
    o00 = y0 * W + x0
    w00 = (1.0 - fx) * (1.0 - fy)
    w01 = fx * (1.0 - fy)
    w10 = (1.0 - fx) * fy
    w11 = fx * fy
    inp = inp_ptr + n.to(tl.int64) * (C * H * W)
    out = out_ptr + n.to(tl.int64) * (C * n_out)
    for c in range(C):
        src = inp + c * (H * W) + o00
        v = tl.load(src, mask=m00, other=0.0).to(tl.float32) * w00
        v += tl.load(src + 1, mask=m01, other=0.0).to(tl.float32) * w01
        v += tl.load(src + W, mask=m10, other=0.0).to(tl.float32) * w10
        v += tl.load(src + W + 1, mask=m11, other=0.0).to(tl.float32) * w11
        tl.store(out + c * n_out + p, v.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def _store_param_grads(part, ctrl_ptr, wmat_ptr, gxs, gys, ix, iy, den, i, j, p,
                       n_out, W, H, W_OUT, H_OUT,
                       KIND: tl.constexpr, PAR_STRIDE: tl.constexpr, M: tl.constexpr):
    """This block's share of dL/dparams from dL/d(x_s, y_s) (normalised): stored, not accumulated
    (the host reduces the blocks in a fixed order)."""
    if KIND == 2:
        for m in range(M):
            # x_s = x_t + sum_m w_m (t_m - c_m)
            wgt = tl.load(wmat_ptr + m * n_out + p, mask=p < n_out, other=0.0)
            tl.store(part + 2 * m, tl.sum(gxs * wgt, axis=0))
            tl.store(part + 2 * m + 1, tl.sum(gys * wgt, axis=0))
    else:
        xt = (j * 2 + 1).to(tl.float32) * (1.0 / W_OUT) - 1.0
        yt = (i * 2 + 1).to(tl.float32) * (1.0 / H_OUT) - 1.0
        if KIND == 1:
            xs = (ix + 0.5) * (2.0 / W) - 1.0  # u / w, from the unclamped pixel coordinate
            ys = (iy + 0.5) * (2.0 / H) - 1.0
            gu = gxs / den  # x_s = u / w: dx_s/du = 1/w, dx_s/dw = -x_s/w
            gv = gys / den
            gw = -(gxs * xs + gys * ys) / den
            tl.store(part + 6, tl.sum(gw * xt, axis=0))
            tl.store(part + 7, tl.sum(gw * yt, axis=0))
            tl.store(part + 8, tl.sum(gw, axis=0))
        else:
            gu = gxs
            gv = gys
            if PAR_STRIDE == 9:  # a 3x3 matrix whose last row the affine map ignores
                tl.store(part + 6, 0.0)
                tl.store(part + 7, 0.0)
                tl.store(part + 8, 0.0)
        tl.store(part + 0, tl.sum(gu * xt, axis=0))
        tl.store(part + 1, tl.sum(gu * yt, axis=0))
        tl.store(part + 2, tl.sum(gu, axis=0))
        tl.store(part + 3, tl.sum(gv * xt, axis=0))
        tl.store(part + 4, tl.sum(gv * yt, axis=0))
        tl.store(part + 5, tl.sum(gv, axis=0))


@triton.jit
def warp_backward_kernel(
    inp_ptr, gout_ptr, par_ptr, ctrl_ptr, wmat_ptr, gin32_ptr, key_ptr, part_ptr,
    C, H, W, H_OUT, W_OUT, N_BLOCKS,
    KIND: tl.constexpr, PAR_STRIDE: tl.constexpr, M: tl.constexpr, BORDER: tl.constexpr,
    SCATTER: tl.constexpr, KEYS: tl.constexpr, PARAM_GRAD: tl.constexpr, BLOCK: tl.constexpr,
):
    """One pass over output pixels: parameter-gradient partials (in-kernel reduction per block),
    and either the input gradient scattered with fp32 atomics (``SCATTER``) or, for the sorted
    deterministic gather, the sort key of every output pixel (``KEYS``): the cell of its top-left
    support corner in an ``(H + 1) x (W + 1)`` grid (offset by one), or the sentinel
    ``N (H + 1) (W + 1)`` when the point touches no input pixel."""
    pid = tl.program_id(0)
    n = tl.program_id(1)
    n_out = H_OUT * W_OUT
    p = pid * BLOCK + tl.arange(0, BLOCK)
    live = p < n_out
    i, j = _output_pixel(p, W_OUT)
    par = par_ptr + n * PAR_STRIDE
    ax, bx, cx, ay, by, cy, aw, bw, cw = _pixel_map(par, W, H, W_OUT, H_OUT, KIND)
    rx, ry, den = _source_pixel(i, j, p, ax, bx, cx, ay, by, cy, aw, bw, cw, par, ctrl_ptr,
                                wmat_ptr, n_out, W, H, KIND, M)
    ix, dix = _pixel(rx, W, BORDER)
    iy, diy = _pixel(ry, H, BORDER)
    x0, y0, fx, fy, mx0, mx1, my0, my1 = _corners(ix, iy, W, H, live)
    m00, m01, m10, m11 = my0 & mx0, my0 & mx1, my1 & mx0, my1 & mx1
    o00 = y0 * W + x0
    if KEYS:
        cells = (H + 1) * (W + 1)
        n64 = n.to(tl.int64)
        touches = (x0 >= -1) & (x0 < W) & (y0 >= -1) & (y0 < H) & live
        sentinel = tl.num_programs(1).to(tl.int64) * cells
        key = tl.where(touches, n64 * cells + (y0 + 1) * (W + 1) + (x0 + 1), sentinel)
        tl.store(key_ptr + n64 * n_out + p, key.to(key_ptr.dtype.element_ty), mask=live)
    if SCATTER or PARAM_GRAD:
        inp = inp_ptr + n.to(tl.int64) * (C * H * W)
        gin = gin32_ptr + n.to(tl.int64) * (C * H * W)
        gout = gout_ptr + n.to(tl.int64) * (C * n_out)
        gx = tl.zeros([BLOCK], dtype=tl.float32)
        gy = tl.zeros([BLOCK], dtype=tl.float32)
        for c in range(C):
            g = tl.load(gout + c * n_out + p, mask=live, other=0.0).to(tl.float32)
            plane = c * (H * W) + o00
            if PARAM_GRAD:
                src = inp + plane
                v00 = tl.load(src, mask=m00, other=0.0).to(tl.float32)
                v01 = tl.load(src + 1, mask=m01, other=0.0).to(tl.float32)
                v10 = tl.load(src + W, mask=m10, other=0.0).to(tl.float32)
                v11 = tl.load(src + W + 1, mask=m11, other=0.0).to(tl.float32)
                gx += g * ((v01 - v00) * (1.0 - fy) + (v11 - v10) * fy)
                gy += g * ((v10 - v00) * (1.0 - fx) + (v11 - v01) * fx)
            if SCATTER:
                dst = gin + plane
                tl.atomic_add(dst, g * (1.0 - fx) * (1.0 - fy), mask=m00, sem="relaxed")
                tl.atomic_add(dst + 1, g * fx * (1.0 - fy), mask=m01, sem="relaxed")
                tl.atomic_add(dst + W, g * (1.0 - fx) * fy, mask=m10, sem="relaxed")
                tl.atomic_add(dst + W + 1, g * fx * fy, mask=m11, sem="relaxed")
        if PARAM_GRAD:
            # chain rule to normalised coordinates: x_pix = ((x_s + 1) W - 1) / 2
            gxs = tl.where(live, gx * dix * (W * 0.5), 0.0)
            gys = tl.where(live, gy * diy * (H * 0.5), 0.0)
            part = part_ptr + (n.to(tl.int64) * N_BLOCKS + pid) * PAR_STRIDE
            _store_param_grads(part, ctrl_ptr, wmat_ptr, gxs, gys, rx, ry, den, i, j, p,
                               n_out, W, H, W_OUT, H_OUT, KIND, PAR_STRIDE, M)


@triton.jit
def _tent(ix, iy, x, y, hit):
    """Bilinear weight of input pixel (x, y) for the sampling point (ix, iy): 0 outside its
    support, so a candidate that contributes nothing adds exactly 0."""
    wx = tl.maximum(1.0 - tl.abs(ix - x.to(tl.float32)), 0.0)
    wy = tl.maximum(1.0 - tl.abs(iy - y.to(tl.float32)), 0.0)
    return tl.where(hit, wx * wy, 0.0)


@triton.jit
def _accumulate(acc, gout, p, wgt, cs, c_live, n_out):
    """acc[c, q] += grad_out[c, p[q]] * wgt[q] (loads only where the weight is non-zero)."""
    src = gout + cs[:, None] * n_out + p[None, :]
    g = tl.load(src, mask=c_live[:, None] & (wgt > 0.0)[None, :], other=0.0)
    return acc + g.to(tl.float32) * wgt[None, :]


@triton.jit
def warp_gather_kernel(
    gout_ptr, par_ptr, ctrl_ptr, wmat_ptr, perm_ptr, seg_ptr, gin_ptr,
    C, H, W, H_OUT, W_OUT,
    KIND: tl.constexpr, PAR_STRIDE: tl.constexpr, M: tl.constexpr, BORDER: tl.constexpr,
    BLOCK: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Deterministic input gradient, gather-style, any map: each input pixel (y, x) sums, in a fixed
    order, the contributions of the output pixels whose top-left support corner is one of
    (y - 1 | y, x - 1 | x). Those output pixels are found in ``perm`` (output pixels stably sorted
    by that corner's cell); ``seg`` holds each cell's first position in ``perm``. Cells
    (r, x - 1) and (r, x) are adjacent, so each pixel reads two contiguous segments. No atomics.
    """
    pid = tl.program_id(0)
    n = tl.program_id(1)
    n64 = n.to(tl.int64)
    n_out = H_OUT * W_OUT
    q = pid * BLOCK + tl.arange(0, BLOCK)
    live = q < H * W
    y = q // W
    x = q - y * W
    row = W + 1
    cells = n64 * (H + 1) * row
    par = par_ptr + n * PAR_STRIDE
    ax, bx, cx, ay, by, cy, aw, bw, cw = _pixel_map(par, W, H, W_OUT, H_OUT, KIND)
    gout = gout_ptr + n64 * (C * n_out)
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
                p = (tl.load(perm_ptr + start + e, mask=hit, other=0) - n64 * n_out).to(tl.int32)
                p = tl.where(hit, p, 0)
                i, j = _output_pixel(p, W_OUT)
                ix, iy, _ = _source_pixel(i, j, p, ax, bx, cx, ay, by, cy, aw, bw, cw, par,
                                          ctrl_ptr, wmat_ptr, n_out, W, H, KIND, M)
                ix, _ = _pixel(ix, W, BORDER)
                iy, _ = _pixel(iy, H, BORDER)
                acc = _accumulate(acc, gout, p, _tent(ix, iy, x, y, hit), cs, c_live, n_out)
        dst = gin_ptr + n64 * (C * H * W) + cs[:, None] * (H * W) + q[None, :]
        tl.store(dst, acc.to(gin_ptr.dtype.element_ty), mask=c_live[:, None] & live[None, :])


@triton.jit
def _window(centre, half, lo_bound, hi_bound):
    """Integer range ``[first, first + count)`` of the closed interval ``centre +- half`` (widened
    by ``SLACK``) within ``[lo_bound, hi_bound]``; count 0 for an empty or NaN interval."""
    lo_f = centre - half
    lo = tl.maximum(tl.ceil(lo_f - SLACK), lo_bound)
    hi = tl.minimum(tl.floor(centre + half + SLACK), hi_bound)
    ok = (lo_f == lo_f) & (lo <= hi)  # (maximum/minimum would drop a NaN)
    first = tl.where(ok, lo, 0.0).to(tl.int32)
    count = tl.where(ok, hi - lo + 1.0, 0.0).to(tl.int32)
    return first, count


@triton.jit
def _line_window(offset, slope, inv_slope, lo_bound, hi_bound):
    """Integers ``t`` in ``[lo_bound, hi_bound]`` with ``|slope t + offset| <= 1``: all of them
    when the slope is 0 and ``|offset| <= 1``, none when it is 0 and ``|offset| > 1``."""
    flat = slope == 0.0
    centre = tl.where(flat, (lo_bound + hi_bound) * 0.5, -offset * inv_slope)
    half = tl.where(flat, tl.where(tl.abs(offset) <= 1.0, hi_bound - lo_bound, -1.0),
                    tl.abs(inv_slope))
    return _window(centre, half, lo_bound, hi_bound)


@triton.jit
def warp_gather_affine_kernel(
    gout_ptr, par_ptr, gin_ptr,
    C, H, W, H_OUT, W_OUT,
    PAR_STRIDE: tl.constexpr, BLOCK: tl.constexpr, BLOCK_C: tl.constexpr, CAPS: tl.constexpr,
):
    """Deterministic input gradient of an affine map with zeros padding, no sort, no atomics.

    Input pixel (y, x) gathers the output pixels (i, j) whose sampling point lies in its support
    square ``|x_pix - x| <= 1, |y_pix - y| <= 1``, with ``x_pix = ax j + bx i + cx`` (the forward's
    own coefficients and arithmetic, so the weights are the forward's). The rows ``i`` of that
    parallelogram come from the inverse map (all rows when the map is singular), and on each row
    the exact range of ``j`` from the two constraints: a rotation by up to 10 degrees at unit
    scale visits 3 rows of 2 candidates, about the 4 that contribute. Fixed order, any map.
    """
    pid = tl.program_id(0)
    n = tl.program_id(1)
    n64 = n.to(tl.int64)
    n_out = H_OUT * W_OUT
    q = pid * BLOCK + tl.arange(0, BLOCK)
    live = q < H * W
    y = q // W
    x = q - y * W
    ax, bx, cx, ay, by, cy, _, _, _ = _pixel_map(par_ptr + n * PAR_STRIDE, W, H, W_OUT, H_OUT, 0)
    size = tl.abs(ax) + tl.abs(bx) + tl.abs(cx) + tl.abs(ay) + tl.abs(by) + tl.abs(cy)
    finite = size < 3.0e38  # False for inf and NaN
    det = ax * by - bx * ay
    regular = finite & (det != 0.0)
    safe_det = tl.where(regular, det, 1.0)
    # inverse map: i = (-ay (x_pix - cx) + ax (y_pix - cy)) / det over the square
    dx = x.to(tl.float32) - cx
    dy = y.to(tl.float32) - cy
    i_centre = (ax * dy - ay * dx) / safe_det
    i_half = (tl.abs(ax) + tl.abs(ay)) / tl.abs(safe_det)
    last_row = H_OUT - 1.0
    i_first, i_count = _window(tl.where(regular, i_centre, last_row * 0.5),
                               tl.where(regular, i_half, last_row), 0.0, last_row)
    i_count = tl.where(live, tl.where(finite, i_count, 0), 0)
    inv_ax = 1.0 / tl.where(ax == 0.0, 1.0, ax)
    inv_ay = 1.0 / tl.where(ay == 0.0, 1.0, ay)
    last_col = W_OUT - 1.0
    # loop bounds: CAPS: the most integers any window of this sample can hold (no reductions);
    # else the block's largest count (one block-wide reduction per row)
    rows_cap = tl.where(regular, tl.floor(2.0 * (i_half + SLACK)) + 1.0, H_OUT * 1.0)
    rows_cap = tl.where(finite, tl.minimum(rows_cap, H_OUT * 1.0), 0.0).to(tl.int32)
    cols_x = tl.where(ax == 0.0, W_OUT * 1.0, tl.floor(2.0 * (tl.abs(inv_ax) + SLACK)) + 1.0)
    cols_y = tl.where(ay == 0.0, W_OUT * 1.0, tl.floor(2.0 * (tl.abs(inv_ay) + SLACK)) + 1.0)
    cols_cap = tl.minimum(tl.minimum(cols_x, cols_y), W_OUT * 1.0).to(tl.int32)
    if not CAPS:
        rows_cap = tl.max(i_count, axis=0)
    gout = gout_ptr + n64 * (C * n_out)
    chan = tl.arange(0, BLOCK_C)
    for c0 in range(0, C, BLOCK_C):
        cs = c0 + chan
        c_live = cs < C
        acc = tl.zeros([BLOCK_C, BLOCK], dtype=tl.float32)
        for e in range(rows_cap):
            row_hit = e < i_count
            i = i_first + e
            fi = i.to(tl.float32)
            # |ax j + (bx i + cx - x)| <= 1 and |ay j + (by i + cy - y)| <= 1
            jx_first, jx_count = _line_window(bx * fi + cx - x.to(tl.float32), ax, inv_ax,
                                              0.0, last_col)
            jy_first, jy_count = _line_window(by * fi + cy - y.to(tl.float32), ay, inv_ay,
                                              0.0, last_col)
            j_first = tl.maximum(jx_first, jy_first)
            j_stop = tl.minimum(jx_first + jx_count, jy_first + jy_count)
            j_count = tl.where(row_hit, tl.maximum(j_stop - j_first, 0), 0)
            j_bound = cols_cap
            if not CAPS:
                j_bound = tl.max(j_count, axis=0)
            for f in range(j_bound):
                hit = f < j_count
                j = j_first + f
                jf = j.to(tl.float32)
                ix = ax * jf + bx * fi + cx
                iy = ay * jf + by * fi + cy
                p = tl.where(hit, i * W_OUT + j, 0)
                acc = _accumulate(acc, gout, p, _tent(ix, iy, x, y, hit), cs, c_live, n_out)
        dst = gin_ptr + n64 * (C * H * W) + cs[:, None] * (H * W) + q[None, :]
        tl.store(dst, acc.to(gin_ptr.dtype.element_ty), mask=c_live[:, None] & live[None, :])


# ---------------------------------------------------------------- host-side launchers

FWD_BLOCK = 512  # output pixels per program of the forward
BWD_BLOCK = 256  # output pixels per program of the backward (one parameter partial each)
SINGLE_BLOCK_MAX = 1024  # outputs up to this many pixels: one backward program per sample, so
# theta's gradient needs no reduction launch (28x28 MNIST-sized warps)
GATHER_BLOCK = 128  # input pixels per program of the deterministic gathers
MAX_BLOCK_C = 8  # channels per tile of the gathers
AFFINE_GATHER = True  # affine maps, zeros padding: the sort-free gather (benchmarks flip it)
GATHER_CAPS = True  # the sort-free gather's loops run to per-sample caps, not per-block maxima
NUM_WARPS = 4
NUM_STAGES = 1  # the channel loops are not software-pipelined (the setting checked on the H200)
# No a * b + c contraction into FMAs. With it, the float32 backward that computes both the input
# gradient (atomics) and theta's partials gave wrong input gradients for 10 to 200 pixels of a
# (32..256, 3, 224, 224) batch on an H200 (Triton 3.6), whenever a thread held two or more pixels:
# most likely the sampling point was rounded differently where it picked the input pixel and where
# it weighted it. Without contraction every copy rounds alike, and the same run gave right gradients
# (results/gpu/bisect.txt).
FP_FUSION = False
INT32_LIMIT = 2**31 - 1


def launch_options() -> dict[str, object]:
    """The compile options of every launch (read at call time: the tuning scripts set the
    constants above)."""
    return {"num_warps": NUM_WARPS, "num_stages": NUM_STAGES, "enable_fp_fusion": FP_FUSION}


def _check_sample_size(c: int, h: int, w: int, h_out: int, w_out: int) -> None:
    if max(c * h * w, c * h_out * w_out, (h + 1) * (w + 1)) > INT32_LIMIT:
        raise ValueError(
            f"fused kernels: one sample must hold fewer than 2**31 elements, got C={c}, "
            f"input {h}x{w}, output {h_out}x{w_out}; use backend='torch'"
        )


def warp_forward(input, params, ctrl, wmat, kind: int, n_ctrl: int, out_size, border: bool):
    """``(N, C, H_out, W_out)`` in the input's dtype. ``input`` contiguous; ``params`` float32
    ``(N, PAR_STRIDE)``-strided rows; ``ctrl`` ``(M, 2)`` and ``wmat`` ``(M, H_out W_out)`` float32
    (TPS; any tensor otherwise)."""
    n, c, h, w = input.shape
    h_out, w_out = out_size
    _check_sample_size(c, h, w, h_out, w_out)
    out = torch.empty(n, c, h_out, w_out, dtype=input.dtype, device=input.device)
    if out.numel() == 0:
        return out
    warp_forward_kernel[(triton.cdiv(h_out * w_out, FWD_BLOCK), n)](
        input, params, ctrl, wmat, out, c, h, w, h_out, w_out,
        KIND=kind, PAR_STRIDE=params.stride(0), M=n_ctrl, BORDER=border, BLOCK=FWD_BLOCK,
        **launch_options(),
    )
    return out


def warp_backward(input, grad_out, params, ctrl, wmat, kind: int, n_ctrl: int, border: bool,
                  deterministic: bool, need_input: bool, need_params: bool):
    """Gradients ``(grad_input or None, grad_params or None)``.

    ``grad_params`` (float32, the shape of ``params``) is the fixed-order ``torch.sum`` of per-block
    partials (deterministic in both modes). ``grad_input`` comes from fp32 atomics, or, if
    ``deterministic``, from an atomic-free gather, bit-identical across runs: the sort-free one
    for affine maps with zeros padding, else through a stable sort of the output pixels by
    support cell.
    """
    n, c, h, w = input.shape
    h_out, w_out = grad_out.shape[-2:]
    n_out = h_out * w_out
    stride = params.stride(0)
    block = BWD_BLOCK if n_out > SINGLE_BLOCK_MAX else max(triton.next_power_of_2(n_out), 16)
    blocks = triton.cdiv(n_out, block)
    dev = input.device
    affine_gather = AFFINE_GATHER and kind == KIND_AFFINE and not border
    scatter = need_input and not deterministic
    keys_on = need_input and deterministic and not affine_gather
    cells = n * (h + 1) * (w + 1)
    key_dtype = torch.int32 if cells < INT32_LIMIT else torch.int64
    # partials laid out as (N, blocks, *params.shape[1:]): their sum over blocks has params' shape
    part = (torch.empty(n, blocks, *params.shape[1:], dtype=torch.float32, device=dev)
            if need_params else params)
    gin32 = torch.zeros(input.shape, dtype=torch.float32, device=dev) if scatter else params
    keys = torch.empty(n * n_out, dtype=key_dtype, device=dev) if keys_on else params
    if n * n_out > 0 and (scatter or keys_on or need_params):
        warp_backward_kernel[(blocks, n)](
            input, grad_out, params, ctrl, wmat, gin32, keys, part,
            c, h, w, h_out, w_out, blocks,
            KIND=kind, PAR_STRIDE=stride, M=n_ctrl, BORDER=border,
            SCATTER=scatter, KEYS=keys_on, PARAM_GRAD=need_params, BLOCK=block,
            **launch_options(),
        )
    grad_params = None
    if need_params:
        grad_params = part.select(1, 0) if blocks == 1 else part.sum(1)
    grad_input = None
    if scatter:
        grad_input = gin32 if input.dtype == torch.float32 else gin32.to(input.dtype)
    elif keys_on:
        grad_input = _sorted_gather(input, grad_out, params, ctrl, wmat, keys, kind, n_ctrl,
                                    border)
    elif need_input:
        grad_input = _affine_gather(input, grad_out, params)
    return grad_input, grad_params


def _channel_block(c: int) -> int:
    return min(triton.next_power_of_2(max(c, 1)), MAX_BLOCK_C)


def _sorted_gather(input, grad_out, params, ctrl, wmat, keys, kind, n_ctrl, border):
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
        grad_out, params, ctrl, wmat, perm, seg, grad_input, c, h, w, h_out, w_out,
        KIND=kind, PAR_STRIDE=params.stride(0), M=n_ctrl, BORDER=border,
        BLOCK=GATHER_BLOCK, BLOCK_C=_channel_block(c), **launch_options(),
    )
    return grad_input


def _affine_gather(input, grad_out, params):
    n, c, h, w = input.shape
    h_out, w_out = grad_out.shape[-2:]
    grad_input = torch.empty_like(input)
    if grad_input.numel() == 0:
        return grad_input
    warp_gather_affine_kernel[(triton.cdiv(h * w, GATHER_BLOCK), n)](
        grad_out, params, grad_input, c, h, w, h_out, w_out,
        PAR_STRIDE=params.stride(0), BLOCK=GATHER_BLOCK, BLOCK_C=_channel_block(c),
        CAPS=GATHER_CAPS, **launch_options(),
    )
    return grad_input
