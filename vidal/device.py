"""Where models run: chosen once, from the config or the command line, and passed down.

Under a launcher (``torchrun`` sets ``LOCAL_RANK``) each process takes the GPU of its local
rank: ``auto`` and ``cuda`` mean ``cuda:LOCAL_RANK`` there (:mod:`vidal.distributed`).
"""

from __future__ import annotations

import os

import torch

from vidal.errors import ConfigError

__all__ = ["choose_device"]


def choose_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device.

    Under a launcher (``LOCAL_RANK`` in the environment) ``"auto"`` and ``"cuda"`` give
    ``cuda:LOCAL_RANK``, one GPU per process.

    Raises:
        ConfigError: an unknown device name, CUDA asked for where there is none, or a local
            rank without a GPU of its own.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"unknown device {name!r}: {e}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but CUDA is not available on this machine")
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK={local} but this machine has {torch.cuda.device_count()} GPUs: "
                "start at most one process per GPU (--nproc_per_node)"
            )
        device = torch.device("cuda", local)
    return device
