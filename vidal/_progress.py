"""Progress bars that suit where they are written.

On a terminal, a tqdm bar as usual. In a log file or a pipe (``vidal demo > log``), the bar
redraws at most once a minute, so a long run writes a few lines instead of megabytes.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress_bar"]

#: seconds between redraws when stderr is not a terminal
LOG_INTERVAL = 60.0


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """``tqdm(*args, **kwargs)``, redrawing rarely when its output is not a terminal."""
    out = kwargs.get("file") or sys.stderr
    if not getattr(out, "isatty", lambda: False)():
        kwargs.setdefault("mininterval", LOG_INTERVAL)
        kwargs.setdefault("maxinterval", LOG_INTERVAL)
    return tqdm(*args, **kwargs)
