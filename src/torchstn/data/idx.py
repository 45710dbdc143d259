"""Reading (and writing) IDX files, the format of the MNIST distribution.

An IDX file is: two zero bytes, a type code byte, a byte ``ndim``, then ``ndim`` big-endian uint32
dimensions, then the data, row-major and big-endian. Files may be gzip-compressed (detected from
the gzip magic bytes, not from the name). Every defect is reported as :class:`IDXError` naming the
file, what was expected and what was found, so a damaged download is recognised at once.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx", "TYPE_CODES"]

# type code -> big-endian numpy dtype (the IDX specification's table)
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_PREFIX_BYTES = 4  # 0, 0, type code, ndim
_DIM_BYTES = 4


class IDXError(ValueError):
    """A file that is not a valid IDX file (or not the one that was expected)."""


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:  # EOFError: the gzip stream is cut short
        raise IDXError(
            f"{path}: damaged or truncated gzip data ({e}); delete the file and download it again"
        ) from e


def read_idx(
    path: str | os.PathLike,
    *,
    shape: Sequence[int | None] | None = None,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into a native-endian numpy array.

    Args:
        path: the file.
        shape: optional expected shape; ``None`` entries match any size, e.g. ``(None, 28, 28)``.
        dtype: optional expected element type, e.g. ``np.uint8``.

    Raises:
        IDXError: bad magic number, unknown type code, wrong number of dimensions or sizes,
            truncated data or trailing bytes, damaged gzip stream.
    """
    data = _read_bytes(path)
    if len(data) < _PREFIX_BYTES:
        raise IDXError(f"{path}: truncated: {len(data)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", data[:_PREFIX_BYTES])
    if zero != 0 or code not in TYPE_CODES:
        raise IDXError(
            f"{path}: bad magic number 0x{data[:_PREFIX_BYTES].hex()}: expected 0x0000 followed by "
            f"a type code in {[hex(c) for c in TYPE_CODES]} and the number of dimensions "
            "(not an IDX file?)"
        )
    header = _PREFIX_BYTES + _DIM_BYTES * ndim
    if len(data) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, "
                       f"file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[_PREFIX_BYTES:header])
    item = TYPE_CODES[code]
    expected_bytes = int(np.prod(dims, dtype=np.int64)) * item.itemsize
    got_bytes = len(data) - header
    if got_bytes < expected_bytes:
        raise IDXError(f"{path}: truncated: dimensions {dims} need {expected_bytes} data bytes, "
                       f"found {got_bytes}")
    if got_bytes > expected_bytes:
        raise IDXError(f"{path}: wrong length: dimensions {dims} need {expected_bytes} data "
                       f"bytes, found {got_bytes} ({got_bytes - expected_bytes} trailing)")
    if shape is not None:
        same = len(shape) == ndim and all(
            s is None or s == d for s, d in zip(shape, dims, strict=True)
        )
        if not same:
            want = tuple("any" if s is None else s for s in shape)
            raise IDXError(f"{path}: wrong dimensions: expected {want}, got {dims}")
    if dtype is not None and np.dtype(dtype) != item.newbyteorder("="):
        raise IDXError(f"{path}: wrong element type: expected {np.dtype(dtype)}, "
                       f"got {item.newbyteorder('=')} (type code 0x{code:02x})")
    array = np.frombuffer(data, dtype=item, offset=header).reshape(dims)
    return array.astype(item.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip it if ``compress`` (default: the name ends in .gz)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in TYPE_CODES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array: expected one of the IDX dtypes {list(codes)}, got {array.dtype}")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(TYPE_CODES[code], copy=False).tobytes()
    if compress if compress is not None else os.fspath(path).endswith(".gz"):
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
