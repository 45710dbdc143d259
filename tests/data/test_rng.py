"""Counter-based parameters: sample k's draw depends on (seed, stream, k) only."""

from __future__ import annotations

import pytest
import torch

from torchstn.data.rng import CHUNK, chunked, generator


def _draw(n, g, first):
    return {"u": torch.rand(n, generator=g), "k": torch.arange(first, first + n)}


def test_windows_are_slices_of_the_whole():
    whole = chunked(_draw, 5, ("s",), 0, 3 * CHUNK)
    assert torch.equal(whole["k"], torch.arange(3 * CHUNK))
    for start, stop in [(0, 1), (CHUNK - 1, CHUNK + 1), (700, 1500), (CHUNK, CHUNK)]:
        part = chunked(_draw, 5, ("s",), start, stop)
        assert torch.equal(part["u"], whole["u"][start:stop])
        assert torch.equal(part["k"], whole["k"][start:stop])


def test_streams_and_seeds_are_independent():
    a = chunked(_draw, 5, ("s",), 0, 10)["u"]
    assert not torch.equal(a, chunked(_draw, 6, ("s",), 0, 10)["u"])
    assert not torch.equal(a, chunked(_draw, 5, ("t",), 0, 10)["u"])
    assert torch.equal(torch.rand(3, generator=generator(1, "x", 2)),
                       torch.rand(3, generator=generator(1, "x", 2)))


def test_bad_window():
    with pytest.raises(ValueError, match="start"):
        chunked(_draw, 0, (), 5, 4)
