"""Transform families (grid generators). One family per file; ``get_transform`` builds by name."""

from __future__ import annotations

from .affine import Affine
from .base import MatrixTransform, Transform, compose, invert

TRANSFORMS: dict[str, type[Transform]] = {
    "affine": Affine,
}


def get_transform(name: str | Transform, **kwargs) -> Transform:
    """A transform instance from its name (``"affine"``, ``"attention"``, ...) or pass one through."""
    if isinstance(name, Transform):
        return name
    try:
        cls = TRANSFORMS[name]
    except KeyError:
        raise ValueError(
            f"unknown transform {name!r}; expected one of {sorted(TRANSFORMS)}"
        ) from None
    return cls(**kwargs)


__all__ = ["Transform", "MatrixTransform", "Affine", "TRANSFORMS", "get_transform",
           "compose", "invert"]
