"""``e``: 28x28 views -> embeddings, by a frozen MNIST CNN (its softmax, its last hidden
activations or its last convolutional feature maps), the views centred on its input canvas."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.geometric import DIGIT
from .config import ColocConfig

Embed = Callable[[Tensor], Tensor]  # views (N, 1, 28, 28) -> embeddings (N, D)


def softmax_embedding(encoder: nn.Module, contrast: bool = False) -> Embed:
    """``e``: 28x28 views ``(N, 1, 28, 28)`` -> the encoder's class probabilities ``(N, 10)``; an
    encoder for larger inputs sees each view centred on a black canvas of its size.

    ``contrast``: the softmax of the logits *minus those of an empty (black) view*, so that an
    empty view embeds as the uniform distribution, equally far from every class. A plain MNIST
    CNN calls an empty view a "1" (the E CNN: probability 0.71), and the random crops, mostly
    empty, then sit beside the true views of a 1 (``results/coloc_exploration.md`` §9).
    """
    logits = _on_canvas(encoder)
    if not contrast:
        return lambda v: logits(v).softmax(1)
    with torch.no_grad():
        empty = logits(torch.zeros(1, 1, DIGIT, DIGIT))  # (1, 10)

    def embed(v: Tensor) -> Tensor:
        return (logits(v) - empty.to(v)).softmax(1)  # v's device and dtype

    return embed


def feature_embedding(encoder: nn.Module) -> Embed:
    """``e``: 28x28 views ``(N, 1, 28, 28)`` -> the encoder's activations at the input of its
    last linear layer (the class scores), L2-normalised: ``(N, F)``, squared distances in
    [0, 2] for the nonnegative activations of a ReLU net. A view on a larger encoder's input
    is centred on a black canvas, as in :func:`softmax_embedding`.

    The paper's ``e`` is "the activations" of the MNIST CNN. Unlike its softmax, which a
    translation-tolerant CNN keeps constant while a view slides a few pixels off the digit, the
    last hidden activations still change there: the loss rises steadily with the offset, and
    the TC column's CNN reads cluttered views of a 1 as alike (``results/coloc_exploration.md``
    §10)."""
    last = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"encoder: expected a network whose class scores come from a linear "
                         f"layer, got {type(encoder).__name__} without one")
    return _activations(encoder, last[-1], lambda inputs, _out: inputs[0])


def map_embedding(encoder: nn.Module) -> Embed:
    """``e``: 28x28 views ``(N, 1, 28, 28)`` -> the encoder's last convolutional feature maps
    (the output of the first ReLU after its last ``nn.Conv2d``, before any pooling),
    flattened and L2-normalised: ``(N, C * h * w)``. Views centred on the encoder's canvas as in
    :func:`softmax_embedding`.

    The maps keep where a stroke is to within the last pooling's window, which the pooled
    activations of :func:`feature_embedding` blur: under them a view of a 1 moved 3-5 px up
    scored as well as the true box, and the runs settled there (IoU 0.65); under the maps the
    true box is the lowest loss (``results/coloc_exploration.md`` §11)."""
    modules = list(encoder.modules())
    convs = [k for k, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    relu = next((m for m in modules[convs[-1] + 1:] if isinstance(m, nn.ReLU)), None) \
        if convs else None
    if relu is None:
        raise ValueError(f"encoder: expected a network with a ReLU after its last Conv2d, got "
                         f"{type(encoder).__name__} without one")
    return _activations(encoder, relu, lambda _inputs, out: out)


def _activations(encoder: nn.Module, module: nn.Module,
                 pick: Callable[[tuple[Tensor, ...], Tensor], Tensor]) -> Embed:
    """The frozen ``encoder`` on views (:func:`_on_canvas`) -> what ``pick(inputs, output)``
    takes of ``module``'s call, flattened and L2-normalised (squared distances in [0, 2] for
    nonnegative activations, so the margin of 1 means the same for every layer)."""
    seen: list[Tensor] = []  # one slot: the last call's activations

    def keep(_module: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
        seen[:] = [pick(inputs, out)]

    module.register_forward_hook(keep)
    run = _on_canvas(encoder)

    def embed(v: Tensor) -> Tensor:
        run(v)
        return F.normalize(seen[0].flatten(1), dim=1)

    return embed


def _on_canvas(encoder: nn.Module) -> Callable[[Tensor], Tensor]:
    """The frozen ``encoder`` on 28x28 views, each centred on a black canvas of the encoder's
    input size (``encoder.in_shape``; 28x28 when it has none)."""
    encoder = encoder.eval().requires_grad_(False)
    side = getattr(encoder, "in_shape", (1, DIGIT, DIGIT))[-1]
    before = (side - DIGIT) // 2
    pad = (before, side - DIGIT - before) * 2
    return lambda v: encoder(F.pad(v, pad) if side != DIGIT else v)


def make_embedding(encoder: nn.Module, cfg: ColocConfig) -> Embed:
    """The recipe's ``e`` for ``encoder``: :func:`softmax_embedding` (with ``cfg.contrast``),
    :func:`feature_embedding` or :func:`map_embedding` (``cfg.embedding``: pass one setting's
    recipe, :meth:`ColocConfig.for_setting`)."""
    if cfg.embedding == "features":
        return feature_embedding(encoder)
    if cfg.embedding == "maps":
        return map_embedding(encoder)
    return softmax_embedding(encoder, cfg.contrast)
