"""The graph of Eqs. 2.1-2.4 and its max-flow solution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tracking import TrackingError, coherence_energy, solve_coherence, thesis_unaries

# Eq. 2.4 in the label order (TP, FP, TN, FN), and Eqs. 2.2 / 2.3.
PSI = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]], dtype=float)
PHI_DETECTION = np.array([0, 1, np.inf, np.inf])
PHI_CANDIDATE = np.array([np.inf, np.inf, 0, 1])
TP, FP, TN, FN = range(4)


def all_energies(u0, u1, edges, weights):
    """Energy of every one of the 2**N binary labellings, ``[2**N]``, by brute force."""
    n = len(u0)
    x = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)  # [2**N, N]
    energy = np.where(x, u1, u0).sum(axis=1)
    if len(edges):
        energy = energy + (x[:, edges[:, 0]] != x[:, edges[:, 1]]) @ weights
    return energy


def random_graph(rng, n):
    pairs = np.array(list(itertools.combinations(range(n), 2)), dtype=np.int64).reshape(-1, 2)
    keep = rng.random(len(pairs)) < rng.uniform(0.1, 0.7)
    edges = pairs[keep]
    if len(edges) and rng.random() < 0.3:  # repeated edges add up
        edges = np.concatenate([edges, edges[: rng.integers(1, len(edges) + 1)]])
    edges = edges[:, rng.permutation(2)] if len(edges) else edges
    weights = rng.uniform(0, 2, len(edges)) * (rng.random(len(edges)) > 0.1)
    return edges, weights


def test_max_flow_reaches_the_exhaustive_minimum_on_random_graphs():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 17))
        n_det = int(rng.integers(0, n + 1))
        edges, weights = random_graph(rng, n)
        if trial % 2:  # thesis-shaped: 0/1 unaries, unit weights
            u0, u1 = thesis_unaries(n_det, n - n_det)
            weights = np.ones(len(edges))
        else:  # arbitrary real unaries, including negative ones
            u0, u1 = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
        labels = solve_coherence(n_det, n - n_det, u0, u1, edges, weights)
        assert labels.shape == (n,) and labels.dtype == np.int8
        assert set(np.unique(labels)) <= {0, 1}
        best = all_energies(u0, u1, edges, weights).min()
        got = coherence_energy(labels, u0, u1, edges, weights)
        assert got == pytest.approx(best, abs=1e-9), f"trial {trial}: {got} > {best}"


def test_binary_energy_equals_the_four_label_energy_of_the_thesis():
    """x = 1 means TP for a detection and FN for a candidate; Eq. 2.1 with Eqs. 2.2-2.4 then
    equals the binary energy for every labelling of a small detection/candidate graph."""
    n_det, n_cand = 4, 3
    edges = np.array([[0, 1], [1, 2], [0, 3], [4, 0], [4, 1], [5, 2], [6, 3], [6, 2]])
    weights = np.ones(len(edges))
    u0, u1 = thesis_unaries(n_det, n_cand)
    for x in itertools.product([0, 1], repeat=n_det + n_cand):
        x = np.array(x)
        four = np.where(
            np.arange(len(x)) < n_det, np.where(x == 1, TP, FP), np.where(x == 1, FN, TN)
        )
        phi = sum((PHI_DETECTION if v < n_det else PHI_CANDIDATE)[four[v]] for v in range(len(x)))
        psi = sum(PSI[four[i], four[j]] for i, j in edges)
        assert coherence_energy(x, u0, u1, edges, weights) == phi + psi


def test_thesis_costs_read_as_the_equations():
    u0, u1 = thesis_unaries(2, 3, fp_cost=1.0, fn_cost=1.0)
    np.testing.assert_array_equal(u0, [1, 1, 0, 0, 0])  # FP costs 1, TN costs 0
    np.testing.assert_array_equal(u1, [0, 0, 1, 1, 1])  # TP costs 0, FN costs 1


def test_two_linked_detections_outvote_a_missing_frame():
    # detections 0, 1 linked; candidate 2 supported by both: FN (cost 1) beats TN (cost 2)
    u0, u1 = thesis_unaries(2, 1)
    edges = np.array([[0, 1], [2, 0], [2, 1]])
    labels = solve_coherence(2, 1, u0, u1, edges, np.ones(3))
    np.testing.assert_array_equal(labels, [1, 1, 1])


def test_a_detection_contradicted_by_its_tracks_is_a_false_positive():
    # a lone detection whose tracked boxes found nothing in 6 frames: 6 candidates
    u0, u1 = thesis_unaries(1, 6)
    edges = np.stack([np.arange(1, 7), np.zeros(6, int)], 1)
    labels = solve_coherence(1, 6, u0, u1, edges, np.ones(6))
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, 0, 0, 0])


def test_empty_graph():
    assert solve_coherence(
        0, 0, np.zeros(0), np.zeros(0), np.zeros((0, 2), int), np.zeros(0)
    ).shape == (0,)


@pytest.mark.parametrize(
    "args, message",
    [
        ((2, 0, [0, 0], [1, 1], [[0, 1]], [-1.0]), "non-negative"),
        ((2, 0, [0, 0], [1, 1, 1], [[0, 1]], [1.0]), "shape"),
        ((2, 0, [0, 0], [1, 1], [[0, 2]], [1.0]), "outside"),
        ((2, 0, [0, 0], [1, 1], [[0, 1, 1]], [1.0]), r"\[E, 2\]"),
        ((2, 0, [0, 0], [1, 1], [[0, 1]], [1.0, 2.0]), r"weights must have shape"),
        ((2, 0, [0, np.inf], [1, 1], [[0, 1]], [1.0]), "finite"),
        ((2, 0, [0, 0], [1, 1], [[1, 1]], [1.0]), "different"),
        ((1, 0, [0, 0], [1, 1], [[0, 1]], [1.0]), "num_detections"),
    ],
)
def test_bad_graphs_raise_tracking_error(args, message):
    n_det, n_cand, u0, u1, edges, weights = args
    with pytest.raises(TrackingError, match=message):
        solve_coherence(
            n_det, n_cand, np.array(u0), np.array(u1), np.array(edges), np.array(weights)
        )
