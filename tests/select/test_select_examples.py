"""The Example sections of the selection docstrings run and say what they show."""

import doctest

import numpy as np
import pytest

import vidal.select
from vidal.select import (
    _common,
    apu,
    balanced,
    baselines,
    ceiling,
    claus,
    dispersion,
    metadata,
    oracle,
    representative,
)

MODULES = [
    vidal.select, _common, apu, balanced, baselines, ceiling, claus, dispersion, metadata,
    oracle, representative,
]  # fmt: skip


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"np": np}, raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0
