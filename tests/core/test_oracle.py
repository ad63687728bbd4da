import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import AnnotationError
from vidal.oracle import SimulatedOracle, export_tasks, import_cvat, task_image_name
from vidal.pool import LabelPool
from vidal.select.base import Selection


def _ds():
    tube = Tube(0, 1, 0, np.tile(np.array([[2, 2, 8, 8]], np.float32), (10, 1)))
    return VideoDataset(
        ["run", "jump"], [VideoAnnotation("cls/v 1", 10, 16, 12, fps=5.0, label=1, tubes=[tube])]
    )


def test_simulated_oracle_marks_frames_and_videos():
    ds = _ds()
    pool = LabelPool.from_dataset(ds)
    cost = SimulatedOracle(ds).label(
        Selection(frames={"cls/v 1": np.array([1, 3])}, videos=["cls/v 1"]), pool
    )
    assert cost == 2 * 2 + 1 and pool.labeled_frames("cls/v 1").tolist() == [1, 3]
    assert pool.labeled_videos == {"cls/v 1": 1}


def test_export_then_import_round_trip(tmp_path):
    ds = _ds()
    sel = Selection(frames={"cls/v 1": np.array([2, 7])})
    frames = lambda vid, idx: np.zeros((len(idx), 12, 16, 3), np.uint8)  # noqa: E731
    tasks_path = export_tasks(sel, ds, tmp_path, read_frames=frames)
    tasks = json.loads(tasks_path.read_text())
    assert [(t["frame"], t["timestamp"]) for t in tasks] == [(2, 0.4), (7, 1.4)]
    assert (tmp_path / "images" / task_image_name("cls/v 1", 7)).exists()
    # a person draws one box on frame 2 and nothing on frame 7, then exports from CVAT
    root = ET.parse(tmp_path / "cvat_tasks.xml").getroot()
    assert [lab.findtext("name") for lab in root.iter("label")] == ["run", "jump"]
    images = list(root.iter("image"))
    ET.SubElement(images[0], "box", label="run", xtl="1", ytl="2", xbr="5", ybr="6", occluded="0")
    ET.ElementTree(root).write(tmp_path / "done.xml")
    human = VideoDataset(["run", "jump"], [VideoAnnotation("cls/v 1", 10, 16, 12)])
    pool = LabelPool.from_dataset(human)
    assert import_cvat(tmp_path / "done.xml", tasks_path, human, pool) == 2
    assert pool.labeled_frames("cls/v 1").tolist() == [2, 7]
    assert human["cls/v 1"].frame(2).boxes.tolist() == [[1, 2, 5, 6]]
    assert human["cls/v 1"].frame(7).boxes.shape == (0, 4)
    ET.SubElement(images[1], "box", label="swim", xtl="1", ytl="2", xbr="5", ybr="6")
    ET.ElementTree(root).write(tmp_path / "bad.xml")
    with pytest.raises(AnnotationError, match="unknown label 'swim'"):
        import_cvat(tmp_path / "bad.xml", tasks_path, human, pool)


def test_video_labels_round_trip(tmp_path):
    from vidal.oracle import import_video_labels
    from vidal.pool import CostModel

    ds = VideoDataset(
        ["run", "jump"],
        [VideoAnnotation(v, 10, 16, 12, fps=5.0) for v in ("a", "b", "c")],
    )
    sel = Selection(frames={"a": np.array([1])}, videos=["b", "c"])
    export_tasks(sel, ds, tmp_path)
    lines = (tmp_path / "video_labels.csv").read_text().splitlines()
    assert lines == ["video,label", "b,", "c,"]
    # the person names the class of b and leaves c for later
    (tmp_path / "done.csv").write_text("video,label\nb,jump\nc,\n")
    pool = LabelPool.from_dataset(ds, cost_model=CostModel(video_label_cost=3.0))
    assert import_video_labels(tmp_path / "done.csv", ds, pool) == 1
    assert ds["b"].label == 1 and ds["c"].label is None
    assert pool.labeled_videos == {"b": 1} and pool.spent == 3.0
    (tmp_path / "fix.csv").write_text("video,label\nb,run\n")  # a correction costs nothing more
    assert import_video_labels(tmp_path / "fix.csv", ds, pool) == 1
    assert ds["b"].label == 0 and pool.labeled_videos == {"b": 0} and pool.spent == 3.0
    (tmp_path / "bad.csv").write_text("video,label\nb,jump\nc,swim\n")
    with pytest.raises(AnnotationError, match="line 3: unknown class 'swim'"):
        import_video_labels(tmp_path / "bad.csv", ds, pool)
    assert ds["b"].label == 0  # nothing imported from a file with a bad row
    (tmp_path / "who.csv").write_text("video,label\nz,run\n")
    with pytest.raises(AnnotationError, match="unknown video 'z'"):
        import_video_labels(tmp_path / "who.csv", ds, pool)
    (tmp_path / "cols.csv").write_text("clip,class\nb,run\n")
    with pytest.raises(AnnotationError, match="columns"):
        import_video_labels(tmp_path / "cols.csv", ds, pool)
    with pytest.raises(AnnotationError, match="missing.csv"):
        import_video_labels(tmp_path / "missing.csv", ds, pool)
