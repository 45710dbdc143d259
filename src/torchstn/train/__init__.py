"""Training: configuration, loop, checkpoints, metrics, multi-process set-up.

The loop is imported on first use, so that :mod:`torchstn.io` can use the checkpoint helpers
without importing the whole training stack.
"""

from .config import TrainConfig, load_config, save_config

__all__ = ["TrainConfig", "TrainResult", "train", "load_config", "save_config"]


def __getattr__(name: str):
    if name in ("train", "TrainResult"):
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
