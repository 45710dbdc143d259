"""Several spatial transformers (paper §3.4): in series (deeper) or in parallel (2xST, 4xST)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .transformer import SpatialTransformer


def _check_stages(sts: tuple, name: str) -> None:
    if not sts:
        raise ValueError(f"{name}: expected at least one SpatialTransformer, got none")
    for i, st in enumerate(sts):
        if not isinstance(st, SpatialTransformer):
            raise TypeError(f"{name}: argument {i}: expected a SpatialTransformer, "
                            f"got {type(st).__name__}")


class SeriesTransformers(nn.Module):
    """Transformers applied one after the other: ``x -> st_1(x) -> st_2(st_1(x)) -> ...``.

    Each stage localises on the previous stage's output. Shapes: ``(N, C, H, W)`` ->
    ``(N, C, *out_size of the last stage)``; at initialisation every stage is the identity, so
    the whole is too (when every ``out_size`` equals the input's).
    """

    def __init__(self, *sts: SpatialTransformer) -> None:
        super().__init__()
        _check_stages(sts, "SeriesTransformers")
        self.stages = nn.ModuleList(sts)

    def forward(self, x: Tensor) -> Tensor:
        for st in self.stages:
            x = st(x)
        return x

    @property
    def last_params(self) -> list[Tensor | None]:
        """Each stage's ``last_params`` ``(N, n_params_i)`` from the last forward, in order."""
        return [st.last_params for st in self.stages]


class ParallelTransformers(nn.Module):
    """Transformers applied to the same input, outputs concatenated channel-wise (paper's 2xST).

    Shapes: ``(N, C, H, W)`` -> ``(N, k*C, H', W')`` for ``k`` branches, all of which must produce
    the same spatial size ``(H', W')`` (checked at construction for explicit ``out_size`` and at
    every forward).
    """

    def __init__(self, *sts: SpatialTransformer) -> None:
        super().__init__()
        _check_stages(sts, "ParallelTransformers")
        sizes = {st.out_size for st in sts if st.out_size is not None}
        if len(sizes) > 1:
            raise ValueError(
                "ParallelTransformers: expected all branches to have the same out_size, "
                f"got {[st.out_size for st in sts]}"
            )
        self.branches = nn.ModuleList(sts)

    def forward(self, x: Tensor) -> Tensor:
        outs = [st(x) for st in self.branches]
        sizes = [tuple(o.shape[2:]) for o in outs]
        if len(set(sizes)) > 1:
            raise ValueError(
                f"ParallelTransformers: expected the branches' outputs to have one spatial size, "
                f"got {sizes}"
            )
        return torch.cat(outs, dim=1)

    @property
    def last_params(self) -> list[Tensor | None]:
        """Each branch's ``last_params`` ``(N, n_params_i)`` from the last forward, in order."""
        return [st.last_params for st in self.branches]


__all__ = ["SeriesTransformers", "ParallelTransformers"]
