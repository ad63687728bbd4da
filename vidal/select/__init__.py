"""Acquisition: which frames (and videos) to label next, under a budget.

Every selector is a small frozen-dataclass callable holding its options::

    selector(scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator)
        -> Selection

found by name in the plain dict :data:`SELECTORS` (name -> selector with its default
options); :func:`get_selector` returns one with other options (``dataclasses.replace``).
Besides ``__call__`` a selector states two class attributes, which the contract test
(``tests/select/test_contract.py``) reads to feed it:

- ``requires: frozenset[str]``: what it reads from :class:`FrameScores`: ``"frames"``,
  ``"features"``, ``"centers"``, or ``"extra:<name>"`` for ``scores.extra[<name>]``.
- ``stochastic: bool``: whether its result depends on ``rng``.

Shared conventions (:mod:`vidal.select._common`): budgets are upper bounds per axis (a
budget larger than what is left takes what is left), ties go to the lower video id then the
lower frame, and a selection never depends on the order of the pool's videos.

Detection selectors live in :mod:`vidal.select.detection` as ``DETECTION_SELECTORS`` and
are merged in here when that module exists.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vidal.errors import ConfigError
from vidal.select.apu import APUSelector, LocalAPUSelector
from vidal.select.balanced import (
    BalancedCLAUSSelector,
    BalancedKCenterSelector,
    BalancedSelector,
)
from vidal.select.base import FrameScores, Selection, Selector, check_scores
from vidal.select.baselines import (
    EquidistantSelector,
    RandomSelector,
    RandomSpacedSelector,
    TopKSelector,
    TopKSpacedSelector,
    VideoSelector,
)
from vidal.select.claus import CLAUSSelector

__all__ = [
    "FrameScores",
    "Selection",
    "Selector",
    "check_scores",
    "SELECTORS",
    "get_selector",
    "RandomSelector",
    "EquidistantSelector",
    "RandomSpacedSelector",
    "TopKSelector",
    "TopKSpacedSelector",
    "VideoSelector",
    "APUSelector",
    "LocalAPUSelector",
    "CLAUSSelector",
    "BalancedSelector",
    "BalancedKCenterSelector",
    "BalancedCLAUSSelector",
]

SELECTORS: dict[str, Selector] = {
    "random": RandomSelector(),
    "equidistant": EquidistantSelector(),
    "random_spaced": RandomSpacedSelector(),
    "topk": TopKSelector(),
    "topk_spaced": TopKSpacedSelector(),
    "video": VideoSelector(),
    "apu": APUSelector(),
    "apu_local": LocalAPUSelector(),
    "claus": CLAUSSelector(),
    "balanced": BalancedSelector(),
    "balanced_kcenter": BalancedKCenterSelector(),
    "claus_balanced": BalancedCLAUSSelector(),
}

try:
    from vidal.select.detection import DETECTION_SELECTORS
except ModuleNotFoundError as e:  # the detection selectors are not there (yet)
    if e.name != "vidal.select.detection":
        raise
else:
    _clash = sorted(SELECTORS.keys() & DETECTION_SELECTORS.keys())
    if _clash:
        raise ImportError(f"vidal.select.detection redefines selectors {_clash}")
    SELECTORS.update(DETECTION_SELECTORS)


def get_selector(name: str, **options: Any) -> Selector:
    """The selector called ``name``, built with keyword ``options``.

    Example:
        >>> get_selector("apu", lam=0.7)
        APUSelector(lam=0.7, sigma=1.3, normalize='global')

    Raises:
        ConfigError: for an unknown name (the message lists the known ones) or an option the
            selector does not take or accept.
    """
    if name not in SELECTORS:
        raise ConfigError(
            f"unknown selector {name!r}; known selectors: {', '.join(sorted(SELECTORS))}"
        )
    selector = SELECTORS[name]
    if not options:
        return selector
    if not dataclasses.is_dataclass(selector):
        raise ConfigError(f"selector {name!r} takes no options, got {sorted(options)}")
    try:
        return dataclasses.replace(selector, **options)  # type: ignore[type-var]
    except TypeError as e:
        known = [f.name for f in dataclasses.fields(selector)]
        raise ConfigError(f"selector {name!r} takes options {known}: {e}") from e
