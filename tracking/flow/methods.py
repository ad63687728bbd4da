"""Dense flow estimators: OpenCV's DIS and Farneback, torchvision's RAFT.

Each method maps two batches of frames to the flow between them (:class:`FlowMethod`); the
name of a method and of every setting that changes its output is its ``tag``, which
:class:`~tracking.flow.FlowCache` keys files by. :data:`FLOW_METHODS` names the methods that
need no settings (``"dis"`` is DIS at :data:`DEFAULT_DIS_PRESET`, ``"dis-<preset>"`` the
others); RAFT needs weights and is passed as an object.

Example:
    >>> import numpy as np
    >>> first = np.zeros((1, 32, 48, 3), np.uint8)
    >>> get_flow_method("dis-ultrafast")(first, first).shape
    (1, 32, 48, 2)
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from ..errors import TrackingError

__all__ = [
    "DEFAULT_DIS_PRESET",
    "DIS_PRESETS",
    "DISFlow",
    "FLOW_METHODS",
    "FarnebackFlow",
    "FlowMethod",
    "RAFTFlow",
    "get_flow_method",
]


@runtime_checkable
class FlowMethod(Protocol):
    """A dense flow estimator: ``method(first, second) -> flow``.

    ``first`` and ``second`` are ``[B, h, w, 3]`` uint8 RGB batches; the result is
    ``[B, h, w, 2]`` float32 ``(dx, dy)`` from ``first[b]`` to ``second[b]``. ``tag`` names the
    method and every setting that changes its output; the cache keys files by it.
    """

    @property
    def tag(self) -> str: ...

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray: ...


DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
"""OpenCV's DIS presets by name, fastest first (slower ones refine more)."""

DEFAULT_DIS_PRESET = "ultrafast"
"""The preset of :class:`DISFlow` and of the method named ``"dis"``: 4.4-5.7x faster per frame
pair than ``"medium"`` on the real clips of ``tools/bench/bench_tc.py`` (DAVIS, UCF-101-24,
J-HMDB, ImageNet-VID), with TC estimates as good (per-frame precision and recall of the
estimated FP and FN against injected errors)."""


def _gray(images: np.ndarray) -> list[np.ndarray]:
    return [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]


class _GrayPairFlow(ABC):
    """An OpenCV flow computed pair by pair on grayscale frames; a method gives
    :meth:`_pair_flow`."""

    @abstractmethod
    def _pair_flow(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The flow ``ndarray[h, w, 2]`` of two grayscale frames ``ndarray[h, w]`` uint8."""

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from ``first`` to ``second``.

        Args:
            first (ndarray[B, h, w, 3]): uint8 RGB.
            second (ndarray[B, h, w, 3]): uint8 RGB.

        Returns:
            ndarray[B, h, w, 2] float32 ``(dx, dy)``.
        """
        flow = self._pair_flow()
        out = [flow(a, b) for a, b in zip(_gray(first), _gray(second), strict=True)]
        return np.stack(out).astype(np.float32, copy=False)


@dataclass(frozen=True)
class DISFlow(_GrayPairFlow):
    """OpenCV's Dense Inverse Search flow (Kroeger et al. 2016) on grayscale frames.

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"`` (OpenCV's presets; slower ones
            refine more). ``tools/bench/bench_tc.py`` measures their time and the quality of
            the TC estimates they give on real clips.
    """

    preset: str = DEFAULT_DIS_PRESET

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise TrackingError(
                f"unknown DIS preset {self.preset!r}; known: {', '.join(sorted(DIS_PRESETS))}"
            )

    @property
    def tag(self) -> str:
        """Cache key of this method and its settings."""
        return f"dis-{self.preset}"

    def _pair_flow(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        dis = cv2.DISOpticalFlow.create(DIS_PRESETS[self.preset])
        return lambda a, b: dis.calc(a, b, np.zeros((*a.shape, 2), np.float32))  # out buffer


@dataclass(frozen=True)
class FarnebackFlow(_GrayPairFlow):
    """OpenCV's Farneback polynomial-expansion flow on grayscale frames.

    Args:
        pyr_scale: image scale between pyramid levels.
        levels: number of pyramid levels.
        winsize: averaging window size in pixels.
        iterations: iterations per level.
        poly_n: neighbourhood of the polynomial expansion.
        poly_sigma: Gaussian sigma of the polynomial expansion.
    """

    pyr_scale: float = 0.5
    levels: int = 4
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    @property
    def tag(self) -> str:
        """Cache key of this method and its settings."""
        return (
            f"farneback-p{self.pyr_scale:g}-l{self.levels}-w{self.winsize}"
            f"-i{self.iterations}-n{self.poly_n}-s{self.poly_sigma:g}"
        )

    def _pair_flow(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        settings = (self.pyr_scale, self.levels, self.winsize, self.iterations, self.poly_n)
        args = (*settings, self.poly_sigma, 0)  # flags 0: the output buffer is not read
        return lambda a, b: cv2.calcOpticalFlowFarneback(
            a, b, np.zeros((*a.shape, 2), np.float32), *args
        )


class RAFTFlow:
    """torchvision's RAFT (Teed & Deng 2020), for users with a GPU and local weights.

    torch and torchvision are imported only when the model is first used. Weights are read
    from a local file (a state dict saved with ``torch.save(model.state_dict(), path)``, e.g.
    the torchvision ``Raft_Small_Weights`` checkpoint fetched beforehand); nothing is
    downloaded. Frames are padded (edge values) to sides that are multiples of 8 and at least
    128, as RAFT requires, and the flow is cropped back.

    Args:
        weights: path of the state-dict file for ``model``.
        model: ``"raft_small"`` or ``"raft_large"``.
        device: torch device string, chosen once by the caller (``"cuda"``, ``"cpu"``).
        num_flow_updates: RAFT's recurrent refinement iterations (torchvision default 12).
        batch_size: frame pairs per forward pass.
    """

    _MODELS = ("raft_small", "raft_large")

    def __init__(
        self,
        weights: str | os.PathLike[str],
        *,
        model: str = "raft_small",
        device: str = "cpu",
        num_flow_updates: int = 12,
        batch_size: int = 4,
    ) -> None:
        if model not in self._MODELS:
            raise TrackingError(f"unknown RAFT model {model!r}; known: {', '.join(self._MODELS)}")
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise TrackingError(f"RAFT weights file not found: {self.weights}")
        if num_flow_updates < 1 or batch_size < 1:
            raise TrackingError("num_flow_updates and batch_size must be at least 1")
        self.model = model
        self.device = device
        self.num_flow_updates = int(num_flow_updates)
        self.batch_size = int(batch_size)
        self._net: Any = None

    @cached_property
    def tag(self) -> str:
        """Cache key: the model, a hash of the weights file and the iteration count."""
        digest = hashlib.sha1(self.weights.read_bytes()).hexdigest()[:10]
        return f"{self.model}-{digest}-it{self.num_flow_updates}"

    def _load(self) -> Any:
        if self._net is None:
            import torch
            from torchvision.models import optical_flow

            net = getattr(optical_flow, self.model)(weights=None, progress=False)
            state = torch.load(self.weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            self._net = net.eval().to(self.device)
        return self._net

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow ``ndarray[B, h, w, 2]`` float32 ``(dx, dy)`` from ``first`` to ``second``
        (``ndarray[B, h, w, 3]`` uint8 RGB each), ``batch_size`` pairs per forward pass."""
        import torch
        import torch.nn.functional as F

        net = self._load()
        _, h, w, _ = first.shape
        # RAFT wants sides that are multiples of 8 and at least 128 (its correlation pyramid)
        pad_h, pad_w = max(128 - h, (-h) % 8), max(128 - w, (-w) % 8)
        out = []
        with torch.inference_mode():
            for start in range(0, len(first), self.batch_size):
                pair = []
                for images in (first, second):
                    x = torch.from_numpy(
                        np.ascontiguousarray(images[start : start + self.batch_size])
                    )
                    x = x.to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # [B, 3, h, w]
                    pair.append(F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"))
                flow = net(pair[0], pair[1], num_flow_updates=self.num_flow_updates)[-1]
                out.append(flow[:, :, :h, :w].permute(0, 2, 3, 1).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


FLOW_METHODS: dict[str, Callable[[], FlowMethod]] = {
    "dis": DISFlow,
    **{f"dis-{preset}": partial(DISFlow, preset) for preset in DIS_PRESETS},
    "farneback": FarnebackFlow,
}
"""Flow methods that need no settings, by name: ``"dis"`` (DIS at :data:`DEFAULT_DIS_PRESET`),
``"dis-ultrafast"``, ``"dis-fast"``, ``"dis-medium"`` and ``"farneback"``. RAFT needs weights:
pass a :class:`RAFTFlow`."""


def get_flow_method(method: str | FlowMethod) -> FlowMethod:
    """Turn a name from :data:`FLOW_METHODS` into a method; pass a method object through.

    Args:
        method: a name in :data:`FLOW_METHODS` or an object following :class:`FlowMethod`.

    Returns:
        The flow method.

    Raises:
        TrackingError: on an unknown name.
    """
    if isinstance(method, str):
        try:
            return FLOW_METHODS[method]()
        except KeyError:
            raise TrackingError(
                f"unknown flow method {method!r}; known: {', '.join(sorted(FLOW_METHODS))}"
                " (RAFT: pass RAFTFlow(weights_path))"
            ) from None
    if not isinstance(method, FlowMethod):
        raise TrackingError(f"method must be a name or a FlowMethod, got {type(method).__name__}")
    return method
