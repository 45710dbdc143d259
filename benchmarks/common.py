"""Shared helpers of the benchmark scripts: timing, the machine header, markdown tables."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable

import torch
import torch.utils.benchmark as tb


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(title: str) -> str:
    """Markdown lines naming what ran where: machine, threads, versions, commit."""
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else cpu_name()
    return "\n".join([
        f"## {title}",
        "",
        f"- machine: {device}, {os.cpu_count()} logical CPUs, torch.get_num_threads() = "
        f"{torch.get_num_threads()}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, commit {commit()}",
        "",
    ])


def median_ms(fn: Callable[[], object], min_run_time: float = 0.5) -> float:
    """Median wall time of ``fn()`` in milliseconds (torch.utils.benchmark, warm-up included)."""
    timer = tb.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def table(rows: list[dict[str, object]]) -> str:
    """A markdown table from dicts sharing keys (floats with 3 significant digits)."""
    keys = list(rows[0])

    def fmt(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def best_median_ms(fns: list[Callable[[], object]], min_run_time: float = 0.5,
                   repeat: int = 1) -> list[float]:
    """Best of ``repeat`` medians of each of ``fns``, measured in turns (a burst of load from
    another process then hits every contender, not just one)."""
    best = [float("inf")] * len(fns)
    for _ in range(max(1, repeat)):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], median_ms(fn, min_run_time))
    return best


def write_out(path: str | None, text: str) -> None:
    """Write ``text`` to ``path`` if one is given (the scripts' ``--out``)."""
    if path:
        with open(path, "w") as f:
            f.write(text)


def report_sections(parts: list[str], sections: list[tuple[str, Callable[[], str]]],
                    out: str | None) -> int:
    """Print ``parts`` (the report's head), then each ``(title, body)`` section as it finishes,
    so that a failing section loses only itself; write the whole report to ``out``. Returns the
    exit status: 1 if any section failed."""
    print("\n\n".join(parts), flush=True)
    failed = 0
    for title, body in sections:
        try:
            text = f"{title}\n\n{body()}"
        except Exception as error:  # noqa: BLE001 - reported, and the exit status says so
            failed += 1
            text = f"{title}\n\nFAILED: {type(error).__name__}: {error}"
        print("\n" + text, flush=True)
        parts = [*parts, text]
    write_out(out, "\n\n".join(parts) + "\n")
    return 1 if failed else 0
