"""Reading checkpoint files safely, with one-line errors that say what is wrong."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from vidal.errors import VidalError

__all__ = ["read_checkpoint"]


def read_checkpoint(path: str | os.PathLike, *, what: str = "vidal checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, its failures as :class:`VidalError`.

    ``weights_only`` never runs code from the file; a file that needs more than tensors and
    plain containers (a pickled object, a malicious file) is reported as not being ``what``,
    never with torch's advice to load it unsafely.

    Raises:
        VidalError: no such file, an empty file, or a file that is not ``what``.
    """
    path = Path(path)
    if not path.is_file():
        raise VidalError(f"{path}: no such {what}")
    if path.stat().st_size == 0:
        raise VidalError(f"{path}: empty file, not a {what}")
    try:
        with warnings.catch_warnings():  # torch's note on pickle protocols says nothing useful
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise VidalError(
            f"{path}: not a {what} (it holds Python objects a checkpoint never holds; "
            "vidal does not run code from files)"
        ) from e
    except OSError as e:
        raise VidalError(f"{path}: cannot read {what}: {e.strerror or e}") from e
    except Exception as e:  # noqa: BLE001 - torch raises anything on a file it cannot parse
        raise VidalError(f"{path}: not a {what} (torch cannot read it: {type(e).__name__})") from e
