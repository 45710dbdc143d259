"""Where a result came from: the git commit of the code, the machine, file hashes, paths."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

GIT_TIMEOUT_S = 10
_HASH_CHUNK = 1 << 20
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the torchstn package that is running
COMMIT_ENV = "TORCHSTN_COMMIT"  # names the commit of a copy of the checkout (no or a stale .git)


def _git(*args: str, cwd: str | os.PathLike) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_commit(path: str | os.PathLike = PACKAGE_DIR) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ``path``.

    ``dirty``: tracked files of the package (the code that trains and tests; not results or
    docs) differ from the commit, so the commit alone does not say what ran.

    ``$TORCHSTN_COMMIT``, when set, names the commit instead, with ``dirty`` unknown (None): for
    a copy of the tree sent to another machine, whose ``.git`` may be missing or stale (a lent
    GPU machine's copy held the session's first commit).
    """
    if os.environ.get(COMMIT_ENV):
        return {"commit": os.environ[COMMIT_ENV], "dirty": None}
    sha = _git("rev-parse", "HEAD", cwd=path)
    if sha is None:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", cwd=path)
    return {"commit": sha, "dirty": bool(status) if status is not None else None}


def repo_root(start: str | os.PathLike = ".") -> Path:
    """The top of the git checkout holding ``start`` (else ``start`` itself)."""
    top = _git("rev-parse", "--show-toplevel", cwd=start)
    return Path(top) if top else Path(start).resolve()


def relative_to_root(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else absolute (POSIX form)."""
    p = Path(path).resolve()
    try:
        return p.relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info(threads: int | None, device: str = "auto") -> dict[str, Any]:
    """What a run on this machine trains on: device, CPU model, threads, torch version."""
    from ..train.distributed import pick_device

    dev = pick_device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name()
    return {"device": dev.type, "machine": name, "cpu": cpu_name(),
            "threads": threads or torch.get_num_threads(), "torch": torch.__version__}


def machine_label(record: dict[str, Any]) -> str:
    """``"MACHINE (device, T threads)"`` of a :func:`machine_info` record (a training session,
    a run's record)."""
    threads = f", {record['threads']} threads" if record.get("threads") else ""
    return f"{record['machine']} ({record.get('device') or '?'}{threads})"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()
