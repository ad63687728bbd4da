"""More than one process: the world of a ``torchrun`` launch and the few collectives vidal uses.

``torchrun --nproc_per_node N -m vidal run CONFIG`` (or ``--nnodes M --rdzv-backend c10d
--rdzv-endpoint HOST:PORT`` across machines) starts ``N`` (``N x M``) copies of the command
with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous (``MASTER_ADDR``,
``MASTER_PORT``) in their environment. :func:`init_world` reads them once, picks the device
(``cuda:LOCAL_RANK`` where CUDA is, else the CPU; :func:`vidal.device.choose_device`),
initialises the process group (NCCL on CUDA, gloo on CPU) and returns a :class:`World`
that the tasks and the loop receive like the device. Without a launcher it returns a world
of one process and nothing else changes: every collective is then the identity.

What vidal does with it (see the README's "Several processes and machines"):

- pool scoring and evaluation are **sharded by video**: :func:`shard_by_size` splits a list
  of videos into parts of about equal frame counts, each rank decodes and scores its part,
  and :meth:`World.gather` brings the results to rank 0, which merges them in the order one
  process would have produced them;
- training uses :class:`~torch.nn.parallel.DistributedDataParallel` (:meth:`World.wrap`):
  the configured batch is the global batch, rank ``r`` takes slice :meth:`World.slice` of it;
- only rank 0 writes files; :meth:`World.broadcast` and :meth:`World.barrier` keep the
  others in step, and :meth:`World.main_first` lets rank 0 prepare what the others then read.

A rank that dies makes the collectives of the others fail (gloo and NCCL notice the closed
connection; at the latest after the process group's ``timeout``), and ``torchrun`` stops
the remaining workers: the run ends instead of hanging, and resumes from its cycle files.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from vidal.device import choose_device
from vidal.errors import ConfigError, VidalError

__all__ = [
    "DistributedError",
    "World",
    "init_world",
    "launched",
    "shard_by_size",
    "split_counts",
    "DEFAULT_TIMEOUT",
]

T = TypeVar("T")

#: How long a collective waits for the other ranks before failing. Long enough for rank 0
#: to select alone (the others wait for its selection); ``VIDAL_DIST_TIMEOUT`` (seconds)
#: overrides it.
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


class DistributedError(VidalError):
    """A collective failed: another rank stopped (killed, crashed) or did not answer in time."""


def launched() -> bool:
    """Whether a launcher (``torchrun``, or ``srun torchrun``) started this process as one rank."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def split_counts(n: int, size: int) -> list[int]:
    """How many of ``n`` items each of ``size`` ranks takes: ``n // size`` each, and one more
    for the first ``n % size`` ranks (as :func:`numpy.array_split`).

    Example:
        >>> split_counts(7, 3)
        [3, 2, 2]
    """
    return [n // size + (r < n % size) for r in range(size)]


def shard_by_size(ids: Sequence[str], sizes: Sequence[float], parts: int) -> list[list[str]]:
    """Split ``ids`` into ``parts`` lists of about equal total size, deterministically.

    Longest-processing-time first: the largest item goes to the part with the smallest total
    so far (ties: the lower part, and among equal sizes the earlier item first). Each part
    keeps the input order, so merging the parts' results in ``ids`` order is what one process
    gives.

    Args:
        ids: the items (video ids).
        sizes (Sequence[N]): each item's cost (its frame count).
        parts: the number of parts (ranks).

    Example:
        >>> shard_by_size(["a", "b", "c", "d"], [10, 40, 20, 30], 2)
        [['a', 'b'], ['c', 'd']]
    """
    if len(ids) != len(sizes):
        raise VidalError(f"{len(ids)} ids but {len(sizes)} sizes")
    if parts < 1:
        raise VidalError(f"parts must be >= 1, got {parts}")
    order = sorted(range(len(ids)), key=lambda i: (-float(sizes[i]), i))
    load = np.zeros(parts)
    owner = np.zeros(len(ids), dtype=np.int64)
    for i in order:
        r = int(np.argmin(load))
        owner[i] = r
        load[r] += float(sizes[i])
    return [[ids[i] for i in range(len(ids)) if owner[i] == r] for r in range(parts)]


@dataclass(frozen=True)
class World:
    """The processes of a run and where this one computes; one process by default.

    Attributes:
        rank: this process, ``0 .. size - 1`` (0 writes the files).
        size: the number of processes.
        local_rank: this process on its machine (its GPU index).
        device: where this process runs models.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes files and selects."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # ------------------------------------------------------------------ partitions
    def shard(self, ids: Sequence[str], sizes: Sequence[float]) -> list[str]:
        """This rank's part of ``ids`` (see :func:`shard_by_size`); all of them in one process."""
        return shard_by_size(ids, sizes, self.size)[self.rank] if self.distributed else list(ids)

    def slice(self, n: int) -> tuple[int, int]:
        """``[start, stop)`` of this rank's items among ``n`` (see :func:`split_counts`)."""
        counts = split_counts(n, self.size)
        start = sum(counts[: self.rank])
        return start, start + counts[self.rank]

    # ------------------------------------------------------------------ collectives
    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj`` on rank 0, in rank order; ``None`` on the other ranks."""
        if not self.distributed:
            return [obj]
        out: list[Any] | None = [None] * self.size if self.is_main else None
        with _collective("gather"):
            torch.distributed.gather_object(obj, out, dst=0)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (what the others pass is ignored)."""
        if not self.distributed:
            return obj
        box = [obj if self.is_main else None]
        with _collective("broadcast"):
            torch.distributed.broadcast_object_list(box, src=0)
        return box[0]  # type: ignore[return-value]

    def barrier(self) -> None:
        """Wait until every rank is here."""
        if self.distributed:
            with _collective("barrier"):
                torch.distributed.barrier()

    def sum(self, values: Sequence[float]) -> list[float]:
        """The element-wise sum of ``values`` over the ranks (float64), on every rank."""
        if not self.distributed:
            return [float(v) for v in values]
        t = torch.tensor(list(values), dtype=torch.float64, device=self._comm_device)
        with _collective("all_reduce"):
            torch.distributed.all_reduce(t)
        return t.cpu().tolist()

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows (Tensor[n_r, ...])`` of every rank concatenated in rank order, on every rank
        (``Tensor[sum n_r, ...]``; the ranks may hold different ``n_r``)."""
        if not self.distributed:
            return rows
        counts = [
            int(c) for c in self.sum([len(rows) if r == self.rank else 0 for r in range(self.size)])
        ]
        padded = rows.new_zeros((max(counts), *rows.shape[1:]))
        padded[: len(rows)] = rows
        parts = [torch.empty_like(padded) for _ in range(self.size)]
        with _collective("all_gather"):
            torch.distributed.all_gather(parts, padded.contiguous())
        return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)])

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. writes a dataset), then the others (which read it)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    # ------------------------------------------------------------------ models
    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` for data-parallel training: itself in one process, else wrapped in
        :class:`~torch.nn.parallel.DistributedDataParallel` (on CUDA its batch norm made
        :class:`~torch.nn.SyncBatchNorm` first, in place; on the CPU, where SyncBatchNorm
        does not run, each rank normalises with the statistics of its own slice). Gradients
        are averaged over the ranks; the parameters stay those of ``module``."""
        if not self.distributed:
            return module
        if self.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)


@contextlib.contextmanager
def _collective(name: str) -> Iterator[None]:
    """Turn the failure of a collective into one :class:`DistributedError` line."""
    try:
        yield
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DistributedError(
            f"rank {torch.distributed.get_rank()}: {name} failed; another rank stopped or did "
            f"not answer in time ({first}); restart the run to resume from its last cycle file"
        ) from e


_WORLD: World | None = None


def _timeout() -> datetime.timedelta:
    value = os.environ.get("VIDAL_DIST_TIMEOUT")
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"VIDAL_DIST_TIMEOUT={value!r} must be a positive number of seconds")
    return datetime.timedelta(seconds=seconds)


def init_world(device: str = "auto") -> World:
    """The world of this process: initialised once per process when launched, else one process.

    Args:
        device: the config's device name (``auto``, ``cpu``, ``cuda``), resolved by
            :func:`vidal.device.choose_device` (under a launcher ``cuda`` means
            ``cuda:LOCAL_RANK``).

    Returns:
        The :class:`World`. Under a launcher with ``WORLD_SIZE > 1`` the default process
        group is initialised on the first call (NCCL for CUDA, gloo for the CPU, timeout
        :data:`DEFAULT_TIMEOUT`) and later calls return the same world.

    Raises:
        ConfigError: a bad device name, or more processes on a machine than GPUs.
    """
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    chosen = choose_device(device)
    if not launched() or int(os.environ["WORLD_SIZE"]) <= 1:
        return World(device=chosen, local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    import torch.distributed as dist

    cuda = chosen.type == "cuda"
    if cuda:
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if cuda else "gloo",
            timeout=_timeout(),
            device_id=chosen if cuda else None,
        )
    _WORLD = World(
        rank=dist.get_rank(),
        size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        device=chosen,
    )
    return _WORLD
