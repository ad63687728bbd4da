"""Synthetic videos with known motion and a simulated detector with known errors."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from tracking import Flows, compute_flows


def textured(rng: np.random.Generator, height: int, width: int, *, blur: float = 2.0) -> np.ndarray:
    """Smoothed colour noise, ``[H, W, 3]`` uint8: texture everywhere, so flow is well posed."""
    noise = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), blur)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6) * 50 + 128
    return np.clip(noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Scene:
    """A rendered video: ``frames [T, H, W, 3]`` uint8 and ``boxes[t] [K, 4]`` ground truth."""

    frames: np.ndarray
    boxes: list[np.ndarray]


def render_scene(
    rng: np.random.Generator, *, num_frames: int = 60, height: int = 180, width: int = 320
) -> Scene:
    """Three textured rectangles on a static textured background, each in its own horizontal
    band, moving 1-3 px per frame and bouncing off the frame edges (so they never leave it)."""
    bg = textured(rng, height, width)
    count = 3
    sizes = rng.uniform([32, 26], [56, 44], (count, 2))  # [K, (w, h)]
    pos = np.stack(
        [rng.uniform(0, width - sizes[:, 0]), (np.arange(count) + 0.15) * (height / count)], 1
    )
    pos[:, 1] = np.minimum(pos[:, 1], height - sizes[:, 1])
    vel = rng.uniform(1, 3, (count, 2)) * rng.choice([-1, 1], (count, 2))
    vel[:, 1] *= 0.3
    patches = [textured(rng, round(h), round(w), blur=1.5) for w, h in sizes]
    frames, boxes = [], []
    for _ in range(num_frames):
        frame = bg.copy()
        frame_boxes = []
        for k, patch in enumerate(patches):
            x, y = np.round(pos[k]).astype(int)
            ph, pw = patch.shape[:2]
            frame[y : y + ph, x : x + pw] = patch
            frame_boxes.append([x, y, x + pw, y + ph])
        frames.append(frame)
        boxes.append(np.array(frame_boxes, np.float32))
        pos += vel
        for axis, limit in ((0, width), (1, height)):
            out = (pos[:, axis] < 0) | (pos[:, axis] + sizes[:, axis] > limit - 1)
            vel[out, axis] *= -1
            pos[:, axis] = np.clip(pos[:, axis], 0, limit - 1 - sizes[:, axis])
    return Scene(frames=np.stack(frames), boxes=boxes)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``[N, M]`` written independently of tracking's own helper."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


@dataclass(frozen=True)
class SimulatedDetections:
    """Detector output per frame with the truth about it.

    ``detections[t] = (boxes, labels, scores)``; ``is_fp[t] [N_t]`` whether each box is a false
    positive (IoU <= 0.5 with every ground-truth box); ``missed[t] [K_t, 4]`` ground-truth boxes
    the detector dropped (its false negatives).
    """

    detections: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    is_fp: list[np.ndarray]
    missed: list[np.ndarray]


def simulate_detector(
    rng: np.random.Generator,
    scene: Scene,
    *,
    miss_rate: float = 0.2,
    miss_burst: float = 1.0,
    false_per_frame: float = 0.4,
    false_duration: int = 1,
    jitter: float = 2.0,
) -> SimulatedDetections:
    """A detector with known errors.

    Misses: each object is dropped in runs of frames with geometric lengths of mean
    ``miss_burst`` (1: independent frames), started at the rate that drops ``miss_rate`` of
    all object-frames. Found objects get Gaussian corner jitter (``jitter`` px). False boxes
    (20-50 px, uniform position): Poisson(``false_per_frame``) start in each frame and each
    stays at its place for 1 to ``false_duration`` frames (static clutter fired on repeatedly).
    """
    height, width = scene.frames.shape[1:3]
    num_frames, count = len(scene.boxes), len(scene.boxes[0])
    dropped = np.zeros((num_frames, count), bool)
    for k in range(count):
        t = 0
        while t < num_frames:
            if rng.random() < miss_rate / miss_burst:
                run = int(rng.geometric(1 / miss_burst))
                dropped[t : t + run, k] = True
                t += run
            else:
                t += 1
    invented: list[list[np.ndarray]] = [[] for _ in range(num_frames)]
    for t in range(num_frames):
        for _ in range(rng.poisson(false_per_frame)):
            wh = rng.uniform(20, 50, 2)
            xy = rng.uniform(0, 1, 2) * (np.array([width, height]) - wh)
            for s in range(t, min(num_frames, t + int(rng.integers(1, false_duration + 1)))):
                invented[s].append(np.r_[xy, xy + wh])
    detections, is_fp, missed = [], [], []
    for t, gt in enumerate(scene.boxes):
        found = gt[~dropped[t]]
        false = np.array(invented[t]).reshape(-1, 4)
        boxes = np.concatenate([found, false])
        boxes = (boxes + rng.normal(0, jitter, boxes.shape)).astype(np.float32)
        scores = rng.uniform(0.6, 1.0, len(boxes)).astype(np.float32)
        detections.append((boxes, np.ones(len(boxes), np.int64), scores))
        is_fp.append(iou(boxes, gt).max(axis=1, initial=0.0) <= 0.5)
        missed.append(gt[dropped[t]])
    return SimulatedDetections(detections=detections, is_fp=is_fp, missed=missed)


@dataclass(frozen=True)
class CoherenceCase:
    """A rendered scene and its DIS flow, computed from the frames."""

    scene: Scene
    flows: Flows


@pytest.fixture(scope="session")
def scene() -> Scene:
    """One 60-frame 320x180 scene of three moving textured rectangles."""
    return render_scene(np.random.default_rng(7))


@pytest.fixture(scope="session")
def coherence_cases() -> list[CoherenceCase]:
    """Three 60-frame scenes (seeds 0-2) with their DIS flow."""
    cases = []
    for seed in range(3):
        scene = render_scene(np.random.default_rng(seed))
        cases.append(CoherenceCase(scene, compute_flows(scene.frames, method="dis")))
    return cases


@pytest.fixture(scope="session")
def simulate():
    """The simulated detector, :func:`simulate_detector`, for tests to call."""
    return simulate_detector
