"""What the benchmarks of ``tools/bench/`` share: the best-of-N timer and the machine load.

Private to ``tools/bench/``; a script imports it as ``_timing`` (its folder is on
``sys.path`` when it runs).
"""

from __future__ import annotations

import os
import time
import timeit
from collections.abc import Callable


def best_of(
    repeats: int,
    fn: Callable[[], object],
    *,
    clock: Callable[[], float] = time.perf_counter,
    warmup: bool = False,
) -> float:
    """Smallest time of ``repeats`` calls of ``fn`` on ``clock``, seconds (``timeit.repeat``,
    garbage collection off while timing); with ``warmup`` one untimed call first (numba
    compilation, caches)."""
    if warmup:
        fn()
    return min(timeit.repeat(fn, timer=clock, number=1, repeat=repeats))


def load_average() -> str:
    """``"load average 1.3 on 2 CPUs"``: how busy the machine is while the numbers are taken."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
