"""Loading annotation pickles without running code chosen by whoever wrote them.

Unpickling calls whatever global a pickle names, so a crafted file can run ``os.system``.
The dataset pickles vidal reads (UCF-101-24 ``pyannot.pkl``, ACT's ``UCF101v2-GT.pkl`` and
``JHMDB-GT.pkl``) only hold dicts, lists, strings, numbers and numpy arrays, so
:func:`load_pickle` admits exactly the globals those need:

- ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``,
  ``numpy.core.multiarray.scalar`` (arrays, dtypes and numpy scalars in protocols 0-4;
  the ``numpy.core`` names are mapped to ``numpy._core`` on numpy 2 and either spelling is
  accepted);
- ``numpy.core.numeric._frombuffer`` (arrays in protocol 5, as numpy >= 1.16 writes them);
- ``_codecs.encode`` (how Python 3 spells a ``bytes`` object in protocols 0-2; it only
  turns a string into bytes).

Python-2 pickles are decoded with ``encoding="latin1"`` so their byte strings, including
the raw data of numpy arrays, load unchanged.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from vidal.errors import AnnotationError

__all__ = ["ALLOWED_GLOBALS", "load_pickle", "loads_pickle"]

# (module, name) as written in the pickle, with numpy.core and numpy._core both accepted.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


def _canonical(module: str) -> str:
    return (
        "numpy.core" + module[len("numpy._core") :] if module.startswith("numpy._core") else module
    )


def _resolve(module: str, name: str) -> Any:
    if module == "_codecs":
        import codecs

        return codecs.encode
    if module == "numpy":
        return getattr(np, name)
    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 / numpy 1
    sub = module.split(".", 2)[2]  # "multiarray" or "numeric"
    return getattr(getattr(core, sub), name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, *, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (_canonical(module), name) not in ALLOWED_GLOBALS:
            raise AnnotationError(
                f"{self._source}: refused to load global {module}.{name} from the pickle "
                "(only numpy arrays, dtypes and scalars are allowed in annotation pickles)"
            )
        return _resolve(_canonical(module), name)


def loads_pickle(data: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` admitting only the numpy globals listed in :data:`ALLOWED_GLOBALS`.

    Args:
        data: the pickle bytes (any protocol, Python 2 or 3).
        source: a name for error messages (the file the bytes came from).

    Returns:
        The unpickled object.

    Raises:
        AnnotationError: naming ``source`` and the refused global, or why the data is not
            a pickle.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source=source).load()
    except AnnotationError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, ValueError, ... from damaged data
        raise AnnotationError(f"{source}: not a readable pickle ({type(e).__name__}: {e})") from e


def load_pickle(path: str | os.PathLike) -> Any:
    """Load an annotation pickle from ``path`` with the restricted unpickler.

    Args:
        path: the ``.pkl`` file.

    Returns:
        The unpickled object (dicts, lists, str, numbers, numpy arrays).

    Raises:
        AnnotationError: naming the file when it cannot be read, is not a pickle, or names
            a global outside :data:`ALLOWED_GLOBALS`.

    Example:
        >>> import pickle
        >>> loads_pickle(pickle.dumps({"a": np.arange(3)}, protocol=2))["a"].tolist()
        [0, 1, 2]
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read: {e}") from e
    if not data:
        raise AnnotationError(f"{path}: empty file")
    return loads_pickle(data, source=str(path))
