"""Acquisition: which frames (and videos) to label next, under a budget.

Every selector is a small frozen-dataclass callable holding its options::

    selector(scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator)
        -> Selection

found by name in the plain dict :data:`SELECTORS` (name -> selector with its default
options); :func:`get_selector` returns one with other options (``dataclasses.replace``).
Besides ``__call__`` a selector states two class attributes, which the contract test
(``tests/select/test_contract.py``) reads to feed it:

- ``requires: frozenset[str]``: what it reads from :class:`FrameScores`: ``"frames"``,
  ``"features"``, ``"centers"``, or ``"extra:<name>"`` for ``scores.extra[<name>]`` (a
  property where it depends on the options, as for ``metadata_cycle``'s ``fields``).
- ``stochastic: bool``: whether its result depends on ``rng``.
- ``picks_videos: bool`` (optional, default false): whether it chooses videos for a
  video-level label (``Selection.videos``; hybrid selection).

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
from vidal.select.ceiling import CeilingSelector
from vidal.select.claus import CLAUSSelector
from vidal.select.dispersion import DispersionSelector
from vidal.select.metadata import MetadataCycleSelector
from vidal.select.oracle import ORACLE_SELECTORS, OracleErrorSelector
from vidal.select.representative import KCenterSelector, TypicalitySelector

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
    "OracleErrorSelector",
    "KCenterSelector",
    "TypicalitySelector",
    "CeilingSelector",
    "DispersionSelector",
    "MetadataCycleSelector",
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
    "kcenter": KCenterSelector(),
    "typicality": TypicalitySelector(),
    "ceiling": CeilingSelector(),
    **ORACLE_SELECTORS,
    "dispersion": DispersionSelector(),
    "metadata_cycle": MetadataCycleSelector(),
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
    _check_option_types(name, selector, options)
    try:
        return dataclasses.replace(selector, **options)  # type: ignore[type-var]
    except TypeError as e:
        known = [f.name for f in dataclasses.fields(selector)]
        raise ConfigError(f"selector {name!r} takes options {known}: {e}") from e


def _check_option_types(name: str, selector: Any, options: dict[str, Any]) -> None:
    """A number where a selector's option is a number (``--option lam=abc`` is an error)."""
    import types
    import typing

    hints = typing.get_type_hints(type(selector))
    for key, value in options.items():
        tp = hints.get(key)
        numeric = tp in (int, float) or (
            typing.get_origin(tp) in (typing.Union, types.UnionType)
            and set(typing.get_args(tp)) <= {int, float, type(None)}
        )
        if numeric and (isinstance(value, bool) or not isinstance(value, (int, float, type(None)))):
            raise ConfigError(f"selector {name!r}: option {key}={value!r} must be a number")
