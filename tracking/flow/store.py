"""One file per video holding all its flow: float16, memory-mapped on read, checked per pair.

Layout (little-endian)::

    offset 0   b"TRKFLOW1"                      magic
           8   uint32  n                         length of the JSON header
          12   uint32  CRC-32 of (JSON header + pair table)
          16   n bytes JSON  {"num_frames": T, "frame_size": [H, W], "grid": [h, w]}
               uint32[T-1]  CRC-32 of each pair's block (the pair table)
               zero padding to a multiple of 64 bytes
               float16[T-1, 2, h, w, 2]  for each pair t: forward[t], then backward[t]

The file is written to a temporary name beside its place, pair by pair (so memory stays flat
however long the video), then its table is filled in, it is flushed to disk and renamed
over the old one: readers (and other writers) see a whole old file or a whole new one, and
two processes writing the same video both leave a valid file. On reading, a file with a bad
magic, header, table or size is rejected whole; a pair whose block does not match its
CRC-32 is reported as bad, so the caller recomputes that pair only.

Example:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "clip.flows"
    >>> pair = np.ones((2, 4, 6, 2), np.float32)  # forward and backward of one pair
    >>> write_flow_file(path, [pair, 2 * pair], num_frames=3, frame_size=(8, 12), grid=(4, 6))
    >>> stored = read_flow_file(path)
    >>> stored.data.shape, stored.data.dtype, stored.frame_size, stored.bad
    ((2, 2, 4, 6, 2), dtype('float16'), (8, 12), [])
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import TrackingError

__all__ = ["FLOW_DTYPE", "StoredFlow", "read_flow_file", "write_flow_file"]

MAGIC = b"TRKFLOW1"
_PREFIX = struct.Struct("<8sII")  # magic, JSON length, CRC-32 of JSON + pair table
_ALIGN = 64
FLOW_DTYPE = np.dtype("<f2")
"""How flow is stored: little-endian float16 (vectors to within 0.05% of their length)."""


@dataclass(frozen=True)
class StoredFlow:
    """A video's flow as read from its file.

    Attributes:
        data (ndarray[T-1, 2, h, w, 2] float16): ``data[t, 0]`` the forward flow of pair
            ``t``, ``data[t, 1]`` its backward flow; a read-only memory map of the file.
        frame_size: ``(H, W)`` of the frames.
        bad: pairs whose bytes do not match their checksum, ascending; never use them.
    """

    data: np.ndarray
    frame_size: tuple[int, int]
    bad: list[int]

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.data.shape[0]) + 1


def _header(num_frames: int, frame_size: tuple[int, int], grid: tuple[int, int]) -> bytes:
    meta = {"num_frames": num_frames, "frame_size": list(frame_size), "grid": list(grid)}
    return json.dumps(meta, separators=(",", ":")).encode()


def _data_offset(json_len: int, num_pairs: int) -> int:
    """Where the pairs start: after the prefix, the JSON, the pair table and the padding."""
    used = _PREFIX.size + json_len + 4 * num_pairs
    return used + (-used % _ALIGN)


def _write_body(
    fh: BinaryIO, pairs: Iterable[np.ndarray], num_pairs: int, shape: tuple[int, ...]
) -> np.ndarray:
    """Append each pair's block to ``fh``; return the CRC-32 of each (``ndarray[P] uint32``)."""
    crcs = np.zeros(num_pairs, dtype="<u4")
    count = 0
    for t, pair in enumerate(pairs):
        block = np.ascontiguousarray(pair, dtype=FLOW_DTYPE)
        if t >= num_pairs or block.shape != shape:
            raise TrackingError(f"flow pair {t} has shape {block.shape}, expected {shape}")
        crcs[t] = zlib.crc32(block.data)
        fh.write(block.data)
        count += 1
    if count != num_pairs:
        raise TrackingError(f"got {count} flow pairs, expected {num_pairs}")
    return crcs


def write_flow_file(
    path: str | os.PathLike[str],
    pairs: Iterable[np.ndarray],
    *,
    num_frames: int,
    frame_size: tuple[int, int],
    grid: tuple[int, int],
) -> None:
    """Write a video's flow to ``path`` atomically, pair by pair.

    Args:
        path: the file; its folder is created when needed.
        pairs: ``ndarray[2, h, w, 2]`` (forward, backward) for ``t = 0 .. T-2`` in order;
            stored as float16.
        num_frames: ``T``.
        frame_size: ``(H, W)`` of the frames.
        grid: ``(h, w)`` of the flow grid.

    Raises:
        TrackingError: when ``pairs`` gives the wrong number or shape of pairs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _header(num_frames, frame_size, grid)
    offset = _data_offset(len(text), num_frames - 1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, len(text), 0) + text)
            fh.write(bytes(offset - _PREFIX.size - len(text)))  # the table, filled in below
            crcs = _write_body(fh, pairs, num_frames - 1, (2, *grid, 2)).tobytes()
            fh.seek(0)
            fh.write(_PREFIX.pack(MAGIC, len(text), zlib.crc32(text + crcs)))
            fh.seek(_PREFIX.size + len(text))
            fh.write(crcs)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_header(fh: BinaryIO) -> tuple[int, tuple[int, int], tuple[int, int], np.ndarray, int]:
    """``(T, frame_size, grid, crcs [T-1], data offset)``; ValueError when anything is off."""
    magic, json_len, crc = _PREFIX.unpack(fh.read(_PREFIX.size))
    if magic != MAGIC or json_len > 4096:
        raise ValueError("not a flow file")
    text = fh.read(json_len)
    meta = json.loads(text)
    num_frames = int(meta["num_frames"])
    frame_size = (int(meta["frame_size"][0]), int(meta["frame_size"][1]))
    grid = (int(meta["grid"][0]), int(meta["grid"][1]))
    if min(num_frames, *frame_size, *grid) < 1 or len(meta) != 3:
        raise ValueError("bad header")
    table = fh.read(4 * (num_frames - 1))
    if len(table) != 4 * (num_frames - 1) or zlib.crc32(text + table) != crc:
        raise ValueError("header checksum mismatch")
    crcs = np.frombuffer(table, "<u4")
    return num_frames, frame_size, grid, crcs, _data_offset(json_len, num_frames - 1)


def read_flow_file(path: str | os.PathLike[str], *, verify: bool = True) -> StoredFlow | None:
    """A video's flow from its file, or ``None`` when the file is missing or not whole.

    Args:
        path: the file written by :func:`write_flow_file`.
        verify: check every pair's CRC-32 (one pass over the file; ``False`` leaves the
            pages unread until used and reports no bad pairs).

    Returns:
        :class:`StoredFlow` (``data`` memory-mapped, read-only), or ``None`` for a missing,
        truncated or foreign file or a damaged header.
    """
    try:
        with open(path, "rb") as fh:
            num_frames, frame_size, grid, crcs, offset = _read_header(fh)
            size = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return None
    shape = (num_frames - 1, 2, *grid, 2)
    if size != offset + int(np.prod(shape)) * FLOW_DTYPE.itemsize:
        return None
    if num_frames == 1:
        data = np.zeros(shape, FLOW_DTYPE)
    else:
        data = np.memmap(path, dtype=FLOW_DTYPE, mode="r", offset=offset, shape=shape)
    bad = (
        [t for t in range(num_frames - 1) if zlib.crc32(memoryview(data[t])) != crcs[t]]
        if verify
        else []
    )
    return StoredFlow(data=data, frame_size=frame_size, bad=bad)
