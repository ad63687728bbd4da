"""Box propagation by chained flow: exact fields, clipping, and real ImageNet-VID jets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracking import Flows, TrackingError, compute_flows, propagate_boxes, propagate_detections
from tracking._boxes import box_iou

VIDEO = "imagenet-vid/ILSVRC2015_val_00007010"  # under shared/data: 144 frames, 1280x720


def constant_flows(num_frames, height, width, shift, *, grid=None):
    grid = grid or (height, width)
    fwd = np.zeros((num_frames - 1, *grid, 2), np.float32)
    fwd[...] = shift
    return Flows(forward=fwd, backward=-fwd, frame_size=(height, width))


def test_constant_flow_moves_boxes_k_steps_and_back():
    flows = constant_flows(6, 60, 80, (2.0, 1.0))
    boxes = np.array([[10, 10, 20, 30], [40, 5, 50, 15]], np.float32)
    moved = propagate_boxes(boxes, flows, start=1, stop=4)
    np.testing.assert_allclose(moved, boxes + [6, 3, 6, 3], atol=1e-5)
    np.testing.assert_allclose(propagate_boxes(moved, flows, start=4, stop=1), boxes, atol=1e-5)
    np.testing.assert_allclose(propagate_boxes(boxes, flows, start=2, stop=2), boxes)


def test_coarse_grid_is_sampled_in_frame_coordinates():
    fine = constant_flows(3, 60, 80, (2.0, -1.0))
    coarse = constant_flows(3, 60, 80, (2.0, -1.0), grid=(15, 20))
    boxes = np.array([[10, 20, 30, 40]], np.float32)
    np.testing.assert_allclose(
        propagate_boxes(boxes, coarse, start=0, stop=2),
        propagate_boxes(boxes, fine, start=0, stop=2),
        atol=1e-5,
    )


def test_chaining_reads_the_flow_where_the_box_has_moved_to():
    fwd = np.zeros((2, 40, 100, 2), np.float32)
    fwd[:, :, :50, 0] = 5.0  # left half moves 5 px right, right half 1 px
    fwd[:, :, 50:, 0] = 1.0
    flows = Flows(forward=fwd, backward=-fwd, frame_size=(40, 100))
    box = np.array([[43, 10, 51, 20]], np.float32)  # centre x = 47
    moved = propagate_boxes(box, flows, start=0, stop=2)
    np.testing.assert_allclose(moved[0, [0, 2]], [43 + 5 + 1, 51 + 5 + 1], atol=1e-5)


def test_median_mode_follows_the_object_when_the_centre_is_background():
    fwd = np.zeros((1, 60, 60, 2), np.float32)
    fwd[0, 10:50, 10:50] = (4.0, 0.0)  # a ring-shaped object...
    fwd[0, 25:35, 25:35] = 0.0  # ...with a static hole at its centre
    flows = Flows(forward=fwd, backward=-fwd, frame_size=(60, 60))
    box = np.array([[10, 10, 50, 50]], np.float32)
    centre = propagate_boxes(box, flows, start=0, stop=1, mode="center")
    median = propagate_boxes(box, flows, start=0, stop=1, mode="median")
    np.testing.assert_allclose(centre, box, atol=1e-5)
    np.testing.assert_allclose(median, box + [4, 0, 4, 0], atol=1e-5)


def test_boxes_leaving_the_frame_are_clipped_with_their_visible_fraction():
    flows = constant_flows(4, 50, 50, (10.0, 0.0))
    boxes = [np.array([[30, 10, 50, 30]], np.float32), np.zeros((0, 4)), np.zeros((0, 4)), []]
    prop = propagate_detections(boxes, flows, window=3)
    assert prop.frame.tolist() == [1, 2, 3] and prop.source.tolist() == [0, 0, 0]
    assert (prop.boxes >= 0).all() and (prop.boxes[:, [0, 2]] <= 50).all()
    np.testing.assert_allclose(prop.visible, [0.5, 0.0, 0.0])
    outside = propagate_boxes(np.array([[-40, -40, -20, -20]], np.float32), flows, start=0, stop=1)
    np.testing.assert_allclose(outside, [[0, 0, 0, 0]])


def test_propagation_window_stops_at_the_ends_of_the_video():
    flows = constant_flows(5, 40, 40, (0.0, 0.0))
    box = np.array([[5, 5, 15, 15]], np.float32)
    per_frame = [box, np.zeros((0, 4)), box, np.zeros((0, 4)), box]
    prop = propagate_detections(per_frame, flows, window=3)
    pairs = sorted(zip(prop.source.tolist(), prop.frame.tolist(), strict=True))
    assert pairs == [(0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3)]
    assert len(propagate_detections(per_frame, flows, window=0)) == 0
    for mode in ("center", "median"):
        assert len(propagate_detections(per_frame, flows, window=1, mode=mode)) == 4


def test_propagation_rejects_bad_input():
    flows = constant_flows(3, 20, 20, (0.0, 0.0))
    with pytest.raises(TrackingError, match=r"\[N, 4\]"):
        propagate_boxes(np.zeros((2, 3)), flows, start=0, stop=1)
    with pytest.raises(TrackingError, match="outside the video"):
        propagate_boxes(np.zeros((1, 4)), flows, start=0, stop=3)
    with pytest.raises(TrackingError, match="known: center, median"):
        propagate_boxes(np.zeros((1, 4)), flows, start=0, stop=1, mode="mean")
    with pytest.raises(TrackingError, match="flows cover 3 frames"):
        propagate_detections([np.zeros((0, 4))] * 4, flows)
    with pytest.raises(TrackingError, match="NaN"):
        propagate_boxes(np.array([[0, 0, np.nan, 1]]), flows, start=0, stop=1)


# --- real video ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jets_video(shared_data):
    folder = shared_data / VIDEO
    if not folder.is_dir():
        pytest.skip(f"ImageNet-VID sample not found at {folder}")
    return folder


def load_vid(folder, indices, size=(640, 360)):
    """ImageNet-VID frames read with cv2.imread, downscaled 2x to 640x360 for speed, RGB."""
    frames = [cv2.imread(str(folder / f"{t:06d}.JPEG")) for t in indices]
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA)[..., ::-1] for f in frames])


def find_jets(frame):
    """Boxes of the jets: the aircraft are the only dark blobs in a bright sky. Threshold the
    grey image, drop the black pillarbox columns, keep connected blobs of plane size."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    dark = (gray < 90).astype(np.uint8)
    dark[:, gray.mean(axis=0) < 40] = 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(dark)
    x, y, w, h, area = stats[1:].T
    keep = (area >= 40) & (w >= 8) & (h >= 8) & (w < 200)
    return np.stack([x, y, x + w, y + h], 1)[keep].astype(np.float32)


@pytest.mark.parametrize("start", [0, 40, 70])
def test_jets_tracked_three_frames_forward_and_back_return_home(jets_video, start):
    frames = load_vid(jets_video, range(start, start + 4))
    jets = find_jets(frames[0])
    assert len(jets) >= 5  # the formation
    flows = compute_flows(frames, method="dis")
    for mode in ("center", "median"):
        ahead = propagate_boxes(jets, flows, start=0, stop=3, mode=mode)
        home = propagate_boxes(ahead, flows, start=3, stop=0, mode=mode)
        assert np.abs(home - jets).max() < 3.0, mode  # pixels at 640x360
        # and the forward boxes really follow the jets: they match the jets found in frame 3
        # better than boxes left where they were (the camera pans, the jets move 5-25 px)
        found = find_jets(frames[3])
        tracked = box_iou(ahead, found).max(axis=1)
        still = box_iou(jets, found).max(axis=1)
        assert tracked.min() > 0.7 and tracked.mean() > still.mean() + 0.1, (tracked, still)
