"""torchstn: Spatial Transformer Networks for PyTorch.

The coordinate convention is defined once, in :mod:`torchstn.coords`.
"""

from . import coords, transforms
from .checks import set_finite_checks
from .sampler import sample
from .transforms import get_transform

__version__ = "0.1.0"

__all__ = ["coords", "transforms", "get_transform", "set_finite_checks", "sample", "__version__"]
