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
    return VideoDataset(["run", "jump"], [VideoAnnotation("cls/v 1", 10, 16, 12, fps=5.0, label=1, tubes=[tube])])


def test_simulated_oracle_marks_frames_and_videos():
    ds = _ds()
    pool = LabelPool.from_dataset(ds)
    cost = SimulatedOracle(ds).label(Selection(frames={"cls/v 1": np.array([1, 3])}, videos=["cls/v 1"]), pool)
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
