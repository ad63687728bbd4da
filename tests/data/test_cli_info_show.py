"""`vidal info` and `vidal show`, and the drawing they use."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidal.cli import main
from vidal.data import Tube, VideoAnnotation, VideoDataset, write_vidal
from vidal.data.draw import contact_sheet, draw_frame, track_color


@pytest.fixture
def vidal_dataset(tmp_path, tiny_video):
    """annotations.json with two videos on the same 12-frame file; v_bad claims 20 frames."""
    ds = VideoDataset(
        ["square", "ghost"],
        [
            VideoAnnotation(
                "v_ok",
                12,
                64,
                48,
                label=0,
                tubes=[Tube(0, 0, 2, [[8, 16, 20, 28]] * 4)],
                path=tiny_video.name,
            ),
            VideoAnnotation("v_bad", 20, 64, 48, tubes=[], path=tiny_video.name),
            VideoAnnotation(
                "v_gone", 5, 64, 48, tubes=[Tube(1, 1, 0, [[1, 1, 3, 3]])], path="gone.mp4"
            ),
        ],
    )
    return write_vidal(ds, tmp_path / "annotations.json")


def test_info_json(vidal_dataset, capsys):
    assert main(["info", "--format", "vidal", "--annotations", str(vidal_dataset), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["videos"], out["frames"], out["classes"], out["tubes"], out["boxes"]) == (
        3,
        37,
        2,
        2,
        5,
    )
    assert out["class_histogram"] == {"square": 1, "ghost": 1}


def test_info_check_reports_mismatch_and_missing(vidal_dataset, capsys):
    rc = main(
        ["info", "--format", "vidal", "--annotations", str(vidal_dataset), "--check", "--json"]
    )
    check = json.loads(capsys.readouterr().out)["check"]
    assert rc == 1
    assert (check["checked"], check["ok"], check["missing"]) == (2, 1, 1)
    assert check["frame_count_mismatch"] == [{"video": "v_bad", "annotated": 20, "decoded": 12}]
    rc = main(["info", "--format", "vidal", "--annotations", str(vidal_dataset), "--check"])
    text = capsys.readouterr().out
    assert rc == 1 and "frame count mismatch: v_bad: annotated 20, decoded 12" in text


def test_info_check_missing_fails_only_when_asked(tmp_path, tiny_video, capsys):
    ds = VideoDataset(
        [],
        [
            VideoAnnotation("here", 12, 64, 48, path=str(tiny_video)),
            VideoAnnotation("gone", 3, 8, 8, path="gone.mp4"),
        ],
    )
    path = write_vidal(ds, tmp_path / "b.json")
    args = ["info", "--format", "vidal", "--annotations", str(path), "--check"]
    assert main(args) == 0
    assert "1 have no file (not checked)" in capsys.readouterr().out
    assert main([*args, "--require-all"]) == 1


def test_info_check_undecodable(tmp_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    ds = VideoDataset([], [VideoAnnotation("b", 3, 8, 8, path="broken.mp4")])
    path = write_vidal(ds, tmp_path / "a.json")
    assert main(["info", "--format", "vidal", "--annotations", str(path), "--check"]) == 1
    text = capsys.readouterr().out
    assert "undecodable: b:" in text and "broken.mp4" in text


def test_info_unknown_format_is_an_argparse_error(vidal_dataset):
    with pytest.raises(SystemExit):
        main(["info", "--format", "nope", "--annotations", str(vidal_dataset)])


def test_draw_frame_puts_box_where_annotated():
    v = VideoAnnotation("v", 2, 32, 24, tubes=[Tube(5, 0, 0, [[4, 4, 20, 16]] * 2)])
    frame = np.zeros((48, 64, 3), np.uint8)  # twice the annotated size: boxes scale by 2
    out = draw_frame(frame, v, 1, class_names=["thing"], thickness=1)
    assert out.shape == frame.shape and not out.any(axis=2)[0:4, :].all()
    assert tuple(out[20, 8]) == track_color(5)  # left edge at x = 4 * 2, inside y 8..32
    assert tuple(out[40, 8]) == (0, 0, 0)  # below the box: untouched
    assert not frame.any()  # the input frame is not modified


def test_contact_sheet_and_show(vidal_dataset, tmp_path, capsys):
    from vidal.data import read_vidal

    ds = read_vidal(vidal_dataset)
    sheet = contact_sheet(ds, "v_ok", num_frames=4, columns=2)
    assert sheet.shape == (2 * 48 + 2, 2 * 64 + 2, 3)
    out = tmp_path / "sheet.png"

    def show(video: str) -> int:
        annotations = ["--format", "vidal", "--annotations", str(vidal_dataset)]
        return main(["show", *annotations, "--video", video, "--out", str(out)])

    rc = show("v_ok")
    assert rc == 0 and out.is_file()
    import cv2

    assert cv2.imread(str(out)).shape[2] == 3
    rc = show("v_nope")
    assert rc == 1 and "no video 'v_nope'" in capsys.readouterr().err


@pytest.fixture
def pyannot(shared_data):
    path = shared_data / "ucf101-24" / "pyannot.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_info_real_pyannot(pyannot, capsys):
    assert main(["info", "--format", "ucf101-24", "--annotations", str(pyannot), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["videos"], out["classes"], out["tubes"]) == (3194, 24, 4458)
    split = ["--split", "test", "--split-file", str(pyannot.parent / "testlist01.txt")]
    assert (
        main(["info", "--format", "ucf101-24", "--annotations", str(pyannot), *split, "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["videos"] == 910


@pytest.mark.slow
def test_info_check_real_videos(pyannot, capsys):
    videos = pyannot.parent / "videos"
    args = [
        "info",
        "--format",
        "ucf101-24",
        "--annotations",
        str(pyannot),
        "--videos",
        str(videos),
        "--check",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["videos_present"] == 9 and out["videos"] == 3194
    check = out["check"]
    assert (check["checked"], check["ok"], check["missing"]) == (9, 9, 3185)
    assert (
        not check["frame_count_mismatch"]
        and not check["undecodable"]
        and not check["size_mismatch"]
    )
    assert main([*args[:-2], "--only-present", "--json"]) == 0  # no --check: nothing decoded
    assert json.loads(capsys.readouterr().out)["videos"] == 9


@pytest.mark.slow
def test_show_real_video(pyannot, tmp_path):
    out = tmp_path / "fencing.png"
    args = [
        "show",
        "--format",
        "ucf101-24",
        "--annotations",
        str(pyannot),
        "--videos",
        str(pyannot.parent / "videos"),
    ]
    assert (
        main(
            [*args, "--video", "Fencing/v_Fencing_g01_c06", "--out", str(out), "--num-frames", "4"]
        )
        == 0
    )
    assert out.stat().st_size > 10_000
