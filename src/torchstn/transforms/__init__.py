"""Transform families (grid generators). One family per file; ``get_transform`` builds by name."""

from __future__ import annotations

from .affine import Affine
from .affine3d import Affine3D
from .attention import Attention
from .base import MatrixTransform, Transform, compose, invert
from .control_grid import ControlGridTransform, control_points
from .piecewise_affine import PiecewiseAffine, piecewise_affine_weights
from .projective import Projective
from .rts import RTS
from .tps import TPS, tps_apply, tps_fit

TRANSFORMS: dict[str, type[Transform]] = {
    "affine": Affine,
    "attention": Attention,
    "rts": RTS,
    "projective": Projective,
    "tps": TPS,
    "pwa": PiecewiseAffine,
    "affine3d": Affine3D,
}


def get_transform(name: str | Transform, **kwargs) -> Transform:
    """A transform instance from its name (``"affine"``, ``"attention"``, ...) or pass one through.

    Keyword arguments go to the constructor, e.g. ``get_transform("tps", grid_size=4)``.
    """
    if isinstance(name, Transform):
        return name
    try:
        cls = TRANSFORMS[name]
    except KeyError:
        raise ValueError(
            f"unknown transform {name!r}; expected one of {sorted(TRANSFORMS)}"
        ) from None
    return cls(**kwargs)


__all__ = [
    "Transform", "MatrixTransform", "ControlGridTransform", "TRANSFORMS", "get_transform",
    "compose", "invert", "Affine", "Attention", "RTS", "Projective", "TPS", "PiecewiseAffine",
    "Affine3D", "control_points", "tps_fit", "tps_apply", "piecewise_affine_weights",
]
