"""The TP/FP/TN/FN graph of detections and candidates, solved exactly by max-flow.

Zolfaghari Bengar (2021), Sec. 2.3.2, "Graphical model". Every detection and candidate is a
variable; edges join linked detections and each candidate with the detections it was tracked
from. The energy is (Eq. 2.1)

    E(L) = sum_v phi_v(l_v) + sum_{(v1, v2) in edges} psi(l_v1, l_v2)

with, in the label order (TP, FP, TN, FN), the unary costs (Eqs. 2.2, 2.3)

    phi_detection = (0, 1, inf, inf)        phi_candidate = (inf, inf, 0, 1)

and the pairwise cost (Eq. 2.4)

    psi = [[0, 1, 1, 0],
           [1, 0, 0, 1],
           [1, 0, 0, 1],
           [0, 1, 1, 0]].

The infinite costs leave each variable two labels, and, as the thesis notes, the problem is a
binary one: write ``x_v = 1`` for "an object is there" (TP for a detection, FN for a candidate)
and ``x_v = 0`` for "no object" (FP, TN). Then Eq. 2.4 is exactly ``[x_v1 != x_v2]`` (TP-TP,
TP-FN, FP-FP, FP-TN cost 0; every mixed pair costs 1), a Potts term. The unary costs do not
depend on detector scores in the thesis; here a detection pays ``fp_cost`` (1) for ``x = 0``,
a candidate ``fn_cost`` (1) for ``x = 1``, and an edge ``pairwise_weight`` (1) for
disagreeing. With non-negative edge weights the energy is submodular, so one s-t minimum cut
gives a global minimum ([76] in the thesis; PyMaxflow here, built from numpy arrays).

Example:
    >>> import numpy as np
    >>> u0 = np.array([1.0, 1.0, 0.0]); u1 = np.array([0.0, 0.0, 1.0])  # 2 detections, 1 cand.
    >>> edges = np.array([[0, 1], [0, 2], [1, 2]]); w = np.ones(3)
    >>> solve_coherence(2, 1, u0, u1, edges, w)  # two linked detections pull the candidate
    array([1, 1, 1], dtype=int8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import maxflow
import numpy as np

from .errors import TrackingError
from .flow import Flows
from .link import Candidates, Detections, find_candidates, link_detections
from .propagate import propagate_detections

__all__ = [
    "CoherenceResult",
    "coherence_energy",
    "estimate_errors",
    "solve_coherence",
    "thesis_unaries",
]


def _check_problem(
    unary0: np.ndarray, unary1: np.ndarray, edges: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    u0 = np.asarray(unary0, dtype=np.float64)
    u1 = np.asarray(unary1, dtype=np.float64)
    if u0.ndim != 1 or u1.shape != u0.shape:
        raise TrackingError(
            f"unary0 and unary1 must both have shape [N], got {u0.shape} and {u1.shape}"
        )
    e = np.asarray(edges)
    e = e.reshape(0, 2) if e.size == 0 else e
    if e.ndim != 2 or e.shape[1] != 2:
        raise TrackingError(f"edges must have shape [E, 2], got {e.shape}")
    if e.size and not np.issubdtype(e.dtype, np.integer):
        raise TrackingError(f"edges must hold integer indices, got {e.dtype}")
    e = e.astype(np.int64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (len(e),):
        raise TrackingError(f"weights must have shape [E] = [{len(e)}], got {w.shape}")
    if not (np.isfinite(u0).all() and np.isfinite(u1).all() and np.isfinite(w).all()):
        raise TrackingError("unary costs and weights must be finite")
    if (w < 0).any():
        raise TrackingError("weights must be non-negative (a negative weight is not submodular)")
    if len(e) and (e.min() < 0 or e.max() >= len(u0)):
        raise TrackingError(f"edges index variables outside [0, {len(u0)})")
    if (e[:, 0] == e[:, 1]).any():
        raise TrackingError("edges must join two different variables")
    return u0, u1, e, w


def coherence_energy(
    labels: np.ndarray,
    unary0: np.ndarray,
    unary1: np.ndarray,
    edges: np.ndarray,
    weights: np.ndarray,
) -> float:
    """Energy of a binary labelling, Eq. 2.1 in its binary form.

    ``E(x) = sum_n (unary1[n] if x_n else unary0[n]) + sum_e weights[e] * [x_i != x_j]``.

    Args:
        labels (ndarray[N]): 0/1 per variable.
        unary0 (ndarray[N]): cost of ``x = 0`` (FP for a detection, TN for a candidate).
        unary1 (ndarray[N]): cost of ``x = 1`` (TP for a detection, FN for a candidate).
        edges (ndarray[E, 2]): variable pairs.
        weights (ndarray[E]): non-negative Potts weights.

    Returns:
        The energy.
    """
    u0, u1, e, w = _check_problem(unary0, unary1, edges, weights)
    x = np.asarray(labels).astype(bool).reshape(-1)
    if x.shape != u0.shape:
        raise TrackingError(f"labels must have shape [N] = [{len(u0)}], got {x.shape}")
    return float(np.where(x, u1, u0).sum() + (w * (x[e[:, 0]] != x[e[:, 1]])).sum())


def thesis_unaries(
    num_detections: int,
    num_candidates: int,
    *,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary unary costs of Eqs. 2.2 and 2.3, detections first, then candidates.

    A detection costs 0 as TP (``x = 1``) and ``fp_cost`` as FP (``x = 0``); a candidate costs
    0 as TN (``x = 0``) and ``fn_cost`` as FN (``x = 1``).

    Args:
        num_detections: ``N_d``.
        num_candidates: ``N_c``.
        fp_cost: the thesis' 1.
        fn_cost: the thesis' 1.

    Returns:
        ``(unary0, unary1)``, each ndarray[N_d + N_c] float64.
    """
    is_det = np.arange(num_detections + num_candidates) < num_detections
    unary0 = np.where(is_det, fp_cost, 0.0)
    unary1 = np.where(is_det, 0.0, fn_cost)
    return unary0, unary1


def solve_coherence(
    num_detections: int,
    num_candidates: int,
    unary0: np.ndarray,
    unary1: np.ndarray,
    edges: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Exact minimiser of the binary energy of Eq. 2.1 by one s-t minimum cut.

    Variables are the ``N_d`` detections followed by the ``N_c`` candidates. Construction: a
    node per variable; the terminal edges carry ``unary1`` from the source and ``unary0`` to
    the sink (after subtracting ``min(unary0, unary1)`` per node, a constant), so a node cut to
    the sink side pays ``unary1`` and means ``x = 1``; every edge becomes a pair of arcs of
    capacity ``weights[e]``, paid when its ends fall on different sides. All nodes and arcs are
    added with array calls (PyMaxflow 1.3: ``add_nodes``, ``add_grid_tedges``, ``add_edges``).

    Args:
        num_detections: ``N_d``.
        num_candidates: ``N_c``.
        unary0 (ndarray[N]): cost of ``x = 0``, ``N = N_d + N_c``.
        unary1 (ndarray[N]): cost of ``x = 1``.
        edges (ndarray[E, 2]): variable pairs (any order, repeats add up).
        weights (ndarray[E]): non-negative Potts weights (Eq. 2.4 scaled).

    Returns:
        ndarray[N] int8: ``x``; for detections 1 = TP, 0 = FP; for candidates 1 = FN, 0 = TN.
        Among labellings of equal energy the cut picks one.

    Raises:
        TrackingError: on bad shapes, indices, non-finite costs or negative weights.
    """
    u0, u1, e, w = _check_problem(unary0, unary1, edges, weights)
    n = len(u0)
    if num_detections < 0 or num_candidates < 0 or num_detections + num_candidates != n:
        raise TrackingError(
            f"unary costs have {n} entries but num_detections + num_candidates = "
            f"{num_detections} + {num_candidates}"
        )
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    base = np.minimum(u0, u1)
    graph = maxflow.Graph[float](n, max(len(e), 1))
    nodes = np.asarray(graph.add_nodes(n), dtype=np.int64)  # node ids [N]
    graph.add_grid_tedges(nodes, u1 - base, u0 - base)
    if len(e):
        graph.add_edges(nodes[e[:, 0]], nodes[e[:, 1]], w, w)
    graph.maxflow()
    return graph.get_grid_segments(nodes).astype(np.int8)


@dataclass(frozen=True)
class CoherenceResult:
    """Estimated errors of one video (thesis Sec. 2.3.2, "Acquisition function").

    Attributes:
        detections: the flattened detections (``links`` index them).
        detection_labels (list[ndarray[N_t] int8]): per frame, aligned with the input boxes:
            1 = TP, 0 = FP, -1 = not used (score below the threshold or empty box).
        candidates: the candidates (possible missed objects).
        candidate_labels (ndarray[M] int8): 1 = FN (a missed object), 0 = TN.
        links (ndarray[E, 2] int64): linked detection pairs (flattened indices).
        fp_per_frame (ndarray[T] int64): detections labelled FP in each frame.
        fn_per_frame (ndarray[T] int64): candidates labelled FN in each frame.
        energy: Eq. 2.1 at the solution, without the tie-break.
    """

    detections: Detections
    detection_labels: list[np.ndarray]
    candidates: Candidates
    candidate_labels: np.ndarray
    links: np.ndarray
    fp_per_frame: np.ndarray
    fn_per_frame: np.ndarray
    energy: float


def estimate_errors(
    detections_per_frame: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    flows: Flows,
    *,
    window: int = 3,
    iou_threshold: float = 0.5,
    cluster_iou: float | None = None,
    mode: str = "center",
    score_threshold: float = 0.5,
    min_visible: float = 0.5,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    pairwise_weight: float = 1.0,
    tie_break: bool = True,
) -> CoherenceResult:
    """Estimate the FP and FN of a detector on one video by temporal coherence.

    Tracks every used detection ``window`` frames each way (:mod:`tracking.propagate`), links
    and finds candidates (:mod:`tracking.link`), builds the graph of Eqs. 2.1-2.4 and solves it
    exactly (:func:`solve_coherence`). The thesis tracks 3 frames each way and thresholds
    detections at score 0.5 (Sec. 2.5.1).

    Args:
        detections_per_frame: for each of the ``T`` frames ``(boxes [N_t, 4] x1 y1 x2 y2
            pixels, labels [N_t] int, scores [N_t])``.
        flows: the video's :class:`~tracking.flow.Flows` (``flows.num_frames == T``); boxes
            are clipped to ``flows.frame_size``.
        window: frames tracked in each direction.
        iou_threshold: ``theta`` for links (``IoU > theta``).
        cluster_iou: IoU that joins tracked boxes into one candidate; ``iou_threshold`` if None.
        mode: ``"center"`` (the thesis) or ``"median"`` box motion.
        score_threshold: detections below it are ignored (labelled -1).
        min_visible: tracked boxes with less of their area inside the frame are ignored.
        fp_cost: unary cost of calling a detection FP (Eq. 2.2: 1).
        fn_cost: unary cost of calling a candidate FN (Eq. 2.3: 1).
        pairwise_weight: cost of a disagreeing edge (Eq. 2.4: 1).
        tie_break: among minimisers prefer fewer errors (TP over FP, TN over FN): adds
            ``eps = min(fp_cost, fn_cost, pairwise_weight) / (4 (N + 1))`` to each error
            label's cost. The total added is below a quarter of the smallest cost, so with
            costs that are integer multiples of it (the thesis' all-ones) the result is still
            an exact minimiser of Eq. 2.1.

    Returns:
        :class:`CoherenceResult`.

    Raises:
        TrackingError: on malformed detections, a frame-count mismatch or bad options.

    Example:
        >>> import numpy as np
        >>> from tracking.flow import Flows
        >>> still = np.zeros((4, 40, 40, 2), np.float32)
        >>> flows = Flows(forward=still, backward=still, frame_size=(40, 40))
        >>> box = np.array([[5, 5, 15, 15]], np.float32)
        >>> one = (box, np.array([0]), np.array([0.9], np.float32))
        >>> none = (np.zeros((0, 4), np.float32), np.zeros(0, int), np.zeros(0, np.float32))
        >>> result = estimate_errors([one, one, none, one, one], flows)
        >>> result.fp_per_frame.tolist(), result.fn_per_frame.tolist()
        ([0, 0, 0, 0, 0], [0, 0, 1, 0, 0])
    """
    if min(fp_cost, fn_cost, pairwise_weight) < 0:
        raise TrackingError("fp_cost, fn_cost and pairwise_weight must be non-negative")
    if len(detections_per_frame) != flows.num_frames:
        raise TrackingError(
            f"detections_per_frame has {len(detections_per_frame)} frames but flows cover "
            f"{flows.num_frames}"
        )
    dets = Detections.from_frames(
        detections_per_frame, frame_size=flows.frame_size, score_threshold=score_threshold
    )
    used = np.flatnonzero(dets.used)  # graph variable k < N_d is detection used[k]
    links, cands = _link(
        dets,
        used,
        flows,
        window=window,
        mode=mode,
        iou_threshold=iou_threshold,
        cluster_iou=iou_threshold if cluster_iou is None else cluster_iou,
        min_visible=min_visible,
    )
    n_det, n_cand = len(used), len(cands)
    edges = _graph_edges(len(dets), used, links, cands)
    weights = np.full(len(edges), float(pairwise_weight))
    unary0, unary1 = thesis_unaries(n_det, n_cand, fp_cost=fp_cost, fn_cost=fn_cost)
    solve0, solve1 = unary0, unary1
    if tie_break:
        solve0, solve1 = _tie_broken(unary0, unary1, n_det, (fp_cost, fn_cost, pairwise_weight))
    x = solve_coherence(n_det, n_cand, solve0, solve1, edges, weights)
    energy = coherence_energy(x, unary0, unary1, edges, weights)
    return _result(dets, used, cands, links, x, energy)


def _link(
    dets: Detections,
    used: np.ndarray,
    flows: Flows,
    *,
    window: int,
    mode: str,
    iou_threshold: float,
    cluster_iou: float,
    min_visible: float,
) -> tuple[np.ndarray, Candidates]:
    """Track the used detections (flattened indices ``used (ndarray[N_d])``) ``window``
    frames each way, link them and find the candidates.

    Returns:
        ``(links ndarray[E, 2] int64 of linked flattened detection indices, candidates)``.
    """
    # track only the used detections, then renumber sources into the flattened order
    bounds = np.searchsorted(dets.frame[used], np.arange(1, dets.num_frames))
    prop = propagate_detections(
        np.split(dets.boxes[used], bounds) if dets.num_frames else [],
        flows,
        window=window,
        mode=mode,
    )
    prop = replace(prop, source=used[prop.source])
    links, matched = link_detections(
        dets, prop, iou_threshold=iou_threshold, min_visible=min_visible
    )
    cands = find_candidates(dets, prop, matched, cluster_iou=cluster_iou, min_visible=min_visible)
    return links, cands


def _graph_edges(
    num_flat: int, used: np.ndarray, links: np.ndarray, cands: Candidates
) -> np.ndarray:
    """The graph's edges ndarray[E, 2] over its variables (the ``N_d`` used detections, then
    the candidates): the links, then each candidate with the detections it was tracked from.
    ``num_flat`` is the number of flattened detections, used or not."""
    var_of_det = np.full(num_flat, -1, dtype=np.int64)
    var_of_det[used] = np.arange(len(used))
    return np.concatenate(
        [
            var_of_det[links],
            np.stack([len(used) + cands.support[:, 0], var_of_det[cands.support[:, 1]]], 1),
        ]
    )


def _tie_broken(
    unary0: np.ndarray, unary1: np.ndarray, num_detections: int, costs: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The unary costs ``[N]`` with every error label (FP, FN) a little dearer: ``eps`` =
    the smallest positive cost / ``(4 (N + 1))`` (see :func:`estimate_errors`)."""
    positive = [c for c in costs if c > 0]
    eps = min(positive, default=1.0) / (4.0 * (len(unary0) + 1))
    is_det = np.arange(len(unary0)) < num_detections
    return unary0 + np.where(is_det, eps, 0.0), unary1 + np.where(is_det, 0.0, eps)


def _result(
    dets: Detections,
    used: np.ndarray,
    cands: Candidates,
    links: np.ndarray,
    x: np.ndarray,
    energy: float,
) -> CoherenceResult:
    """The solution ``x (ndarray[N_d + N_c])`` as labels per frame and counts per frame."""
    n_det = len(used)
    det_labels = np.full(len(dets), -1, dtype=np.int8)
    det_labels[used] = x[:n_det]
    cand_labels = x[n_det:].astype(np.int8)
    num_frames = dets.num_frames
    fp = np.bincount(dets.frame[used][x[:n_det] == 0], minlength=num_frames)
    fn = np.bincount(cands.frame[cand_labels == 1], minlength=num_frames)
    ends = np.searchsorted(dets.frame, np.arange(1, num_frames))  # frame bounds, [T-1]
    return CoherenceResult(
        detections=dets,
        detection_labels=np.split(det_labels, ends) if num_frames else [],
        candidates=cands,
        candidate_labels=cand_labels,
        links=links,
        fp_per_frame=fp.astype(np.int64),
        fn_per_frame=fn.astype(np.int64),
        energy=energy,
    )
