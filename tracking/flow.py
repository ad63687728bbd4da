"""Dense optical flow between consecutive frames, computed once per video and cached on disk.

The thesis tracks detections with optical flow "computed once at the beginning" of active
learning and reused in every cycle (Zolfaghari Bengar 2021, Sec. 2.3.2, "Object tracker";
it used PWC-Net). Here the flow comes from OpenCV's DIS (default) or Farneback, or from
torchvision's RAFT for users with a GPU and local weights.

Conventions:
    * Frames are ``[T, H, W, 3]`` uint8 RGB, 0-based.
    * ``forward[t]`` is the flow from frame ``t`` to frame ``t + 1`` and ``backward[t]`` the
      flow from frame ``t + 1`` back to frame ``t``; both are ``[h, w, 2]`` ``(dx, dy)``
      displacements: the pixel at ``(x, y)`` in the first frame moves to ``(x + dx, y + dy)``.
    * Downscaling (``scale < 1``): the flow is computed on frames resized by ``scale`` and kept
      on that coarser ``h x w`` grid (memory and disk shrink by ``scale**2``), but its vectors
      are multiplied back into full-frame pixels. :class:`Flows` records the full frame size so
      that sampling (:mod:`tracking.propagate`) maps a frame point onto the grid. With
      ``scale=1`` the grid is the frame, ``[H, W, 2]``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.integers(0, 255, size=(3, 32, 48, 3), dtype=np.uint8)
    >>> flows = compute_flows(frames, method="farneback")
    >>> flows.forward.shape, flows.backward.shape, flows.frame_size
    ((2, 32, 48, 2), (2, 32, 48, 2), (32, 48))
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from .errors import TrackingError

__all__ = [
    "DISFlow",
    "FarnebackFlow",
    "FlowCache",
    "FlowMethod",
    "Flows",
    "RAFTFlow",
    "FLOW_METHODS",
    "compute_flows",
    "get_flow_method",
]


@runtime_checkable
class FlowMethod(Protocol):
    """A dense flow estimator: ``method(first, second) -> flow``.

    ``first`` and ``second`` are ``[B, h, w, 3]`` uint8 RGB batches; the result is
    ``[B, h, w, 2]`` float32 ``(dx, dy)`` from ``first[b]`` to ``second[b]``. ``tag`` names the
    method and every setting that changes its output; the cache keys files by it.
    """

    @property
    def tag(self) -> str: ...

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray: ...


_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _gray(images: np.ndarray) -> list[np.ndarray]:
    return [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]


@dataclass(frozen=True)
class DISFlow:
    """OpenCV's Dense Inverse Search flow (Kroeger et al. 2016) on grayscale frames.

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"`` (OpenCV's presets; slower is
            more accurate).
    """

    preset: str = "medium"

    def __post_init__(self) -> None:
        if self.preset not in _DIS_PRESETS:
            raise TrackingError(
                f"unknown DIS preset {self.preset!r}; known: {', '.join(sorted(_DIS_PRESETS))}"
            )

    @property
    def tag(self) -> str:
        """Cache key of this method and its settings."""
        return f"dis-{self.preset}"

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from ``first`` to ``second``.

        Args:
            first (ndarray[B, h, w, 3]): uint8 RGB.
            second (ndarray[B, h, w, 3]): uint8 RGB.

        Returns:
            ndarray[B, h, w, 2] float32 ``(dx, dy)``.
        """
        dis = cv2.DISOpticalFlow.create(_DIS_PRESETS[self.preset])
        out = [
            dis.calc(a, b, np.zeros((*a.shape, 2), np.float32))  # output buffer (not read)
            for a, b in zip(_gray(first), _gray(second), strict=True)
        ]
        return np.stack(out).astype(np.float32, copy=False)


@dataclass(frozen=True)
class FarnebackFlow:
    """OpenCV's Farneback polynomial-expansion flow on grayscale frames.

    Args:
        pyr_scale: image scale between pyramid levels.
        levels: number of pyramid levels.
        winsize: averaging window size in pixels.
        iterations: iterations per level.
        poly_n: neighbourhood of the polynomial expansion.
        poly_sigma: Gaussian sigma of the polynomial expansion.
    """

    pyr_scale: float = 0.5
    levels: int = 4
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    @property
    def tag(self) -> str:
        """Cache key of this method and its settings."""
        return (
            f"farneback-p{self.pyr_scale:g}-l{self.levels}-w{self.winsize}"
            f"-i{self.iterations}-n{self.poly_n}-s{self.poly_sigma:g}"
        )

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from ``first`` to ``second``.

        Args:
            first (ndarray[B, h, w, 3]): uint8 RGB.
            second (ndarray[B, h, w, 3]): uint8 RGB.

        Returns:
            ndarray[B, h, w, 2] float32 ``(dx, dy)``.
        """
        out = [
            cv2.calcOpticalFlowFarneback(
                a,
                b,
                np.zeros((*a.shape, 2), np.float32),  # output buffer (flags=0: not read)
                self.pyr_scale,
                self.levels,
                self.winsize,
                self.iterations,
                self.poly_n,
                self.poly_sigma,
                0,
            )
            for a, b in zip(_gray(first), _gray(second), strict=True)
        ]
        return np.stack(out).astype(np.float32, copy=False)


class RAFTFlow:
    """torchvision's RAFT (Teed & Deng 2020), for users with a GPU and local weights.

    torch and torchvision are imported only when the model is first used. Weights are read
    from a local file (a state dict saved with ``torch.save(model.state_dict(), path)``, e.g.
    the torchvision ``Raft_Small_Weights`` checkpoint fetched beforehand); nothing is
    downloaded. Frames are padded (edge values) to sides that are multiples of 8 and at least
    128, as RAFT requires, and the flow is cropped back.

    Args:
        weights: path of the state-dict file for ``model``.
        model: ``"raft_small"`` or ``"raft_large"``.
        device: torch device string, chosen once by the caller (``"cuda"``, ``"cpu"``).
        num_flow_updates: RAFT's recurrent refinement iterations (torchvision default 12).
        batch_size: frame pairs per forward pass.
    """

    _MODELS = ("raft_small", "raft_large")

    def __init__(
        self,
        weights: str | os.PathLike[str],
        *,
        model: str = "raft_small",
        device: str = "cpu",
        num_flow_updates: int = 12,
        batch_size: int = 4,
    ) -> None:
        if model not in self._MODELS:
            raise TrackingError(f"unknown RAFT model {model!r}; known: {', '.join(self._MODELS)}")
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise TrackingError(f"RAFT weights file not found: {self.weights}")
        if num_flow_updates < 1 or batch_size < 1:
            raise TrackingError("num_flow_updates and batch_size must be at least 1")
        self.model = model
        self.device = device
        self.num_flow_updates = int(num_flow_updates)
        self.batch_size = int(batch_size)
        self._net: Any = None

    @cached_property
    def tag(self) -> str:
        """Cache key: the model, a hash of the weights file and the iteration count."""
        digest = hashlib.sha1(self.weights.read_bytes()).hexdigest()[:10]
        return f"{self.model}-{digest}-it{self.num_flow_updates}"

    def _load(self) -> Any:
        if self._net is None:
            import torch
            from torchvision.models import optical_flow

            net = getattr(optical_flow, self.model)(weights=None, progress=False)
            state = torch.load(self.weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            self._net = net.eval().to(self.device)
        return self._net

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from ``first`` to ``second``.

        Args:
            first (ndarray[B, h, w, 3]): uint8 RGB.
            second (ndarray[B, h, w, 3]): uint8 RGB.

        Returns:
            ndarray[B, h, w, 2] float32 ``(dx, dy)``.
        """
        import torch
        import torch.nn.functional as F

        net = self._load()
        _, h, w, _ = first.shape
        # RAFT wants sides that are multiples of 8 and at least 128 (its correlation pyramid)
        pad_h, pad_w = max(128 - h, (-h) % 8), max(128 - w, (-w) % 8)
        out = []
        with torch.inference_mode():
            for start in range(0, len(first), self.batch_size):
                pair = []
                for images in (first, second):
                    x = torch.from_numpy(
                        np.ascontiguousarray(images[start : start + self.batch_size])
                    )
                    x = x.to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # [B, 3, h, w]
                    pair.append(F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"))
                flow = net(pair[0], pair[1], num_flow_updates=self.num_flow_updates)[-1]
                out.append(flow[:, :, :h, :w].permute(0, 2, 3, 1).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


FLOW_METHODS: dict[str, Callable[[], FlowMethod]] = {
    "dis": DISFlow,
    "farneback": FarnebackFlow,
}
"""Flow methods that need no settings, by name. RAFT needs weights: pass a :class:`RAFTFlow`."""


def get_flow_method(method: str | FlowMethod) -> FlowMethod:
    """Turn a name from :data:`FLOW_METHODS` into a method; pass a method object through.

    Args:
        method: ``"dis"``, ``"farneback"`` or an object following :class:`FlowMethod`.

    Returns:
        The flow method.

    Raises:
        TrackingError: on an unknown name.
    """
    if isinstance(method, str):
        try:
            return FLOW_METHODS[method]()
        except KeyError:
            raise TrackingError(
                f"unknown flow method {method!r}; known: {', '.join(sorted(FLOW_METHODS))}"
                " (RAFT: pass RAFTFlow(weights_path))"
            ) from None
    if not isinstance(method, FlowMethod):
        raise TrackingError(f"method must be a name or a FlowMethod, got {type(method).__name__}")
    return method


@dataclass(frozen=True)
class Flows:
    """Forward and backward flow of one video.

    Attributes:
        forward (ndarray[T-1, h, w, 2]): ``forward[t]`` maps frame ``t`` to ``t + 1``.
        backward (ndarray[T-1, h, w, 2]): ``backward[t]`` maps frame ``t + 1`` to ``t``.
        frame_size: ``(H, W)`` of the frames; the vectors are in pixels of this size even
            when the grid ``h x w`` is coarser (computed with ``scale < 1``).
    """

    forward: np.ndarray
    backward: np.ndarray
    frame_size: tuple[int, int]

    def __post_init__(self) -> None:
        fwd, bwd = self.forward, self.backward
        if fwd.ndim != 4 or fwd.shape[-1] != 2:
            raise TrackingError(f"forward flow must have shape [T-1, h, w, 2], got {fwd.shape}")
        if bwd.shape != fwd.shape:
            raise TrackingError(
                f"backward flow shape {bwd.shape} differs from forward flow shape {fwd.shape}"
            )
        if len(self.frame_size) != 2 or min(self.frame_size) < 1:
            raise TrackingError(f"frame_size must be (H, W) > 0, got {self.frame_size}")

    @property
    def num_frames(self) -> int:
        """Number of frames ``T`` of the video."""
        return int(self.forward.shape[0]) + 1

    @property
    def grid_size(self) -> tuple[int, int]:
        """``(h, w)`` of the flow grid."""
        return int(self.forward.shape[1]), int(self.forward.shape[2])


def _check_frames(frames: Any, name: str = "frames") -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise TrackingError(f"{name} must have shape [T, H, W, 3] with T >= 1, got {arr.shape}")
    if arr.dtype != np.uint8:
        raise TrackingError(f"{name} must be uint8, got {arr.dtype}")
    return arr


def _check_scale(scale: float) -> float:
    if not 0.0 < scale <= 1.0:
        raise TrackingError(f"scale must be in (0, 1], got {scale}")
    return float(scale)


def _video_shape(frames: np.ndarray) -> tuple[int, int, int]:
    return int(frames.shape[0]), int(frames.shape[1]), int(frames.shape[2])


def _grid_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(frame: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    if frame.shape[:2] == grid:
        return frame
    return cv2.resize(frame, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)


def _flow_pairs(
    frames: np.ndarray, pairs: Sequence[int], method: FlowMethod, scale: float
) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(t, forward [h, w, 2], backward [h, w, 2])`` for each pair index ``t``.

    Pairs go to the method in batches of up to 16 (only RAFT batches for real). Vectors are
    scaled to full-frame pixels.
    """
    height, width = frames.shape[1:3]
    grid = _grid_size(height, width, scale)
    to_frame = np.array([width / grid[1], height / grid[0]], dtype=np.float32)  # [2]
    small: dict[int, np.ndarray] = {}
    for start in range(0, len(pairs), 16):
        chunk = list(pairs[start : start + 16])
        for t in {*chunk, *(t + 1 for t in chunk)} - small.keys():
            small[t] = _resize(frames[t], grid)
        first = np.stack([small[t] for t in chunk])  # [B, h, w, 3]
        second = np.stack([small[t + 1] for t in chunk])
        fwd = np.asarray(method(first, second)) * to_frame  # [B, h, w, 2]
        bwd = np.asarray(method(second, first)) * to_frame
        if fwd.shape != (len(chunk), *grid, 2) or bwd.shape != fwd.shape:
            raise TrackingError(
                f"flow method {method.tag!r} returned {fwd.shape} and {bwd.shape}, "
                f"expected [B, h, w, 2] = {(len(chunk), *grid, 2)}"
            )
        yield from zip(chunk, fwd, bwd, strict=True)
        for t in [t for t in small if t <= chunk[-1]]:
            del small[t]


def compute_flows(
    frames: np.ndarray,
    *,
    method: str | FlowMethod = "dis",
    scale: float = 1.0,
) -> Flows:
    """Forward and backward flow between all consecutive frames, without a cache.

    Args:
        frames (ndarray[T, H, W, 3]): uint8 RGB video.
        method: ``"dis"``, ``"farneback"`` or a :class:`FlowMethod` such as :class:`RAFTFlow`.
        scale: compute on frames resized by this factor in ``(0, 1]``; vectors are returned in
            full-frame pixels on the coarser grid (see the module docstring).

    Returns:
        :class:`Flows` with ``forward`` and ``backward`` of shape ``[T-1, h, w, 2]`` float32.

    Raises:
        TrackingError: on a bad shape, dtype, scale or method name.
    """
    frames = _check_frames(frames)
    scale = _check_scale(scale)
    flow_method = get_flow_method(method)
    height, width = frames.shape[1:3]
    grid = _grid_size(height, width, scale)
    fwd = np.zeros((len(frames) - 1, *grid, 2), dtype=np.float32)
    bwd = np.zeros_like(fwd)
    for t, f, b in _flow_pairs(frames, range(len(frames) - 1), flow_method, scale):
        fwd[t], bwd[t] = f, b
    return Flows(forward=fwd, backward=bwd, frame_size=(height, width))


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write through ``write(file)`` into a temporary file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FlowCache:
    """Optical flow per video, computed once and kept on disk for every later cycle.

    Layout: ``root/<video>/<method tag>-s<scale>/`` holds ``meta.json`` (``num_frames``,
    ``frame_size``) and one ``pair_<t>.npz`` per frame pair ``t -> t + 1`` with compressed
    float16 ``forward`` and ``backward`` ``[h, w, 2]``. Every file is written to a temporary
    name and renamed, so an interrupted run leaves whole files only. A pair whose file is
    missing, unreadable or of the wrong shape is recomputed (frames are loaded only then);
    everything else is read back. ``computed_pairs`` counts the pairs this object computed.

    Args:
        root: cache folder; created when needed.

    Example:
        >>> import tempfile, numpy as np
        >>> cache = FlowCache(tempfile.mkdtemp())
        >>> frames = np.random.default_rng(0).integers(0, 255, (3, 24, 32, 3), dtype=np.uint8)
        >>> cache.get_flows("clip", frames, method="farneback").forward.shape
        (2, 24, 32, 2)
        >>> _ = cache.get_flows("clip", lambda: frames, method="farneback")
        >>> cache.computed_pairs  # the second call read the cache
        2
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.computed_pairs = 0

    def folder(
        self, video_key: str, *, method: str | FlowMethod = "dis", scale: float = 1.0
    ) -> Path:
        """The folder holding the flow of ``video_key`` for one method and scale.

        Args:
            video_key: any string naming the video (paths allowed); hashed into the name.
            method: as for :meth:`get_flows`.
            scale: as for :meth:`get_flows`.

        Returns:
            The folder path (it may not exist yet).
        """
        if not isinstance(video_key, str) or not video_key:
            raise TrackingError(f"video_key must be a non-empty string, got {video_key!r}")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", video_key).strip("._")[-80:] or "video"
        digest = hashlib.sha1(video_key.encode()).hexdigest()[:8]
        tag = get_flow_method(method).tag
        return self.root / f"{safe}-{digest}" / f"{tag}-s{_check_scale(scale):g}"

    def get_flows(
        self,
        video_key: str,
        frames: np.ndarray | Callable[[], np.ndarray],
        *,
        method: str | FlowMethod = "dis",
        scale: float = 1.0,
        dtype: np.dtype[Any] | type = np.float32,
    ) -> Flows:
        """Flows of one video, read from the cache and completed where anything is missing.

        Args:
            video_key: names the video in the cache.
            frames (ndarray[T, H, W, 3] | Callable[[], ndarray[T, H, W, 3]]): uint8 RGB frames,
                or a function that loads them; it is called only when a pair must be computed
                or the cache has no record of the video's size. Frames whose ``(T, H, W)``
                differ from the cached record replace it: the video's flow is recomputed.
            method: ``"dis"``, ``"farneback"`` or a :class:`FlowMethod` (:class:`RAFTFlow`).
            scale: compute at this fraction of the frame size (see the module docstring).
            dtype: dtype of the returned arrays (float32; float16 halves the memory).

        Returns:
            :class:`Flows` with ``forward`` and ``backward`` ``[T-1, h, w, 2]``.

        Raises:
            TrackingError: on bad frames, scale or method.
        """
        flow_method = get_flow_method(method)
        scale = _check_scale(scale)
        folder = self.folder(video_key, method=flow_method, scale=scale)
        given = None if callable(frames) else _check_frames(frames)
        meta = self._read_meta(folder)
        if given is not None and meta != _video_shape(given):
            meta = None
        pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        missing: list[int] = []
        if meta is not None:
            grid = _grid_size(meta[1], meta[2], scale)
            for t in range(meta[0] - 1):
                pair = self._read_pair(folder / f"pair_{t:06d}.npz", grid)
                if pair is None:
                    missing.append(t)
                else:
                    pairs[t] = pair
        if meta is None or missing:
            if given is None:
                given = _check_frames(frames(), "frames()")  # type: ignore[operator]
            if meta != _video_shape(given):  # unknown or stale: start this video over
                meta = _video_shape(given)
                self._write_meta(folder, meta)
                pairs, missing = {}, list(range(meta[0] - 1))
            for t, f, b in _flow_pairs(given, missing, flow_method, scale):
                self._write_pair(folder / f"pair_{t:06d}.npz", f, b)
                pairs[t] = (f, b)
                self.computed_pairs += 1
        num_frames, height, width = meta
        grid = _grid_size(height, width, scale)
        fwd = np.zeros((num_frames - 1, *grid, 2), dtype=dtype)
        bwd = np.zeros_like(fwd)
        for t, (f, b) in pairs.items():
            fwd[t], bwd[t] = f, b
        return Flows(forward=fwd, backward=bwd, frame_size=(height, width))

    @staticmethod
    def _read_meta(folder: Path) -> tuple[int, int, int] | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            out = (int(meta["num_frames"]), *map(int, meta["frame_size"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return out if len(out) == 3 and min(out) >= 1 else None  # type: ignore[return-value]

    @staticmethod
    def _write_meta(folder: Path, meta: tuple[int, int, int]) -> None:
        text = json.dumps({"num_frames": meta[0], "frame_size": list(meta[1:])})
        _atomic_write(folder / "meta.json", lambda fh: fh.write(text.encode()))

    @staticmethod
    def _read_pair(path: Path, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(path) as data:
                fwd, bwd = data["forward"], data["backward"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        if fwd.shape != (*grid, 2) or bwd.shape != fwd.shape:
            return None
        if not (np.isfinite(fwd).all() and np.isfinite(bwd).all()):
            return None
        return fwd, bwd

    @staticmethod
    def _write_pair(path: Path, fwd: np.ndarray, bwd: np.ndarray) -> None:
        def write(fh: Any) -> None:
            np.savez_compressed(fh, forward=fwd.astype(np.float16), backward=bwd.astype(np.float16))

        _atomic_write(path, write)
