"""vidal.data.draw: boxes with colours and labels on a frame, tiles in a grid."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.data.draw import draw_boxes, tile_sheet
from vidal.errors import ConfigError


def test_draw_boxes_draws_each_box_in_its_colour_on_a_copy():
    frame = np.full((60, 80, 3), 50, np.uint8)
    boxes = np.array([[10, 10, 40, 30], [45, 35, 75, 55]], np.float32)
    out = draw_boxes(frame, boxes, colors=[(255, 0, 0), (0, 0, 255)])  # 2 px, antialiased
    assert frame.max() == 50  # the input is left alone
    assert out[30, 25].tolist() == [255, 0, 0]  # bottom edge of the first box
    assert out[45, 75].tolist() == [0, 0, 255]  # right edge of the second
    assert out[20, 25].tolist() == [50, 50, 50]  # inside: not filled
    assert out[5, 5].tolist() == [50, 50, 50]  # outside: untouched


def test_draw_boxes_puts_each_label_on_a_tab_in_the_box_colour():
    frame = np.zeros((60, 80, 3), np.uint8)
    box = np.array([[20, 30, 60, 50]], np.float32)
    plain = draw_boxes(frame, box, colors=[(0, 255, 0)])
    labelled = draw_boxes(frame, box, colors=[(0, 255, 0)], texts=["FP 0.42"])
    tab = labelled[16:28, 21:57]  # the tab sits above the box's top edge, at its left
    assert not plain[:28].any() and (tab == [0, 255, 0]).all(-1).mean() > 0.5
    assert (tab[..., 1] < 100).sum() > 20  # dark text on it
    assert (labelled[16:28, 60:] == 0).all()  # no wider than the text
    top = draw_boxes(frame, np.array([[5, 0, 40, 20]]), colors=[(9, 9, 9)], texts=["FN"])
    assert (top[1:20] == [9, 9, 9]).all(-1).sum() > 30  # no room above: the tab goes inside


def test_draw_boxes_refuses_mismatched_arguments():
    frame = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ConfigError, match="2 boxes, 1 colors"):
        draw_boxes(frame, np.zeros((2, 4)), colors=[(1, 2, 3)])
    with pytest.raises(ConfigError, match=r"ndarray\[H, W, 3\]"):
        draw_boxes(frame[..., 0], np.zeros((0, 4)), colors=[])
    assert (draw_boxes(frame, np.zeros((0, 4)), colors=[]) == frame).all()


def test_tile_sheet_places_tiles_row_by_row_with_titles():
    tiles = [np.full((10, 20, 3), 60 * (k + 1), np.uint8) for k in range(3)]
    sheet = tile_sheet(tiles, columns=2)
    assert sheet.shape == (22, 42, 3)  # 2 rows, 2 columns, 2 px apart
    assert sheet[0, 0].tolist() == [60] * 3 and sheet[0, 22].tolist() == [120] * 3
    assert sheet[12, 0].tolist() == [180] * 3 and sheet[12, 22].tolist() == [32] * 3  # empty
    assert sheet[10, 5].tolist() == [32] * 3  # the gap
    assert tile_sheet(tiles, columns=9).shape == (10, 64, 3)  # never more columns than tiles
    titled = tile_sheet([np.full((40, 200, 3), 200, np.uint8)], titles=["t=3"])
    assert (titled[:12, :40] < 100).any() and titled[35, 150].tolist() == [200] * 3


def test_tile_sheet_refuses_mixed_sizes_and_wrong_title_count():
    with pytest.raises(ConfigError, match="one shape"):
        tile_sheet([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)])
    with pytest.raises(ConfigError, match="one shape"):
        tile_sheet([])
    with pytest.raises(ConfigError, match="2 titles for 1 tiles"):
        tile_sheet([np.zeros((4, 4, 3), np.uint8)], titles=["a", "b"])


def test_draw_boxes_on_a_real_davis_frame_marks_the_mask_box(shared_data):
    import cv2

    name = "davis2016/{}/480p/car-shadow/00000.{}"
    frame = cv2.imread(str(shared_data / name.format("JPEGImages", "jpg")))
    mask = cv2.imread(str(shared_data / name.format("Annotations", "png")), 0)
    if frame is None or mask is None:
        pytest.skip(f"DAVIS car-shadow frame 0 not found under {shared_data}")
    ys, xs = np.nonzero(mask)
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    out = draw_boxes(rgb, box, colors=[(255, 0, 255)], texts=["car"])
    x1, y1, x2, y2 = box[0].astype(int)
    assert out.shape == (480, 854, 3)
    assert out[(y1 + y2) // 2, x1].tolist() == [255, 0, 255]  # left edge at the mask's edge
    changed = (out != rgb).any(-1)
    assert not changed[y2 + 3 :].any() and changed[y2 - 1 : y2 + 2].any()  # its bottom edge
    assert tile_sheet([out, rgb], columns=2).shape == (480, 854 * 2 + 2, 3)
