"""torchstn: Spatial Transformer Networks for PyTorch.

The coordinate convention is defined once, in :mod:`torchstn.coords`.
"""

from . import coords, data, kernels, modules, transforms
from .checks import set_finite_checks
from .modules import (
    ParallelTransformers,
    SeriesTransformers,
    SpatialTransformer,
    conv_localization,
    fc_localization,
    localization_param_groups,
)
from .reference_sampler import reference_sample
from .sampler import sample
from .transforms import get_transform

__version__ = "0.1.0"

__all__ = [
    "coords",
    "data",
    "kernels",
    "transforms",
    "modules",
    "get_transform",
    "set_finite_checks",
    "sample",
    "reference_sample",
    "SpatialTransformer",
    "SeriesTransformers",
    "ParallelTransformers",
    "conv_localization",
    "fc_localization",
    "localization_param_groups",
    "__version__",
]

# trained models: load_model(path) rebuilds the architecture from the file's record (no pickle)
from .io import load_model, save_model  # noqa: E402

__all__ += ["load_model", "save_model"]
