"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_bytes", "to_jsonable", "locked"]


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target(path: Path) -> Path:
    """Where a write to ``path`` lands: the file a symlink (chain) points to, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` atomically.

    The file gets the mode a plain ``open(path, "w")`` would give it: an existing file keeps
    its mode, a new one gets ``0o666`` less the umask (the temporary file's private ``0o600``
    never reaches the result). A symlink is written through: the file it points to is
    replaced, the link stays.

    Returns:
        ``path`` as given (not the symlink's target).
    """
    path = Path(path)
    target = _target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, sets and tuples into plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj) if isinstance(obj, (set, frozenset)) else obj
        return [to_jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (numpy types converted)."""
    text = json.dumps(to_jsonable(obj), indent=indent, sort_keys=False)
    return atomic_write_bytes(path, (text + "\n").encode())


@contextlib.contextmanager
def locked(*paths: str | os.PathLike, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock on each of ``paths`` (files that need not exist yet).

    For read-modify-write updates of files that several commands may change at once (the
    labels and the pool of ``vidal label``): a second writer waits until the first has
    written, then reads what it wrote. The lock is an OS file lock on a hidden
    ``.<name>.lock`` beside each (resolved) file, released even when the process dies; locks
    are taken in a fixed order, so two commands locking the same files never deadlock.

    Raises:
        VidalError: a lock was not free within ``timeout`` seconds (the message names the file).
    """
    from filelock import FileLock, Timeout

    from vidal.errors import VidalError

    targets = sorted({_target(Path(p)).resolve() for p in paths})
    with contextlib.ExitStack() as stack:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(target.parent / f".{target.name}.lock", timeout=timeout)
            try:
                stack.enter_context(lock)
            except Timeout as e:
                raise VidalError(
                    f"{target}: another vidal command has been writing it for {timeout:g} s; "
                    "try again when it has finished"
                ) from e
        yield
