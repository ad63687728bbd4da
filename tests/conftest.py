"""Shared fixtures: the real data beside the project, tiny synthetic videos, the scripts of
``tools/``, one torch thread and tiny detector settings.

Test modules cannot import a conftest (each folder has its own), so what they share is a
fixture here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

# before torch starts its thread pool: see vidal/__init__.py
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TOOLS = REPO_ROOT / "tools"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real UCF-101-24 and ImageNet VID samples); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (see shared/data/README.md)")
    return SHARED_DATA


def moving_square_frames(num_frames: int = 12, height: int = 48, width: int = 64) -> np.ndarray:
    """ndarray[T, H, W, 3] uint8 RGB: a white 12x12 square moving 2 px right per frame."""
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    frames[:, :, :, 2] = 60
    for t in range(num_frames):
        frames[t, 16:28, 4 + 2 * t : 16 + 2 * t] = 255
    return frames


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    """A 12-frame 64x48 MP4 (MPEG-4 in an MP4 container) of :func:`moving_square_frames`."""
    import cv2

    path = tmp_path / "tiny.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (64, 48))
    for frame in moving_square_frames():
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture
def tiny_frame_folder(tmp_path: Path) -> Path:
    """A folder of 12 PNG frames ``frame_0.png .. frame_11.png`` of :func:`moving_square_frames`."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(moving_square_frames()):
        cv2.imwrite(str(folder / f"frame_{t}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture
def tiny_frames() -> np.ndarray:
    """ndarray[12, 48, 64, 3]: the frames written to ``tiny_video`` and ``tiny_frame_folder``."""
    return moving_square_frames()


@pytest.fixture
def load_tool(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """``load_tool("bench/bench_tc.py")``: a script of ``tools/`` imported as a module, its
    folder on ``sys.path`` as when it runs as a script (so it finds ``tools/_common.py``)."""

    def load(relative: str) -> ModuleType:
        path = TOOLS / relative
        monkeypatch.syspath_prepend(str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        # registered while it runs, as an imported module is (dataclasses look it up)
        monkeypatch.setitem(sys.modules, path.stem, module)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for the test: the CPUs are shared, more threads only oversubscribe."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_detector() -> dict:
    """Faster R-CNN options that make a step take about a second on one CPU thread: 64-96 px
    images and small RPN/RoI samples (torchvision's own detector tests run at
    ``min_size=100``). ``build_detector(K, **tiny_detector)``; copy before changing."""
    return dict(
        min_size=64,
        max_size=96,
        rpn_pre_nms_top_n_train=200,
        rpn_post_nms_top_n_train=100,
        rpn_pre_nms_top_n_test=100,
        rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=64,
        box_batch_size_per_image=32,
    )
