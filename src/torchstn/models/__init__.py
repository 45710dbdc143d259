"""The paper's models by name (``fcn``, ``cnn``, ``st-cnn-aff`` ...), parameter-matched."""

from .classifiers import (
    MNIST_MEAN,
    MNIST_STD,
    Normalize,
    cnn_classifier,
    count_parameters,
    fcn_classifier,
)
from .registry import (
    ALL_MODEL_NAMES,
    MAX_PARAMS,
    MODEL_NAMES,
    PARALLEL_MODEL_NAMES,
    TOLERANCE,
    VOLUME_MODEL_NAMES,
    ModelSpec,
    build_for_dataset,
    build_from_spec,
    build_model,
    dataset_info,
    dataset_models,
    model_spec,
    parameter_table,
    parse_name,
    transformer_copies,
)
from .st_models import DigitClassifier

__all__ = [
    "MODEL_NAMES", "MAX_PARAMS", "TOLERANCE", "ModelSpec", "DigitClassifier", "Normalize",
    "MNIST_MEAN", "MNIST_STD", "build_model", "build_from_spec", "build_for_dataset",
    "model_spec", "parameter_table", "parse_name", "dataset_info", "cnn_classifier",
    "fcn_classifier", "count_parameters", "ALL_MODEL_NAMES", "PARALLEL_MODEL_NAMES",
    "transformer_copies", "VOLUME_MODEL_NAMES", "dataset_models",
]
