"""Run an iterator in a background thread, a few items ahead of its consumer.

Batch generation is made of torch ops, which release the GIL, so a thread overlaps it with the
training step without worker processes. Exceptions are re-raised in the consumer. Closing the
consumer (``close()``, garbage collection) stops the thread and waits for it, and so does
interpreter exit: a thread killed inside a torch op at shutdown aborts the process.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_POLL_S = 0.1
_DONE = object()
_LIVE: weakref.WeakKeyDictionary[threading.Thread, threading.Event] = weakref.WeakKeyDictionary()


def _stop(thread: threading.Thread, stop: threading.Event) -> None:
    stop.set()
    if thread is not threading.current_thread():
        thread.join()


@atexit.register
def _stop_all() -> None:
    for thread, stop in list(_LIVE.items()):
        _stop(thread, stop)


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, produced by a daemon thread up to ``depth`` items ahead."""
    if depth < 1:
        raise ValueError(f"depth: expected >= 1, got {depth}")
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as e:  # handed to the consumer
            put((_DONE, e))
        finally:  # a generator's clean-up runs here, in the thread that iterated it
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="torchstn-prefetch", daemon=True)
    _LIVE[thread] = stop
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        _stop(thread, stop)
