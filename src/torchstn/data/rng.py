"""Counter-based randomness: sample k of a set is a pure function of (seed, stream, k).

The samples are cut into fixed chunks of :data:`CHUNK` consecutive indices. Chunk c draws its
parameters from its own ``torch.Generator`` seeded with a hash of (seed, stream, c), always for a
whole chunk, and the wanted rows are sliced out. So the parameters of sample k do not depend on
which other samples were asked for, the batch size, the number of workers or the process: the same
(seed, stream, k) always gives the same bits. ``stream`` separates independent uses, e.g.
``("rts", "test")`` or ``("tc", "train", epoch)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["CHUNK", "generator", "chunked"]

CHUNK = 512  # samples per generator; part of the definition of every set: do not change
_SEED_BITS = 63


def generator(seed: int, *stream: object) -> torch.Generator:
    """A CPU generator seeded by a hash of ``(seed, *stream)`` (stable across processes)."""
    key = repr((int(seed),) + tuple(stream)).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest, "little") >> (64 - _SEED_BITS))
    return g


Params = dict[str, Tensor]


def chunked(
    draw: Callable[[int, torch.Generator, int], Params],
    seed: int,
    stream: tuple,
    start: int,
    stop: int,
) -> Params:
    """Parameters of samples ``start .. stop-1``: ``draw(CHUNK, generator, first_index)`` per chunk.

    ``draw`` returns a dict of tensors with leading dimension ``CHUNK``; the result has leading
    dimension ``stop - start``.
    """
    if not 0 <= start <= stop:
        raise ValueError(f"expected 0 <= start <= stop, got start={start}, stop={stop}")
    first, last = start // CHUNK, -(-stop // CHUNK)
    blocks = [draw(CHUNK, generator(seed, *stream, c), c * CHUNK) for c in range(first, last)]
    if not blocks:
        blocks = [draw(CHUNK, generator(seed, *stream, first), first * CHUNK)]
    lo = start - first * CHUNK
    return {k: torch.cat([b[k] for b in blocks])[lo : lo + stop - start] for k in blocks[0]}
