"""UCF-101-24 annotations: gurkirt's ``pyannot.pkl`` and ACT's ``UCF101v2-GT.pkl``.

``pyannot.pkl`` (the corrected annotations) is a dict ``video id -> {"numf": int,
"label": int, "annotations": [{"label": int, "sf": int, "ef": int, "boxes": (ef-sf, 4)}]}``.
Ids read ``Class/v_Class_gXX_cYY``; ``sf`` is the first frame (0-based), ``ef`` one past
the last; boxes are ``x, y, w, h`` pixels of the 320x240 frames, stored in small integer
dtypes (cast before adding). A box becomes ``x1 = x, y1 = y, x2 = x + w, y2 = y + h``.
The 24 class names are the ids' class folders, ordered by label index. The file has no
splits: give the official ``testlist01.txt`` as a split file.

ACT's layout (also used by J-HMDB-21, see :mod:`vidal.data.formats.jhmdb`) is a dict with
``labels`` (class names), ``gttubes`` ``{video: {label: [ndarray[L, 5]]}}`` whose rows are
``frame (1-based), x1, y1, x2, y2``, ``nframes`` ``{video: int}``, ``resolution``
``{video: (height, width)}``, and ``train_videos`` / ``test_videos``: one list of ids per
split. Splits are named ``train`` and ``test`` (the first split) and, when a file has more
than one, ``train1``, ``test1``, ``train2``, ... A tube whose frames have a gap becomes one
tube per run of consecutive frames; the first run keeps the tube's index as its id, later
runs take fresh ids after the video's last tube.

Both pickles are read with :func:`vidal.data.safe_pickle.load_pickle`, which refuses any
global but the numpy ones arrays need.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidal._io import atomic_write_bytes
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.data.formats import _apply_split, _find_video, _problem, _runs
from vidal.data.safe_pickle import load_pickle
from vidal.data.video import probe_video
from vidal.errors import AnnotationError, ConfigError, DecodeError

__all__ = ["read_ucf101_24", "read_ucf101v2_gt", "write_ucf101v2_gt", "UCF101_24_SIZE"]

UCF101_24_SIZE = (320, 240)
"""(width, height) of the frames the UCF-101-24 annotations are expressed in."""

_ACT_KEYS = frozenset({"labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution"})


def _is_act(data: object) -> bool:
    return isinstance(data, dict) and _ACT_KEYS <= set(data)


def _locate_videos(videos: list[VideoAnnotation], videos_dir: Path | None) -> None:
    """Set each video's path (relative to ``videos_dir``) when its file or folder exists."""
    if videos_dir is None:
        return
    if not videos_dir.is_dir():
        raise ConfigError(f"{videos_dir}: videos folder does not exist")
    for v in videos:
        found = _find_video(videos_dir, v.video_id)
        v.path = None if found is None else found.relative_to(videos_dir).as_posix()


def _rescale(
    videos: list[VideoAnnotation], videos_dir: Path | None, scale_to: tuple[int, int] | str | None
) -> None:
    """Scale boxes from each video's annotated size to ``scale_to`` or its decoded size."""
    if scale_to is None:
        return
    for v in videos:
        if scale_to == "auto":
            if v.path is None or videos_dir is None:
                continue
            try:
                info = probe_video(videos_dir / v.path)
            except DecodeError as e:
                warnings.warn(
                    f"{e}; boxes of {v.video_id} left in {v.width}x{v.height} coordinates",
                    stacklevel=3,
                )
                continue
            w, h = info.width, info.height
        elif isinstance(scale_to, str):
            raise ConfigError(f"scale_to must be 'auto', None or (width, height), got {scale_to!r}")
        else:
            w, h = int(scale_to[0]), int(scale_to[1])
        if (w, h) == (v.width, v.height):
            continue
        factor = np.array([w / v.width, h / v.height, w / v.width, h / v.height], dtype=np.float32)
        for t in v.tubes:
            t.boxes = t.boxes * factor
        v.width, v.height = w, h


def read_ucf101_24(
    path: str | os.PathLike,
    *,
    videos_dir: str | os.PathLike | None = None,
    split_file: str | os.PathLike | None = None,
    split: str | None = None,
    scale_to: tuple[int, int] | str | None = "auto",
    skip_invalid: bool = False,
) -> VideoDataset:
    """Read UCF-101-24 annotations: ``pyannot.pkl``, or ACT's ``UCF101v2-GT.pkl`` (detected).

    Args:
        path: the pickle.
        videos_dir: folder of the videos; a video's path becomes the first of
            ``<dir>/<id>.mp4``, ``<dir>/<id>/`` (frames), ``<dir>/<basename>.mp4`` (also
            ``.avi``, ``.mkv``, ...) that exists, else ``None``.
        split_file: a list of video ids (e.g. ``testlist01.txt``), recorded as split
            ``split`` (or the file's stem).
        split: keep only this split's videos.
        scale_to: ``"auto"`` scales the boxes of each video found in ``videos_dir`` from
            320x240 to the size its file decodes to (the 340x256 re-encodes, say);
            ``(width, height)`` scales every video to that size; ``None`` never scales.
        skip_invalid: warn and skip a malformed tube (boxes not matching ``ef - sf``, frames
            outside the video) instead of raising.

    Returns:
        The dataset, videos sorted by id, boxes float32 x1y1x2y2, ``root = videos_dir``.

    Raises:
        AnnotationError: naming the file, the video and the problem.
        ConfigError: an unknown split.
    """
    path = Path(path)
    data = load_pickle(path)
    if _is_act(data):
        return _from_act(
            data, path, videos_dir=videos_dir, split=split, split_file=split_file, scale_to=scale_to,
            skip_invalid=skip_invalid,
        )  # fmt: skip
    if not isinstance(data, dict):
        raise AnnotationError(
            f"{path}: expected a dict of video id -> annotation, got {type(data).__name__}"
        )
    names: dict[int, str] = {}
    videos = []
    for key in sorted(data, key=str):
        vid, entry = str(key), data[key]
        try:
            num_frames, label = int(entry["numf"]), int(entry["label"])
            raw_tubes = list(entry["annotations"])
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(
                f"{path}: {vid}: malformed entry ({type(e).__name__}: {e})"
            ) from e
        folder = vid.split("/", 1)[0] if "/" in vid else None
        if folder is not None:
            if names.setdefault(label, folder) != folder:
                raise AnnotationError(
                    f"{path}: label {label} is used by class folders {names[label]!r} and {folder!r}"
                )
        tubes = []
        for k, a in enumerate(raw_tubes):
            where = f"{path}: {vid} tube {k}"
            try:
                sf, ef, tlabel = int(a["sf"]), int(a["ef"]), int(a["label"])
                xywh = (
                    np.asarray(a["boxes"]).astype(np.float64).reshape(-1, 4)
                )  # uint8/uint16 in the file
            except (KeyError, TypeError, ValueError) as e:
                raise AnnotationError(f"{where}: malformed tube ({type(e).__name__}: {e})") from e
            if len(xywh) != ef - sf:
                _problem(f"{where}: {len(xywh)} boxes for frames sf={sf}..ef={ef} (expected ef - sf = {ef - sf})",
                         skip_invalid=skip_invalid)  # fmt: skip
                continue
            if sf < 0 or ef > num_frames or ef <= sf:
                _problem(f"{where}: frames {sf}..{ef} outside the video's {num_frames} frames",
                         skip_invalid=skip_invalid)  # fmt: skip
                continue
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).astype(
                np.float32
            )
            tubes.append(Tube(track_id=k, label=tlabel, first_frame=sf, boxes=boxes))
        w, h = UCF101_24_SIZE
        videos.append(VideoAnnotation(vid, num_frames, w, h, fps=25.0, label=label, tubes=tubes))
    num_classes = max([*names, *(v.label for v in videos if v.label is not None), -1]) + 1
    class_names = [names.get(i, f"class_{i}") for i in range(num_classes)]
    for v in videos:
        for t in v.tubes:
            if not 0 <= t.label < num_classes:
                raise AnnotationError(
                    f"{path}: {v.video_id}: tube label {t.label} outside 0..{num_classes - 1}"
                )
    root = None if videos_dir is None else Path(videos_dir)
    dataset = VideoDataset(class_names, videos, root=root)
    dataset = _apply_split(dataset, split=split, split_file=split_file, source=path)
    _locate_videos(dataset.videos, root)
    _rescale(dataset.videos, root, scale_to)
    return dataset


def read_ucf101v2_gt(
    path: str | os.PathLike,
    *,
    videos_dir: str | os.PathLike | None = None,
    split: str | None = None,
    split_file: str | os.PathLike | None = None,
    scale_to: tuple[int, int] | str | None = "auto",
    skip_invalid: bool = False,
) -> VideoDataset:
    """Read an ACT-layout ground-truth pickle (``UCF101v2-GT.pkl``; also ``JHMDB-GT.pkl``).

    Args:
        path: the pickle.
        videos_dir: folder of the videos or frame folders (see :func:`read_ucf101_24`).
        split: keep only this split (``train``, ``test``, ``train2``, ...).
        split_file: an extra list of video ids, recorded as split ``split`` (or its stem).
        scale_to: as in :func:`read_ucf101_24`; the annotated size is the file's
            ``resolution``.
        skip_invalid: warn and skip malformed tubes instead of raising.

    Returns:
        The dataset with its splits, videos sorted by id.

    Raises:
        AnnotationError: naming the file, the video and the problem.
    """
    path = Path(path)
    data = load_pickle(path)
    if not _is_act(data):
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise AnnotationError(
            f"{path}: not an ACT ground-truth pickle (needs keys {sorted(_ACT_KEYS)}, has {keys})"
        )
    return _from_act(
        data, path, videos_dir=videos_dir, split=split, split_file=split_file, scale_to=scale_to,
        skip_invalid=skip_invalid,
    )  # fmt: skip


def _act_tubes(
    per_label: dict, *, num_frames: int, num_classes: int, where: str, skip_invalid: bool
) -> list[Tube]:
    tubes: list[Tube] = []
    extra: list[
        tuple[int, int, np.ndarray]
    ] = []  # later runs of gappy tubes: (label, first, boxes)
    k = 0
    for label in sorted(per_label, key=int):
        if not 0 <= int(label) < num_classes:
            raise AnnotationError(f"{where}: tube label {label} outside 0..{num_classes - 1}")
        for arr in per_label[label]:
            rows = np.asarray(arr, dtype=np.float64)
            if rows.ndim != 2 or rows.shape[1] != 5 or len(rows) == 0:
                _problem(
                    f"{where}: tube {k} has shape {rows.shape}, expected [L, 5]",
                    skip_invalid=skip_invalid,
                )
                k += 1
                continue
            rows = rows[np.argsort(rows[:, 0], kind="stable")]
            frames = rows[:, 0].astype(np.int64) - 1  # 1-based in the file
            if (np.diff(frames) == 0).any() or frames[0] < 0 or frames[-1] >= num_frames:
                _problem(
                    f"{where}: tube {k} covers frames {frames[0] + 1}..{frames[-1] + 1} (1-based, repeats "
                    f"not allowed) but the video has {num_frames}",
                    skip_invalid=skip_invalid,
                )
                k += 1
                continue
            runs = _runs(frames)
            first = runs[0]
            tubes.append(
                Tube(k, int(label), int(frames[first.start]), rows[first, 1:5].astype(np.float32))
            )
            extra += [
                (int(label), int(frames[r.start]), rows[r, 1:5].astype(np.float32))
                for r in runs[1:]
            ]
            k += 1
    for label, first_frame, boxes in extra:
        tubes.append(Tube(k, label, first_frame, boxes))
        k += 1
    return tubes


def _from_act(
    data: dict,
    path: Path,
    *,
    videos_dir: str | os.PathLike | None,
    split: str | None,
    split_file: str | os.PathLike | None,
    scale_to: tuple[int, int] | str | None,
    skip_invalid: bool,
) -> VideoDataset:
    class_names = [str(c) for c in data["labels"]]
    nframes, gttubes, resolution = data["nframes"], data["gttubes"], data["resolution"]
    unknown = sorted(set(map(str, gttubes)) - set(map(str, nframes)))
    if unknown:
        raise AnnotationError(
            f"{path}: {len(unknown)} videos have tubes but no 'nframes' entry, e.g. {unknown[:3]}"
        )
    videos = []
    for key in sorted(nframes, key=str):
        vid = str(key)
        where = f"{path}: {vid}"
        if key not in resolution:
            raise AnnotationError(f"{where}: no 'resolution' entry")
        try:
            h, w = (int(x) for x in resolution[key])
            num_frames = int(nframes[key])
        except (TypeError, ValueError) as e:
            raise AnnotationError(f"{where}: malformed nframes/resolution ({e})") from e
        tubes = _act_tubes(
            dict(gttubes.get(key, {})), num_frames=num_frames, num_classes=len(class_names), where=where,
            skip_invalid=skip_invalid,
        )  # fmt: skip
        labels = {t.label for t in tubes}
        label = labels.pop() if len(labels) == 1 else None
        videos.append(VideoAnnotation(vid, num_frames, w, h, fps=25.0, label=label, tubes=tubes))
    splits: dict[str, list[str]] = {}
    train, test = list(data["train_videos"]), list(data["test_videos"])
    if len(train) != len(test):
        raise AnnotationError(f"{path}: {len(train)} train splits but {len(test)} test splits")
    for i, (tr, te) in enumerate(zip(train, test, strict=True), start=1):
        if i == 1:
            splits["train"], splits["test"] = [str(x) for x in tr], [str(x) for x in te]
        if len(train) > 1:
            splits[f"train{i}"], splits[f"test{i}"] = [str(x) for x in tr], [str(x) for x in te]
    root = None if videos_dir is None else Path(videos_dir)
    dataset = VideoDataset(class_names, videos, root=root, splits=splits)
    for name, ids in splits.items():
        missing = [i for i in ids if i not in dataset]
        if missing:
            raise AnnotationError(
                f"{path}: split {name!r} lists {len(missing)} unknown videos, e.g. {missing[:3]}"
            )
    dataset = _apply_split(dataset, split=split, split_file=split_file, source=path)
    _locate_videos(dataset.videos, root)
    _rescale(dataset.videos, root, scale_to)
    return dataset


def _as_split_lists(
    ids: Sequence[str] | Sequence[Sequence[str]] | None, fallback: list[str]
) -> list[list[str]]:
    if ids is None:
        return [list(fallback)]
    ids = list(ids)
    if ids and not isinstance(ids[0], str):
        return [[str(x) for x in s] for s in ids]
    return [[str(x) for x in ids]]


def write_ucf101v2_gt(
    dataset: VideoDataset,
    path: str | os.PathLike,
    *,
    train_ids: Sequence[str] | Sequence[Sequence[str]] | None = None,
    test_ids: Sequence[str] | Sequence[Sequence[str]] | None = None,
) -> Path:
    """Write ``dataset`` as an ACT ground-truth pickle (protocol 2, numpy arrays), atomically.

    Tubes become ``float32 ndarray[L, 5]`` rows ``frame (1-based), x1, y1, x2, y2`` under
    their label; masks, video paths and fps are not part of the layout and are dropped.
    :func:`read_ucf101v2_gt` reads the file back to the same videos, tubes and splits.

    Args:
        dataset: the dataset.
        path: the ``.pkl`` to write.
        train_ids: training video ids, or one list per split; default the dataset's
            ``train`` split (empty if it has none).
        test_ids: test video ids, or one list per split; default its ``test`` split.

    Returns:
        ``path``.

    Raises:
        AnnotationError: a split id that is not in the dataset, or different numbers of
            train and test splits.
    """
    train = _as_split_lists(train_ids, dataset.splits.get("train", []))
    test = _as_split_lists(test_ids, dataset.splits.get("test", []))
    if len(train) != len(test):
        raise AnnotationError(f"{path}: {len(train)} train splits but {len(test)} test splits")
    for ids in [*train, *test]:
        missing = [i for i in ids if i not in dataset]
        if missing:
            raise AnnotationError(
                f"{path}: split lists {len(missing)} videos not in the dataset, e.g. {missing[:3]}"
            )
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for v in dataset:
        per_label: dict[int, list[np.ndarray]] = {}
        for t in sorted(v.tubes, key=lambda t: t.track_id):
            rows = np.concatenate([(t.frames + 1)[:, None].astype(np.float32), t.boxes], axis=1)
            per_label.setdefault(int(t.label), []).append(rows.astype(np.float32))
        gttubes[v.video_id] = per_label
    obj = {
        "labels": [str(c) for c in dataset.class_names],
        "gttubes": gttubes,
        "nframes": {v.video_id: int(v.num_frames) for v in dataset},
        "resolution": {v.video_id: (int(v.height), int(v.width)) for v in dataset},
        "train_videos": train,
        "test_videos": test,
    }
    return atomic_write_bytes(path, pickle.dumps(obj, protocol=2))
