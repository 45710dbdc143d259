"""Stopping a run cleanly: SIGINT/SIGTERM become a flag checked between steps.

Under ``torchrun`` every rank must stop at the same step (or the next collective would hang), so
the ranks agree on the flag with a MAX all-reduce every :data:`STOP_SYNC_EVERY` steps.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import torch

from .distributed import DistInfo

STOP_SYNC_EVERY = 10  # steps between the ranks' agreement on a stop request
# Testing aid for crash-safety tests: "STEP" or "STEP:SIGNAL" (e.g. "12:INT"): the process sends
# itself SIGNAL (default KILL) right after global step STEP.
KILL_ENV = "TORCHSTN_TEST_KILL_AT_STEP"


class StopRequest:
    """Context manager: SIGINT/SIGTERM set ``requested``; a second signal aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # signals: main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ntorchstn: stop requested; finishing the step and saving a checkpoint "
              "(press Ctrl-C again to abort)", file=sys.stderr)

    def should_stop(self, batches_done: int, info: DistInfo) -> bool:
        """Single process: the flag. Several: the flag of any rank, at sync steps only."""
        if not info.distributed:
            return self.requested
        if batches_done % STOP_SYNC_EVERY:
            return False
        import torch.distributed as dist

        flag = torch.tensor([1.0 if self.requested else 0.0], device=info.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def kill_plan() -> tuple[int, int]:
    """``(step, signal)`` from :data:`KILL_ENV` (step 0: never)."""
    value = os.environ.get(KILL_ENV, "")
    if not value:
        return 0, signal.SIGKILL
    step, _, name = value.partition(":")
    return int(step), getattr(signal, f"SIG{name or 'KILL'}")
