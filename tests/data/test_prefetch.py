"""The background prefetcher keeps order, re-raises errors and stops when abandoned."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from torchstn.data.prefetch import prefetch


def test_order_and_completeness():
    assert list(prefetch(range(50), depth=3)) == list(range(50))


def test_errors_reach_the_consumer():
    def items():
        yield 1
        raise RuntimeError("boom")

    it = prefetch(items())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="boom"):
        next(it)


def test_abandoned_consumer_stops_the_thread():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    it = prefetch(items(), depth=2)
    assert next(it) == 0
    it.close()
    time.sleep(0.3)
    assert len(produced) < 10
    assert not any(t.name == "torchstn-prefetch" and t.is_alive() for t in threading.enumerate())


def test_depth_validated():
    with pytest.raises(ValueError, match="depth"):
        list(prefetch([1], depth=0))


_EXIT_SCRIPT = """
import torch
from torchstn.data.prefetch import prefetch
torch.set_num_threads(2)
def items():
    while True:
        yield torch.rand(256, 1, 64, 64).sum()
it = prefetch(items())
next(it)
print("leaving with the producer running")
"""


def test_interpreter_exit_with_a_running_producer_is_clean():
    run = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
