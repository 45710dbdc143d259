"""Addition: each channel is an independent RTS warp of its own digit."""

from __future__ import annotations

import torch

from torchstn.data import geometric as G
from torchstn.data import pairs as A


def test_channels_are_rts_of_each_digit():
    n = 6
    a, b = torch.rand(n, 1, 28, 28), torch.rand(n, 1, 28, 28)
    out = A.addition(a, b, torch.Generator().manual_seed(0))
    params = G.rts_params(2 * n, torch.Generator().manual_seed(0))  # same draws, interleaved
    even = {k: v[0::2] for k, v in params.items()}
    odd = {k: v[1::2] for k, v in params.items()}
    assert out.shape == (n, 2, 42, 42)
    torch.testing.assert_close(out[:, :1], G.rts_apply(a, even), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 1:], G.rts_apply(b, odd), atol=1e-6, rtol=0)


def test_apply_picks_the_drawn_pairs():
    source = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    params = A.addition_params(400, torch.Generator().manual_seed(1), 50)
    idx = params["index"]
    assert idx.shape == (400, 2) and idx.min() == 0 and idx.max() == 49
    assert (idx[:, 0] != idx[:, 1]).float().mean() > 0.9  # independent draws
    head = {k: v[:5] for k, v in params.items()}
    out = A.addition_apply(source, head)
    assert out.shape == (5, 2, 42, 42)
    for ch in range(2):
        digits = source[idx[:5, ch]].unsqueeze(1).float() / 255
        rts = {k: v[:, ch] for k, v in head.items() if k != "index"}
        torch.testing.assert_close(out[:, ch : ch + 1], G.rts_apply(digits, rts), atol=1e-6,
                                   rtol=0)
