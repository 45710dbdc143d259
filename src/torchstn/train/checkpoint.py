"""Checkpoint files: atomic writes, safetensors weights with a JSON record, training state.

* Weights: a ``.safetensors`` file whose header metadata holds the JSON record (key
  :data:`META_KEY`) that rebuilds the architecture. Loading never unpickles anything.
* Training state (optimizer, RNG, counters, float32 weights): ``torch.save`` of plain tensors,
  dicts and numbers, read back with ``torch.load(weights_only=True)``.
* Every file is written to a temporary name in the same folder and moved into place with
  ``os.replace``, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

META_KEY = "torchstn"  # safetensors header key holding the JSON record
FORMAT_VERSION = 1
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then move the finished file onto ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # flush to disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return atomic_write(path, write)


def save_weights(
    path: str | os.PathLike,
    state_dict: Mapping[str, Tensor],
    meta: Mapping[str, Any],
    dtype: str = "float32",
) -> Path:
    """Write ``state_dict`` (floating tensors stored as ``dtype``) and ``meta`` to safetensors."""
    from safetensors.torch import save_file

    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype: expected one of {sorted(STORAGE_DTYPES)}, got {dtype!r}")
    store = STORAGE_DTYPES[dtype]
    tensors = {
        k: (v.detach().to("cpu", store) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in state_dict.items()
    }
    record = {**meta, "format_version": FORMAT_VERSION, "storage_dtype": dtype}
    header = {META_KEY: json.dumps(record, sort_keys=True)}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def load_weights(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(state_dict, meta)`` from a file of :func:`save_weights`; floats come back as float32."""
    header, tensors = _read_safetensors(path, tensors=True)
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    return tensors, _parse_meta(header, Path(path))


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` of a file of :func:`save_weights`, from its header alone (no tensor read)."""
    header, _ = _read_safetensors(path, tensors=False)
    return _parse_meta(header, Path(path))


def _read_safetensors(path: str | os.PathLike, tensors: bool
                      ) -> tuple[dict[str, str], dict[str, Tensor]]:
    """The header metadata of safetensors file ``path`` and (if ``tensors``) its tensors."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            loaded = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(
            f"{str(path)!r} is not a readable safetensors file ({_short(e)})"
        ) from None
    return header, loaded


def _parse_meta(header: dict[str, str], path: Path) -> dict[str, Any]:
    """The torchstn record in a safetensors header, checked."""
    if META_KEY not in header:
        raise ValueError(
            f"{str(path)!r} has no torchstn record in its header; expected a file written by "
            "torchstn (train, or torchstn.save_model)"
        )
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"{str(path)!r}: corrupt torchstn record ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{str(path)!r}: the torchstn record is not a JSON object")
    return meta


def save_state(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write a training-state dict (tensors, dicts, lists, numbers, strings only)."""
    return atomic_write(path, lambda tmp: torch.save(dict(state), tmp))


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training state with ``weights_only=True``: no code from the file ever runs."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    try:
        with warnings.catch_warnings():  # e.g. "unusual pickle protocol": the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure to parse means "corrupt"
        raise ValueError(f"checkpoint {str(path)!r} is corrupt or not a torchstn checkpoint "
                         f"({_short(e)})") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(path)!r}: expected a dict, got {type(state).__name__}")
    return state


def _short(e: BaseException) -> str:
    """First line of an exception message (the CLI prints errors on one line)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")
