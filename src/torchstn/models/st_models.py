"""Classifiers with an optional spatial transformer in front (the paper's ST-FCN / ST-CNN).

``DigitClassifier``: images in [0, 1] ``(N, C, H, W)`` -> [transformer, bilinear, on the raw image]
-> [2x average pool on large inputs] -> normalise -> classifier -> logits ``(N, K)``.
The transformer samples the [0, 1] image so that its zero padding is black; its localisation net
sees the normalised image.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..checks import check_float, check_rank, check_tensor
from ..modules import SpatialTransformer, conv_localization, fc_localization
from .classifiers import Normalize
from .pooling import AvgPool

LOC_CNN = {"channels": (20, 20), "kernel_size": 5, "hidden": 20, "downsample": 2}  # paper [S]
LOC_FCN_HIDDEN = (32, 32, 32)  # paper [S]


class DigitClassifier(nn.Module):
    """``(N, C, H, W)`` images in [0, 1] -> logits ``(N, num_classes)``.

    Attributes:
        transformer: the :class:`~torchstn.modules.SpatialTransformer` or ``None`` (baselines).
        pool: the average-pool factor applied after the transformer (1: none).
        in_shape: the expected ``(C, H, W)``.
        spec: the :class:`~torchstn.models.ModelSpec` it was built from (set by the registry).
    """

    def __init__(
        self,
        classifier: nn.Module,
        in_shape: tuple[int, int, int],
        transformer: SpatialTransformer | None = None,
        pool: int = 1,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.transformer = transformer
        self.normalize = Normalize()
        self.pool = AvgPool(pool) if pool > 1 else nn.Identity()
        self.classifier = classifier

    def warp(self, x: Tensor) -> Tensor:
        """The transformer's output ``(N, C, H, W)`` in [0, 1] (``x`` itself for baselines)."""
        self._check(x)
        return x if self.transformer is None else self.transformer(x)

    def forward(self, x: Tensor) -> Tensor:
        # pooling first: normalising is affine, so it commutes with averaging, on 4x fewer pixels
        return self.classifier(self.normalize(self.pool(self.warp(x))))

    def _check(self, x: Tensor) -> None:
        check_tensor(x, "images")
        check_rank(x, (4,), "images", "(N, C, H, W)")
        check_float(x, "images")
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"images: expected shape (N, {', '.join(map(str, self.in_shape))}), "
                f"got {tuple(x.shape)}"
            )


def cnn_transformer(in_shape: tuple[int, int, int], transform: str,
                    iterations: int = 1,
                    out_size: tuple[int, int] | None = None) -> SpatialTransformer:
    """ST-CNN transformer: normalise -> conv localisation net of the paper -> regression.

    ``iterations``: how many times the localisation net looks
    (:class:`~torchstn.modules.SpatialTransformer`); ``out_size``: the output's ``(H', W')``
    (None: the input's; fixed either way, static shapes keep ONNX export simple)."""
    loc = nn.Sequential(Normalize(), conv_localization(in_shape, **LOC_CNN))
    return SpatialTransformer(loc, transform,
                              out_size=in_shape[1:] if out_size is None else out_size,
                              in_shape=in_shape, iterations=iterations)


def fcn_transformer(
    in_shape: tuple[int, int, int], transform: str, pool: int = 1,
    out_size: tuple[int, int] | None = None, iterations: int = 1,
) -> SpatialTransformer:
    """ST-FCN transformer: [avg-pool] -> normalise -> three fc layers of 32 -> regression.

    The localisation net sees the input at the classifier's resolution (after the same ``pool``),
    which keeps its first layer, the only large one, affordable on the 42x42 and 60x60 sets.
    ``out_size``: the output's ``(H', W')`` (None: the input's); ``iterations``: how many times
    the localisation net looks (:class:`~torchstn.modules.SpatialTransformer`).
    """
    c, h, w = in_shape
    # pool before normalising (they commute; 4x fewer pixels); the fc net keeps its index in
    # the state dict either way
    layers: list[nn.Module] = [AvgPool(pool), Normalize()] if pool > 1 else [Normalize()]
    layers.append(fc_localization((c, h // pool, w // pool), LOC_FCN_HIDDEN))
    return SpatialTransformer(nn.Sequential(*layers), transform,
                              out_size=in_shape[1:] if out_size is None else out_size,
                              in_shape=in_shape, iterations=iterations)
