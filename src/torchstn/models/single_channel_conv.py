"""A ``Conv2d`` for one input channel whose **input gradient** is one GEMM plus a col2im.

An ST-CNN's classifier sees the transformer's output, so the gradient of its first convolution
with respect to its input must be computed (a plain CNN never needs it). For one input channel
oneDNN's backward-data kernel is as slow as for sixteen: measured on this project's 2-core CPU, 1
thread, gradient (256, 29, 13, 13), 9x9 kernel, input (256, 1, 21, 21): 33 ms fp32 / 20 ms bf16,
against 2.5 ms for the forward. A batched GEMM ``(KH*KW, C_out) @ (C_out, OH*OW)`` followed by
``F.fold`` (col2im) costs about 8 ms. The weight and bias gradients still come from
``aten::convolution_backward`` (fast for one input channel).

:class:`Conv2dC1` has exactly the parameters and state dict of ``nn.Conv2d``; it takes the fast
path only where it applies (one input channel, stride 1, dilation 1, one group, zero padding, an
input that requires grad, eager mode, and on the CPU an AVX-512 one: :func:`cpu_fast_input_grad`)
and is ``nn.Conv2d`` everywhere else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import eager

# samples per GEMM + fold in the input gradient (measured: 32 is as fast as the whole batch of
# 256 and its temporaries are 8x smaller)
FOLD_CHUNK = 32


def cpu_fast_input_grad() -> bool:
    """Does the GEMM + col2im input gradient beat oneDNN's on this CPU? On the AVX-512 CPUs of
    this project it did (above); on an AVX2-only one (AMD EPYC VM, 2 threads, 2026-11-28) the
    same layers' forward + backward took 2x as long as ``nn.Conv2d``'s (264 vs 132 ms, 1 -> 29
    channels, 9x9, 256 x 21 x 21, channels-last), so there it is ``nn.Conv2d`` throughout."""
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


CPU_FAST_INPUT_GRAD = cpu_fast_input_grad()  # tests set it to reach the path on any CPU


class _SingleChannelConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, padding: tuple[int, int]):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors
        c_out, _, kh, kw = weight.shape
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = need_b and ctx.has_bias
        grad_x = grad_w = grad_b = None
        if need_w or need_b:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad_out, x, weight, [c_out] if ctx.has_bias else None, [1, 1],
                list(ctx.padding), [1, 1], False, [0, 0], 1, [False, need_w, need_b])
        if need_x:
            acc = torch.promote_types(grad_out.dtype, torch.float32)  # KH*KW-term sums: not bf16
            w_cols = weight.reshape(c_out, kh * kw).t().to(acc)  # (KH*KW, C_out)
            grad_x = torch.empty(x.shape, dtype=acc, device=x.device)
            # chunks of the batch keep the (chunk, KH*KW, OH*OW) columns small and in cache
            for i in range(0, x.shape[0], FOLD_CHUNK):
                g = grad_out[i:i + FOLD_CHUNK]
                cols = torch.matmul(w_cols, g.to(acc).reshape(g.shape[0], c_out, -1))
                grad_x[i:i + FOLD_CHUNK] = F.fold(cols, tuple(x.shape[2:]), (kh, kw),
                                                  padding=ctx.padding)
            grad_x = grad_x.to(x.dtype)
        return grad_x, grad_w, grad_b, None


class Conv2dC1(nn.Conv2d):
    """``nn.Conv2d`` with the fast input gradient above where it applies (same parameters, same
    state dict, same results up to float rounding)."""

    def _fast_path(self, x: Tensor) -> bool:
        return (
            self.in_channels == 1 and self.stride == (1, 1) and self.dilation == (1, 1)
            and self.groups == 1 and self.padding_mode == "zeros"
            and isinstance(self.padding, tuple) and x.requires_grad and x.dim() == 4
            and (x.device.type != "cpu" or CPU_FAST_INPUT_GRAD) and eager()
        )

    def forward(self, x: Tensor) -> Tensor:
        if not self._fast_path(x):
            return super().forward(x)
        w, b = self.weight, self.bias
        device = x.device.type
        if torch.is_autocast_enabled(device):  # cast as autocast would cast conv2d's arguments
            dtype = torch.get_autocast_dtype(device)
            x, w, b = x.to(dtype), w.to(dtype), None if b is None else b.to(dtype)
            with torch.autocast(device, enabled=False):
                return _SingleChannelConv.apply(x, w, b, self.padding)
        return _SingleChannelConv.apply(x, w, b, self.padding)
