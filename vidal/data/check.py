"""Checking a dataset on disk: which videos exist, and do they decode as annotated."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.formats.vidal_json import write_vidal
from vidal.data.video import open_video
from vidal.errors import DecodeError

__all__ = [
    "check_videos",
    "present_videos",
    "keep_present",
    "write_portable",
    "undecodable",
    "decoded_videos",
]


def decoded_videos(videos: Iterable[Any], read: Callable[[str], Any]) -> Iterator[tuple[Any, Any]]:
    """``(video, read(video.video_id))`` for each video that decodes; the others are skipped
    with a warning naming them (evaluation goes on without them)."""
    import warnings

    for video in videos:
        try:
            frames = read(video.video_id)
        except DecodeError as e:
            warnings.warn(f"skipping test video {video.video_id}: {e}", stacklevel=3)
            continue
        yield video, frames


def undecodable(video_ids: Iterable[str], read: Callable[[str], object]) -> dict[str, str]:
    """Video id -> the :class:`DecodeError` message, for each id whose ``read(id)`` raises one."""
    out = {}
    for vid in video_ids:
        try:
            read(vid)
        except DecodeError as e:
            out[vid] = str(e)
    return out


def _present(dataset: VideoDataset, v: VideoAnnotation) -> bool:
    return v.path is not None and dataset.video_path(v).exists()


def check_videos(dataset: VideoDataset, *, progress: bool = True) -> dict[str, Any]:
    """Decode every frame of every video that has a file and compare with the annotations.

    Args:
        dataset: the dataset; videos without a path or whose file is absent are counted
            as missing, not decoded.
        progress: show a tqdm bar on stderr.

    Returns:
        ``{"checked", "ok", "missing", "missing_examples", "frame_count_mismatch": [{video,
        annotated, decoded}], "size_mismatch": [{video, annotated, decoded}],
        "undecodable": [{video, path, error}]}``.
    """
    from vidal._progress import progress_bar

    present = [v for v in dataset if _present(dataset, v)]
    missing = [v.video_id for v in dataset if not _present(dataset, v)]
    report: dict[str, Any] = {
        "checked": len(present),
        "ok": 0,
        "missing": len(missing),
        "missing_examples": missing[:5],
        "frame_count_mismatch": [],
        "size_mismatch": [],
        "undecodable": [],
    }
    for v in progress_bar(
        present, desc="decoding", unit="video", disable=not progress, file=sys.stderr
    ):
        path = dataset.video_path(v)
        try:
            with open_video(path) as reader:
                decoded = sum(1 for _ in reader)
                size = (reader.width, reader.height)
        except DecodeError as e:
            report["undecodable"].append({"video": v.video_id, "path": str(path), "error": str(e)})
            continue
        good = True
        if decoded != v.num_frames:
            report["frame_count_mismatch"].append(
                {"video": v.video_id, "annotated": v.num_frames, "decoded": decoded}
            )
            good = False
        if size != (v.width, v.height):
            report["size_mismatch"].append(
                {"video": v.video_id, "annotated": [v.width, v.height], "decoded": list(size)}
            )
            good = False
        report["ok"] += good
    return report


def present_videos(dataset: VideoDataset) -> list[str]:
    """Ids of the videos whose file or frame folder exists."""
    return [v.video_id for v in dataset if _present(dataset, v)]


def keep_present(dataset: VideoDataset) -> VideoDataset:
    """The videos found on disk, with every split restricted to them."""
    keep = set(present_videos(dataset))
    out = dataset.subset([v for v in dataset.video_ids if v in keep])
    out.splits = {k: [v for v in ids if v in keep] for k, ids in dataset.splits.items()}
    return out


def write_portable(dataset: VideoDataset, path: str | os.PathLike) -> None:
    """Write ``dataset`` in vidal's format with absolute video paths (readable from anywhere)."""
    for v in dataset:
        if v.path is not None:
            v.path = str(dataset.video_path(v).resolve())
    write_vidal(dataset, path)
