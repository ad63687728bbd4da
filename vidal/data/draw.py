"""Drawing ground truth or any labelled boxes on frames, and contact sheets, with OpenCV.

Boxes and masks take a colour per track, so one actor keeps its colour across the sheet;
each box is labelled ``class #track``. When the decoded frames are not the size the
annotations are expressed in, boxes and masks are scaled to the frame.

Example:
    >>> sheet = contact_sheet(dataset, "Basketball/v_Basketball_g01_c02")  # doctest: +SKIP
    >>> save_png(sheet, "sheet.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidal._io import atomic_write
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.video import open_video
from vidal.errors import ConfigError, DecodeError

__all__ = ["contact_sheet", "draw_boxes", "draw_frame", "save_png", "tile_sheet", "track_color"]


def track_color(track_id: int) -> tuple[int, int, int]:
    """A bright RGB colour for ``track_id``, well apart from its neighbours' (golden-ratio hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618033988749895) % 1.0, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_frame(
    frame: np.ndarray,
    video: VideoAnnotation,
    t: int,
    *,
    class_names: Sequence[str] = (),
    mask_alpha: float = 0.45,
    thickness: int = 2,
) -> np.ndarray:
    """Draw the ground truth of frame ``t`` of ``video`` on a copy of ``frame``.

    Args:
        frame (ndarray[H, W, 3]): uint8 RGB frame.
        video: the annotation; its boxes are scaled from ``video.width x video.height``
            to the frame's size.
        t: the frame index (0-based).
        class_names: names for the labels (the index is drawn when a name is missing).
        mask_alpha: opacity of the mask overlay.
        thickness: box line width in pixels.

    Returns:
        ndarray[H, W, 3] uint8 RGB with boxes, masks and labels drawn.
    """
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ConfigError(f"frame must be ndarray[H, W, 3], got shape {frame.shape}")
    out = np.ascontiguousarray(frame, dtype=np.uint8).copy()
    h, w = out.shape[:2]
    sx, sy = w / video.width, h / video.height
    ann = video.frame(t)
    for k in range(len(ann.boxes)):
        color = track_color(int(ann.track_ids[k]))
        if ann.masks is not None:
            m = ann.masks[k]
            if m.shape != (h, w):
                m = cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(
                    bool
                )
            out[m] = (out[m] * (1 - mask_alpha) + np.array(color) * mask_alpha).astype(np.uint8)
    for k in range(len(ann.boxes)):
        label = int(ann.labels[k])
        name = class_names[label] if 0 <= label < len(class_names) else str(label)
        _label_box(
            out,
            ann.boxes[k] * np.array([sx, sy, sx, sy], dtype=np.float32),
            track_color(int(ann.track_ids[k])),
            f"{name} #{int(ann.track_ids[k])}",
            thickness,
        )
    return out


def _label_box(
    img: np.ndarray, box: np.ndarray, color: tuple[int, int, int], text: str, thickness: int
) -> None:
    """Draw ``box (ndarray[4])`` x1 y1 x2 y2 on ``img`` in place, ``text`` on a tab above it
    (below its top edge when there is no room above); no tab for an empty text."""
    import cv2

    h, w = img.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    cv2.rectangle(img, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    if not text:
        return
    scale = max(0.35, min(w, h) / 700)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    ty = y1 - 3 if y1 - th - base - 3 >= 0 else y1 + th + 3
    cv2.rectangle(img, (x1, ty - th - 2), (x1 + tw + 2, ty + base - 1), color, -1)
    cv2.putText(
        img, text, (x1 + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )


def draw_boxes(
    frame: np.ndarray,
    boxes: np.ndarray,
    *,
    colors: Sequence[tuple[int, int, int]],
    texts: Sequence[str] | None = None,
    thickness: int = 2,
) -> np.ndarray:
    """Draw boxes, each with its colour and an optional label, on a copy of ``frame``.

    Args:
        frame (ndarray[H, W, 3]): uint8 RGB frame.
        boxes (ndarray[N, 4]): x1 y1 x2 y2 in pixels of ``frame``.
        colors: an RGB colour per box.
        texts: a label per box (``""``: none); default none.
        thickness: line width in pixels.

    Returns:
        ndarray[H, W, 3] uint8 RGB.

    Example:
        >>> out = draw_boxes(np.zeros((40, 60, 3), np.uint8), np.array([[5, 5, 30, 20]]),
        ...                  colors=[(255, 0, 0)], texts=["FP 0.42"])
        >>> out.shape, out[5, 10].tolist()
        ((40, 60, 3), [255, 0, 0])
    """
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ConfigError(f"frame must be ndarray[H, W, 3], got shape {frame.shape}")
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    texts = [""] * len(boxes) if texts is None else list(texts)
    if len(colors) != len(boxes) or len(texts) != len(boxes):
        raise ConfigError(
            f"draw_boxes: {len(boxes)} boxes, {len(colors)} colors and {len(texts)} texts"
        )
    out = np.ascontiguousarray(frame, dtype=np.uint8).copy()
    for box, color, text in zip(boxes, colors, texts, strict=True):
        _label_box(out, box, tuple(int(c) for c in color), text, thickness)  # type: ignore[arg-type]
    return out


def _stamp(img: np.ndarray, text: str) -> None:
    import cv2

    scale = max(0.4, img.shape[1] / 600)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(img, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
    cv2.putText(
        img, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
    )


def contact_sheet(
    dataset: VideoDataset,
    video: VideoAnnotation | str,
    *,
    frames: Sequence[int] | None = None,
    num_frames: int = 8,
    columns: int = 4,
    tile_width: int | None = None,
    path: str | os.PathLike | None = None,
) -> np.ndarray:
    """A grid of frames of one video with its ground truth drawn on them.

    Args:
        dataset: the dataset holding the video (for class names and the video's path).
        video: the video or its id.
        frames: the frames to show; default ``num_frames`` evenly spaced over the
            annotated frames (over the whole video when it has no tubes).
        num_frames: how many frames to pick when ``frames`` is not given.
        columns: tiles per row.
        tile_width: width of each tile in pixels (default: the frame's width, at most 480).
        path: the video file or folder, when not ``dataset.video_path(video)``.

    Returns:
        ndarray[H, W, 3] uint8 RGB sheet; each tile is stamped with its frame index.

    Raises:
        DecodeError: naming the file when the video cannot be decoded.
        ConfigError: a frame index outside the video.
    """
    import cv2

    v = dataset[video] if isinstance(video, str) else video
    source = Path(path) if path is not None else dataset.video_path(v)
    with open_video(source) as reader:
        n = len(reader)
        if n != v.num_frames:
            raise DecodeError(
                f"{source}: decodes to {n} frames but {v.video_id} is annotated with {v.num_frames}"
            )
        if frames is None:
            span = v.annotated_frames() if v.tubes else np.arange(n)
            pick = np.linspace(0, len(span) - 1, num=min(num_frames, len(span))).round().astype(int)
            frames = sorted(set(span[pick].tolist()))
        frames = [int(t) for t in frames]
        bad = [t for t in frames if not 0 <= t < n]
        if bad or not frames:
            raise ConfigError(f"frames {bad or frames} are not in 0..{n - 1} of {v.video_id}")
        images = reader.get_batch(frames)
    tw = tile_width or min(reader.width, 480)
    th = int(round(tw * reader.height / reader.width))
    tiles = [
        cv2.resize(
            draw_frame(img, v, t, class_names=dataset.class_names),
            (tw, th),
            interpolation=cv2.INTER_AREA,
        )
        for t, img in zip(frames, images, strict=True)
    ]
    return tile_sheet(tiles, columns=columns, titles=[f"{v.video_id}  t={t}" for t in frames])


def tile_sheet(
    tiles: Sequence[np.ndarray], *, columns: int = 4, titles: Sequence[str] | None = None
) -> np.ndarray:
    """Tiles of one size in a grid, row by row, 2 px apart on a dark background.

    Args:
        tiles (list[ndarray[h, w, 3]]): uint8 RGB images, all ``h x w``.
        columns: tiles per row (fewer when there are fewer tiles).
        titles: a text stamped on the top-left corner of each tile.

    Returns:
        ndarray[H, W, 3] uint8 RGB sheet.

    Example:
        >>> tile_sheet([np.zeros((10, 20, 3), np.uint8)] * 3, columns=2).shape
        (22, 42, 3)
    """
    if not tiles or len({t.shape for t in tiles}) != 1 or tiles[0].ndim != 3:
        raise ConfigError(
            f"tiles must be one or more images of one shape [h, w, 3], got {len(tiles)}"
        )
    if titles is not None and len(titles) != len(tiles):
        raise ConfigError(f"{len(titles)} titles for {len(tiles)} tiles")
    th, tw = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    sheet = np.full(
        (rows * th + (rows - 1) * 2, columns * tw + (columns - 1) * 2, 3), 32, dtype=np.uint8
    )
    for k, tile in enumerate(tiles):
        tile = np.ascontiguousarray(tile, dtype=np.uint8)
        if titles is not None:
            tile = tile.copy()
            _stamp(tile, titles[k])
        r, c = divmod(k, columns)
        sheet[r * (th + 2) : r * (th + 2) + th, c * (tw + 2) : c * (tw + 2) + tw] = tile
    return sheet


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``image (ndarray[H, W, 3])`` uint8 RGB as a PNG, atomically.

    Returns:
        ``path``.
    """
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise DecodeError(f"{path}: OpenCV could not encode the PNG")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(buf.tobytes())

    return atomic_write(path, write)
