"""Drawing helpers shared by both kinds: textures, polygons, capture conditions, MP4 output."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
from av.video.stream import VideoStream

from vidal._io import atomic_write
from vidal.errors import ConfigError

SHIFT = 4  # fixed-point bits of cv2 polygon coordinates: sub-pixel geometry, exact pixel masks
_ONE = 1 << SHIFT


def random_color(rng: np.random.Generator, *, lo: float = 15.0, hi: float = 240.0) -> np.ndarray:
    """A random RGB colour, ndarray[3] float32, uniform per channel in ``[lo, hi]``."""
    return rng.uniform(lo, hi, 3).astype(np.float32)


def smooth_noise(rng: np.random.Generator, h: int, w: int, *, scale: float) -> np.ndarray:
    """Smooth value noise in ``[0, 1]``: ndarray[h, w] float32 with features of about ``scale`` px.

    Two octaves of bicubically upsampled uniform noise, rescaled to span ``[0, 1]``.
    """
    out = np.zeros((h, w), np.float32)
    for octave, weight in ((1.0, 1.0), (0.5, 0.4)):
        s = max(scale * octave, 1.0)
        grid = rng.random((int(h / s) + 3, int(w / s) + 3), dtype=np.float32)
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def texture(
    rng: np.random.Generator, h: int, w: int, *, kind: str | None = None
) -> tuple[np.ndarray, str]:
    """A random textured image: smooth noise, stripes or blobs in random colours.

    Returns:
        (ndarray[h, w, 3] float32 RGB in 0..255, the kind drawn).
    """
    kind = kind or str(rng.choice(["noise", "stripes", "blobs"]))
    c1, c2 = random_color(rng), random_color(rng)
    n = smooth_noise(rng, h, w, scale=float(rng.uniform(6, 24)))
    if kind == "noise":
        mix = n
    elif kind == "stripes":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        theta, period = rng.uniform(0, np.pi), rng.uniform(5, 18)
        s = 0.5 + 0.5 * np.sin(
            2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period + 6 * n
        )
        mix = 0.75 * s + 0.25 * n
    elif kind == "blobs":
        img = np.empty((h, w, 3), np.float32)
        img[:] = c1
        for _ in range(int(rng.integers(12, 30))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            ax = (int(rng.uniform(2, w / 6)), int(rng.uniform(2, h / 6)))
            cv2.ellipse(
                img, c, ax, float(rng.uniform(0, 180)), 0, 360, random_color(rng).tolist(), -1
            )
        blurred = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.8, 2.0)))
        return (blurred * (0.85 + 0.3 * n[..., None])).astype(np.float32), kind
    else:
        raise ConfigError(f"unknown texture kind {kind!r}; known: noise, stripes, blobs")
    return (c1 + mix[..., None] * (c2 - c1)).astype(np.float32), kind


def ellipse_polys(p: np.ndarray, q: np.ndarray, width: np.ndarray, *, n: int = 14) -> np.ndarray:
    """Polygons of ellipses spanning segments ``p -> q`` (a limb, a torso).

    Args:
        p, q (ndarray[..., 2]): segment end points in pixels.
        width (ndarray[...] | float): thickness in pixels.
        n: vertices per ellipse.

    Returns:
        ndarray[..., n, 2] float32 vertices.
    """
    d = q - p
    length = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / np.maximum(length, 1e-6)
    v = np.stack([-u[..., 1], u[..., 0]], axis=-1)
    width = np.broadcast_to(np.asarray(width, np.float32), length.shape[:-1])[..., None]
    a = length / 2 + 0.3 * width
    b = width / 2
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False, dtype=np.float32)
    m = (p + q) / 2
    pts = (
        m[..., None, :]
        + (a * u)[..., None, :] * np.cos(ang)[:, None]
        + (b * v)[..., None, :] * np.sin(ang)[:, None]
    )
    return pts.astype(np.float32)


def circle_polys(c: np.ndarray, r: np.ndarray, *, n: int = 14) -> np.ndarray:
    """Polygons of circles: ``c`` (ndarray[..., 2]), ``r`` (ndarray[...]) -> ndarray[..., n, 2]."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False, dtype=np.float32)
    r = np.asarray(r, np.float32)[..., None]
    ring = np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    return (c[..., None, :] + r[..., None] * ring).astype(np.float32)


def fill(canvas: np.ndarray, poly: np.ndarray, value: int) -> None:
    """Fill a convex polygon ``poly`` (ndarray[n, 2] float pixels) into ``canvas`` [H, W] uint8.

    Sub-pixel vertices, no anti-aliasing: every pixel is either drawn or not, so the drawn
    pixels are the exact mask of the shape.
    """
    pts = (poly * _ONE).round().astype(np.int32)
    cv2.fillConvexPoly(canvas, pts, int(value), cv2.LINE_8, SHIFT)


def fill_any(canvas: np.ndarray, poly: np.ndarray, value: int) -> None:
    """Like :func:`fill` for a simple (possibly non-convex) polygon ``poly`` (ndarray[n, 2])."""
    pts = np.round(np.clip(poly, -1e5, 1e5) * _ONE).astype(np.int32)
    cv2.fillPoly(canvas, [pts], int(value), cv2.LINE_8, SHIFT)


def mask_boxes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tight boxes of boolean masks.

    Args:
        masks (ndarray[T, H, W]): boolean masks.

    Returns:
        (boxes ndarray[T, 4] float32 ``x1, y1, x2, y2`` with x2/y2 one past the last pixel,
        nonempty ndarray[T] bool). Boxes of empty masks are zeros.
    """
    cols = np.any(masks, axis=1)  # [T, W]
    rows = np.any(masks, axis=2)  # [T, H]
    nonempty = np.any(cols, axis=1)
    w, h = masks.shape[2], masks.shape[1]
    x1 = np.argmax(cols, axis=1)
    x2 = w - np.argmax(cols[:, ::-1], axis=1)
    y1 = np.argmax(rows, axis=1)
    y2 = h - np.argmax(rows[:, ::-1], axis=1)
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    boxes[~nonempty] = 0
    return boxes, nonempty


def longest_run(flags: np.ndarray) -> tuple[int, int]:
    """First and last index (inclusive) of the longest run of True in ndarray[T] bool; (0, -1) if none."""
    best, start, best_span = 0, None, (0, -1)
    for i, f in enumerate(np.append(flags, False)):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start > best:
                best, best_span = i - start, (start, i - 1)
            start = None
    return best_span


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """All runs of True in ndarray[T] bool as (first, last) inclusive index pairs."""
    padded = np.concatenate([[False], flags.astype(bool), [False]])
    d = np.diff(padded.astype(np.int8))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(a), int(b) - 1) for a, b in zip(starts, ends, strict=True)]


def smooth_walk(
    rng: np.random.Generator,
    t: int,
    *,
    sigma: float,
    smooth: float,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """A smoothed random walk, ndarray[T] float32 starting at 0 (camera shake, drifts).

    Args:
        rng: randomness.
        t: length.
        sigma: standard deviation of a step.
        smooth: width of the box filter smoothing the walk, in frames.
        scale (ndarray[T] | None): per-frame factor on the steps (0 holds still).
    """
    steps = rng.normal(0.0, sigma, t + 8).astype(np.float32)
    if scale is not None:
        steps[4 : 4 + t] *= scale
    k = max(int(smooth), 1)
    walk = np.convolve(np.cumsum(steps), np.ones(k, np.float32) / k, mode="same")[4 : 4 + t]
    return (walk - walk[0]).astype(np.float32)


def apply_condition(
    frames: np.ndarray, condition: str, rng: np.random.Generator, *, horizon: float | None = None
) -> np.ndarray:
    """Apply a capture condition and sensor noise to a video, in place where possible.

    Args:
        frames (ndarray[T, H, W, 3]): float32 RGB in 0..255.
        condition: ``normal``, ``dark``, ``noise``, ``blur``, ``night``, ``rain`` or ``fog``.
        rng: randomness of the noise.
        horizon: horizon row (fog thickens towards it); the middle row when ``None``.

    Returns:
        ndarray[T, H, W, 3] uint8 RGB.
    """
    t, h, w, _ = frames.shape
    sigma = float(rng.uniform(1.0, 2.5))  # every camera has a little sensor noise
    if condition == "dark":
        frames *= rng.uniform(0.18, 0.32)
        sigma = float(rng.uniform(3.0, 5.0))
    elif condition == "noise":
        sigma = float(rng.uniform(14.0, 28.0))
    elif condition == "blur":
        s = float(rng.uniform(1.2, 2.0))
        for i in range(t):
            frames[i] = cv2.GaussianBlur(frames[i], (0, 0), s)
    elif condition == "night":
        sigma = float(rng.uniform(3.0, 5.0))  # the darkening itself is part of the road scene
    elif condition == "rain":
        frames *= 0.75
        gray = frames.mean(axis=-1, keepdims=True)
        frames[:] = 0.5 * frames + 0.5 * gray
        layer = np.zeros((h, w), np.float32)
        for i in range(t):
            layer[:] = 0
            n = int(rng.integers(h * w // 300, h * w // 150))
            x0 = rng.uniform(0, w, n)
            y0 = rng.uniform(-4, h, n)
            ln = rng.uniform(3, 8, n)
            for x, y, length in zip(x0, y0, ln, strict=True):
                cv2.line(layer, (int(x), int(y)), (int(x - 0.3 * length), int(y + length)), 1.0, 1)
            frames[i] = cv2.GaussianBlur(frames[i], (0, 0), 0.7) + 70.0 * layer[..., None]
    elif condition == "fog":
        rows = np.arange(h, dtype=np.float32)
        hz = h / 2 if horizon is None else horizon
        density = float(rng.uniform(0.55, 0.8))
        alpha = density * np.clip(1.0 - np.abs(rows - hz) / (0.9 * h), 0.25, 1.0)  # [H]
        grey = float(rng.uniform(170, 215))
        frames[:] = frames * (1 - alpha[:, None, None]) + grey * alpha[:, None, None]
    elif condition != "normal":
        raise ConfigError(f"unknown condition {condition!r}")
    # Gaussian noise from a bank of a few frames, each frame a random shifted crop of one
    # (drawing T x H x W x 3 normals costs more than rendering the video)
    bank = rng.standard_normal((4, h + 16, w + 16, 3), dtype=np.float32) * sigma
    picks = rng.integers(0, [4, 17, 17], size=(t, 3)).tolist()  # bank, row and column offsets
    for i, (k, dy, dx) in enumerate(picks):
        frames[i] += bank[k, dy : dy + h, dx : dx + w]
    return np.clip(frames, 0, 255, out=frames).astype(np.uint8)


# x264's names of the x86 SIMD levels below AVX-512, by numpy's names of the CPU features
_X264_SIMD = {
    "MMX": "MMX2",
    "SSE": "SSE",
    "SSE2": "SSE2",
    "SSE3": "SSE3",
    "SSSE3": "SSSE3",
    "SSE41": "SSE4.1",
    "SSE42": "SSE4.2",
    "AVX": "AVX",
    "FMA3": "FMA3",
    "AVX2": "AVX2",
}


def _x264_params() -> dict[str, str]:
    """x264 options that keep its output deterministic on this CPU.

    x264's AVX-512 code encodes the same frames to different bytes from one run to the next
    (measured: 3 encodes of one 48-frame 400x300 clip gave 3 different files, and decoded
    frames up to 10 levels apart; 1 of 100 runs of 3 tiny clips differed), its SSE/AVX2 code
    and its C code do not. On a CPU with AVX-512 the SIMD levels below it that the CPU has
    (numpy's CPU feature table) are named to x264 explicitly; elsewhere x264 detects them.
    """
    try:
        from numpy._core._multiarray_umath import (  # type: ignore[import-not-found]
            __cpu_features__ as features,
        )
    except ImportError:  # numpy < 2: no such table; leave x264 to its own detection
        return {}
    if not features.get("AVX512F"):
        return {}
    levels = [name for key, name in _X264_SIMD.items() if features.get(key)]
    return {"x264-params": "asm=" + ",".join(levels)}


def write_mp4(path: str | os.PathLike, frames: np.ndarray, *, fps: float, crf: int = 18) -> None:
    """Encode RGB frames as an H.264 MP4 (MPEG-4 Part 2 when libx264 is missing), atomically.

    Single-threaded x264 with fixed settings and without its AVX-512 code
    (:func:`_x264_params`), and the RGB -> YUV 4:2:0 conversion done by OpenCV rather than
    by libswscale inside PyAV, whose output for the same frames was seen to vary between
    processes (depending on what else they had imported), so that the same frames give the
    same bytes.

    Args:
        path: the ``.mp4`` file to write.
        frames (ndarray[T, H, W, 3]): uint8 RGB, even H and W.
        fps: frame rate.
        crf: x264 constant rate factor.
    """
    t, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)

    def encode(tmp: str) -> None:
        with av.open(tmp, "w", format="mp4") as container:
            try:
                stream = cast(VideoStream, container.add_stream("libx264", rate=rate))
                stream.options = {
                    "crf": str(crf),
                    "preset": "veryfast",
                    "threads": "1",
                    **_x264_params(),
                }
            except (av.FFmpegError, ValueError):
                stream = cast(VideoStream, container.add_stream("mpeg4", rate=rate))
                stream.bit_rate = 8 * w * h * 25
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.thread_count = 1
            for i in range(t):
                yuv = cv2.cvtColor(frames[i], cv2.COLOR_RGB2YUV_I420)  # [H * 3 / 2, W]
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                frame.pts = i
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    atomic_write(path, encode)
