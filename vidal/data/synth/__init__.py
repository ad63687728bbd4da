"""Synthetic videos with ground truth, for tests, demos and benchmarks (``vidal synth``).

Two kinds:

- ``action``: jointed actors performing one of six actions told apart by motion (walk,
  run, jump, wave, spin, squat), with box and pixel-mask tubes, as in UCF-101-24.
- ``road``: road scenes from a driving car with tracked cars, trucks, pedestrians,
  motorcycles and bicycles, as in ImageNet VID.

Both have what makes active learning on video meaningful: textured backgrounds, camera
motion, occlusion, tubes that start and end inside the video, long stretches where little
changes (pauses, traffic jams), imbalanced classes and a small share of rare conditions.
Videos are real H.264 MP4 files (decord reads them with exact frame counts); everything,
MP4 bytes included, is deterministic in the seed and independent of the worker count.

Ground truth: one tube per actor or object; masks are its visible pixels, boxes the tight
bounds of its full drawn extent inside the frame (amodal), so a box is tight to its mask
whenever nothing occludes it. An action video's label is the class all its actors perform.

Example:
    >>> from vidal.data.synth import SynthConfig, make_dataset
    >>> path = make_dataset("/tmp/synth", SynthConfig(videos=4, seed=0))  # doctest: +SKIP
"""

from vidal.data.synth._action import ReplayVideo
from vidal.data.synth._config import (
    ACTION_CLASSES,
    ROAD_CLASS_FREQUENCIES,
    ROAD_CLASSES,
    SynthConfig,
    VideoPlan,
    class_frequencies,
    plan_dataset,
)
from vidal.data.synth._dataset import SynthVideo, load_replay, make_dataset, render_video

__all__ = [
    "ACTION_CLASSES",
    "ROAD_CLASSES",
    "ROAD_CLASS_FREQUENCIES",
    "ReplayVideo",
    "SynthConfig",
    "SynthVideo",
    "VideoPlan",
    "class_frequencies",
    "load_replay",
    "make_dataset",
    "plan_dataset",
    "render_video",
]
