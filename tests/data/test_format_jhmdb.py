"""J-HMDB-21: ACT ground truth plus puppet masks from .mat files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from vidal.data import (
    Tube,
    VideoAnnotation,
    VideoDataset,
    load_dataset,
    read_jhmdb,
    read_puppet_mask,
    write_ucf101v2_gt,
)
from vidal.errors import AnnotationError


@pytest.fixture
def jhmdb(tmp_path):
    """A two-video J-HMDB layout: GT pickle with 3 splits and one puppet mask per video."""
    videos = [
        VideoAnnotation("clap/v1", 4, 8, 6, label=0, tubes=[Tube(0, 0, 0, [[1, 1, 5, 4]] * 4)]),
        VideoAnnotation("wave/v2", 3, 8, 6, label=1, tubes=[Tube(0, 1, 1, [[2, 0, 6, 6]] * 2)]),
    ]
    ds = VideoDataset(["clap", "wave"], videos)
    gt = write_ucf101v2_gt(
        ds,
        tmp_path / "JHMDB-GT.pkl",
        train_ids=[["clap/v1"], ["wave/v2"], ["clap/v1"]],
        test_ids=[["wave/v2"], ["clap/v1"], ["wave/v2"]],
    )
    masks = {}
    for v in videos:
        part = np.zeros((v.height, v.width, v.num_frames), dtype=np.uint8)  # H x W x T as in J-HMDB
        for t in range(v.num_frames):
            part[1:4, t : t + 3, t] = 7  # nonzero part index on the actor, moving right
        folder = tmp_path / "puppet_mask" / v.video_id
        folder.mkdir(parents=True)
        scipy.io.savemat(folder / "puppet_mask.mat", {"part_mask": part})
        masks[v.video_id] = part
    return gt, tmp_path / "puppet_mask", masks


def test_read_puppet_mask(jhmdb):
    _, folder, masks = jhmdb
    m = read_puppet_mask(folder / "clap/v1/puppet_mask.mat")
    assert m.shape == (4, 6, 8) and m.dtype == bool
    np.testing.assert_array_equal(m, np.moveaxis(masks["clap/v1"], 2, 0) != 0)


def test_jhmdb_masks_follow_tube_frames(jhmdb):
    gt, folder, masks = jhmdb
    ds = read_jhmdb(gt, masks_dir=folder)
    assert set(ds.splits) >= {"train1", "test3", "train", "test"}
    tube = ds["wave/v2"].tubes[0]  # covers frames 1..2
    assert tube.masks is not None and tube.masks.shape == (2, 6, 8)
    np.testing.assert_array_equal(tube.masks[0], masks["wave/v2"][:, :, 1] != 0)
    fa = ds["wave/v2"].frame(2)
    assert fa.masks is not None and fa.masks.shape == (1, 6, 8)
    test2 = load_dataset("jhmdb-21", gt, split="test2", masks_dir=folder)
    assert test2.video_ids == ["clap/v1"] and test2["clap/v1"].tubes[0].masks is not None


def test_jhmdb_missing_mask(jhmdb):
    gt, folder, _ = jhmdb
    (folder / "wave/v2/puppet_mask.mat").unlink()
    with pytest.raises(AnnotationError, match=r"wave/v2/puppet_mask\.mat: no puppet mask"):
        read_jhmdb(gt, masks_dir=folder)
    with pytest.warns(UserWarning, match="boxes only"):
        ds = read_jhmdb(gt, masks_dir=folder, skip_invalid=True)
    assert ds["wave/v2"].tubes[0].masks is None and ds["clap/v1"].tubes[0].masks is not None


def test_mask_size_mismatch(jhmdb, tmp_path):
    gt, folder, _ = jhmdb
    scipy.io.savemat(
        folder / "clap/v1/puppet_mask.mat", {"part_mask": np.ones((5, 5, 4), np.uint8)}
    )
    with pytest.raises(AnnotationError, match="masks are 5x5 but clap/v1 is 8x6"):
        read_jhmdb(gt, masks_dir=folder)


def test_mat_without_part_mask_and_v73(tmp_path):
    scipy.io.savemat(tmp_path / "other.mat", {"x": np.ones(3)})
    with pytest.raises(AnnotationError, match="no 'part_mask'"):
        read_puppet_mask(tmp_path / "other.mat")
    # a MATLAB v7.3 header (HDF5 body): needs h5py, and this body is not valid HDF5 either
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan 1 00:00:00 2024 HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    (tmp_path / "v73.mat").write_bytes(header + b"\x00" * 512)
    with pytest.raises(AnnotationError, match=r"v73\.mat.*(h5py|v7\.3)"):
        read_puppet_mask(tmp_path / "v73.mat")
