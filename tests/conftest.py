"""Shared fixtures: the real data beside the project, and tiny synthetic videos."""

from __future__ import annotations

import os
from pathlib import Path

# before torch starts its thread pool: see vidal/__init__.py
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


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
