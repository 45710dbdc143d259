"""Saving and loading trained models: safetensors weights + a JSON record of the architecture.

``load_model`` never executes code from the file: ``.safetensors`` files are parsed as data, and
training-state ``.pt`` files are read with ``torch.load(weights_only=True)``. The architecture is
rebuilt from the record (model name, input shape, classes, widths) by :mod:`torchstn.models`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from .train.checkpoint import load_meta, load_state, load_weights, save_weights

MODEL_FILE = "model.safetensors"  # the final model of a run
LAST_FILE = "last.safetensors"  # the model after the last finished epoch
STATE_FILE = "state.pt"  # full training state, for --resume
RECORD_KIND = "torchstn.model"
SAFETENSORS_SNIFF = 9  # u64 header size + the header's first byte


def model_record(model: nn.Module, **extra: Any) -> dict[str, Any]:
    """The JSON record that rebuilds ``model`` (a registry model, with ``.spec``)."""
    spec = getattr(_unwrap(model), "spec", None)
    if spec is None:
        raise TypeError("model: expected a torchstn registry model (built by build_model)")
    from . import __version__

    return {"kind": RECORD_KIND, "model": spec.to_dict(), "torchstn_version": __version__, **extra}


def save_model(model: nn.Module, path: str | os.PathLike, *, dtype: str = "float32",
               **extra: Any) -> Path:
    """Write ``model``'s weights (stored as ``dtype``: float32 or float16) and its record."""
    return save_weights(path, _unwrap(model).state_dict(), model_record(model, **extra), dtype)


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A run folder -> its final model (else its last checkpoint); a file -> itself."""
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_FILE, LAST_FILE, STATE_FILE):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"run folder {str(path)!r} holds no model file "
                                f"({MODEL_FILE}, {LAST_FILE} or {STATE_FILE})")
    if not path.exists():
        raise FileNotFoundError(f"no run folder or model file at {str(path)!r}")
    return path


def read_model_file(path: str | os.PathLike) -> tuple[dict, dict[str, Any]]:
    """``(state_dict, record)`` from a ``.safetensors`` model or a training-state ``.pt`` file."""
    path = resolve_model_path(path)
    if _is_safetensors(path):
        state_dict, record = load_weights(path)
    else:
        state = load_state(path)
        if not isinstance(state.get("model"), dict) or not isinstance(state.get("record"), dict):
            raise ValueError(f"{str(path)!r} is not a torchstn checkpoint (no model/record)")
        state_dict, record = state["model"], state["record"]
    return state_dict, _checked_record(record, path)


def read_model_record(path: str | os.PathLike) -> dict[str, Any]:
    """The record of :func:`read_model_file` alone: a ``.safetensors`` file's header is read
    without its weights (a training-state ``.pt`` file is read whole)."""
    path = resolve_model_path(path)
    if _is_safetensors(path):
        return _checked_record(load_meta(path), path)
    return read_model_file(path)[1]


def _checked_record(record: dict[str, Any], path: Path) -> dict[str, Any]:
    if record.get("kind") != RECORD_KIND or "model" not in record:
        raise ValueError(f"{str(path)!r}: expected a {RECORD_KIND!r} record, got "
                         f"{record.get('kind')!r}")
    return record


def _shape_mismatch(expected: dict, got: dict, show: int = 3) -> str:
    """A one-line account of missing, unexpected and differently shaped tensors ("" if none)."""
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [f"{k} is {tuple(got[k].shape)}, expected {tuple(expected[k].shape)}"
              for k in expected if k in got and got[k].shape != expected[k].shape]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("", shapes)):
        if items:
            more = f" (+{len(items) - show} more)" if len(items) > show else ""
            parts.append((f"{label} " if label else "") + ", ".join(items[:show]) + more)
    return "; ".join(parts)


def load_model_with_record(path: str | os.PathLike, device: str = "cpu"
                           ) -> tuple[nn.Module, dict[str, Any]]:
    """:func:`load_model` that also returns the stored record (dataset, epoch, ...)."""
    from .models import ModelSpec, build_from_spec

    state_dict, record = read_model_file(path)
    spec = ModelSpec.from_dict(record["model"])
    model = build_from_spec(spec)
    mismatch = _shape_mismatch(model.state_dict(), state_dict)
    if mismatch:
        raise ValueError(f"{str(path)!r}: weights do not fit model {spec.name!r} as this version "
                         f"of torchstn builds it: {mismatch}")
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{str(path)!r}: weights do not fit model {spec.name!r}: "
                         f"{' '.join(str(e).split())}") from None
    return model.to(device).eval(), record


def load_model(path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """A trained model in eval mode, from a run folder or a model file.

    The model takes float images ``(N, C, H, W)`` in [0, 1] (it normalises them itself) and
    returns logits ``(N, num_classes)``. ``model.spec`` describes the architecture.
    """
    return load_model_with_record(path, device)[0]


def _is_safetensors(path: Path) -> bool:
    """By name, or by content: an 8-byte header length and then the JSON header's ``{``."""
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(SAFETENSORS_SNIFF)
    return len(head) == SAFETENSORS_SNIFF and head[-1:] == b"{"


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` (or ``torch.compile``) wrapper."""
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module):
            return _unwrap(inner)
    return model
