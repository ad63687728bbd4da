"""Turning a model's MC-dropout outputs into per-frame scores.

- :mod:`~vidal.scoring.kernels`: numba kernels (CPU) for pixel uncertainty with non-activity
  suppression (ASL Eq. 1, CLAUS Eq. 2), entropy and mutual information, per frame.
- :mod:`~vidal.scoring.torch_scores`: the same numbers from torch, on any device.
- :mod:`~vidal.scoring.scorers`: the scorers as small callables, found by name in
  :data:`SCORERS`.
- :mod:`~vidal.scoring.stream`: :func:`score_dataset`, streaming a dataset through a model.
- :mod:`~vidal.scoring.dispersion`: label dispersion (thesis ch. 3), recorded during training
  by a :class:`DispersionRecorder` instead of scored after it.
"""

from vidal.scoring.dispersion import (
    ActionPredictor,
    DetectionPredictor,
    DispersionRecorder,
    label_dispersion,
)
from vidal.scoring.kernels import mutual_information, pixel_entropy, pixel_uncertainty
from vidal.scoring.scorers import (
    SCORERS,
    EntropyScorer,
    MutualInformationScorer,
    PixelScorer,
    UncertaintyScorer,
    get_scorer,
)
from vidal.scoring.stream import (
    DatasetScores,
    SkippedVideoWarning,
    VideoClips,
    clips_from_frames,
    loader_clips,
    score_dataset,
)
from vidal.scoring.torch_scores import (
    mutual_information_torch,
    pixel_entropy_torch,
    pixel_uncertainty_torch,
)

__all__ = [
    "pixel_uncertainty",
    "pixel_entropy",
    "mutual_information",
    "pixel_uncertainty_torch",
    "pixel_entropy_torch",
    "mutual_information_torch",
    "PixelScorer",
    "UncertaintyScorer",
    "EntropyScorer",
    "MutualInformationScorer",
    "SCORERS",
    "get_scorer",
    "VideoClips",
    "DatasetScores",
    "SkippedVideoWarning",
    "clips_from_frames",
    "loader_clips",
    "score_dataset",
    "label_dispersion",
    "DispersionRecorder",
    "ActionPredictor",
    "DetectionPredictor",
]
