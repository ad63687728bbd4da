"""Stopping a training loop at a step boundary on Ctrl-C, so its state can be saved exactly.

While :func:`stop_on_interrupt` is active, the first SIGINT only sets a flag: the loop
finishes the step it is in, records its state and raises :class:`TrainingInterrupted`,
which the caller turns into a checkpoint. A second SIGINT interrupts at once, as usual.
Outside the main thread (where signal handlers cannot be set) nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["StopFlag", "TrainingInterrupted", "stop_on_interrupt"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after ``steps_done`` of ``steps`` steps, its state recorded.

    A :class:`KeyboardInterrupt`, so callers that do not save anything still stop.
    """

    def __init__(self, steps_done: int, steps: int) -> None:
        super().__init__(f"training interrupted after {steps_done} of {steps} steps")
        self.steps_done, self.steps = steps_done, steps


class StopFlag:
    """Set by the first SIGINT while :func:`stop_on_interrupt` is active."""

    def __init__(self) -> None:
        self.requested = False


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[StopFlag]:
    """Turn the first Ctrl-C into ``flag.requested = True``; the previous handler comes back after."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        flag.requested = True
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C interrupts at once

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
