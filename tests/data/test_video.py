"""Video decoding: decord files, frame folders, raw streams, and files nothing can decode."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.data import open_video, probe_video, read_frames
from vidal.errors import ConfigError, DecodeError

UCF_VIDEOS = {  # file -> frames, as in pyannot.pkl's numf
    "v_Basketball_g01_c02.mp4": 180,
    "v_Basketball_g07_c04.mp4": 101,
    "v_Biking_g01_c01.mp4": 151,
    "v_CliffDiving_g03_c01.mp4": 92,
    "v_Fencing_g01_c06.mp4": 174,
    "v_HorseRiding_g01_c03.mp4": 98,
    "v_IceDancing_g02_c05.mp4": 244,
    "v_SalsaSpin_g03_c01.mp4": 168,
    "v_SkateBoarding_g02_c01.mp4": 369,
}


def square_x(frame: np.ndarray) -> float:
    """Mean column of the bright square in an RGB frame."""
    cols = np.flatnonzero((frame[..., 0] > 128).any(axis=0))
    return float(cols.mean())


def test_decord_file_frames_and_order(tiny_video, tiny_frames):
    with open_video(tiny_video) as video:
        assert video.backend == "decord"
        assert (
            len(video) == 12
            and (video.width, video.height) == (64, 48)
            and video.fps == pytest.approx(25.0)
        )
        batch = video.get_batch([5, 0, 11, 5])
        assert batch.shape == (4, 48, 64, 3) and batch.dtype == np.uint8
        # the square moves 2 px per frame: the decoded frames come back in the order asked
        assert [square_x(f) for f in batch] == pytest.approx(
            [square_x(tiny_frames[t]) for t in (5, 0, 11, 5)], abs=1
        )
        assert np.abs(video[-1].astype(int) - tiny_frames[11]).mean() < 8
        assert len(list(video)) == 12
        assert video[2:5].shape == (3, 48, 64, 3)
        with pytest.raises(IndexError):
            video.get_batch([12])


def test_resize_is_height_width(tiny_video, tiny_frame_folder):
    for path in (tiny_video, tiny_frame_folder):
        with open_video(path, size=(24, 40)) as video:
            assert (video.height, video.width) == (24, 40)
            assert video.get_batch([0, 3]).shape == (2, 24, 40, 3)


def test_frame_folder_natural_order(tiny_frame_folder, tiny_frames):
    video = open_video(tiny_frame_folder, fps=10)
    assert video.backend == "frames" and len(video) == 12 and video.fps == 10
    # frame_10.png sorts after frame_9.png, not after frame_1.png
    np.testing.assert_array_equal(video.get_batch(range(12)), tiny_frames)
    assert probe_video(tiny_frame_folder).num_frames == 12


def test_stream_backends_agree(tiny_video, tiny_frames):
    for backend in ("pyav", "opencv"):
        video = open_video(tiny_video, backend=backend)
        assert video.backend == backend and len(video) == 12
        assert square_x(video[7]) == pytest.approx(square_x(tiny_frames[7]), abs=1)


def test_uncached_stream_decodes_on_demand(tiny_video, tiny_frames):
    video = open_video(tiny_video, backend="pyav", cache_bytes=1)  # too small to keep anything
    assert len(video) == 12
    batch = video.get_batch([9, 2])
    assert [square_x(f) for f in batch] == pytest.approx(
        [square_x(tiny_frames[9]), square_x(tiny_frames[2])], abs=1
    )


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty\.mp4.*empty file"):
        open_video(empty)


def test_not_a_video(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are not frames\n" * 50)
    with pytest.raises(DecodeError, match=r"notes\.mp4"):
        open_video(text)


def test_truncated_video(tiny_video, tmp_path):
    """OpenCV writes the MP4 index (moov) last: any cut inside the frames loses it."""
    data = tiny_video.read_bytes()
    for cut in (100, len(data) // 2):
        cut_file = tmp_path / f"cut_{cut}.mp4"
        cut_file.write_bytes(data[:cut])
        with pytest.raises(DecodeError, match=f"cut_{cut}"):
            open_video(cut_file)


def test_truncated_faststart_video(tmp_path, tiny_frames):
    """An MP4 whose index comes first still says how many frames it should have."""
    av = pytest.importorskip("av")
    path = tmp_path / "faststart.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in np.concatenate([tiny_frames] * 4):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    assert len(open_video(path)) == 48
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) - 60])
    with pytest.raises(DecodeError, match=r"cut\.mp4.*(truncated|decord)"):
        open_video(tmp_path / "cut.mp4")


def test_missing_and_special_paths(tmp_path):
    with pytest.raises(DecodeError, match="no such file"):
        open_video(tmp_path / "nope.mp4")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DecodeError, match="no JPEG/PNG frames"):
        open_video(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="size"):
        open_video(tmp_path / "nope.mp4", size=(0, 10))


def test_corrupt_frame_in_folder(tiny_frame_folder):
    (tiny_frame_folder / "frame_3.png").write_bytes(b"\x89PNG broken")
    video = open_video(tiny_frame_folder)
    assert len(video[0:3]) == 3
    with pytest.raises(DecodeError, match=r"frame_3\.png"):
        video.get_batch([2, 3])


def test_read_frames_dataset(tiny_video, tiny_frame_folder):
    ds = read_frames(tiny_video.parent)
    assert sorted(ds.video_ids) == ["frames", "tiny"]
    assert all(v.num_frames == 12 and (v.width, v.height) == (64, 48) for v in ds)
    assert ds.num_tubes == 0
    assert len(open_video(ds.video_path("frames"))) == 12


def test_real_ucf_streams_exact_frame_counts(shared_data):
    """The UCF-101-24 files are raw MPEG-4 streams decord refuses; counts must match numf."""
    folder = shared_data / "ucf101-24" / "videos"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    for name, frames in UCF_VIDEOS.items():
        with open_video(folder / name) as video:
            assert video.backend == "pyav", name
            assert len(video) == frames, name
            assert (video.width, video.height) == (340, 256)
            assert video.fps == pytest.approx(25.0)
            assert video.get_batch([0, frames - 1]).shape == (2, 256, 340, 3)


def test_real_imagenet_vid_frame_folder(shared_data):
    folder = shared_data / "imagenet-vid" / "ILSVRC2015_val_00007010"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    video = open_video(folder)
    assert len(video) == 144 and (video.width, video.height) == (1280, 720)
    batch = video.get_batch([0, 143])
    assert batch.shape == (2, 720, 1280, 3)
    assert not np.array_equal(batch[0], batch[1])


def test_one_rule_selects_the_backends(tiny_video, tiny_frame_folder):
    from vidal.data.video import READERS, VideoInfo, select_backends

    mp4 = VideoInfo(width=64, height=48, fps=25.0, num_frames=12, container="mov,mp4,m4a")
    raw = VideoInfo(width=340, height=256, fps=25.0, num_frames=None, container="m4v")
    webm = VideoInfo(width=64, height=48, fps=25.0, num_frames=None, container="matroska,webm")
    assert select_backends(tiny_frame_folder, None, "decord") == ("frames",)
    assert select_backends(tiny_video, mp4, None) == ("decord", "pyav", "opencv")
    assert select_backends(tiny_video, raw, None) == ("pyav", "opencv")
    assert select_backends(tiny_video, webm, None) == ("pyav", "opencv")
    assert select_backends(tiny_video, mp4, "pyav") == ("pyav", "opencv")
    assert select_backends(tiny_video, None, "opencv") == ("opencv",)
    assert all(READERS[name].backend == name for name in READERS)
    with pytest.raises(ConfigError, match="known: decord, pyav, opencv"):
        open_video(tiny_video, backend="ffmpeg")


def test_a_forced_decord_reports_why_it_refuses(shared_data):
    """The UCF-101-24 raw streams: decord refuses them, and says so when forced."""
    folder = shared_data / "ucf101-24" / "videos"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    pytest.importorskip("decord")
    with pytest.raises(DecodeError, match=r"v_Biking_g01_c01\.mp4: decord"):
        open_video(folder / "v_Biking_g01_c01.mp4", backend="decord")
