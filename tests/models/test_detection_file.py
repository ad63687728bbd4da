"""Detections read from a file: COCO results JSON and MOT det.txt, round trips and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidal.models.detection_file import (
    DetectionsFileError,
    read_coco_results,
    read_mot_detections,
    write_coco_results,
    write_mot_detections,
)
from vidal.models.detectors import FrameDetector, check_detections

CLASSES = ("car", "person", "bike")


def _random_frame(rng: np.random.Generator, m: int, *, one_hot: bool = False) -> dict:
    """``m`` detections keeping the contract, with awkward float32 values."""
    xy = rng.uniform(0, 300, (m, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 80, (m, 2))], 1).astype(np.float32)
    labels = rng.integers(0, len(CLASSES), m).astype(np.int64)
    if one_hot:
        scores = rng.uniform(0.05, 1, m).astype(np.float32)
        probs = np.zeros((m, len(CLASSES) + 1), np.float32)
        probs[np.arange(m), labels + 1] = scores
        probs[:, 0] = 1 - scores
    else:
        probs = rng.dirichlet(np.ones(len(CLASSES) + 1), m).astype(np.float32)
        scores = probs[np.arange(m), labels + 1]
    return {"boxes": boxes, "labels": labels, "scores": scores, "probs": probs}


def _video(seed: int, frames: int = 6, *, one_hot: bool = False) -> list:
    rng = np.random.default_rng(seed)
    out = [_random_frame(rng, int(rng.integers(0, 4)), one_hot=one_hot) for _ in range(frames)]
    out[2] = None  # a frame that was not detected
    return out


def _assert_same(read: list[dict], written: list) -> None:
    for got, want in zip(read, written, strict=True):
        if want is None:
            assert len(got["scores"]) == 0
            continue
        for key in ("boxes", "labels", "scores", "probs"):
            assert got[key].dtype == want[key].dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_coco_round_trip_is_exact(tmp_path: Path):
    dets = {"a": _video(0), "b/c": _video(1, frames=4)}
    path = write_coco_results(tmp_path / "dets.json", dets)
    counts = {"a": 6, "b/c": 4}
    back = read_coco_results(path, class_names=CLASSES, frame_counts=counts)
    assert isinstance(back, FrameDetector) and back.num_classes == 3
    for vid, frames in dets.items():
        got = back.detect_video(vid, range(len(frames)), read_frames=None)
        for d in got:
            check_detections(d, 3)
        _assert_same(got, frames)


def test_coco_through_an_image_table_and_named_categories(tmp_path: Path):
    dets = {"a": _video(2)}
    path = write_coco_results(tmp_path / "dets.json", dets)
    entries = json.loads(path.read_text())
    table = {"images": [], "categories": []}
    ids = {}
    for e in entries:  # a pycocotools-style file: image ids only, COCO category ids
        ids[e["image_id"]] = (e.pop("video_id"), e.pop("frame"))
        e["category_id"] = {1: 3, 2: 1, 3: 2}[e["category_id"]]
    table["images"] = [{"id": i, "video_id": v, "frame": t} for i, (v, t) in ids.items()]
    (tmp_path / "plain.json").write_text(json.dumps(entries))
    (tmp_path / "images.json").write_text(json.dumps(table))
    back = read_coco_results(
        tmp_path / "plain.json",
        class_names=CLASSES,
        images=tmp_path / "images.json",
        categories={3: "car", 1: "person", 2: "bike"},
    )
    _assert_same(back.detect_video("a", range(6)), dets["a"])


def test_coco_without_vector_and_with_a_k_vector(tmp_path: Path):
    entries = [
        {"video_id": "v", "frame": 1, "category_id": 2, "bbox": [10, 20, 30, 40], "score": 0.8},
        {
            "video_id": "v",
            "frame": 1,
            "category_id": 1,
            "bbox": [0, 0, 5, 5],
            "scores": [0.5, 0.2, 0.1],
        },
    ]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(entries))
    det = read_coco_results(path, class_names=CLASSES).detect_video("v", [0, 1])
    assert len(det[0]["scores"]) == 0
    d = det[1]
    check_detections(d, 3)
    np.testing.assert_array_equal(d["boxes"], np.float32([[10, 20, 40, 60], [0, 0, 5, 5]]))
    np.testing.assert_array_equal(d["labels"], [1, 0])
    # no vector: score on its class, 1 - score on background
    np.testing.assert_allclose(d["probs"][0], [0.2, 0, 0.8, 0], atol=1e-7)
    # K values: background is what is left
    np.testing.assert_allclose(d["probs"][1], [0.2, 0.5, 0.2, 0.1], atol=1e-7)
    assert d["scores"][1] == d["probs"][1, 1]


def test_mot_round_trip(tmp_path: Path):
    dets = {"seq-1": _video(3, one_hot=True), "seq-2": _video(4, frames=3, one_hot=True)}
    for d in dets["seq-1"] + dets["seq-2"]:
        if d is not None:
            d["labels"][:] = 1  # MOT has one class
            d["probs"][:] = 0
            d["probs"][:, 0], d["probs"][:, 2] = 1 - d["scores"], d["scores"]
    paths = {v: write_mot_detections(tmp_path / v / "det" / "det.txt", f) for v, f in dets.items()}
    first = paths["seq-1"].read_text().splitlines()[0].split(",")
    assert int(first[0]) >= 1 and first[1] == "-1" and len(first) == 10
    back = read_mot_detections(paths, class_names=CLASSES, label=1)
    for vid, frames in dets.items():
        _assert_same(back.detect_video(vid, range(len(frames))), frames)


def _coco(tmp_path: Path, entries, **kwargs):
    path = tmp_path / "bad.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return read_coco_results(path, class_names=CLASSES, **kwargs)


GOOD = {"video_id": "v", "frame": 0, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5}


@pytest.mark.parametrize(
    "entries, kwargs, message",
    [
        ("[{", {}, r"bad\.json: cannot read COCO results"),
        ({"a": 1}, {}, r"bad\.json: COCO results are a JSON list"),
        (
            [GOOD, {**GOOD, "frame": 9}],
            {"frame_counts": {"v": 5}},
            r"bad\.json: detection 1: frame 9 of 'v', which has 5 frames",
        ),
        (
            [{**GOOD, "video_id": "w"}],
            {"frame_counts": {"v": 5}},
            r"detection 0: unknown video 'w'",
        ),
        ([{**GOOD, "frame": -1}], {}, r"detection 0: frame -1 is negative"),
        ([{**GOOD, "category_id": 7}], {}, r"detection 0: unknown category_id 7 \(known: 1\.\.3\)"),
        (
            [{**GOOD, "category_id": 1}],
            {"categories": {3: "car"}},
            r"unknown category_id 1 \(known: \[3\]\)",
        ),
        ([GOOD], {"categories": {3: "truck"}}, r"categories name unknown classes \['truck'\]"),
        ([{**GOOD, "bbox": [0, 0, 4]}], {}, r"detection 0: box must be 4 numbers"),
        ([{**GOOD, "bbox": [0, 0, -4, 4]}], {}, r"w, h >= 0"),
        ([{**GOOD, "score": 1.5}], {}, r"score 1\.5 is not a probability"),
        ([{k: v for k, v in GOOD.items() if k != "score"}], {}, r'needs a number "score"'),
        (
            [{**GOOD, "scores": [0.5, 0.6, 0.1, 0.1]}],
            {},
            r'"scores" must be probabilities summing to 1',
        ),
        ([{**GOOD, "scores": [0.5, 0.5]}], {}, r'"scores" must hold 4 \(background first\) or 3'),
        (
            [{**GOOD, "scores": [0.3, 0.3, 0.2, 0.2]}],
            {},
            r'"score" 0\.5 differs from "scores"\[category\] 0\.3',
        ),
        ([{**GOOD, "frame": None}], {}, r'needs both "video_id" and an integer "frame"'),
        (
            [{"category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}],
            {},
            r'needs "video_id" and "frame", or "image_id"',
        ),
        (
            [{**{k: v for k, v in GOOD.items() if k not in ("video_id", "frame")}, "image_id": 3}],
            {},
            r"no image table",
        ),
        (["x"], {}, r"detection 0: expected an object"),
    ],
)
def test_bad_coco(tmp_path: Path, entries, kwargs, message):
    with pytest.raises(DetectionsFileError, match=message):
        _coco(tmp_path, entries, **kwargs)


def test_bad_image_table_and_missing_files(tmp_path: Path):
    entry = {k: v for k, v in GOOD.items() if k not in ("video_id", "frame")}
    table = tmp_path / "images.json"
    table.write_text(json.dumps({"images": [{"id": 1, "video_id": "v", "frame": 0}]}))
    with pytest.raises(
        DetectionsFileError, match=r"detection 0: image_id 3 is not in the image table"
    ):
        _coco(tmp_path, [{**entry, "image_id": 3}], images=table)
    table.write_text(json.dumps({"images": [{"id": 1, "video_id": "v"}]}))
    with pytest.raises(DetectionsFileError, match=r"images\.json: images\[0\] needs"):
        _coco(tmp_path, [entry], images=table)
    with pytest.raises(DetectionsFileError, match=r"missing\.json: cannot read COCO results"):
        read_coco_results(tmp_path / "missing.json", class_names=CLASSES)
    with pytest.raises(DetectionsFileError, match=r"det\.txt: cannot read MOT detections"):
        read_mot_detections({"v": tmp_path / "det.txt"}, class_names=CLASSES)


@pytest.mark.parametrize(
    "row, message",
    [
        ("1,-1,10,10,5,5", r"det\.txt:2: expected 'frame, id, x, y, w, h, conf, \.\.\.'"),
        ("one,-1,10,10,5,5,0.5", r"det\.txt:2: expected"),
        ("1,-1,10,ten,5,5,0.5", r"det\.txt:2: box must be 4 numbers"),
        ("1,-1,10,10,5,5,2.5", r"det\.txt:2: score 2\.5 is not a probability"),
        ("0,-1,10,10,5,5,0.5", r"det\.txt:2: frame -1 is negative"),
        ("7,-1,10,10,5,5,0.5", r"det\.txt:2: frame 6 of 'v', which has 6 frames"),
    ],
)
def test_bad_mot(tmp_path: Path, row, message):
    path = tmp_path / "det.txt"
    path.write_text(f"1,-1,1,2,3,4,0.9,-1,-1,-1\n{row}\n")
    with pytest.raises(DetectionsFileError, match=message):
        read_mot_detections({"v": path}, class_names=CLASSES, frame_counts={"v": 6})


def test_asking_for_unknown_videos_or_frames(tmp_path: Path):
    path = write_coco_results(tmp_path / "d.json", {"a": _video(5)})
    no_counts = read_coco_results(path, class_names=CLASSES)
    with pytest.raises(DetectionsFileError, match=r"d\.json: no detections of video 'z'"):
        no_counts.detect_video("z", [0])
    counted = read_coco_results(path, class_names=CLASSES, frame_counts={"a": 6, "quiet": 3})
    assert [len(d["scores"]) for d in counted.detect_video("quiet", [0, 1, 2])] == [0, 0, 0]
    with pytest.raises(DetectionsFileError, match=r"frame 6 of 'a' is outside 0\.\.5"):
        counted.detect_video("a", [5, 6])
    with pytest.raises(DetectionsFileError, match="label 3 is not a class"):
        read_mot_detections({}, class_names=CLASSES, label=3)
