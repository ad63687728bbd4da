"""One seeding scheme: a :class:`numpy.random.SeedSequence` per (seed, cycle, stream).

Every random choice of an experiment draws from its own stream, so changing one (more
scoring passes, another selector) never shifts the others, and cycle ``k`` of a resumed run
draws exactly what an uninterrupted run draws. Streams never collide, whatever the number
of seeds or cycles (``seed * 1000 + k`` did at 1000 cycles).

Example:
    >>> a, b = rng(0, 3, 1), rng(0, 3, 1)
    >>> bool(a.integers(1 << 30) == b.integers(1 << 30))
    True
    >>> seed(0, 3, 1) != seed(0, 1003, 0)
    True
"""

from __future__ import annotations

import numpy as np

__all__ = ["sequence", "rng", "seed"]


def sequence(base: int, *keys: int) -> np.random.SeedSequence:
    """The seed sequence of ``base`` spawned along ``keys`` (e.g. cycle, stream)."""
    return np.random.SeedSequence(int(base), spawn_key=tuple(int(k) for k in keys))


def rng(base: int, *keys: int) -> np.random.Generator:
    """A numpy Generator for ``(base, *keys)``."""
    return np.random.default_rng(sequence(base, *keys))


def seed(base: int, *keys: int) -> int:
    """A 63-bit integer seed for ``(base, *keys)``, for torch and other seeded code."""
    return int(sequence(base, *keys).generate_state(1, np.uint64)[0] >> np.uint64(1))
