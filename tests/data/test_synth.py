"""Tests of the synthetic video generator (``vidal synth``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidal.cli import main
from vidal.data.formats.vidal_json import read_vidal
from vidal.data.synth import (
    ACTION_CLASSES,
    ROAD_CLASSES,
    SynthConfig,
    class_frequencies,
    make_dataset,
    plan_dataset,
    render_video,
)
from vidal.data.synth._action import ReplayVideo, render_action
from vidal.data.synth._road import render_road
from vidal.data.video import open_video
from vidal.errors import ConfigError
from vidal.metrics.boxes import paired_box_iou

PYANNOT = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ucf101-24" / "pyannot.pkl"
)

# tiny videos keep every test fast
TINY = SynthConfig(videos=3, width=64, height=48, min_frames=12, max_frames=16)

#: :func:`_render_digests` of the renderers as they were before they were split into steps.
PINNED_RENDERS = {
    "road": "232bc7474a0c993b",
    "action": "a51e0d56bf68a676",
    "replay": "dedc953a6b447f9a",
    "videos": "2f1e14a92a5bfb49",
}


def _box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


# --- settings and plan -------------------------------------------------------------------


def test_config_rejects_bad_values_naming_them() -> None:
    with pytest.raises(ConfigError, match="known kinds"):
        SynthConfig(kind="cartoon")
    with pytest.raises(ConfigError, match="known layouts"):
        SynthConfig(layout="coco")
    with pytest.raises(ConfigError, match="width"):
        SynthConfig(width=63)
    with pytest.raises(ConfigError, match="min_frames"):
        SynthConfig(min_frames=30, max_frames=20)
    with pytest.raises(ConfigError, match="rare_prob"):
        SynthConfig(rare_prob=1.5)
    with pytest.raises(ConfigError, match="tempo"):
        SynthConfig(tempo=0.0)
    with pytest.raises(ConfigError, match="replay"):
        SynthConfig(kind="road", replay="pyannot.pkl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        SynthConfig().seed = 3  # type: ignore[misc]


def test_plan_is_imbalanced_stratified_and_has_a_few_rare_videos() -> None:
    config = SynthConfig(videos=60, seed=4)
    plans = plan_dataset(config)
    counts = np.bincount([p.label for p in plans], minlength=len(ACTION_CLASSES))
    assert counts.sum() == 60 and (counts > 0).all()
    assert (np.diff(counts) <= 0).all() and counts[0] >= 4 * counts[-1]  # skewed
    assert np.abs(counts - 60 * class_frequencies(config)).max() <= 1
    rare = [p for p in plans if p.condition != "normal"]
    assert len(rare) == round(0.12 * 60)
    assert {p.condition for p in rare} == {"dark", "noise", "blur"}
    for k in range(len(ACTION_CLASSES)):  # every class with 2+ videos is in both splits
        splits = {p.split for p in plans if p.label == k}
        assert splits == {"train", "test"}
    assert len({p.video_id for p in plans}) == 60
    assert plan_dataset(config) == plans
    balanced = np.bincount(
        [p.label for p in plan_dataset(dataclasses.replace(config, class_skew=0.0))]
    )
    assert balanced.tolist() == [10] * 6
    few = np.bincount([p.label for p in plan_dataset(SynthConfig(videos=6))], minlength=6)
    assert few.tolist() == [1] * 6  # as many videos as classes: one each


# --- determinism and decoding ---------------------------------------------------------------


def _decoded(path: Path) -> np.ndarray:
    """Every frame of a video file, ``ndarray[T, H, W, 3]`` uint8."""
    with open_video(path) as video:
        return video.get_batch(range(len(video)))


def test_same_seed_gives_identical_data_and_another_seed_differs(tmp_path: Path) -> None:
    """Annotations byte for byte, videos frame for frame: the MP4 bytes themselves are not
    compared (an encoder may lay the same frames out differently)."""
    a = make_dataset(tmp_path / "a", TINY, progress=False)
    b = make_dataset(tmp_path / "b", TINY, workers=2, progress=False)
    c = make_dataset(tmp_path / "c", dataclasses.replace(TINY, seed=1), progress=False)
    assert a.name == "annotations.json"
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a/annotations.masks.npz").read_bytes() == (
        tmp_path / "b/annotations.masks.npz"
    ).read_bytes()
    assert (tmp_path / "a/synth.json").read_bytes() == (tmp_path / "b/synth.json").read_bytes()
    videos = sorted((tmp_path / "a").rglob("*.mp4"))
    others = sorted((tmp_path / "c").rglob("*.mp4"))
    assert len(videos) == len(others) == 3
    for v in videos:  # the same frames decode from either run
        np.testing.assert_array_equal(
            _decoded(v), _decoded(tmp_path / "b" / v.relative_to(tmp_path / "a"))
        )
    assert a.read_bytes() != c.read_bytes()
    for v, other in zip(videos, others, strict=True):  # another seed renders other frames
        first, second = _decoded(v), _decoded(other)
        assert first.shape != second.shape or not np.array_equal(first, second)


def _digest(h: hashlib._Hash, frames: np.ndarray, tracks: list, meta: dict) -> None:
    h.update(np.ascontiguousarray(frames).tobytes())
    for tr in tracks:
        h.update(np.array([getattr(tr, "label", -1), tr.first, tr.last]).tobytes())
        h.update(np.packbits(tr.amodal).tobytes() + np.packbits(tr.visible).tobytes())
    h.update(json.dumps(meta, sort_keys=True).encode())


def _render_digests() -> dict[str, str]:
    """SHA-256 prefixes of what the renderers draw for fixed seeds, one per group of cases:
    road scenes by day and night (jams among them), every action class with every camera
    motion, occluder and pause the seeds draw, replayed tubes, and whole videos (capture
    effects and annotations included)."""
    digests = {}
    road = SynthConfig(
        kind="road", videos=8, seed=7, width=64, height=48, min_frames=8, max_frames=10,
        jam_prob=0.5,
    )  # fmt: skip
    h = hashlib.sha256()
    for condition in ("normal", "night"):
        for s in range(3):
            _digest(h, *render_road(road, np.random.default_rng([s, 9]), condition=condition))
    digests["road"] = h.hexdigest()[:16]
    action = SynthConfig(
        videos=8, seed=7, width=64, height=48, min_frames=24, max_frames=28,
        multi_actor_prob=0.6, occlusion_prob=0.6, camera_motion_prob=0.8, pause_prob=0.6,
    )  # fmt: skip
    h = hashlib.sha256()
    for label in range(len(ACTION_CLASSES)):
        for s in range(4):
            _digest(h, *render_action(action, label, np.random.default_rng([label, s])))
    digests["action"] = h.hexdigest()[:16]
    walk = np.linspace([0.1, 0.2, 0.4, 0.9], [0.5, 0.2, 0.8, 0.9], 15).astype(np.float32)
    stand = np.tile(np.float32([[0.6, 0.3, 0.8, 0.95]]), (20, 1))
    replay = ReplayVideo("r", 20, [(2, walk), (0, stand)])
    h = hashlib.sha256()
    for s in range(2):
        _digest(h, *render_action(action, 1, np.random.default_rng([s, 11]), replay=replay))
    digests["replay"] = h.hexdigest()[:16]
    h = hashlib.sha256()
    for config in (road, action):
        for i in range(config.videos):
            video = render_video(config, i)
            h.update(video.frames.tobytes())
            for tube in video.annotation.tubes:
                h.update(tube.boxes.tobytes() + np.packbits(tube.masks).tobytes())
    digests["videos"] = h.hexdigest()[:16]
    return digests


def test_renderers_draw_the_pinned_frames_and_annotations() -> None:
    """The renderers' output for fixed seeds, pinned bit for bit, so that restructuring them
    cannot change a dataset. A change of OpenCV's or numpy's arithmetic may move these digests
    too: then check the change on the renderers' own tests and pin the new digests."""
    assert _render_digests() == PINNED_RENDERS


def test_decord_reads_every_video_with_exact_frame_count_and_size(tmp_path: Path) -> None:
    decord = pytest.importorskip("decord")
    path = make_dataset(tmp_path, TINY, progress=False)
    dataset = read_vidal(path)
    assert len(dataset) == 3
    for i, v in enumerate(dataset):
        assert not Path(v.path).is_absolute()
        reader = decord.VideoReader(str(dataset.video_path(v)))
        frames = reader.get_batch(list(range(len(reader)))).asnumpy()
        assert frames.shape == (v.num_frames, v.height, v.width, 3)
        # what was decoded is what was rendered, up to compression (and 4:2:0 chroma)
        luma = np.array([0.299, 0.587, 0.114], np.float32)
        rendered = render_video(TINY, i).frames.astype(np.float32) @ luma
        assert np.abs(frames.astype(np.float32) @ luma - rendered).mean() < 4.0


# --- ground truth ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["action", "road"])
def test_masks_lie_in_boxes_and_boxes_are_tight(kind: str) -> None:
    config = SynthConfig(
        kind=kind,
        videos=6,
        seed=2,
        width=96,
        height=64,
        min_frames=16,
        max_frames=24,
        occlusion_prob=0.5,
    )
    unoccluded = occluded = 0
    for i in range(config.videos):
        video = render_video(config, i)
        ann = video.annotation
        ann.validate()
        assert len({tb.track_id for tb in ann.tubes}) == len(ann.tubes)
        for tube, vis in zip(ann.tubes, video.visibility, strict=True):
            assert tube.masks is not None and tube.masks.shape == (
                len(tube.boxes),
                ann.height,
                ann.width,
            )
            for mask, box, v in zip(tube.masks, tube.boxes, vis, strict=True):
                x1, y1, x2, y2 = box.astype(int)
                assert 0 <= x1 < x2 <= ann.width and 0 <= y1 < y2 <= ann.height
                outside = mask.copy()
                outside[y1:y2, x1:x2] = False
                assert not outside.any()
                if v == 1.0:  # nothing occludes it: the box is the tight box of the mask
                    np.testing.assert_array_equal(_box_of(mask), box)
                    unoccluded += 1
                else:
                    assert mask.sum() < (x2 - x1) * (y2 - y1)
                    occluded += 1
    assert unoccluded > 0 and occluded > 0


def _motion_features(tube_boxes: np.ndarray) -> tuple[float, float, float]:
    """(bottom-edge std, aspect-ratio std, mean horizontal speed), all relative to height."""
    w = tube_boxes[:, 2] - tube_boxes[:, 0]
    h = tube_boxes[:, 3] - tube_boxes[:, 1]
    size = float(np.median(h))
    cx = 0.5 * (tube_boxes[:, 0] + tube_boxes[:, 2])
    return (
        float(np.std(tube_boxes[:, 3]) / size),
        float(np.std(w / h)),
        float(np.mean(np.abs(np.diff(cx))) / size),
    )


def test_classes_differ_in_motion_of_their_boxes_not_in_colour() -> None:
    config = SynthConfig(
        videos=18, seed=5, class_skew=0.0, multi_actor_prob=0.0, occlusion_prob=0.0, rare_prob=0.0
    )
    feats: dict[str, list[tuple[float, float, float]]] = {name: [] for name in ACTION_CLASSES}
    colours: dict[str, list[np.ndarray]] = {name: [] for name in ACTION_CLASSES}
    for i in range(config.videos):
        video = render_video(config, i)
        name = ACTION_CLASSES[video.annotation.label]
        tube = video.annotation.tubes[0]
        feats[name].append(_motion_features(tube.boxes))
        t = tube.first_frame
        colours[name].append(video.frames[t][tube.masks[0]].mean(axis=0))
    bottom = {k: [f[0] for f in v] for k, v in feats.items()}
    aspect = {k: [f[1] for f in v] for k, v in feats.items()}
    # jumpers' feet leave the ground, walkers' and wavers' stay on it
    assert min(bottom["jump"]) > max(bottom["walk"] + bottom["wave"])
    # a spinning body's box changes shape far more than a walker's
    assert min(aspect["spin"]) > max(aspect["walk"])
    # colour does not give the class away: actor colours of two classes overlap in range
    a, b = np.array(colours["walk"]), np.array(colours["jump"])
    assert (a.min(axis=0) < b.max(axis=0)).all() and (b.min(axis=0) < a.max(axis=0)).all()


def test_videos_have_several_actors_partial_tubes_pauses_and_camera_motion() -> None:
    config = SynthConfig(videos=16, seed=0, width=64, height=48, min_frames=24, max_frames=32)
    videos = [render_video(config, i) for i in range(config.videos)]
    assert any(len(v.annotation.tubes) >= 2 for v in videos)
    assert all(len(v.annotation.tubes) >= 1 for v in videos)
    # tubes starting or ending inside the video
    assert any(
        tb.first_frame > 0 or tb.last_frame < v.annotation.num_frames - 1
        for v in videos
        for tb in v.annotation.tubes
    )
    assert any(p is not None for v in videos for p in v.meta["pauses"])
    assert {v.meta["camera"] for v in videos} - {"static"}
    assert any(v.meta["occluder"] for v in videos)
    # every actor of a video performs the video's class
    assert all(tb.label == v.annotation.label for v in videos for tb in v.annotation.tubes)


def test_rare_conditions_change_the_pixels_of_a_small_share() -> None:
    config = SynthConfig(videos=25, seed=3, width=64, height=48, min_frames=12, max_frames=12)
    plans = plan_dataset(config)
    rare = {p.condition: p.index for p in plans if p.condition != "normal"}
    assert 0 < sum(p.condition != "normal" for p in plans) <= 0.2 * len(plans)
    plain = dataclasses.replace(config, rare_prob=0.0)
    dark = rare["dark"]
    assert plan_dataset(plain)[dark].condition == "normal"
    assert render_video(config, dark).frames.mean() < 0.5 * render_video(plain, dark).frames.mean()
    noisy = rare["noise"]
    diff = render_video(config, noisy).frames.astype(float) - render_video(
        plain, noisy
    ).frames.astype(float)
    assert diff.std() > 8.0


# --- road kind ------------------------------------------------------------------------------


def test_road_scenes_track_imbalanced_classes_and_stop_in_jams() -> None:
    config = SynthConfig(
        kind="road",
        videos=8,
        seed=1,
        width=96,
        height=64,
        min_frames=30,
        max_frames=40,
        jam_prob=0.5,
    )
    videos = [render_video(config, i) for i in range(config.videos)]
    labels = [tb.label for v in videos for tb in v.annotation.tubes]
    counts = np.bincount(labels, minlength=len(ROAD_CLASSES))
    assert counts[ROAD_CLASSES.index("car")] == counts.max() and counts.sum() >= 16
    assert len(set(labels)) >= 3
    assert all(v.annotation.label is None for v in videos)
    assert any(
        tb.first_frame > 0 for v in videos for tb in v.annotation.tubes
    )  # objects come into view
    jams = [v for v in videos if v.meta["stopped_frames"] >= 5]
    assert jams
    for v in jams:  # while traffic stands still, frames hardly change (beyond sensor noise)
        smooth = np.stack([cv2.GaussianBlur(f, (0, 0), 3.0) for f in v.frames.astype(np.float32)])
        change = np.abs(np.diff(smooth, axis=0)).mean(axis=(1, 2, 3))  # [T-1]
        stopped = np.zeros(len(change), bool)
        for a, b in v.meta["stopped_spans"]:
            stopped[a:b] = True
        assert stopped.sum() >= 4 and (~stopped).sum() >= 4
        assert np.median(change[stopped]) < 0.6 * np.median(change[~stopped])


# --- layouts --------------------------------------------------------------------------------


def _same_tubes(a, b, *, masks: bool) -> None:  # noqa: ANN001
    assert a.num_frames == b.num_frames and (a.width, a.height) == (b.width, b.height)
    ta = sorted(a.tubes, key=lambda t: t.track_id)
    tb = sorted(b.tubes, key=lambda t: t.track_id)
    assert [(t.track_id, t.label, t.first_frame) for t in ta] == [
        (t.track_id, t.label, t.first_frame) for t in tb
    ]
    for x, y in zip(ta, tb, strict=True):
        np.testing.assert_allclose(x.boxes, y.boxes, atol=1e-3)
        if masks:
            np.testing.assert_array_equal(x.masks, y.masks)


@pytest.mark.parametrize("kind", ["action", "road"])
def test_vidal_layout_round_trips_with_masks(tmp_path: Path, kind: str) -> None:
    config = dataclasses.replace(TINY, kind=kind)
    dataset = read_vidal(make_dataset(tmp_path, config, progress=False))
    assert dataset.class_names == list(config.class_names)
    assert sorted(dataset.splits) == ["test", "train"]
    assert sorted(dataset.splits["train"] + dataset.splits["test"]) == sorted(dataset.video_ids)
    for i, plan in enumerate(plan_dataset(config)):
        _same_tubes(dataset[plan.video_id], render_video(config, i).annotation, masks=True)
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert meta["config"]["kind"] == kind and len(meta["videos"]) == 3


def test_ucf101_24_layout_round_trips(tmp_path: Path) -> None:
    from vidal.data.formats.ucf101_24 import read_ucf101v2_gt

    config = dataclasses.replace(TINY, layout="ucf101-24")
    path = make_dataset(tmp_path, config, progress=False)
    assert path.name == "UCF101v2-GT.pkl"
    dataset = read_ucf101v2_gt(path, videos_dir=tmp_path / "videos")
    assert dataset.class_names == list(ACTION_CLASSES)
    plans = plan_dataset(config)
    assert sorted(dataset.splits["test"]) == sorted(p.video_id for p in plans if p.split == "test")
    for i, plan in enumerate(plans):
        v = dataset[plan.video_id]
        assert v.path is not None and dataset.video_path(v).is_file()
        assert v.label == plan.label
        _same_tubes(v, render_video(config, i).annotation, masks=False)


def test_imagenet_vid_layout_round_trips(tmp_path: Path) -> None:
    from vidal.data.formats.imagenet_vid import read_imagenet_vid

    config = dataclasses.replace(TINY, kind="road", layout="imagenet-vid")
    root = make_dataset(tmp_path, config, progress=False)
    plans = plan_dataset(config)
    for split, name in (("train", "train"), ("test", "val")):
        ids = [p.video_id for p in plans if p.split == split]
        dataset = read_imagenet_vid(root, split=name, class_names=list(ROAD_CLASSES))
        assert dataset.video_ids == sorted(ids) or sorted(dataset.video_ids) == sorted(ids)
        for plan in plans:
            if plan.split == split:
                _same_tubes(
                    dataset[plan.video_id], render_video(config, plan.index).annotation, masks=False
                )


# --- replay of real tubes -------------------------------------------------------------------


@pytest.mark.skipif(
    not PYANNOT.is_file(), reason=f"real UCF-101-24 annotations not found at {PYANNOT}"
)
def test_replay_follows_real_tube_timing_and_trajectories() -> None:
    from vidal.data.synth import load_replay

    config = SynthConfig(videos=3, seed=0, width=64, height=48, replay=str(PYANNOT))
    pool = {r.source_id: r for r in load_replay(PYANNOT)}
    for i in range(config.videos):
        video = render_video(config, i)
        source = pool[video.meta["replay_source"]]
        ann = video.annotation
        assert ann.num_frames == source.num_frames
        assert len(ann.tubes) == len(source.tubes)
        for tube, (first, real) in zip(ann.tubes, source.tubes, strict=True):
            assert (tube.first_frame, tube.last_frame) == (first, first + len(real) - 1)
            scaled = real * np.array([64, 48, 64, 48], np.float32)
            cx_err = np.abs(
                (tube.boxes[:, 0] + tube.boxes[:, 2]) / 2 - (scaled[:, 0] + scaled[:, 2]) / 2
            )
            bottom_err = np.abs(tube.boxes[:, 3] - scaled[:, 3])
            assert np.median(cx_err) < 0.1 * 64 and np.median(bottom_err) < 0.1 * 48


def _box_change(tubes: list[np.ndarray], k: int) -> float:
    """Mean IoU of each tube's box with the same tube's box ``k`` frames later."""
    a = np.concatenate([b[:-k] for b in tubes if len(b) > k])
    b = np.concatenate([b[k:] for b in tubes if len(b) > k])
    return float(np.mean(paired_box_iou(a, b)))


@pytest.mark.skipif(
    not PYANNOT.is_file(), reason=f"real UCF-101-24 annotations not found at {PYANNOT}"
)
def test_boxes_change_from_frame_to_frame_about_as_fast_as_real_tubes() -> None:
    from vidal.data.synth import load_replay

    real = [boxes for r in load_replay(PYANNOT) for _, boxes in r.tubes]

    def synth(tempo: float) -> list[np.ndarray]:
        config = SynthConfig(videos=30, seed=0, tempo=tempo)
        return [t.boxes for i in range(30) for t in render_video(config, i).annotation.tubes]

    default, fast = synth(SynthConfig().tempo), synth(1.0)
    for k in (1, 2):  # the distances MGW's default Gaussian (sigma 1.3) weights
        assert abs(_box_change(default, k) - _box_change(real, k)) < 0.03
        # actors at ordinary human speed move their boxes far faster than real tubes
        assert _box_change(real, k) - _box_change(fast, k) > 0.08


# --- command line ---------------------------------------------------------------------------


def test_cli_writes_a_dataset_and_reports_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    argv = [
        "synth",
        "--out",
        str(out),
        "--videos",
        "2",
        "--frames",
        "10",
        "--size",
        "64x48",
        "--workers",
        "1",
    ]
    assert main([*argv, "--no-progress", "--kind", "road"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "annotations.json") in printed and "2 videos" in printed
    dataset = read_vidal(out / "annotations.json")
    assert [v.num_frames for v in dataset] == [10, 10] and dataset.class_names == list(ROAD_CLASSES)
    assert main([*argv, "--size", "64by48"]) == 1
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert main([*argv, "--size", "65x48"]) == 1
    assert main([*argv, "--tempo", "-1"]) == 1
    assert "tempo must be positive" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="outside"):
        render_video(TINY, 3)
