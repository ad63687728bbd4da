"""Render synthetic videos and write them as a dataset in one of vidal's layouts."""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidal._io import atomic_write_json
from vidal._progress import progress_bar
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.data.formats.vidal_json import write_vidal
from vidal.data.synth._action import ReplayVideo, render_action
from vidal.data.synth._config import SynthConfig, VideoPlan, plan_dataset
from vidal.data.synth._render import apply_condition, mask_boxes, write_mp4
from vidal.data.synth._road import render_road
from vidal.errors import ConfigError

__all__ = ["SynthVideo", "load_replay", "make_dataset", "render_video", "video_relpath"]


IMAGENET_SPLITS = {"train": "train", "test": "val"}  # ILSVRC names its held-out split val
ANNOTATION_FILES = {
    "vidal": "annotations.json",
    "ucf101-24": "UCF101v2-GT.pkl",
    "imagenet-vid": ".",
}


#: The scene facts each video's annotation carries as metadata (metadata cycling reads them).
METADATA_FIELDS = ("condition", "camera", "background", "jam")
#: Bumped when what a dataset holds changes for the same config (2: video metadata), so that
#: caches of an older generator are drawn again.
FORMAT_VERSION = 2


@dataclass
class SynthVideo:
    """One rendered video held in memory.

    Attributes:
        frames (ndarray[T, H, W, 3]): uint8 RGB frames, as written to the MP4.
        annotation: its ground truth; tube masks are the visible pixels ``[L, H, W]``.
        visibility: per tube, ndarray[L] float32: visible share of the actor's drawn
            pixels (1 when nothing occludes it).
        plan: what the dataset-level draw decided (id, class, condition, split).
        meta: a JSON-able description of the scene (camera, occluder, pauses, ...).
    """

    frames: np.ndarray
    annotation: VideoAnnotation
    visibility: list[np.ndarray]
    plan: VideoPlan
    meta: dict


_REPLAY_CACHE: dict[str, list[ReplayVideo]] = {}


def load_replay(path: str | os.PathLike) -> list[ReplayVideo]:
    """Real tube geometry from a UCF-101-24 ``pyannot.pkl`` (cached per path and process).

    Args:
        path: the annotation pickle, read with :func:`vidal.data.formats.ucf101_24.read_ucf101_24`.

    Returns:
        One :class:`ReplayVideo` per real video with at least one tube, boxes normalised
        by the real frame size, in the reader's order.
    """
    key = str(Path(path).resolve())
    if key not in _REPLAY_CACHE:
        from vidal.data.formats.ucf101_24 import read_ucf101_24

        dataset = read_ucf101_24(path)
        pool = []
        for v in dataset:
            if not v.tubes:
                continue
            norm = np.array([v.width, v.height, v.width, v.height], np.float32)
            tubes = [(tb.first_frame, np.clip(tb.boxes / norm, 0.0, 1.0)) for tb in v.tubes]
            pool.append(ReplayVideo(v.video_id, int(v.num_frames), tubes))
        if not pool:
            raise ConfigError(f"{path}: no annotated tubes to replay")
        _REPLAY_CACHE[key] = pool
    return _REPLAY_CACHE[key]


def video_relpath(plan: VideoPlan) -> str:
    """Where a video's MP4 file goes, relative to the dataset folder: ``videos/<id>.mp4``."""
    return f"videos/{plan.video_id}.mp4"


def render_video(
    config: SynthConfig, index: int, *, replay: list[ReplayVideo] | None = None
) -> SynthVideo:
    """Render video ``index`` of the dataset ``config`` describes, in memory.

    The result depends only on ``config`` and ``index`` (each video has its own random
    stream seeded by ``(config.seed, index)``), so it is the same whether the dataset is
    rendered in one process or many.

    Args:
        config: the dataset settings.
        index: which video, ``0 <= index < config.videos``.
        replay: real geometry to replay; loaded from ``config.replay`` when ``None``.

    Returns:
        The frames, the annotation (``path`` unset) and a scene description.

    Example:
        >>> v = render_video(SynthConfig(videos=2, min_frames=16, max_frames=16), 0)
        >>> v.frames.shape
        (16, 96, 128, 3)
    """
    if not 0 <= index < config.videos:
        raise ConfigError(f"video index {index} outside 0..{config.videos - 1}")
    plan = plan_dataset(config)[index]
    rng = np.random.default_rng([config.seed, 1, index])
    if plan.label is not None:  # the action kind
        source = None
        if config.replay is not None:
            pool = replay if replay is not None else load_replay(config.replay)
            source = pool[int(rng.integers(len(pool)))]
        frames_f, tracks, meta = render_action(config, plan.label, rng, replay=source)
        labels = [plan.label] * len(tracks)
        frames = apply_condition(frames_f, plan.condition, rng)
    else:
        frames_f, road_tracks, meta = render_road(config, rng, condition=plan.condition)
        tracks = road_tracks  # type: ignore[assignment]
        labels = [tr.label for tr in road_tracks]
        frames = apply_condition(frames_f, plan.condition, rng, horizon=meta["horizon"])
    t, h, w, _ = frames.shape
    tubes, visibility = [], []
    for track_id, (tr, label) in enumerate(zip(tracks, labels, strict=True)):
        span = slice(tr.first, tr.last + 1)
        boxes, _ = mask_boxes(tr.amodal[span])
        vis = tr.visible[span]
        full = tr.amodal[span].sum(axis=(1, 2))
        visibility.append((vis.sum(axis=(1, 2)) / np.maximum(full, 1)).astype(np.float32))
        tubes.append(Tube(track_id, int(label), tr.first, boxes, vis))
    annotation = VideoAnnotation(
        video_id=plan.video_id,
        num_frames=t,
        width=w,
        height=h,
        fps=config.fps,
        label=plan.label,
        tubes=tubes,
        path=None,
    )
    meta = {"condition": plan.condition, **meta}
    annotation.metadata = {k: meta[k] for k in METADATA_FIELDS if k in meta}
    return SynthVideo(
        frames=frames, annotation=annotation, visibility=visibility, plan=plan, meta=meta
    )


def _render_and_write(args: tuple[SynthConfig, int, str]) -> tuple[VideoAnnotation, dict]:
    config, index, out_dir = args
    video = render_video(config, index)  # replay geometry comes from the per-process cache
    rel = video_relpath(video.plan)
    write_mp4(Path(out_dir) / rel, video.frames, fps=config.fps, crf=config.crf)
    video.annotation.path = rel
    meta = {"id": video.plan.video_id, "split": video.plan.split, **video.meta}
    return video.annotation, meta


def make_dataset(
    out_dir: str | os.PathLike, config: SynthConfig, *, workers: int = 1, progress: bool = True
) -> Path:
    """Render ``config.videos`` videos as MP4 files plus their annotations under ``out_dir``.

    Every layout writes the videos as ``videos/<id>.mp4`` (action ids read
    ``<Class>/v_<Class>_gNN_c01`` as in UCF-101; road ids ``road_NNNNN``) and
    ``synth.json``: the config, a summary and a description of each video (split, rare
    condition, camera, occluder, pauses, ...). Then, by ``config.layout``:

    - ``vidal``: ``annotations.json`` plus ``annotations.masks.npz`` (visible pixel masks)
      with ``train``/``test`` splits; read it with :func:`vidal.data.read_vidal`.
    - ``ucf101-24``: ACT's ``UCF101v2-GT.pkl`` with the ``train``/``test`` split (boxes
      only); read it with :func:`vidal.data.read_ucf101v2_gt` and ``videos_dir=<out>/videos``.
    - ``imagenet-vid``: ``Data/VID/<split>/<id>/NNNNNN.JPEG`` frames decoded from the MP4s,
      ``Annotations/VID/<split>/<id>/NNNNNN.xml`` and ``ImageSets/VID/VID_<split>_videos.txt``
      for the splits ``train`` and ``val`` (the test split); read it with
      :func:`vidal.data.read_imagenet_vid` and ``class_names=list(config.class_names)``
      (names that are not VID classes are written as they are, and a split may lack some).

    Existing files of the same names are overwritten.

    Args:
        out_dir: the dataset folder (created if needed).
        config: what to generate.
        workers: processes rendering in parallel (the output does not depend on it).
        progress: show a tqdm progress bar.

    Returns:
        Path of the annotations: ``annotations.json``, ``UCF101v2-GT.pkl``, or for
        ``imagenet-vid`` the dataset root that :func:`vidal.data.read_imagenet_vid` takes.
    """
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.replay is not None:
        load_replay(config.replay)  # read once here; forked workers inherit the cache
    jobs = [(config, i, str(out)) for i in range(config.videos)]
    bar = progress_bar(
        total=config.videos, desc=f"vidal synth {config.kind}", unit="video", disable=not progress
    )
    results: list[tuple[VideoAnnotation, dict]] = []
    if workers == 1:
        for job in jobs:
            results.append(_render_and_write(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_render_and_write, jobs):
                results.append(res)
                bar.update()
    bar.close()
    plans = plan_dataset(config)
    dataset = VideoDataset(
        class_names=list(config.class_names),
        videos=[a for a, _ in results],
        root=out,
        splits={s: [p.video_id for p in plans if p.split == s] for s in ("train", "test")},
    )
    description = {
        "generator": "vidal synth",
        "format_version": FORMAT_VERSION,
        "config": dataclasses.asdict(config),
        "layout": config.layout,
        "annotations": ANNOTATION_FILES[config.layout],
        "summary": {
            **dataset.summary(),
            **{name: len(ids) for name, ids in dataset.splits.items()},
            "rare": sum(p.condition != "normal" for p in plans),
        },
        "videos": [m for _, m in results],
    }
    atomic_write_json(out / "synth.json", description)
    return _write_layout(dataset, out, config.layout)


def _write_layout(dataset: VideoDataset, out: Path, layout: str) -> Path:
    if layout == "vidal":
        return write_vidal(dataset, out / ANNOTATION_FILES["vidal"])
    if layout == "ucf101-24":
        from vidal.data.formats.ucf101_24 import write_ucf101v2_gt

        train = dataset.splits.get("train", [])
        test = dataset.splits.get("test", [])
        path = out / ANNOTATION_FILES["ucf101-24"]
        return write_ucf101v2_gt(dataset, path, train_ids=train, test_ids=test)
    if layout == "imagenet-vid":
        from vidal.data.formats.imagenet_vid import write_imagenet_vid

        for split, ids in dataset.splits.items():
            if ids:
                write_imagenet_vid(dataset.subset(ids), out, split=IMAGENET_SPLITS[split])
        return out
    raise ConfigError(f"unknown layout {layout!r}")
