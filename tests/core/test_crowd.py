"""Crowd labels (seed 000, Experiment 2): the pool, tiered allocation, the simulated crowd,
export to people and import of what they labeled."""

from __future__ import annotations

import csv
import doctest
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vidal.crowd
from vidal.crowd import (
    CrowdPool,
    CrowdTiers,
    SimulatedCrowd,
    allocate_labels,
    crowd_distributions,
    export_crowd_tasks,
    import_crowd_csv,
    import_crowd_cvat,
)
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.errors import AnnotationError, BudgetError, ConfigError, VidalError
from vidal.pool import LabelPool


def test_examples_run():
    result = doctest.testmod(vidal.crowd, extraglobs={"np": np}, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def test_pool_counts_votes_soft_labels_entropy_and_cost():
    crowd = CrowdPool(3, label_cost=0.5)
    assert crowd.add("v", [2, 2, 0], frame=4, annotators=["ann", "bob", None]) == 1.5
    assert crowd.add("v", [1]) == 0.5
    crowd.add("w", [0, 0])
    assert crowd.items == [("v", None), ("v", 4), ("w", None)]
    assert crowd.num_labels == 6 and crowd.spent == 3.0 and crowd.count("v", 4) == 3
    assert crowd.votes().tolist() == [[0, 1, 0], [1, 0, 2], [2, 0, 0]]
    np.testing.assert_allclose(crowd.soft_labels([("v", 4)]), [[1 / 3, 0, 2 / 3]])
    np.testing.assert_allclose(crowd.soft_labels([("v", 4)], prior=1.0), [[2 / 6, 1 / 6, 3 / 6]])
    h = crowd.entropy([("v", 4), ("w", None), ("x", None)])
    np.testing.assert_allclose(h, [-(np.log(1 / 3) / 3 + 2 / 3 * np.log(2 / 3)), 0.0, 0.0])
    with pytest.raises(VidalError, match=r"\('x', None\) has no crowd label"):
        crowd.soft_labels([("x", None)])
    assert list(crowd.video_soft_labels()) == ["v", "w"]
    with pytest.raises(VidalError, match="outside 0..2"):
        crowd.add("v", [3])
    with pytest.raises(VidalError, match="annotators"):
        crowd.add("v", [0, 1], annotators=["a"])
    with pytest.raises(ConfigError):
        CrowdPool(0)


def test_majority_breaks_ties_at_random():
    crowd = CrowdPool(3)
    crowd.add("tie", [0, 2])
    crowd.add("clear", [1, 1, 0])
    items = [("tie", None), ("clear", None), ("none", None)]
    seen = {tuple(crowd.majority(items, rng=np.random.default_rng(s)).tolist()) for s in range(30)}
    assert seen == {(0, 1, -1), (2, 1, -1)}


def test_save_and_load_round_trip(tmp_path):
    crowd = CrowdPool(4, label_cost=2.0)
    crowd.add("v/0", [3, 1], frame=0, annotators=["a", "b"])
    crowd.add("v/1", [0])
    path = crowd.save(tmp_path / "crowd.json")
    back = CrowdPool.load(path)
    assert back == crowd and back.spent == 6.0 and back.annotators[("v/0", 0)] == ["a", "b"]
    assert CrowdPool.load(back.save(tmp_path / "again.json")) == crowd
    (tmp_path / "bad.json").write_text(json.dumps({"format": "vidal-pool"}))
    with pytest.raises(AnnotationError, match="bad.json.*vidal-crowd"):
        CrowdPool.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text(json.dumps({"format": "vidal-crowd", "items": []}))
    with pytest.raises(AnnotationError, match="broken.json: cannot read crowd labels"):
        CrowdPool.load(tmp_path / "broken.json")


def test_label_pool_files_are_untouched_by_crowd_labels(tmp_path):
    """Crowd labels live in their own file: a label pool saved before still loads the same."""
    pool = LabelPool({"a": 4})
    pool.add_frames("a", [1])
    path = pool.save(tmp_path / "pool.json")
    before = path.read_bytes()
    CrowdPool(2).save(tmp_path / "crowd.json")
    assert LabelPool.load(path) == pool and path.read_bytes() == before


def test_paper_tiers_give_three_labels_per_item():
    tiers = CrowdTiers()
    for n in (20, 100, 1000):
        per = tiers.per_item(n)
        assert tiers.total(n) == 3 * n and len(per) == n
        assert _histogram(per) == {7: n // 10, 5: 3 * n // 20, 3: 2 * n // 5, 1: 7 * n // 20}


def _histogram(x: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(x, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


@pytest.mark.parametrize(
    "tiers, rest",
    [(((0.6, 3), (0.6, 2)), 1), (((0.0, 3),), 1), (((0.5, 0),), 1), (((0.5, 3),), 0)],
)
def test_bad_tiers(tiers, rest):
    with pytest.raises(ConfigError):
        CrowdTiers(tiers, rest=rest)


def test_allocation_ranks_by_entropy_and_must_match_the_budget():
    n = 20
    entropy = np.linspace(0, 1, n)
    got = allocate_labels(entropy, budget=60, rng=np.random.default_rng(0))
    assert got.sum() == 60 and got.min() == 1
    assert got[-2:].tolist() == [7, 7] and got[-5:-2].tolist() == [5, 5, 5]
    assert (np.diff(got) >= 0).all()  # more entropy, never fewer labels
    with pytest.raises(BudgetError, match=r"give 60 labels to 20 items.*the budget is 61"):
        allocate_labels(entropy, budget=61, rng=np.random.default_rng(0))
    with pytest.raises(VidalError, match="finite"):
        allocate_labels(np.array([0.0, np.nan]), rng=np.random.default_rng(0))
    # ties (no label yet: entropy 0 everywhere) go in random order
    flat = {tuple(allocate_labels(np.zeros(n), rng=np.random.default_rng(s))) for s in range(5)}
    assert len(flat) == 5


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 200),
    seed=st.integers(0, 1000),
    fractions=st.lists(st.floats(0.01, 0.3), min_size=0, max_size=3),
)
def test_property_allocation_sums_to_the_tiers_and_follows_the_scores(n, seed, fractions):
    tiers = CrowdTiers(tuple((f, 2 * (len(fractions) - i) + 1) for i, f in enumerate(fractions)))
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, n).astype(float)  # many ties
    got = allocate_labels(scores, tiers=tiers, budget=tiers.total(n), rng=rng)
    assert got.sum() == tiers.total(n) and (got >= 1).all() and tiers.sizes(n).sum() == n
    order = np.argsort(-scores, kind="stable")
    for hi, lo in zip(order[:-1], order[1:], strict=True):
        if scores[hi] > scores[lo]:
            assert got[hi] >= got[lo]


def test_simulated_crowd_draws_from_the_given_distribution():
    q = {("v", 0): np.array([0.6, 0.3, 0.1, 0.0]), ("w", None): np.array([0.25] * 4)}
    crowd = CrowdPool(4)
    oracle = SimulatedCrowd(q, seed=0)
    assert oracle.label({("v", 0): 20_000, ("w", None): 20_000}, crowd) == 40_000.0
    soft = crowd.soft_labels([("v", 0), ("w", None)])
    # 20,000 draws: the standard error of a share is at most 0.0035
    np.testing.assert_allclose(soft, np.stack(list(q.values())), atol=0.012)
    assert crowd.votes([("v", 0)])[0, 3] == 0  # a class of probability 0 never comes
    # the same seed gives the same labels; the stream goes on between calls
    again = CrowdPool(4)
    SimulatedCrowd(q, seed=0).label({("v", 0): 20_000, ("w", None): 20_000}, again)
    assert again == crowd
    more = CrowdPool(4)
    oracle.label({("v", 0): 50}, more)
    assert more.labels[("v", 0)] != crowd.labels[("v", 0)][:50]
    with pytest.raises(VidalError, match="no label distribution"):
        oracle.label({("x", 1): 1}, crowd)
    with pytest.raises(VidalError, match="summing to 1"):
        SimulatedCrowd({("v", 0): np.array([0.5, 0.6])}, seed=0)


def test_crowd_distributions_centre_on_the_class():
    classes = {("v", t): t % 3 for t in range(50)}
    dists = crowd_distributions(classes, 3, agreement=(0.5, 0.9), rng=np.random.default_rng(0))
    for item, q in dists.items():
        assert q.shape == (3,) and abs(q.sum() - 1) < 1e-12 and 0.5 <= q[classes[item]] <= 0.9
    fixed = crowd_distributions(classes, 3, agreement=0.7, rng=np.random.default_rng(0))
    assert all(q[classes[i]] == 0.7 for i, q in fixed.items())
    with pytest.raises(ConfigError):
        crowd_distributions(classes, 3, agreement=(0.9, 0.5), rng=np.random.default_rng(0))


def _dataset() -> VideoDataset:
    return VideoDataset(
        ["happy", "sad", "angry"],
        [VideoAnnotation("g/v0", 10, 16, 12), VideoAnnotation("g/v1", 6, 16, 12)],
    )


def test_a_round_of_entropy_allocation_with_the_simulated_crowd():
    """One label for every item, then more where the crowd disagrees; cost = labels."""
    items = [("g/v0", t) for t in range(10)] + [("g/v1", t) for t in range(6)] + [("g/v1", None)]
    agreement = {i: (0.98 if k % 2 else 0.4) for k, i in enumerate(items)}
    q = {i: np.array([a, (1 - a) / 2, (1 - a) / 2]) for i, a in agreement.items()}
    crowd, oracle = CrowdPool(3), SimulatedCrowd(q, seed=1)
    oracle.label({i: 3 for i in items}, crowd)
    tiers = CrowdTiers(((0.25, 7), (0.25, 3)))
    n = len(items)
    alloc = allocate_labels(
        crowd.entropy(items), tiers=tiers, budget=tiers.total(n), rng=np.random.default_rng(0)
    )
    spent = oracle.label(dict(zip(items, alloc.tolist(), strict=True)), crowd)
    assert spent == tiers.total(n) == crowd.spent - 3 * n
    asked_more = [i for i, a in zip(items, alloc, strict=True) if a > 1]
    contested = sum(agreement[i] < 0.5 for i in asked_more)
    assert contested >= 0.75 * len(asked_more)  # mostly the items the crowd disagrees on


def test_export_asks_for_each_label_and_import_reads_them_back(tmp_path):
    ds = _dataset()
    frames = np.zeros((10, 12, 16, 3), np.uint8)
    requests = {("g/v0", 2): 3, ("g/v0", 5): 1, ("g/v1", None): 2, ("g/v1", 0): 0}
    tasks = export_crowd_tasks(requests, ds, tmp_path, read_frames=lambda v, ts: frames[ts])
    listed = json.loads(tasks.read_text())
    assert [(t["video"], t["frame"], t["needed"]) for t in listed] == [
        ("g/v0", 2, 3),
        ("g/v0", 5, 1),
        ("g/v1", None, 2),
    ]
    rows = list(csv.DictReader(open(tmp_path / "crowd_labels.csv")))
    assert len(rows) == 6 and rows[-1]["frame"] == "" and rows[0]["label"] == ""
    passes = sorted(p.name for p in tmp_path.glob("cvat_crowd_pass*.xml"))
    assert passes == ["cvat_crowd_pass1.xml", "cvat_crowd_pass2.xml", "cvat_crowd_pass3.xml"]
    names = [
        [i.get("name") for i in ET.parse(tmp_path / p).getroot().iter("image")] for p in passes
    ]
    # pass k lists the frames that need at least k labels
    from vidal.oracle import task_image_name

    first, second = task_image_name("g/v0", 2), task_image_name("g/v0", 5)
    assert names == [[first, second], [first], [first]]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == names[0]

    # people fill the CSV (video-level labels here) and tag the frames in CVAT
    for row, (who, label) in zip(rows[4:], [("ann", "sad"), ("bob", "angry")], strict=True):
        row.update(annotator=who, label=label)
    with open(tmp_path / "crowd_labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["video", "frame", "annotator", "label"])
        writer.writeheader()
        writer.writerows(rows)
    crowd = CrowdPool(3)
    assert import_crowd_csv(tmp_path / "crowd_labels.csv", ds, crowd) == 2
    assert crowd.labels[("g/v1", None)] == [1, 2]
    assert crowd.annotators[("g/v1", None)] == ["ann", "bob"]
    for k, p in enumerate(passes):
        root = ET.parse(tmp_path / p).getroot()
        for image in root.iter("image"):
            ET.SubElement(image, "tag", label=["happy", "sad", "happy"][k], source="manual")
        ET.ElementTree(root).write(tmp_path / p)
    got = import_crowd_cvat([tmp_path / p for p in passes], tasks, ds, crowd)
    assert got == 4 and crowd.labels[("g/v0", 2)] == [0, 1, 0]
    assert crowd.annotators[("g/v0", 5)] == ["cvat_crowd_pass1"]
    assert crowd.spent == 6.0


def test_import_rejects_unknown_classes_videos_and_frames_and_imports_nothing(tmp_path):
    ds = _dataset()
    path = tmp_path / "labels.csv"
    for line, message in [
        ("g/v0,1,a,joy", "line 3: unknown class 'joy'"),
        ("g/v9,1,a,sad", "line 3: unknown video 'g/v9'"),
        ("g/v1,6,a,sad", r"line 3: frame '6' outside 0..5"),
    ]:
        path.write_text(f"video,frame,annotator,label\ng/v0,1,a,sad\n{line}\n")
        crowd = CrowdPool(3)
        with pytest.raises(AnnotationError, match=message):
            import_crowd_csv(path, ds, crowd)
        assert crowd.num_labels == 0
    path.write_text("video,label\ng/v0,sad\n")
    with pytest.raises(AnnotationError, match="needs the columns"):
        import_crowd_csv(path, ds, CrowdPool(3))
    tasks = export_crowd_tasks({("g/v0", 1): 1}, ds, tmp_path / "t")
    xml = tmp_path / "t" / "cvat_crowd_pass1.xml"
    root = ET.parse(xml).getroot()
    ET.SubElement(next(root.iter("image")), "tag", label="joy")
    ET.ElementTree(root).write(xml)
    crowd = CrowdPool(3)
    with pytest.raises(AnnotationError, match="unknown label 'joy'"):
        import_crowd_cvat([xml], tasks, ds, crowd)
    assert crowd.num_labels == 0
    with pytest.raises(VidalError, match="not in the dataset"):
        export_crowd_tasks({("nope", 1): 1}, ds, tmp_path / "u")
