"""J-HMDB-21: ACT's ``JHMDB-GT.pkl`` plus the per-video ``puppet_mask.mat`` pixel masks.

``JHMDB-GT.pkl`` has the ACT layout described in :mod:`vidal.data.formats.ucf101_24`
(21 classes, three splits: ``train1``/``test1`` .. ``train3``/``test3``, with ``train`` and
``test`` naming split 1). Each video shows one actor, and J-HMDB ships its puppet mask as
``<masks_dir>/<Class>/<video>/puppet_mask.mat`` holding ``part_mask``: an ``H x W x T``
array, nonzero on the actor. A video with exactly one tube gets the masks of the frames
that tube covers; a video with several tubes keeps box-only tubes (one puppet mask cannot
say which actor is which) and a warning says so.

Masks are loaded eagerly: about 77 kB a frame at 320x240, some 3 MB a video, 2.8 GB for all
928 videos, so pick a split first (``split="test1"``) when memory is short.

MATLAB v7.3 files are HDF5; they are read with h5py when it is installed, and otherwise
raise an :class:`~vidal.errors.AnnotationError` that says to install it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from vidal.data.annotations import VideoDataset
from vidal.data.formats.ucf101_24 import read_ucf101v2_gt
from vidal.errors import AnnotationError

__all__ = ["read_jhmdb", "read_puppet_mask"]


def read_puppet_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a J-HMDB ``puppet_mask.mat``.

    Args:
        path: the ``.mat`` file (MATLAB v5, or v7.3 when h5py is installed).

    Returns:
        ndarray[T, H, W] bool masks, one per frame.

    Raises:
        AnnotationError: naming the file when it cannot be read, lacks ``part_mask``, or
            is a v7.3 file and h5py is missing.
    """
    path = Path(path)
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), variable_names=["part_mask"])
        part = mat.get("part_mask")
    except NotImplementedError:  # scipy's answer to a v7.3 (HDF5) file
        part = _read_v73(path)
    except (OSError, ValueError, TypeError) as e:
        raise AnnotationError(
            f"{path}: not a readable MATLAB file ({type(e).__name__}: {e})"
        ) from e
    if part is None:
        raise AnnotationError(f"{path}: no 'part_mask' variable")
    part = np.asarray(part)
    if part.ndim == 2:
        part = part[:, :, None]
    if part.ndim != 3:
        raise AnnotationError(f"{path}: 'part_mask' has shape {part.shape}, expected H x W x T")
    return np.ascontiguousarray(np.moveaxis(part != 0, 2, 0))  # [T, H, W]


def _read_v73(path: Path) -> np.ndarray:
    try:
        import h5py
    except ImportError as e:
        raise AnnotationError(
            f"{path}: is a MATLAB v7.3 (HDF5) file; install h5py to read it (pip install h5py)"
        ) from e
    try:
        with h5py.File(path, "r") as f:
            if "part_mask" not in f:
                raise AnnotationError(f"{path}: no 'part_mask' variable")
            return np.asarray(
                f["part_mask"]
            ).transpose()  # HDF5 stores MATLAB arrays reversed: T x W x H
    except AnnotationError:
        raise
    except Exception as e:
        raise AnnotationError(
            f"{path}: not a readable MATLAB v7.3 file ({type(e).__name__}: {e})"
        ) from e


def read_jhmdb(
    path: str | os.PathLike,
    *,
    videos_dir: str | os.PathLike | None = None,
    masks_dir: str | os.PathLike | None = None,
    split: str | None = None,
    split_file: str | os.PathLike | None = None,
    scale_to: tuple[int, int] | str | None = "auto",
    skip_invalid: bool = False,
) -> VideoDataset:
    """Read J-HMDB-21 ground truth, with puppet masks when ``masks_dir`` is given.

    Args:
        path: ``JHMDB-GT.pkl``.
        videos_dir: folder of the videos or frame folders (``<dir>/<Class>/<video>/``,
            ``<dir>/<Class>/<video>.avi``, ...).
        masks_dir: the ``puppet_mask`` folder; each video's mask is
            ``<masks_dir>/<video id>/puppet_mask.mat``. A missing file raises unless
            ``skip_invalid``.
        split: keep only this split (``train1`` .. ``test3``; ``train``/``test`` = split 1).
        split_file: an extra list of ids recorded as split ``split``.
        scale_to: as in :func:`vidal.data.read_ucf101_24`. Masks are not resized: a mask
            whose size differs from the video's (after scaling) raises unless
            ``skip_invalid``, so pass ``scale_to=None`` to keep masks beside rescaled videos.
        skip_invalid: warn and skip malformed tubes or missing masks instead of raising.

    Returns:
        The dataset; tubes carry ``masks (ndarray[L, H, W])`` when masks were loaded.

    Raises:
        AnnotationError: naming the file, the video and the problem.
    """
    dataset = read_ucf101v2_gt(
        path,
        videos_dir=videos_dir,
        split=split,
        split_file=split_file,
        scale_to=scale_to,
        skip_invalid=skip_invalid,
    )
    if masks_dir is None:
        return dataset
    masks_dir = Path(masks_dir)
    for v in dataset:
        if not v.tubes:
            continue
        mat = masks_dir / v.video_id / "puppet_mask.mat"
        if not mat.is_file():
            msg = f"{mat}: no puppet mask for {v.video_id}"
            if not skip_invalid:
                raise AnnotationError(msg + " (pass skip_invalid=True to keep box-only tubes)")
            warnings.warn(msg + "; its tubes keep boxes only", stacklevel=2)
            continue
        if len(v.tubes) > 1:
            warnings.warn(
                f"{v.video_id}: {len(v.tubes)} tubes share one puppet mask; masks not assigned",
                stacklevel=2,
            )
            continue
        masks = read_puppet_mask(mat)
        if masks.shape[1:] != (v.height, v.width):
            msg = f"{mat}: masks are {masks.shape[2]}x{masks.shape[1]} but {v.video_id} is {v.width}x{v.height}"
            if not skip_invalid:
                raise AnnotationError(msg)
            warnings.warn(msg + "; masks not assigned", stacklevel=2)
            continue
        tube = v.tubes[0]
        if tube.last_frame >= len(masks):
            msg = f"{mat}: {len(masks)} mask frames but the tube of {v.video_id} reaches frame {tube.last_frame}"
            if not skip_invalid:
                raise AnnotationError(msg)
            warnings.warn(msg + "; masks not assigned", stacklevel=2)
            continue
        tube.masks = masks[tube.first_frame : tube.last_frame + 1]
    return dataset
