"""Evaluation protocols by name: the settings a published table was computed with.

A :class:`Protocol` fixes how ranked detections become AP: the matching rule, the AP integral,
the box-area convention, and, for video-AP, the tube linking and a per-class tube NMS. The
AP accumulators (:class:`~vidal.metrics.FrameAPAccumulator`,
:class:`~vidal.metrics.VideoAPAccumulator`, :class:`~vidal.metrics.DetectionAPAccumulator`)
and :func:`~vidal.metrics.voc_ap` take one by name (``protocol="act"``); an explicit
``matching=`` / ``method=`` / ``inclusive=`` overrides that one setting.

The protocols (:data:`PROTOCOLS`):

* ``"act"`` — frame-AP and video-AP as in ACT (Kalogeiton et al., "Action Tubelet Detector
  for Spatio-Temporal Action Localization", ICCV 2017): ACT matching (``IoU >= threshold``,
  best unmatched ground truth), trapezoid AP of the raw curve, inclusive box areas
  (``x2 - x1 + 1``: boxes name their first and last pixel), and before video-AP a
  per-class NMS over each video's tubes at spatio-temporal overlap 0.3 (areas and NMS are
  what made vidal's frame-mAP and video-mAP agree with ACT's own evaluation to 1e-8 on
  the same detections, issue 14). Linking reads ACT's description of its tubelet linking
  for one-frame tubelets: the 10 best detections of a class per frame are the candidates
  (its top ``N = 10``), a link is extended by a candidate overlapping its last box by 0.2
  or more, and a link not extended at a frame ends (a link stops when "not extended in K
  consecutive frames", K = 1 here).
* ``"vidal"`` — the same ranking, matching and AP integral with continuous box areas
  (``x2 - x1``, as ``torchvision.ops.box_area``; vidal's boxes are pixel edges, DESIGN.md),
  no tube NMS, and linking that bridges up to 5 frames without a detection. The defaults of
  :class:`~vidal.metrics.FrameAPAccumulator` and :class:`~vidal.metrics.VideoAPAccumulator`.
* ``"voc07"`` — PASCAL VOC 2007 detection AP (Everingham et al., IJCV 2010): VOC matching
  (``IoU > threshold`` with the ground truth a detection overlaps most; duplicates are false
  positives) and the 11-point interpolated AP, the mean over recall ``0, 0.1, ..., 1`` of the
  highest precision at that recall or above.
* ``"voc10"`` — VOC 2010 onwards: the same matching, and AP as the area under the monotone
  precision envelope at every recall reached (all points). The default of
  :class:`~vidal.metrics.DetectionAPAccumulator` and :func:`~vidal.metrics.voc_ap`.

The VOC devkit adds a pixel to box sides because its boxes list the first and last pixel;
vidal's boxes are continuous edges, so ``voc07`` and ``voc10`` use continuous areas. With
boxes in the devkit's convention, ``dataclasses.replace(PROTOCOLS["voc10"], inclusive=True)``.

Default per dataset (:data:`DATASET_PROTOCOLS`, :func:`default_protocol`), chosen as the
published tables vidal compares with were computed:

* UCF-101-24 and J-HMDB-21: ``"act"``. Rana & Rawat (NeurIPS 2022, Table 3) set their
  f-mAP / v-mAP beside the fully supervised detectors' published numbers, ACT's among them,
  computed with ACT's evaluation; CVPR 2023 (Sec. 4) measures "the standard frame-mAP and
  video-mAP scores ... following prior works".
* ImageNet-VID and SYNTHIA-AL: ``"voc10"``. Zolfaghari Bengar (PhD thesis 2021, ch. 2,
  "Evaluation") reports VOC AP at ``IoU > 0.5`` averaged over classes; ImageNet-VID's own
  devkit integrates all points of the envelope, as VOC 2010 does.
* Other data (vidal's own format, the synthetic sets): ``"vidal"`` for action detection,
  ``"voc10"`` for object detection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidal.errors import ConfigError, VidalError
from vidal.metrics._checks import choice
from vidal.metrics.ap import AP_METHODS, MATCHING

__all__ = [
    "Protocol",
    "PROTOCOLS",
    "DATASET_PROTOCOLS",
    "get_protocol",
    "default_protocol",
]


@dataclass(frozen=True)
class Protocol:
    """How detections are matched to ground truth and ranked into AP.

    Args:
        name: the protocol's name (``"custom"`` once a setting is overridden).
        matching: ``"act"`` (``IoU >= t``, best unmatched ground truth) or ``"voc"``
            (``IoU > t`` with the best ground truth overall; duplicates are false positives).
        method: AP integral, ``"trapezoid"``, ``"voc"`` (all points) or ``"voc11"``.
        inclusive: box areas with the ``+1`` pixel.
        tube_nms: per-class NMS over a video's tubes before video-AP: a tube is dropped when
            its spatio-temporal IoU with a higher-scoring kept tube exceeds this; ``None``
            keeps every tube.
        link_iou: overlap a detection needs with a tube's last box to extend it.
        link_top_k: candidates per frame and class when linking (all when ``None``).
        link_max_gap: frames a tube may skip and still be extended, for detections on every
            frame (see :meth:`link_options` for sparser detections).
    """

    name: str
    matching: str
    method: str
    inclusive: bool
    tube_nms: float | None = None
    link_iou: float = 0.2
    link_top_k: int | None = None
    link_max_gap: int = 5

    def __post_init__(self) -> None:
        choice(self.matching, "matching", MATCHING)
        choice(self.method, "method", AP_METHODS)
        for field, value in (("tube_nms", self.tube_nms), ("link_iou", self.link_iou)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise VidalError(f"{field} must lie in [0, 1], got {value!r}")
        if self.link_top_k is not None and self.link_top_k < 1:
            raise VidalError(f"link_top_k must be >= 1, got {self.link_top_k!r}")
        if self.link_max_gap < 0:
            raise VidalError(f"link_max_gap must be >= 0, got {self.link_max_gap!r}")

    def link_options(self, frame_step: int = 1) -> dict[str, Any]:
        """Keyword arguments of :func:`vidal.metrics.link_tubes` for this protocol.

        Args:
            frame_step: detections lie on every ``frame_step``-th frame; the gap a tube may
                bridge grows with it, so that the same number of detection steps may be
                missed (``(link_max_gap + 1) * frame_step - 1`` video frames).

        Returns:
            ``link_iou``, ``max_gap``, ``top_k`` and ``inclusive``.

        Example:
            >>> PROTOCOLS["act"].link_options(frame_step=8)["max_gap"]
            7
        """
        if frame_step < 1:
            raise VidalError(f"frame_step must be >= 1, got {frame_step!r}")
        return {
            "link_iou": self.link_iou,
            "max_gap": (self.link_max_gap + 1) * frame_step - 1,
            "top_k": self.link_top_k,
            "inclusive": self.inclusive,
        }


#: Protocol name -> settings (see the module docstring).
PROTOCOLS: dict[str, Protocol] = {
    "act": Protocol(
        "act",
        matching="act",
        method="trapezoid",
        inclusive=True,
        tube_nms=0.3,
        link_top_k=10,
        link_max_gap=0,
    ),
    "vidal": Protocol("vidal", matching="act", method="trapezoid", inclusive=False),
    "voc07": Protocol("voc07", matching="voc", method="voc11", inclusive=False),
    "voc10": Protocol("voc10", matching="voc", method="voc", inclusive=False),
}

#: Dataset format (a key of :data:`vidal.data.FORMATS`) -> the protocol of its published tables.
DATASET_PROTOCOLS: dict[str, str] = {
    "ucf101-24": "act",
    "ucf101-24-act": "act",
    "jhmdb-21": "act",
    "imagenet-vid": "voc10",
    "synthia-al": "voc10",
}

#: Task family -> the protocol for data without a published protocol.
_TASK_PROTOCOLS: dict[str, str] = {"action": "vidal", "detection": "voc10"}


def get_protocol(
    protocol: str | Protocol,
    *,
    matching: str | None = None,
    method: str | None = None,
    inclusive: bool | None = None,
) -> Protocol:
    """The protocol of this name, with any of its three AP settings overridden.

    Args:
        protocol: a key of :data:`PROTOCOLS` or a :class:`Protocol`.
        matching: replaces the protocol's matching rule when given.
        method: replaces its AP integral when given.
        inclusive: replaces its box-area convention when given.

    Returns:
        The :class:`Protocol`; its name is ``"custom"`` when an override changed a setting.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).

    Example:
        >>> get_protocol("act").inclusive, get_protocol("act", inclusive=False).name
        (True, 'custom')
    """
    if isinstance(protocol, Protocol):
        base = protocol
    elif isinstance(protocol, str) and protocol in PROTOCOLS:
        base = PROTOCOLS[protocol]
    else:
        raise ConfigError(
            f"unknown evaluation protocol {protocol!r}; known protocols: {', '.join(PROTOCOLS)}"
        )
    wanted = dataclasses.replace(
        base,
        matching=base.matching if matching is None else matching,
        method=base.method if method is None else method,
        inclusive=base.inclusive if inclusive is None else bool(inclusive),
    )
    return base if wanted == base else dataclasses.replace(wanted, name="custom")


def default_protocol(dataset_format: str | None, *, task: str) -> str:
    """The protocol name to evaluate a dataset with when none is asked for.

    Args:
        dataset_format: the dataset's format (a key of :data:`vidal.data.FORMATS`), or
            ``None`` when unknown.
        task: ``"action"`` or ``"detection"``.

    Returns:
        A key of :data:`PROTOCOLS`: the dataset's published protocol
        (:data:`DATASET_PROTOCOLS`), else the task's (``"vidal"`` / ``"voc10"``).

    Example:
        >>> default_protocol("jhmdb-21", task="action"), default_protocol("vidal", task="detection")
        ('act', 'voc10')
    """
    choice(task, "task", tuple(_TASK_PROTOCOLS))
    return DATASET_PROTOCOLS.get(dataset_format or "", _TASK_PROTOCOLS[task])
