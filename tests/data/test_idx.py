"""IDX reading: plain and gzipped files, and a clear error for every kind of damage."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from torchstn.data.idx import IDXError, read_idx, write_idx


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    raw = (tmp_path / name).read_bytes()
    assert raw.startswith(b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(tmp_path / name, shape=(None, 3, 4), dtype=np.uint8)
    np.testing.assert_array_equal(out, array)


def test_hand_written_header_is_decoded(tmp_path):
    # type 0x0C (int32), 1 dimension of 3, big-endian values
    (tmp_path / "x").write_bytes(b"\x00\x00\x0c\x01" + struct.pack(">I3i", 3, 1, -2, 70000))
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), [1, -2, 70000])


def test_gzip_detected_by_content_not_name(tmp_path):
    write_idx(tmp_path / "no_suffix", np.zeros((2, 2), np.uint8), compress=True)
    assert read_idx(tmp_path / "no_suffix").shape == (2, 2)


def _error(tmp_path, payload: bytes, **kw) -> str:
    (tmp_path / "bad").write_bytes(payload)
    with pytest.raises(IDXError) as info:
        read_idx(tmp_path / "bad", **kw)
    assert str(tmp_path / "bad") in str(info.value)
    return str(info.value)


def test_bad_magic(tmp_path):
    assert "bad magic number" in _error(tmp_path, b"\x01\x02\x08\x01" + struct.pack(">I", 0))
    assert "bad magic number" in _error(tmp_path, b"\x00\x00\x42\x01" + struct.pack(">I", 0))


def test_truncated_data_and_header(tmp_path):
    header = b"\x00\x00\x08\x02" + struct.pack(">II", 3, 4)
    message = _error(tmp_path, header + bytes(11))
    assert "truncated" in message and "need 12" in message and "found 11" in message
    assert "truncated header" in _error(tmp_path, b"\x00\x00\x08\x02" + bytes(5))
    assert "truncated" in _error(tmp_path, b"\x00\x00")


def test_trailing_bytes(tmp_path):
    message = _error(tmp_path, b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3))
    assert "wrong length" in message and "1 trailing" in message


def test_truncated_gzip(tmp_path):
    full = gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 1000) + bytes(1000))
    assert "truncated gzip" in _error(tmp_path, full[: len(full) // 2])


def test_wrong_shape_and_dtype(tmp_path):
    write_idx(tmp_path / "x", np.zeros((5, 28, 27), np.uint8))
    with pytest.raises(IDXError, match=r"expected \('any', 28, 28\), got \(5, 28, 27\)"):
        read_idx(tmp_path / "x", shape=(None, 28, 28))
    with pytest.raises(IDXError, match=r"expected \(.any., .any.\), got \(5, 28, 27\)"):
        read_idx(tmp_path / "x", shape=(None, None))
    with pytest.raises(IDXError, match="wrong element type"):
        read_idx(tmp_path / "x", dtype=np.int32)


def test_write_rejects_unknown_dtype(tmp_path):
    with pytest.raises(ValueError, match="IDX dtypes"):
        write_idx(tmp_path / "x", np.zeros(2, np.uint64))
