"""Reading frames from video files and frame folders.

:func:`open_video` picks a backend from what is on disk:

- a folder of JPEG/PNG frames (names sorted naturally, so ``f_2.png`` comes before
  ``f_10.png``), decoded with OpenCV in small thread-pooled batches;
- a video file in a container that declares its frame count (MP4/MOV, AVI, ...), read
  with decord, whose own batched ``get_batch`` gives fast random access;
- a raw elementary stream with no container (e.g. the UCF-101-24 ``.mp4`` files, which are
  bare MPEG-4 Part 2 streams that decord refuses with "broken metadata"), a container that
  declares no frame count (Matroska/WebM: decord would estimate it from the duration, and
  counts must be exact) or one decord cannot index, decoded sequentially with PyAV, or
  OpenCV when PyAV fails.

Streams have no index to seek with, so they are decoded once, front to back, when opened:
that pass counts the frames exactly and keeps the RGB frames in memory while they fit in
``cache_bytes`` (1 GiB by default; a 369-frame 340x256 video takes 96 MB). A longer
stream keeps only its frame count and decodes again from the start up to the last frame
asked for on every :meth:`VideoReader.get_batch`: memory stays flat, random access costs a
sequential decode.

A file is checked before any decoder sees it: it must be a regular, non-empty file whose
header PyAV (FFmpeg's demuxers, which report errors instead of hanging) can parse and which
holds a video stream. Only then is it handed to decord. A container whose declared frame
count disagrees with what decord indexes is decoded sequentially instead, and one that
decodes to fewer frames than it declares is reported as truncated.

Example:
    >>> with open_video("clip.mp4", size=(112, 112)) as video:  # doctest: +SKIP
    ...     batch = video.get_batch([0, 8, 16])  # ndarray[3, 112, 112, 3] uint8 RGB
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.errors import DecodeError

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "VideoReader",
    "list_frames",
    "open_video",
    "probe_video",
    "read_frames",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".avi",
        ".mkv",
        ".webm",
        ".mov",
        ".mpg",
        ".mpeg",
        ".flv",
        ".wmv",
        ".ts",
        ".264",
        ".h264",
    }
)
_DEFAULT_CACHE_BYTES = 1 << 30
_CHUNK = 16  # frames per decoder call when iterating

# Containers decord indexes; anything else (elementary streams, image pipes) is read sequentially.
_INDEXED_CONTAINERS = (
    "mov",
    "mp4",
    "matroska",
    "webm",
    "avi",
    "flv",
    "asf",
    "mpegts",
    "mpeg",
    "ogg",
)


@dataclass(frozen=True)
class VideoInfo:
    """What a cheap header probe tells about a video file or frame folder.

    Attributes:
        width, height: frame size in pixels as stored (before any resize).
        fps: frames per second (0.0 when unknown).
        num_frames: frame count declared by the container or counted in the folder;
            ``None`` for streams that declare none (only decoding counts them).
        container: FFmpeg's name for the container (``"mov,mp4,..."``, ``"m4v"``), or
            ``"frames"`` for a frame folder.
    """

    width: int
    height: int
    fps: float
    num_frames: int | None
    container: str


def _natural_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder in natural order (``2.png`` before ``10.png``).

    Args:
        folder: a folder of ``.jpg``/``.jpeg``/``.png``/``.bmp`` frames (any case).

    Returns:
        The frame paths; empty when the folder holds no images.
    """
    folder = Path(folder)
    names = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(names, key=lambda p: _natural_key(p.name))


def _check_file(path: Path) -> None:
    """Refuse what no decoder should be given: missing, special or empty files."""
    if not path.exists():
        raise DecodeError(f"{path}: no such file or folder")
    if not path.is_file():
        raise DecodeError(f"{path}: not a regular file (a device or pipe could block a decoder)")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")


def _quiet_av() -> Any:
    import av

    try:
        av.logging.set_level(av.logging.PANIC)
    except AttributeError:  # very old PyAV
        pass
    return av


def _probe_av(path: Path) -> VideoInfo:
    """Parse the container header with PyAV; raise DecodeError when it is not a video."""
    try:
        av = _quiet_av()
    except ImportError as e:
        raise DecodeError(f"{path}: PyAV is not installed, cannot probe the file") from e
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError(f"{path}: no video stream (container {container.format.name!r})")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 0
            return VideoInfo(
                width=int(stream.codec_context.width),
                height=int(stream.codec_context.height),
                fps=float(rate),
                num_frames=int(stream.frames) or None,
                container=str(container.format.name),
            )
    except DecodeError:
        raise
    except Exception as e:  # av.error.FFmpegError and friends
        raise DecodeError(f"{path}: not a readable video ({type(e).__name__}: {e})") from e


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame size, rate and declared frame count of a video file or frame folder, cheaply.

    Reads only the header of a file (or the first image of a folder); nothing is decoded.

    Args:
        path: a video file or a folder of frames.

    Returns:
        The :class:`VideoInfo`; ``num_frames`` is ``None`` for raw streams.

    Raises:
        DecodeError: naming the file when it is missing, empty or not a video.
    """
    path = Path(path)
    if path.is_dir():
        frames = list_frames(path)
        if not frames:
            raise DecodeError(f"{path}: folder holds no JPEG/PNG frames")
        h, w = _read_image(frames[0]).shape[:2]
        return VideoInfo(width=w, height=h, fps=0.0, num_frames=len(frames), container="frames")
    _check_file(path)
    info = _probe_av(path)
    if info.width <= 0 or info.height <= 0:
        raise DecodeError(f"{path}: video stream has no frame size (container {info.container!r})")
    return info


class VideoReader:
    """Frames of one video as RGB ``uint8`` arrays; made by :func:`open_video`.

    Indices are 0-based; negative indices count from the end as in Python.

    Attributes:
        path: the file or frame folder.
        backend: ``"decord"``, ``"frames"``, ``"pyav"`` or ``"opencv"``.
        fps: frames per second (25.0 when the source does not say).
        width, height: size of the returned frames (after the optional resize).
    """

    backend = ""

    def __init__(self, path: Path, *, width: int, height: int, fps: float, num_frames: int) -> None:
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        self._num_frames = num_frames

    def __len__(self) -> int:
        return self._num_frames

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, backend={self.backend!r}, frames={len(self)}, "
            f"size={self.width}x{self.height}, fps={self.fps:g})"
        )

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder and any cached frames."""

    def _indices(self, indices: Iterable[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"{self.path}: indices must be a 1-D sequence of ints, got {idx.dtype} {idx.shape}"
            )
        idx = idx.astype(np.int64)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise IndexError(f"{self.path}: frame {int(idx[bad][0])} outside 0..{n - 1}")
        return idx

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode the given frames.

        Args:
            indices: frame indices, any order, repeats allowed.

        Returns:
            ndarray[N, H, W, 3] uint8 RGB frames, in the order asked.

        Raises:
            IndexError: an index outside the video.
            DecodeError: naming the file when a frame cannot be decoded.
        """
        idx = self._indices(indices)
        if idx.size == 0:
            return np.zeros((0, self.height, self.width, 3), dtype=np.uint8)
        return self._read(idx)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        raise DecodeError(f"{self.path}: {type(self).__name__} cannot read frames")

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """One frame ``ndarray[H, W, 3]`` for an int, ``ndarray[N, H, W, 3]`` for a slice."""
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self))))
        if not isinstance(key, (int, np.integer)):
            raise TypeError(
                f"{self.path}: frame index must be an int or a slice, got {type(key).__name__}"
            )
        return self.get_batch([int(key)])[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield every frame ``ndarray[H, W, 3]`` in order, decoded in chunks."""
        for start in range(0, len(self), _CHUNK):
            yield from self.get_batch(range(start, min(start + _CHUNK, len(self))))


class _DecordReader(VideoReader):
    backend = "decord"

    def __init__(self, path: Path, vr: Any, *, width: int, height: int, fps: float) -> None:
        super().__init__(path, width=width, height=height, fps=fps, num_frames=len(vr))
        self._vr = vr

    def _read(self, idx: np.ndarray) -> np.ndarray:
        try:
            return self._vr.get_batch(idx.tolist()).asnumpy()
        except Exception as e:  # decord raises DECORDError (a RuntimeError) on damaged data
            raise DecodeError(
                f"{self.path}: decord failed on frames {idx.tolist()[:8]}: {e}"
            ) from e

    def close(self) -> None:
        self._vr = None


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DecodeError(f"{path}: cannot decode image (empty, truncated or not a JPEG/PNG)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    if img.shape[1] == width and img.shape[0] == height:
        return img
    shrink = width * height < img.shape[0] * img.shape[1]
    return cv2.resize(
        img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )


class _FrameFolderReader(VideoReader):
    backend = "frames"

    def __init__(self, path: Path, *, size: tuple[int, int] | None, fps: float) -> None:
        self._files = list_frames(path)
        if not self._files:
            raise DecodeError(f"{path}: folder holds no JPEG/PNG frames")
        first = _read_image(self._files[0])
        self._src_hw = first.shape[:2]
        height, width = size if size is not None else self._src_hw
        super().__init__(path, width=width, height=height, fps=fps, num_frames=len(self._files))
        self._pool: ThreadPoolExecutor | None = None

    def _load(self, i: int) -> np.ndarray:
        f = self._files[i]
        img = _read_image(f)
        if img.shape[:2] != self._src_hw:
            raise DecodeError(
                f"{f}: frame is {img.shape[1]}x{img.shape[0]} but the folder's first frame is "
                f"{self._src_hw[1]}x{self._src_hw[0]}"
            )
        return _resize(img, self.width, self.height)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.height, self.width, 3), dtype=np.uint8)
        unique, inverse = np.unique(idx, return_inverse=True)
        if len(unique) <= 2:
            imgs = [self._load(int(i)) for i in unique]
        else:  # OpenCV releases the GIL while decoding, so threads overlap the work
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
            imgs = list(self._pool.map(self._load, unique.tolist()))
        for j, k in enumerate(inverse.reshape(-1)):
            out[j] = imgs[k]
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class _StreamReader(VideoReader):
    """Sequential decode with PyAV (or OpenCV), frames cached while they fit in memory."""

    def __init__(
        self,
        path: Path,
        *,
        size: tuple[int, int] | None,
        fps: float,
        cache_bytes: int,
        declared: int | None,
        backend: str,
    ) -> None:
        self.backend = backend
        self._out_hw = size
        self.path = path
        frames: list[np.ndarray] = []
        keep = [True]  # cache frames while they fit in cache_bytes
        count = 0
        shape: tuple[int, ...] = ()
        for frame in self._decode(want=lambda i: i == 0 or keep[0]):
            count += 1
            if frame is None:
                continue
            shape = frame.shape  # frame 0 is always converted, so the size is known
            if keep[0]:
                frames.append(frame)
                if count * frame.nbytes > cache_bytes:
                    keep[0], frames = False, []  # too long to keep: from now on only count
        if count == 0:
            raise DecodeError(f"{path}: no frame could be decoded ({backend})")
        if declared and count < declared:
            raise DecodeError(
                f"{path}: truncated: the container declares {declared} frames but only {count} decode"
            )
        super().__init__(path, width=int(shape[1]), height=int(shape[0]), fps=fps, num_frames=count)
        self._cache = np.stack(frames) if keep[0] else None

    def _decode(self, want: Any, stop: int | None = None) -> Iterator[np.ndarray | None]:
        """Yield each frame in order: RGB when ``want(i)``, else ``None`` (not converted)."""
        if self.backend == "pyav":
            yield from self._decode_av(want, stop)
        else:
            yield from self._decode_cv2(want, stop)

    def _convert_size(self, w: int, h: int) -> tuple[int, int]:
        return (self._out_hw[1], self._out_hw[0]) if self._out_hw is not None else (w, h)

    def _decode_av(self, want: Any, stop: int | None) -> Iterator[np.ndarray | None]:
        av = _quiet_av()
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for i, frame in enumerate(container.decode(stream)):
                    if want(i):
                        w, h = self._convert_size(frame.width, frame.height)
                        yield frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
                    else:
                        yield None
                    if stop is not None and i >= stop:
                        return
        except DecodeError:
            raise
        except Exception as e:
            raise DecodeError(
                f"{self.path}: PyAV failed while decoding ({type(e).__name__}: {e})"
            ) from e

    def _decode_cv2(self, want: Any, stop: int | None) -> Iterator[np.ndarray | None]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DecodeError(f"{self.path}: OpenCV cannot open the file")
        try:
            i = 0
            while True:
                if not want(i):
                    if not cap.grab():
                        return
                    yield None
                else:
                    ok, img = cap.read()
                    if not ok:
                        return
                    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    w, h = self._convert_size(img.shape[1], img.shape[0])
                    yield _resize(img, w, h)
                if stop is not None and i >= stop:
                    return
                i += 1
        finally:
            cap.release()

    def _read(self, idx: np.ndarray) -> np.ndarray:
        if self._cache is not None:
            return self._cache[idx]
        wanted = set(idx.tolist())
        got: dict[int, np.ndarray] = {}
        for i, frame in enumerate(self._decode(want=lambda i: i in wanted, stop=int(idx.max()))):
            if frame is not None:
                got[i] = frame
        missing = wanted - got.keys()
        if missing:
            raise DecodeError(f"{self.path}: frames {sorted(missing)[:8]} no longer decode")
        return np.stack([got[int(i)] for i in idx])

    def close(self) -> None:
        self._cache = None


def _open_stream(
    path: Path, size: tuple[int, int] | None, fps: float, cache_bytes: int, declared: int | None
) -> VideoReader:
    errors = []
    for backend in ("pyav", "opencv"):
        try:
            return _StreamReader(
                path,
                size=size,
                fps=fps,
                cache_bytes=cache_bytes,
                declared=declared,
                backend=backend,
            )
        except DecodeError as e:
            if "truncated" in str(e):
                raise
            errors.append(str(e).removeprefix(f"{path}: "))
        except ImportError as e:
            errors.append(f"{backend} not installed ({e})")
    raise DecodeError(f"{path}: cannot decode: " + "; ".join(errors))


def open_video(
    path: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    backend: str | None = None,
    cache_bytes: int = _DEFAULT_CACHE_BYTES,
) -> VideoReader:
    """Open a video file or a folder of frames for reading.

    Args:
        path: a video file, or a folder of JPEG/PNG frames.
        size: ``(height, width)`` to resize every frame to; ``None`` keeps the stored size.
        fps: frame rate to report; by default the file's own (frame folders: 25.0).
        backend: force ``"decord"``, ``"pyav"`` or ``"opencv"`` for a file (default: decord
            for indexed containers, else PyAV, else OpenCV). Ignored for frame folders.
        cache_bytes: how many bytes of decoded frames a sequentially decoded stream may
            keep in memory (see the module docstring for the trade-off).

    Returns:
        A :class:`VideoReader`; ``reader.get_batch(indices)`` gives ``ndarray[N, H, W, 3]``
        uint8 RGB frames.

    Raises:
        DecodeError: naming the file and the reason when it is missing, empty, truncated
            or not a video.
        ConfigError: an unknown ``backend`` or a bad ``size``.
    """
    from vidal.errors import ConfigError

    path = Path(path)
    if size is not None:
        if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
            raise ConfigError(f"size must be (height, width) with positive ints, got {size!r}")
        size = (int(size[0]), int(size[1]))
    if backend not in (None, "decord", "pyav", "opencv"):
        raise ConfigError(f"unknown video backend {backend!r}; known: decord, pyav, opencv")
    if path.is_dir():
        return _FrameFolderReader(path, size=size, fps=25.0 if fps is None else float(fps))
    _check_file(path)
    if backend == "opencv":
        return _StreamReader(
            path,
            size=size,
            fps=float(fps or 25.0),
            cache_bytes=cache_bytes,
            declared=None,
            backend="opencv",
        )
    info = _probe_av(path)
    rate = float(fps) if fps is not None else (info.fps or 25.0)
    indexed = info.num_frames is not None and any(
        c in info.container.split(",") for c in _INDEXED_CONTAINERS
    )
    if backend == "decord" or (backend is None and indexed):
        reader = _try_decord(path, size, rate, info, forced=backend == "decord")
        if reader is not None:
            return reader
    return _open_stream(path, size, rate, cache_bytes, info.num_frames)


def _try_decord(
    path: Path, size: tuple[int, int] | None, fps: float, info: VideoInfo, *, forced: bool
) -> VideoReader | None:
    """A decord reader, or ``None`` when decord cannot be trusted with this file."""
    try:
        import decord
    except ImportError as e:
        if forced:
            raise DecodeError(f"{path}: decord is not installed") from e
        return None
    try:
        decord.logging.set_level(decord.logging.QUIET)
    except AttributeError:
        pass
    kwargs = {} if size is None else {"height": size[0], "width": size[1]}
    try:
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0), **kwargs)
    except Exception as e:  # DECORDError: broken metadata, damaged packets, ...
        if forced:
            raise DecodeError(f"{path}: decord cannot open the file: {e}") from e
        return None
    if len(vr) == 0 or (info.num_frames is not None and len(vr) != info.num_frames):
        if forced:
            raise DecodeError(
                f"{path}: decord indexes {len(vr)} frames but the container declares {info.num_frames}"
            )
        return None  # a sequential decode finds the true count (or reports truncation)
    height, width = size if size is not None else (info.height, info.width)
    return _DecordReader(path, vr, width=width, height=height, fps=fps)


def read_frames(path: str | os.PathLike, *, fps: float | None = None) -> VideoDataset:
    """A dataset of unannotated videos: one video file, one frame folder, or a folder of them.

    ``path`` may be a video file (one video, id = its stem), a folder of JPEG/PNG frames
    (one video, id = the folder's name), or a folder whose sub-folders of frames and video
    files (any depth) are the videos, with ids = their paths relative to ``path`` (video
    files without their suffix). Frame counts are exact: a video file is opened with
    :func:`open_video`, which decodes raw streams once to count them.

    Args:
        path: a video file or folder.
        fps: frame rate to record for frame folders (default 25.0; files keep their own).

    Returns:
        The dataset, without classes or tubes.

    Raises:
        DecodeError: naming a file that cannot be decoded, or when nothing was found.
    """
    path = Path(path)
    if not path.exists():
        raise DecodeError(f"{path}: no such file or folder")
    if path.is_file() or list_frames(path):
        base, items = path.parent, [path]
    else:
        base, items = path, []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            d = Path(dirpath)
            if d != path and any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
                items.append(d)
            items += [
                d / f for f in sorted(filenames) if Path(f).suffix.lower() in VIDEO_EXTENSIONS
            ]
    if not items:
        raise DecodeError(f"{path}: no video files or frame folders found")
    videos = []
    for item in items:
        with open_video(item, fps=fps) as reader:
            rel = item.relative_to(base)
            vid = (rel.with_suffix("") if item.is_file() else rel).as_posix()
            videos.append(
                VideoAnnotation(
                    vid,
                    len(reader),
                    reader.width,
                    reader.height,
                    fps=reader.fps,
                    path=rel.as_posix(),
                )
            )
    return VideoDataset([], videos, root=base)
