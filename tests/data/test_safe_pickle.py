"""The restricted unpickler: numpy arrays load, anything that could run code is refused."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from vidal.data.safe_pickle import load_pickle, loads_pickle
from vidal.errors import AnnotationError


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_arrays_and_scalars_round_trip(protocol):
    obj = {
        "a": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "f": np.float32(1.5),
        "s": np.str_("Basketball/v_x"),
        "nested": [{"b": np.zeros((1, 5), np.float32)}, (3, "x")],
        "raw": b"\x00\xff",
    }
    out = loads_pickle(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(out["a"], obj["a"])
    assert out["a"].dtype == np.uint8
    assert out["f"] == np.float32(1.5) and out["s"] == "Basketball/v_x"
    assert out["nested"][1] == (3, "x") and out["raw"] == b"\x00\xff"


def test_python2_style_numpy_core_names():
    """Python-2 pickles name numpy.core.multiarray; numpy 2 keeps it in numpy._core."""
    data = pickle.dumps({"x": np.arange(3)}, protocol=2).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )
    assert b"numpy.core.multiarray" in data
    assert loads_pickle(data)["x"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_foreign_global_is_refused(tmp_path, protocol):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Exploit()}, protocol=protocol))
    with pytest.raises(AnnotationError, match=r"evil\.pkl.*refused.*(posix|os)\.system"):
        load_pickle(path)


def test_builtins_eval_refused():
    data = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(AnnotationError, match=r"builtins\.eval"):
        loads_pickle(data, source="crafted.pkl")


def test_not_a_pickle(tmp_path):
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(AnnotationError, match="empty"):
        load_pickle(tmp_path / "empty.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(AnnotationError, match=r"junk\.pkl.*not a readable pickle"):
        load_pickle(tmp_path / "junk.pkl")
    with pytest.raises(AnnotationError, match="cannot read"):
        load_pickle(tmp_path / "missing.pkl")
