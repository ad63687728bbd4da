"""The Example sections of the scoring docstrings run and say what they show."""

import doctest

import numpy as np
import pytest
import torch

from vidal.scoring import kernels, scorers, stream, torch_scores


@pytest.mark.parametrize(
    "module", [kernels, scorers, stream, torch_scores], ids=lambda m: m.__name__
)
def test_docstring_examples(module):
    result = doctest.testmod(
        module, extraglobs={"np": np, "torch": torch}, raise_on_error=False, verbose=False
    )
    assert result.attempted > 0 and result.failed == 0
