"""The atomic writer keeps file modes and symlinks; the file lock serialises writers."""

from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np
import pytest

from vidal._io import atomic_write_bytes, atomic_write_json, locked
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.errors import VidalError
from vidal.oracle import export_tasks
from vidal.pool import LabelPool
from vidal.select.base import Selection


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring it after."""
    before = os.umask(0o022)
    os.umask(before)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(before)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    atomic_write_json(tmp_path / "a.json", {"a": 1})
    assert _mode(tmp_path / "a.json") == mode


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "pool.json"
    path.write_text("{}")
    os.chmod(path, 0o664)
    LabelPool({"v": 4}).save(path)
    assert _mode(path) == 0o664 and LabelPool.load(path) == LabelPool({"v": 4})


def test_a_symlink_is_written_through(tmp_path):
    real = tmp_path / "shared" / "labels.json"
    real.parent.mkdir()
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "labels.json"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and _mode(real) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["labels.json"]  # no temp files


def test_exported_images_get_the_umask_mode(tmp_path, umask):
    umask(0o022)
    ds = VideoDataset(["a"], [VideoAnnotation("v", 4, 16, 12)])
    read = lambda vid, idx: np.zeros((len(idx), 12, 16, 3), np.uint8)  # noqa: E731
    export_tasks(Selection(frames={"v": np.array([1, 2])}), ds, tmp_path, read_frames=read)
    files = [*(tmp_path / "images").iterdir(), tmp_path / "tasks.json", tmp_path / "cvat_tasks.xml"]
    assert len(files) == 4 and {_mode(p) for p in files} == {0o644}


def test_a_second_writer_waits_for_the_lock(tmp_path):
    path = tmp_path / "pool.json"
    order = []

    def second() -> None:
        with locked(path):
            order.append("second")

    with locked(path, tmp_path / "labels.json"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_a_lock_not_freed_in_time_names_the_file(tmp_path):
    path = tmp_path / "labels.json"
    errors = []

    def second() -> None:
        try:
            with locked(path, timeout=0.1):
                pass
        except VidalError as e:
            errors.append(str(e))

    with locked(path):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(5)
    assert len(errors) == 1 and str(path) in errors[0] and "try again" in errors[0]
