"""Pseudo-labels: box interpolation, rasterisation, nearest labeled masks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import (
    LossInputError,
    boxes_to_masks,
    interpolate_boxes,
    mgw_loss,
    nearest_labeled_masks,
)

NAN = float("nan")


def test_interpolate_hand_case_and_hold_outside():
    boxes = torch.tensor(
        [
            [NAN, NAN, NAN, NAN],
            [0.0, 0.0, 10.0, 10.0],
            [NAN, NAN, NAN, NAN],
            [NAN, NAN, NAN, NAN],
            [6.0, 3.0, 16.0, 13.0],
            [NAN, NAN, NAN, NAN],
        ]
    )
    labeled = torch.tensor([False, True, False, False, True, False])
    out = interpolate_boxes(boxes, labeled)
    expected = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # before the first labeled frame: held
            [0.0, 0.0, 10.0, 10.0],
            [2.0, 1.0, 12.0, 11.0],
            [4.0, 2.0, 14.0, 12.0],
            [6.0, 3.0, 16.0, 13.0],
            [6.0, 3.0, 16.0, 13.0],  # after the last: held
        ]
    )
    torch.testing.assert_close(out, expected)


def test_interpolate_batched_and_shared_labeled():
    gen = torch.Generator().manual_seed(0)
    boxes = torch.rand(3, 5, 4, generator=gen) * 50
    shared = torch.tensor([True, False, False, True, False])
    out = interpolate_boxes(boxes, shared)
    for b in range(3):
        torch.testing.assert_close(out[b], interpolate_boxes(boxes[b], shared))
    per_video = torch.tensor(
        [[True] * 5, [False, False, True, False, False], [False, True, False, True, True]]
    )
    out = interpolate_boxes(boxes, per_video)
    torch.testing.assert_close(out[0], boxes[0])
    torch.testing.assert_close(out[1], boxes[1, 2].expand(5, 4))
    torch.testing.assert_close(out[2, 2], (boxes[2, 1] + boxes[2, 3]) / 2)


def test_interpolate_integer_boxes_become_float():
    out = interpolate_boxes(
        torch.tensor([[0, 0, 2, 2], [0, 0, 0, 0], [2, 0, 4, 2]]), torch.tensor([True, False, True])
    )
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[1], torch.tensor([1.0, 0, 3, 2]))


@settings(max_examples=60, deadline=None)
@given(
    mask=st.lists(st.booleans(), min_size=1, max_size=12).filter(any),
    seed=st.integers(0, 2**16),
)
def test_interpolate_properties(mask, seed):
    labeled = torch.tensor(mask)
    boxes = torch.rand(len(mask), 4, generator=torch.Generator().manual_seed(seed)) * 100
    out = interpolate_boxes(boxes, labeled)
    assert torch.equal(out[labeled], boxes[labeled])  # labeled frames exactly kept
    assert torch.isfinite(out).all()
    # every interpolated coordinate lies between the labeled values around it
    known = boxes[labeled]
    assert (out >= known.min(dim=0).values - 1e-4).all()
    assert (out <= known.max(dim=0).values + 1e-4).all()


def test_interpolate_errors():
    with pytest.raises(LossInputError, match="labeled"):
        interpolate_boxes(torch.zeros(2, 3, 4), torch.tensor([[True, False, False], [False] * 3]))
    with pytest.raises(LossInputError, match="boxes"):
        interpolate_boxes(torch.zeros(3, 5), torch.ones(3, dtype=torch.bool))
    with pytest.raises(LossInputError, match=r"labeled must have shape \[T\]"):
        interpolate_boxes(torch.zeros(3, 4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(LossInputError, match="labeled must be a bool"):
        interpolate_boxes(torch.zeros(3, 4), torch.ones(3))


def test_boxes_to_masks_integer_boxes_are_slices():
    boxes = torch.tensor([[1.0, 2.0, 4.0, 5.0], [0.0, 0.0, 6.0, 1.0]])
    masks = boxes_to_masks(boxes, 6, 6)
    assert masks.shape == (2, 6, 6) and masks.dtype == torch.bool
    for mask, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist(), strict=True):
        expected = torch.zeros(6, 6, dtype=torch.bool)
        expected[y1:y2, x1:x2] = True
        assert torch.equal(mask, expected)


def test_boxes_to_masks_fractional_empty_and_batched():
    # a pixel is in when its centre is: [0.6, 2.4) covers centres 0.5? no, 1.5 yes, 2.5 no
    mask = boxes_to_masks(torch.tensor([0.6, 0.6, 2.4, 2.4]), 3, 3)
    expected = torch.zeros(3, 3, dtype=torch.bool)
    expected[1, 1] = True
    assert torch.equal(mask, expected)
    empty = torch.tensor([[3.0, 3.0, 3.0, 5.0], [5.0, 5.0, 2.0, 2.0], [NAN, 0, 4, 4]])
    assert not boxes_to_masks(empty, 6, 6).any()
    assert boxes_to_masks(torch.zeros(2, 7, 4), 5, 9).shape == (2, 7, 5, 9)
    # boxes past the border are clipped by construction
    assert boxes_to_masks(torch.tensor([-5.0, -5.0, 50.0, 50.0]), 4, 4).all()


def test_boxes_to_masks_errors():
    with pytest.raises(LossInputError, match="boxes"):
        boxes_to_masks(torch.zeros(3, 5), 4, 4)
    with pytest.raises(LossInputError, match="height"):
        boxes_to_masks(torch.zeros(3, 4), 0, 4)
    with pytest.raises(LossInputError, match="width"):
        boxes_to_masks(torch.zeros(3, 4), 4, 2.5)


def test_nearest_labeled_masks_hand_case():
    masks = torch.arange(7.0)[:, None, None].expand(7, 2, 2).clone()  # frame t filled with t
    masks[~torch.tensor([False, True, False, False, False, True, False])] = NAN
    labeled = torch.tensor([False, True, False, False, False, True, False])
    out = nearest_labeled_masks(masks, labeled)
    # frame 3 is equidistant from 1 and 5: the earlier labeled frame wins
    assert out[:, 0, 0].tolist() == [1, 1, 1, 1, 5, 5, 5]
    assert out.shape == masks.shape


def test_nearest_labeled_masks_batched_bool():
    masks = torch.zeros(2, 4, 3, 3, dtype=torch.bool)
    masks[0, 0, 1, 1] = True
    masks[1, 3] = True
    labeled = torch.tensor([[True, False, False, False], [False, False, False, True]])
    out = nearest_labeled_masks(masks, labeled)
    assert out.dtype == torch.bool
    assert all(out[0, t, 1, 1] and out[0, t].sum() == 1 for t in range(4))
    assert out[1].all()
    with pytest.raises(LossInputError, match="labeled"):
        nearest_labeled_masks(masks, torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(LossInputError, match="masks"):
        nearest_labeled_masks(torch.zeros(4, 3), labeled[0])


def test_pipeline_boxes_to_mgw_loss():
    """Interpolated boxes -> masks -> MGW loss, the way a training step uses them."""
    t, h, w = 8, 16, 16
    boxes = torch.full((2, t, 4), NAN)
    labeled = torch.zeros(2, t, dtype=torch.bool)
    boxes[0, 0], boxes[0, 7] = torch.tensor([0.0, 0, 8, 8]), torch.tensor([7.0, 7, 15, 15])
    boxes[1, 3] = torch.tensor([2.0, 2, 12, 12])
    labeled[0, [0, 7]] = True
    labeled[1, 3] = True
    target = boxes_to_masks(interpolate_boxes(boxes, labeled), h, w).float()
    logits = torch.zeros(2, t, h, w, requires_grad=True)
    loss = mgw_loss(logits, target, labeled)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
