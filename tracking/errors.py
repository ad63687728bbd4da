"""The one error type :mod:`tracking` raises for bad input."""

from __future__ import annotations

__all__ = ["TrackingError"]


class TrackingError(ValueError):
    """Bad input to a tracking function: a wrong shape, an unknown name, an invalid value.

    The message names the argument and what was expected. It subclasses :class:`ValueError`
    so that callers that do not know :mod:`tracking` still catch it.
    """
