"""The public surface of `losses`: exports, independence from vidal, runnable docstrings."""

from __future__ import annotations

import ast
import doctest
import importlib
import pathlib

import pytest
import torch

import losses

MODULES = [
    "_common",
    "_localization",
    "_stew",
    "_pseudo_labels",
    "_capsule",
    "_clustering",
    "_soft",
]
PACKAGE = pathlib.Path(losses.__file__).parent


def test_all_is_explicit_and_importable():
    assert len(losses.__all__) == len(set(losses.__all__))
    for name in losses.__all__:
        assert getattr(losses, name).__module__.startswith("losses")
    assert issubclass(losses.LossInputError, ValueError)


def test_losses_never_imports_vidal():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                assert root in {
                    "__future__",
                    "collections",
                    "math",
                    "operator",
                    "torch",
                    "losses",
                }, f"{path.name} imports {name}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"losses.{name}")
    result = doctest.testmod(
        module, extraglobs={"torch": torch}, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0


def _sparse_batch(device: str, dtype: torch.dtype = torch.float32):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 3, 4, generator=gen, dtype=dtype)
    target = (torch.rand(2, 6, 3, 4, generator=gen) > 0.5).to(dtype)
    labeled = torch.tensor([[True, False, False, False, True, False], [False] * 5 + [True]])
    return logits.to(device), target.to(device), labeled.to(device)


def test_gradcheck_float64():
    logits, target, labeled = _sparse_batch("cpu", torch.float64)
    logits, target = logits[:, :, :1, :2].clone(), target[:, :, :1, :2].clone()
    logits.requires_grad_(True)
    for fn in (
        lambda x: losses.mgw_loss(x, target, labeled, pos_weight=2.0),
        lambda x: losses.stew_loss(x, target, labeled, window=1),
        lambda x: losses.masking_loss(x, target, labeled, reduction="sum"),
    ):
        assert torch.autograd.gradcheck(fn, (logits,), fast_mode=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    cpu = _sparse_batch("cpu")
    gpu = _sparse_batch("cuda")
    for fn in (
        lambda x, t, lab: losses.masking_loss(x, t, lab),
        lambda x, t, lab: losses.interpolation_loss(x, t, pos_weight=2.0),
        lambda x, t, lab: losses.mgw_loss(x, t, lab, reduction="none"),
        lambda x, t, lab: losses.stew_loss(x, t, lab, window=2, reduction="sum"),
        lambda x, t, lab: losses.stew_weights(t, lab, window=1),
        lambda x, t, lab: losses.nearest_labeled_masks(t, lab),
    ):
        torch.testing.assert_close(fn(*gpu).cpu(), fn(*cpu))
    boxes = torch.tensor([[0.0, 0, 2, 2], [0, 0, 0, 0], [2, 1, 4, 3]])
    shared = torch.tensor([True, False, True])
    torch.testing.assert_close(
        losses.boxes_to_masks(losses.interpolate_boxes(boxes.cuda(), shared.cuda()), 4, 5).cpu(),
        losses.boxes_to_masks(losses.interpolate_boxes(boxes, shared), 4, 5),
    )
    a, y = torch.rand(3, 4), torch.tensor([0, 1, 3])
    torch.testing.assert_close(
        losses.margin_loss(a.cuda(), y.cuda()).cpu(), losses.margin_loss(a, y)
    )
    torch.testing.assert_close(
        losses.spread_loss(a.cuda(), y.cuda()).cpu(), losses.spread_loss(a, y)
    )
    feats = torch.cat([torch.randn(10, 4), torch.randn(10, 4) + 20])
    module = losses.DeepClustering(4, num_clusters=2).cuda()
    module.init_kmeans(feats.cuda(), seed=0)
    module.update_centers(feats.cuda())
    assert module(feats.cuda()).is_cuda
    assert module.assign(feats.cuda()).unique().numel() == 2
