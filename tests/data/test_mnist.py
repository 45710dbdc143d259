"""MNIST files: the data directory, loading and its errors, and downloading from a local HTTP
server (real HTTP on 127.0.0.1, real md5s of fake files; never the network)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from torchstn.data import mnist
from torchstn.data.idx import IDXError, write_idx

from .helpers import write_fake_mnist

# ---- a local server --------------------------------------------------------------------------

class Server:
    """Serves ``files[prefix][name]`` at ``/prefix/name``; anything else is a 404."""

    def __init__(self):
        self.files: dict[str, dict[str, bytes]] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.requests.append(self.path)
                prefix, _, name = self.path.strip("/").partition("/")
                body = outer.files.get(prefix, {}).get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def payloads(tmp_path_factory) -> dict[str, bytes]:
    """The four gz files of a tiny fake MNIST, as bytes."""
    root = write_fake_mnist(tmp_path_factory.mktemp("payload"), n_train=20, n_test=10)
    return {name: (root / "mnist" / name).read_bytes() for name in mnist.RESOURCES}


def _md5s(payloads):
    return {name: hashlib.md5(body).hexdigest() for name, body in payloads.items()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- download --------------------------------------------------------------------------------

def test_download_verifies_and_writes_all_files(tmp_path, server, payloads):
    server.files["a"] = payloads
    paths = mnist.download(tmp_path, mirrors=[server.url("a")], md5s=_md5s(payloads))
    assert [p.name for p in paths] == list(mnist.RESOURCES)
    for path in paths:
        assert path.parent == tmp_path / "mnist"
        assert path.read_bytes() == payloads[path.name]
    assert _leftovers(tmp_path / "mnist") == sorted(mnist.RESOURCES)  # no temporary files
    images, labels = mnist.load("test", tmp_path)
    assert images.shape == (10, 28, 28) and labels.dtype == torch.int64


def test_falls_back_to_second_mirror_on_404(tmp_path, server, payloads):
    server.files["good"] = payloads  # "missing" serves nothing: every request there is a 404
    mnist.download(tmp_path, mirrors=[server.url("missing"), server.url("good")],
                   md5s=_md5s(payloads))
    assert sorted(_leftovers(tmp_path / "mnist")) == sorted(mnist.RESOURCES)
    assert any(r.startswith("/missing/") for r in server.requests)


def test_corrupt_response_is_rejected_and_leaves_nothing(tmp_path, server, payloads):
    corrupt = {n: b[:-10] + b"0123456789" for n, b in payloads.items()}
    server.files["bad"] = corrupt
    with pytest.raises(mnist.DownloadError, match="md5") as info:
        mnist.download(tmp_path, mirrors=[server.url("bad")], md5s=_md5s(payloads))
    assert server.url("bad") in str(info.value)
    assert _leftovers(tmp_path / "mnist") == []


def test_corrupt_first_mirror_then_good_second(tmp_path, server, payloads):
    server.files["bad"] = {n: b"garbage" for n in payloads}
    server.files["good"] = payloads
    mnist.download(tmp_path, mirrors=[server.url("bad"), server.url("good")],
                   md5s=_md5s(payloads))
    for name, body in payloads.items():
        assert (tmp_path / "mnist" / name).read_bytes() == body


def test_verified_files_are_skipped(tmp_path, server, payloads):
    server.files["a"] = payloads
    mnist.download(tmp_path, mirrors=[server.url("a")], md5s=_md5s(payloads))
    first = len(server.requests)
    mnist.download(tmp_path, mirrors=[server.url("a")], md5s=_md5s(payloads))
    assert len(server.requests) == first == len(payloads)


def test_bad_existing_file_is_replaced(tmp_path, server, payloads):
    server.files["a"] = payloads
    (tmp_path / "mnist").mkdir()
    name = next(iter(payloads))
    (tmp_path / "mnist" / name).write_bytes(b"half a fi")
    mnist.download(tmp_path, mirrors=[server.url("a")], md5s=_md5s(payloads))
    assert (tmp_path / "mnist" / name).read_bytes() == payloads[name]


def test_unreachable_mirrors_give_one_clear_error(tmp_path, server, monkeypatch):
    server.close()  # the port is closed now: connection refused
    monkeypatch.setattr(mnist, "MIRRORS", [server.url("a")])  # the module-level default list
    with pytest.raises(mnist.DownloadError, match="could not download"):
        mnist.download(tmp_path, mirrors=[server.url("a")], timeout=2)
    with pytest.raises(FileNotFoundError) as info:
        mnist.load("test", tmp_path, download=True)
    message = str(info.value)
    for needle in ["TORCHSTN_DATA", "--data-dir", "torchstn data download", "Download failed",
                   str(tmp_path)]:
        assert needle in message


def test_verify_accepts_repacked_and_plain_copies(tmp_path, payloads):
    name, body = next(iter(payloads.items()))
    raw = gzip.decompress(body)
    res = mnist.Resource(name, hashlib.md5(body).hexdigest(), hashlib.md5(raw).hexdigest())
    repacked = tmp_path / "repacked.gz"
    repacked.write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    assert repacked.read_bytes() != body
    plain = tmp_path / "plain"
    plain.write_bytes(raw)
    wrong = tmp_path / "wrong"
    wrong.write_bytes(raw[:-1])
    assert mnist.verify(repacked, res) and mnist.verify(plain, res)
    assert not mnist.verify(wrong, res)


def test_real_files_match_the_known_checksums(real_root):
    for name, res in mnist.RESOURCES.items():
        assert mnist.verify(mnist.find_file(name, real_root), res), name


# ---- where the data is ------------------------------------------------------------------------

def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHSTN_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert mnist.data_dir() == tmp_path / "env"
    monkeypatch.delenv("TORCHSTN_DATA")
    assert mnist.data_dir() == tmp_path / "xdg" / "torchstn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.data_dir() == tmp_path / "home" / ".cache" / "torchstn"


@pytest.mark.parametrize("sub", ["", "mnist"])
@pytest.mark.parametrize("compress", [True, False])
def test_files_found_in_dir_or_mnist_subdir_plain_or_gz(tmp_path, sub, compress):
    folder = tmp_path / sub
    folder.mkdir(exist_ok=True)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    for name, array in [("t10k-images-idx3-ubyte", images),
                        ("t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1], np.uint8))]:
        write_idx(folder / (name + (".gz" if compress else "")), array)
    x, y = mnist.load("test", tmp_path)
    assert torch.equal(x, torch.from_numpy(images)) and y.tolist() == [3, 1, 4, 1]
    xf, _ = mnist.load_float("test", tmp_path)
    assert xf.shape == (4, 1, 28, 28) and xf.dtype == torch.float32
    assert torch.equal(xf[:, 0] * 255, x.float())


def test_missing_files_error_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHSTN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        mnist.load("train")
    message = str(info.value)
    for needle in ["train-images-idx3-ubyte.gz", str(tmp_path / "nowhere"),
                   str(tmp_path / "nowhere" / "mnist"), "TORCHSTN_DATA", "--data-dir",
                   "torchstn data download"]:
        assert needle in message


def test_damaged_file_and_mismatched_labels(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(IDXError, match="expected \\(3,\\), got \\(2,\\)"):
        mnist.load("test", tmp_path)
    with pytest.raises(ValueError, match="split"):
        mnist.load("validation", tmp_path)


def test_decoded_once_per_process(fake_root, fresh_cache):
    first = mnist.load("train", fake_root)
    second = mnist.load("train", str(fake_root))
    assert first[0] is second[0] and first[1] is second[1]
