"""Class-balanced selection (Zolfaghari Bengar, PhD thesis 2021, ch. 4; WACV 2022).

Active learning on a long-tailed pool labels mostly the frequent classes: the most
informative frames follow the pool's class distribution (thesis Sec. 4.3.2). Class-balanced
active learning trusts the model's predicted classes and picks frames that are informative
*and* bring the labeled set's classes towards the same count. For ``N`` candidates in ``C``
classes with predicted class probabilities ``P (ndarray[N, C])`` (Eq. 4.1) and a selection
vector ``z`` in ``{0, 1}^N``:

- **Target** (Eq. 4.3-4.4): ``Omega(c) = [omega_1 .. omega_C]``,
  ``omega_i = max((c b + b_0) / C - n_i, 0)``: what each class needs to reach the same count
  once this cycle's ``b`` picks join the ``c b + b_0 - b = |L|`` labeled items, ``n_i`` of
  them of class ``i``. Classes already above the mean get 0 (no oversampling).
- **Program** (Eq. 4.8, and Eq. 4.9 for any score ``u``)::

      min_z  -u^T z + lambda || Omega(c) - P^T z ||_1   s.t.  1^T z = b,  z_i in {0, 1}

  with ``u`` the entropy of Eq. 4.6 (``-z^T (P . log P) 1``, Eq. 4.7) or any per-frame
  informativeness. The L1 term is linearised with ``C`` auxiliary variables
  ``t_k >= |omega_k - (P^T z)_k|`` and the binary program solved by
  :func:`scipy.optimize.milp` (HiGHS, LP relaxation with branch and bound).
- **Greedy variant** (Algorithm 2, class-balanced KCenterGreedy): ``b`` times, pick
  ``argmin_i -d_i + lambda || Omega(c) - P^T z - p_i ||_1`` where ``d_i`` is the distance of
  candidate ``i`` to its nearest labeled or already picked item in an embedding space.

``P^T z`` counts the selected classes. With ``counts="soft"`` (the default) the rows are
the probabilities themselves (Eq. 4.8 as written): HiGHS solves the program exactly on up
to :data:`MILP_MAX_ITEMS` candidates; beyond, its LP relaxation is rounded (within a stated
gap of the optimum). With ``counts="hard"`` each row is the one-hot predicted class
(argmax; the thesis' "Entropy-L1-Pseudo Label", Fig. 4.7): the program then separates by
class and is solved exactly by sorting (:func:`pick_balanced`). On a simulated pool with
UCF-101-24's imbalance, soft counts balanced the true classes more: among the most
uncertain frames the argmax says little about the class (``tools/study_balance.py``).

What the selectors read from :class:`~vidal.select.base.FrameScores`:

- ``frames[v]`` float ``ndarray[T]``: the informativeness ``u`` (entropy or any score).
- ``extra["probs"][v]`` float ``ndarray[T, C]``: each frame's predicted class probabilities
  (non-negative rows summing to 1; a one-hot row for a hard prediction).
- ``extra["labels"][v]`` (optional) int ``ndarray[T]``: the annotated class of each labeled
  frame, ``-1`` where unknown. These give ``n_i``; without them the labeled frames' predicted
  classes stand in (``Selection.info["labeled_counts_from"]`` says which).
- ``extra["frame_features"][v]`` float ``ndarray[T, D]`` (KCenter only): each frame's embedding.

The same functions pick videos: :class:`BalancedCLAUSSelector` chooses CLAUS's videos with
:func:`pick_balanced`, their class counts from ``pool.labeled_videos``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial.distance import cdist

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, unlabeled_table, videos_in_order
from vidal.select.base import FrameScores, Selection, check_scores
from vidal.select.claus import CLAUSSelector

__all__ = [
    "BalancedPick",
    "BalancedSelector",
    "BalancedKCenterSelector",
    "BalancedCLAUSSelector",
    "balance_target",
    "balance_objective",
    "l1_score",
    "pick_balanced",
    "kcenter_balanced",
]

_ROW_TOL = 1e-3  # how far a row of class probabilities may sum from 1


def balance_target(
    labeled_counts: np.ndarray, picks: int, *, proportions: np.ndarray | None = None
) -> np.ndarray:
    """The balancing target ``Omega(c)`` of thesis Eq. 4.4.

    ``omega_i = max(pi_i (|L| + b) - n_i, 0)`` with ``|L| = sum_i n_i`` labeled items and
    ``b`` picks this cycle; ``pi_i = 1 / C`` in the thesis (a uniform test distribution),
    other class proportions when given.

    Args:
        labeled_counts (ndarray[C]): ``n_i``, labeled items of each class.
        picks: ``b``, items picked this cycle.
        proportions (ndarray[C] | None): target class proportions (normalised here).

    Returns:
        float64 ``ndarray[C]``.

    Example:
        >>> balance_target(np.array([6, 2, 0]), 4).tolist()
        [0.0, 2.0, 4.0]
    """
    n = np.asarray(labeled_counts, dtype=np.float64)
    pi = np.full(len(n), 1.0 / max(len(n), 1)) if proportions is None else np.asarray(proportions)
    pi = pi / pi.sum()
    return np.maximum(pi * (n.sum() + picks) - n, 0.0)


def l1_score(counts: np.ndarray) -> float:
    """Imbalance of class counts, thesis Eq. 4.10: 0 uniform, 1 all in one class.

    ``|| n - (sum n / C) 1 ||_1`` divided by its largest value ``2 (sum n) (C - 1) / C``.

    Args:
        counts (ndarray[C]): items of each class.

    Example:
        >>> l1_score(np.array([5, 5, 5])), l1_score(np.array([9, 0, 0]))
        (0.0, 1.0)
    """
    n = np.asarray(counts, dtype=np.float64)
    total, c = n.sum(), len(n)
    if total <= 0 or c < 2:
        return 0.0
    return float(np.abs(n - total / c).sum() / (2.0 * total * (c - 1) / c))


def balance_objective(
    gain: np.ndarray, probs: np.ndarray, chosen: np.ndarray, omega: np.ndarray, *, lam: float
) -> float:
    """The cost of Eq. 4.8 / 4.9 for the items ``chosen``: ``-u^T z + lam ||Omega - P^T z||_1``.

    Args:
        gain (ndarray[N]): informativeness ``u``.
        probs (ndarray[N, C]): class rows ``P``.
        chosen (ndarray[n]): int indices with ``z = 1``.
        omega (ndarray[C]): the target.
        lam: ``lambda``.
    """
    chosen = np.asarray(chosen, dtype=np.int64)
    counts = np.asarray(probs, dtype=np.float64)[chosen].sum(0)
    return float(-np.asarray(gain)[chosen].sum() + lam * np.abs(omega - counts).sum())


@dataclass(frozen=True)
class BalancedPick:
    """The items a balanced pick chose.

    Attributes:
        indices: int64 ``ndarray[n]`` chosen items, ascending.
        objective: the program's cost (:func:`balance_objective`) at the choice.
        method: ``"sorted"`` (exact, by class), ``"milp"`` (HiGHS, optimal),
            ``"milp-limit"`` (HiGHS stopped at the time limit: best found, ``gap`` from the
            optimum at most), ``"lp"`` (LP relaxation rounded, within ``gap``),
            ``"greedy"`` (Algorithm 2's order, no optimality bound).
        gap: proven bound on ``objective - optimum`` (0 when optimal, inf when unknown).
    """

    indices: np.ndarray
    objective: float
    method: str
    gap: float


def _is_one_hot(probs: np.ndarray) -> bool:
    return bool(np.all((probs == 0) | (probs == 1)) and np.all(probs.sum(1) == 1))


def _sorted_pick(gain: np.ndarray, probs: np.ndarray, count: int, omega: np.ndarray, lam: float):
    """Exact optimum of Eq. 4.8 for one-hot rows and only the count constraint.

    The cost separates by class: ``sum_c [lam |omega_c - m_c| - S_c(m_c)]`` with ``m_c`` the
    picks of class ``c`` and ``S_c(m)`` the sum of its ``m`` best gains. Each term is convex
    in ``m`` (``S_c`` is concave, ``|omega - m|`` convex), so the optimum under
    ``sum m_c = b`` takes the ``b`` best marginal gains ``u_(m) - lam (|m - omega_c| -
    |m - 1 - omega_c|)`` over all classes (the classic separable convex allocation), and
    within a class these fall with ``m``: a prefix of its best items. Ties go to the lower
    index.
    """
    cls = probs.argmax(1)
    order = np.lexsort((np.arange(len(gain)), -gain, cls))  # class, then best first
    start = np.searchsorted(cls[order], np.arange(probs.shape[1]))
    rank = np.arange(len(gain)) - start[cls[order]] + 1  # m of each item in its class
    w = omega[cls[order]]
    marginal = np.empty(len(gain))
    marginal[order] = gain[order] - lam * (np.abs(rank - w) - np.abs(rank - 1 - w))
    return np.sort(np.lexsort((np.arange(len(gain)), -marginal))[:count])


def _prune(gain, probs, count, costs, groups) -> np.ndarray:
    """Items that can be in an optimum: the ``count`` best of each set of interchangeable
    items (same class row, cost and group; swapping a worse one for a better one never hurts).
    """
    key = np.column_stack(
        [probs]
        + ([costs[:, None]] if costs is not None else [])
        + ([groups[:, None]] if groups is not None else [])
    )
    _, kind = np.unique(key, axis=0, return_inverse=True)
    kind = kind.ravel()
    order = np.lexsort((np.arange(len(gain)), -gain, kind))
    start = np.searchsorted(kind[order], np.arange(kind.max() + 1))
    rank = np.arange(len(gain)) - start[kind[order]]
    return np.sort(order[rank < count])


def _program(gain, probs, count, omega, lam, costs, max_cost, groups, caps):
    """Eq. 4.8 as a MILP over ``x = [z (N), y (C), t (C)]``: ``y = P^T z``, ``t >= |Omega - y|``.

    Returns ``(c, constraints, integrality, bounds)`` for :func:`scipy.optimize.milp`.
    """
    n, k = probs.shape

    def row(z_part, y_part=None, t_part=None):
        m = z_part.shape[0]
        blank = sparse.csr_array((m, k))
        return sparse.hstack(
            [z_part, blank if y_part is None else y_part, blank if t_part is None else t_part]
        )

    eye = sparse.identity(k, format="csr")
    none = sparse.csr_array((k, n))
    constraints = [
        LinearConstraint(row(sparse.csr_array(probs.T), -eye), 0.0, 0.0),  # y = P^T z
        LinearConstraint(row(sparse.csr_array(np.ones((1, n)))), count, count),  # 1^T z = b
        LinearConstraint(row(none, eye, eye), omega, np.inf),  # t >= Omega - y
        LinearConstraint(row(none, -eye, eye), -omega, np.inf),  # t >= y - Omega
    ]
    if max_cost is not None:
        constraints.append(LinearConstraint(row(sparse.csr_array(costs[None])), -np.inf, max_cost))
    if groups is not None:
        member = sparse.csr_array((np.ones(n), (groups, np.arange(n))), shape=(len(caps), n))
        constraints.append(LinearConstraint(row(member), -np.inf, caps))
    c = np.r_[-gain, np.zeros(k), np.full(k, float(lam))]
    integrality = np.r_[np.ones(n), np.zeros(2 * k)]
    bounds = Bounds(
        np.r_[np.zeros(n), np.full(k, -np.inf), np.zeros(k)],
        np.r_[np.ones(n), np.full(2 * k, np.inf)],
    )
    return c, constraints, integrality, bounds


def _greedy(
    gain,
    probs,
    count,
    omega,
    lam,
    *,
    costs=None,
    max_cost=None,
    groups=None,
    caps=None,
    update=None,
):
    """Algorithm 2's loop: ``count`` times take ``argmin_i -g_i + lam ||Omega - P^T z - p_i||_1``.

    Items that no longer fit ``max_cost`` or their group's cap are passed over; ties go to
    the lower index. ``update(i, g)`` returns the gains after item ``i`` is taken
    (KCenter: distances to the nearest picked item shrink).

    Returns:
        ``(picks, at_pick)``: int64 ``ndarray[n]`` in pick order and the gain each had.
    """
    g = np.asarray(gain, dtype=np.float64).copy()
    one_hot = _is_one_hot(probs)
    cls = probs.argmax(1)
    left = np.ones(len(g), dtype=bool)
    y = np.zeros(probs.shape[1])
    spent, used = 0.0, None if groups is None else np.zeros(len(caps))
    picks, at_pick = [], []
    for _ in range(int(count)):
        r = omega - y
        if one_hot:  # ||r - e_c||_1 = ||r||_1 - |r_c| + |r_c - 1|
            l1 = np.abs(r).sum() - np.abs(r[cls]) + np.abs(r[cls] - 1.0)
        else:
            l1 = np.abs(r[None, :] - probs).sum(1)
        ok = left.copy()
        if max_cost is not None:
            ok &= costs <= max_cost - spent + 1e-12
        if used is not None:
            ok &= used[groups] < caps[groups]
        if not ok.any():
            break
        cand = np.flatnonzero(ok)
        i = int(cand[np.argmin(-g[cand] + lam * l1[cand])])
        picks.append(i)
        at_pick.append(g[i])
        left[i] = False
        y += probs[i]
        spent += 0.0 if costs is None else float(costs[i])
        if used is not None:
            used[groups[i]] += 1
        if update is not None:
            g = update(i, g)
    return np.asarray(picks, dtype=np.int64), np.asarray(at_pick, dtype=np.float64)


def _check_pick_inputs(gain, probs, omega, costs, groups, caps):
    gain = np.asarray(gain, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    omega = np.asarray(omega, dtype=np.float64)
    n = len(gain)
    if gain.ndim != 1 or probs.shape[:1] != (n,) or probs.ndim != 2:
        raise VidalError(f"gain must be [N] and probs [N, C]; got {gain.shape} and {probs.shape}")
    if omega.shape != (probs.shape[1],):
        raise VidalError(f"omega must be [C] = [{probs.shape[1]}], got shape {omega.shape}")
    for name, a in (("gain", gain), ("probs", probs), ("omega", omega)):
        if not np.isfinite(a).all():
            raise VidalError(f"{name} has non-finite values")
    if costs is not None:
        costs = np.asarray(costs, dtype=np.float64)
        if costs.shape != (n,):
            raise VidalError(f"costs must be [N] = [{n}], got shape {costs.shape}")
    if (groups is None) != (caps is None):
        raise VidalError("groups and group_caps go together")
    if groups is not None:
        groups = np.asarray(groups, dtype=np.int64)
        caps = np.asarray(caps, dtype=np.float64)
        if groups.shape != (n,) or (n and (groups.min() < 0 or groups.max() >= len(caps))):
            raise VidalError(f"groups must be [N] = [{n}] ints in 0 .. {len(caps) - 1}")
    return gain, probs, omega, costs, groups, caps


SOLVERS = ("auto", "milp", "lp", "greedy")

MILP_MAX_ITEMS = 1000
"""With ``solver="auto"`` and probability rows, HiGHS runs the MILP on at most this many
items (after pruning); beyond, the LP relaxation is rounded (``tools/study_balance.py
--time``: at 10,000 frames HiGHS finds no integer solution in 30 s, the rounding takes
about a second)."""


def pick_balanced(
    gain: np.ndarray,
    probs: np.ndarray,
    count: int,
    omega: np.ndarray,
    *,
    lam: float,
    costs: np.ndarray | None = None,
    max_cost: float | None = None,
    groups: np.ndarray | None = None,
    group_caps: np.ndarray | None = None,
    solver: str = "auto",
    time_limit: float = 30.0,
) -> BalancedPick:
    """Solve thesis Eq. 4.8 / 4.9: ``min_z -u^T z + lam ||Omega - P^T z||_1``, ``1^T z = b``.

    Items may be frames or videos. Optional side constraints: ``costs^T z <= max_cost``, and
    at most ``group_caps[g]`` items of each group ``g`` (CLAUS's cluster quotas).

    Solvers:

    - ``"milp"``: the program with the L1 term linearised (``C`` auxiliary variables), on
      the items that can be optimal (the ``b`` best of each set of interchangeable items),
      by :func:`scipy.optimize.milp` (HiGHS) within ``time_limit`` seconds; optimal unless
      the limit stops it (a warning then names the proven gap).
    - ``"lp"``: the same program without integrality (the LP relaxation, HiGHS); the items
      at 1 are taken and the rest filled in Algorithm 2's order; ``gap`` is the distance to
      the relaxation's bound, so the result is within ``gap`` of the optimum.
    - ``"greedy"``: Algorithm 2's order from the start (no bound).
    - ``"auto"``: sorting (exact, :func:`_sorted_pick`) for one-hot rows without side
      constraints; ``"milp"`` for one-hot rows with them, and for probability rows on up
      to :data:`MILP_MAX_ITEMS` items; ``"lp"`` beyond.

    Args:
        gain (ndarray[N]): informativeness ``u`` (higher is better).
        probs (ndarray[N, C]): class rows ``P`` (one-hot for hard predictions).
        count: ``b``, items to pick (at most ``N``).
        omega (ndarray[C]): the target (:func:`balance_target`).
        lam: ``lambda >= 0``; 0 gives the ``b`` best gains.
        costs (ndarray[N] | None): item costs, with ``max_cost``.
        max_cost: most total cost, or None.
        groups (ndarray[N] | None): int group of each item, with ``group_caps (ndarray[G])``.
        group_caps: most items per group.
        solver: one of :data:`SOLVERS`.
        time_limit: seconds HiGHS may take.

    Returns:
        :class:`BalancedPick`.

    Raises:
        VidalError: mis-shaped or non-finite input, or side constraints no ``b`` items meet.

    Example:
        >>> probs = np.eye(2)[[0, 0, 0, 1]]  # three frames predicted class 0, one class 1
        >>> gain = np.array([0.9, 0.8, 0.7, 0.1])
        >>> pick_balanced(gain, probs, 2, np.array([1.0, 1.0]), lam=0.0).indices.tolist()
        [0, 1]
        >>> pick_balanced(gain, probs, 2, np.array([1.0, 1.0]), lam=1.0).indices.tolist()
        [0, 3]
    """
    check_option(solver in SOLVERS, f"solver={solver!r}: use one of {', '.join(SOLVERS)}")
    check_option(lam >= 0 and math.isfinite(lam), f"lam={lam} must be a finite number >= 0")
    gain, probs, omega, costs, groups, caps = _check_pick_inputs(
        gain, probs, omega, costs, groups, group_caps
    )
    if max_cost is not None and costs is None:
        raise VidalError("max_cost needs costs")
    costs = None if max_cost is None else costs  # no cost limit: costs play no part
    problem = _Problem(
        gain, probs, int(min(count, len(gain))), omega, float(lam), costs, max_cost, groups, caps
    )
    if problem.count <= 0:
        return BalancedPick(np.zeros(0, np.int64), 0.0, "sorted", 0.0)
    if solver == "greedy":
        return problem.result(np.sort(problem.greedy(np.arange(len(gain)))), "greedy", math.inf)
    one_hot = _is_one_hot(probs)
    if solver == "auto" and one_hot and max_cost is None and groups is None:
        return problem.result(_sorted_pick(gain, probs, problem.count, omega, lam), "sorted", 0.0)
    keep = _prune(gain, probs, problem.count, costs, groups)
    if solver == "lp" or (solver == "auto" and not one_hot and len(keep) > MILP_MAX_ITEMS):
        return _lp_pick(problem, keep)
    return _milp_pick(problem, keep, time_limit)


def _subset(a: np.ndarray | None, items: np.ndarray) -> np.ndarray | None:
    return None if a is None else a[items]


@dataclass(frozen=True)
class _Problem:
    """One instance of Eq. 4.8 with its side constraints (see :func:`pick_balanced`)."""

    gain: np.ndarray  # [N]
    probs: np.ndarray  # [N, C]
    count: int
    omega: np.ndarray  # [C]
    lam: float
    costs: np.ndarray | None  # [N], only with max_cost
    max_cost: float | None
    groups: np.ndarray | None  # [N]
    caps: np.ndarray | None  # [G]

    def program(self, items: np.ndarray):
        """:func:`_program` on the ``items`` subset."""
        return _program(
            self.gain[items],
            self.probs[items],
            self.count,
            self.omega,
            self.lam,
            _subset(self.costs, items),
            self.max_cost,
            _subset(self.groups, items),
            self.caps,
        )

    def greedy(self, items: np.ndarray, taken: np.ndarray | None = None) -> np.ndarray:
        """Complete ``taken`` (int ``[m]``) to ``count`` items from ``items`` in Algorithm 2's
        order, under what is left of the limits; the items added, int ``[n]``."""
        taken = np.zeros(0, np.int64) if taken is None else taken
        max_cost = None
        if self.max_cost is not None and self.costs is not None:
            max_cost = self.max_cost - self.costs[taken].sum()
        caps = None
        if self.caps is not None and self.groups is not None:
            caps = self.caps - np.bincount(self.groups[taken], minlength=len(self.caps))
        picks, _ = _greedy(
            self.gain[items],
            self.probs[items],
            self.count - len(taken),
            self.omega - self.probs[taken].sum(0),
            self.lam,
            costs=_subset(self.costs, items),
            max_cost=max_cost,
            groups=_subset(self.groups, items),
            caps=caps,
        )
        return items[picks]

    def result(self, idx: np.ndarray, method: str, gap: float) -> BalancedPick:
        obj = balance_objective(self.gain, self.probs, idx, self.omega, lam=self.lam)
        return BalancedPick(np.asarray(idx, dtype=np.int64), obj, method, float(gap))

    def infeasible(self) -> VidalError:
        caps = None if self.caps is None else self.caps.tolist()
        return VidalError(
            f"no {self.count} items meet the constraints (max_cost={self.max_cost}, "
            f"group caps={caps})"
        )


def _lp_pick(problem: _Problem, keep: np.ndarray) -> BalancedPick:
    """The LP relaxation of Eq. 4.8 (HiGHS), its items at 1 completed greedily; the gap is
    to the relaxation's bound."""
    c, constraints, integrality, bounds = problem.program(keep)
    res = milp(c, constraints=constraints, integrality=np.zeros_like(integrality), bounds=bounds)
    if res.status == 2:
        raise problem.infeasible()
    if res.x is None:
        raise VidalError(f"HiGHS could not solve the LP relaxation: {res.message}")
    at_one = res.x[: len(keep)] > 1 - 1e-9
    taken = keep[at_one]
    idx = np.sort(np.r_[taken, problem.greedy(keep[~at_one], taken)])
    if len(idx) < problem.count:
        warnings.warn(
            f"LP rounding found only {len(idx)} of {problem.count} items within the limits; "
            "taking those (solver='milp' may find a full selection)",
            stacklevel=4,
        )
    pick = problem.result(idx, "lp", 0.0)
    return dataclasses.replace(pick, gap=max(0.0, pick.objective - float(res.fun)))


def _milp_pick(problem: _Problem, keep: np.ndarray, time_limit: float) -> BalancedPick:
    """Eq. 4.8 by HiGHS's branch and bound; the LP rounding when it finds nothing in time."""
    c, constraints, integrality, bounds = problem.program(keep)
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=bounds,
        options={"time_limit": float(time_limit)},
    )
    if res.status == 2:
        raise problem.infeasible()
    if res.x is None:
        warnings.warn(
            f"HiGHS found no integer solution in {time_limit:g} s ({res.message}); falling "
            "back to the rounded LP relaxation (solver='lp')",
            stacklevel=3,
        )
        return _lp_pick(problem, keep)
    idx = keep[np.flatnonzero(res.x[: len(keep)] > 0.5)]
    if res.status == 0:
        return problem.result(idx, "milp", 0.0)
    gap = float(res.fun - res.mip_dual_bound)
    warnings.warn(
        f"HiGHS stopped at the {time_limit:g} s limit; taking its best selection, within "
        f"{gap:.4g} of the optimum (the result may depend on machine speed: raise time_limit, "
        "or use solver='lp')",
        stacklevel=3,
    )
    return problem.result(idx, "milp-limit", gap)


def _nearest_distance(x: np.ndarray, ref: np.ndarray, *, block: int = 1 << 22) -> np.ndarray:
    """Euclidean distance from each row of ``x (ndarray[N, D])`` to its nearest row of
    ``ref (ndarray[L, D])``, in row blocks of about ``block`` pairs; ``ndarray[N]``."""
    out = np.full(len(x), np.inf)
    if len(ref) == 0:
        return out
    step = max(1, block // len(ref))
    for a in range(0, len(x), step):
        out[a : a + step] = cdist(x[a : a + step], ref, "sqeuclidean").min(1)
    return np.sqrt(out)


def _initial_distance(x: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """``d`` of Algorithm 2 line 2: to the nearest labeled row, or to the mean of ``x``."""
    if len(labeled):
        return _nearest_distance(x, labeled)
    return np.sqrt(((x - x.mean(0)) ** 2).sum(1)) if len(x) else np.zeros(0)


def kcenter_balanced(
    x: np.ndarray,
    labeled: np.ndarray,
    probs: np.ndarray,
    count: int,
    omega: np.ndarray,
    *,
    lam: float,
    costs: np.ndarray | None = None,
    max_cost: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy class-balanced KCenter, thesis Algorithm 2.

    ``count`` times: ``psi = argmin_i -d_i + lam ||Omega - P^T z - p_i||_1`` over the items
    left (and fitting ``max_cost``), with ``d_i`` the distance from item ``i`` to its nearest
    labeled or already picked item (line 2); then ``d <- min(d, ||x - x_psi||)`` (line 6).
    With no labeled item the first distances are to the candidates' mean (the pick farthest
    out comes first). ``lam = 0`` is plain KCenterGreedy (Sener & Savarese).

    Args:
        x (ndarray[N, D]): candidate embeddings.
        labeled (ndarray[L, D]): labeled embeddings (``L`` may be 0).
        probs (ndarray[N, C]): class rows ``P``.
        count: most picks.
        omega (ndarray[C]): the target.
        lam: ``lambda >= 0``, in units of embedding distance per item of imbalance.
        costs (ndarray[N] | None): item costs, with ``max_cost``.
        max_cost: most total cost, or None.

    Returns:
        ``(picks, distance)``: int64 ``ndarray[n]`` in pick order and the distance ``d`` each
        had when picked.

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0], [10.0]])
        >>> probs = np.eye(2)[[0, 1, 1, 0]]
        >>> kcenter_balanced(x, x[:0], probs, 2, np.array([1.0, 1.0]), lam=0.0)[0].tolist()
        [3, 0]
        >>> kcenter_balanced(x, x[:0], probs, 2, np.array([1.0, 1.0]), lam=100.0)[0].tolist()
        [3, 1]
    """
    check_option(lam >= 0 and math.isfinite(lam), f"lam={lam} must be a finite number >= 0")
    x = np.asarray(x, dtype=np.float64)
    labeled = np.asarray(labeled, dtype=np.float64).reshape(-1, x.shape[1])
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape[:1] != x.shape[:1] or probs.ndim != 2:
        raise VidalError(f"probs must be [N, C] with N = {len(x)}, got shape {probs.shape}")
    d = _initial_distance(x, labeled)

    def update(i: int, g: np.ndarray) -> np.ndarray:
        return np.minimum(g, np.sqrt(((x - x[i]) ** 2).sum(1)))

    return _greedy(
        d,
        probs,
        min(count, len(x)),
        np.asarray(omega, dtype=np.float64),
        lam,
        costs=costs,
        max_cost=max_cost,
        update=update,
    )


# ---------------------------------------------------------------------------------- inputs
def _video_probs(scores: FrameScores, video_id: str, num_frames: int, classes: int | None):
    """``scores.extra["probs"][video_id]`` checked: float64 ``ndarray[T, C]``."""
    table = scores.extra.get("probs")
    if table is None or video_id not in table:
        raise VidalError(
            f"class-balanced selection needs scores.extra['probs'][{video_id!r}]: the predicted "
            "class probabilities of each frame, [T, C]"
        )
    p = np.asarray(table[video_id], dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != num_frames or (classes is not None and p.shape[1] != classes):
        want = f"({num_frames}, {'C' if classes is None else classes})"
        raise VidalError(
            f"scores.extra['probs'][{video_id!r}] has shape {p.shape}, expected {want}"
        )
    bad = ~np.isfinite(p).all(1) | (p < 0).any(1) | (np.abs(p.sum(1) - 1.0) > _ROW_TOL)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise VidalError(
            f"scores.extra['probs'][{video_id!r}] frame {t} is not a probability row: {p[t]}"
        )
    return p


def _class_rows(p: np.ndarray, hard: bool) -> np.ndarray:
    """``P``: one-hot argmax rows (``hard``) or the probabilities themselves; ``[N, C]``."""
    if not hard:
        return p
    return np.eye(p.shape[1])[p.argmax(1)] if len(p) else p


@dataclass
class _Classes:
    """Candidates' class rows, labeled counts and where those came from."""

    rows: np.ndarray  # [N, C], in unlabeled_table order
    labeled: np.ndarray  # [C]
    source: str  # "labels" or "predictions"


def _labels_of(scores: FrameScores, video_id: str, mask: np.ndarray) -> np.ndarray:
    """Annotated classes of the labeled frames (``mask``, ``[T]``) from
    ``scores.extra["labels"]``, ``-1`` (unknown) dropped; int64 ``[n]``."""
    lab = scores.extra["labels"].get(video_id)
    lab = np.asarray(lab if lab is not None else np.zeros(0))
    if lab.shape != mask.shape:
        raise VidalError(
            f"scores.extra['labels'][{video_id!r}] has shape {lab.shape}, expected {mask.shape}"
        )
    got = lab[mask]
    if not (np.isfinite(got).all() and np.all(got == np.round(got)) and np.all(got >= -1)):
        raise VidalError(f"scores.extra['labels'][{video_id!r}] must hold class ids >= -1")
    got = got.astype(np.int64)
    return got[got >= 0]


def _gather_classes(
    scores: FrameScores, pool: LabelPool, ids: list[str], *, hard: bool
) -> _Classes:
    """Class rows of the unlabeled frames (in :func:`unlabeled_table` order) and the labeled
    frames' class counts (annotated when ``scores.extra["labels"]`` is given, else predicted)."""
    use_labels = "labels" in scores.extra
    rows, predicted, annotated = [], [], []
    classes = None
    for v in ids:
        mask = np.asarray(pool.mask(v))
        if not mask.all() or not use_labels:
            p = _video_probs(scores, v, pool.num_frames[v], classes)
            classes = p.shape[1]
            rows.append(_class_rows(p[~mask], hard))
            predicted.append(_class_rows(p[mask], hard).sum(0))
        if use_labels and mask.any():
            annotated.append(_labels_of(scores, v, mask))
    source = "labels" if use_labels else "predictions"
    if classes is None:
        return _Classes(np.zeros((0, 1)), np.zeros(1), source)
    if not use_labels:
        return _Classes(np.concatenate(rows), np.sum(predicted, axis=0), source)
    lab = np.concatenate(annotated) if annotated else np.zeros(0, np.int64)
    if len(lab) and lab.max() >= classes:
        raise VidalError(f"scores.extra['labels'] has class {lab.max()}, but probs have {classes}")
    return _Classes(np.concatenate(rows), np.bincount(lab, minlength=classes).astype(float), source)


def _target(classes: _Classes, picks: int, proportions: tuple[float, ...] | None) -> np.ndarray:
    """Eq. 4.4 for these classes, with the selector's optional class proportions."""
    c = classes.rows.shape[1]
    if proportions is not None and len(proportions) != c:
        raise VidalError(f"target has {len(proportions)} class proportions, the probs have {c}")
    shares = None if proportions is None else np.asarray(proportions, dtype=np.float64)
    return balance_target(classes.labeled, picks, proportions=shares)


def _warn_inputs(
    what: str, count: int, rows: np.ndarray, omega: np.ndarray, *, stacklevel: int = 3
) -> None:
    """Warn when the budget leaves nothing to balance or a class's target is out of reach
    (``stacklevel`` 3: the selector's caller)."""
    n = len(rows)
    if n and count >= n:
        warnings.warn(
            f"class-balanced selection: the budget covers all {n} candidate {what}; taking them "
            "all (nothing left to balance)",
            stacklevel=stacklevel,
        )
        return
    short = omega - rows.sum(0)
    if n and (short > 1e-9).any():
        classes = np.flatnonzero(short > 1e-9)
        warnings.warn(
            f"class-balance target unreachable: classes {classes.tolist()} need "
            f"{np.round(short[classes], 2).tolist()} more {what} than the candidates are "
            "predicted to hold; taking the closest counts (the L1 distance is minimised)",
            stacklevel=stacklevel,
        )


def _check_options(lam: float, counts: str, target: tuple[float, ...] | None) -> None:
    check_option(lam >= 0 and math.isfinite(lam), f"lam={lam} must be a finite number >= 0")
    check_option(counts in ("hard", "soft"), f"counts={counts!r}: use 'hard' or 'soft'")
    if target is not None:
        t = np.asarray(target, dtype=np.float64)
        check_option(
            bool(t.ndim == 1 and np.isfinite(t).all() and (t >= 0).all() and t.sum() > 0),
            f"target={target!r} must be non-negative class proportions, not all 0",
        )


def _best_first(vi: np.ndarray, fr: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Candidates by ``key`` descending, then video index, then frame."""
    return np.lexsort((fr, vi, -key))


def _planned(pool: LabelPool, budget: Budget, ids: list[str], vi, fr, co, order) -> int:
    """How many frames the plain best-first walk in ``order`` takes under ``budget``: ``b``."""
    taker = Taker(pool, budget, scored=False)
    taker.take_in_order(ids, vi[order], fr[order], co[order])
    return taker.selection().num_frames


def _info(lam, classes, omega, rows, picks, method, gap, objective) -> dict:
    return {
        "lam": lam,
        "labeled_counts": classes.labeled.tolist(),
        "labeled_counts_from": classes.source,
        "target": omega.tolist(),
        "picked_counts": rows[picks].sum(0).tolist() if len(picks) else [0.0] * len(omega),
        "l1_to_target": float(np.abs(omega - rows[picks].sum(0)).sum()),
        "method": method,
        "gap": gap if math.isfinite(gap) else None,
        "objective": objective,
    }


# ---------------------------------------------------------------------------------- selectors
@dataclass(frozen=True, kw_only=True)
class BalancedSelector:
    """Informative and class-balanced frames: thesis Eq. 4.8 (entropy) / 4.9 (any score).

    ``b`` is the number of frames the plain best-first walk (:class:`TopKSelector`) would take
    under the budget, so the two label as many frames; the program picks ``b`` frames (within
    ``budget.cost`` when set) minimising ``-u^T z + lam ||Omega - P^T z||_1`` with
    ``Omega`` from Eq. 4.4. ``lam = 0`` is plain top-k.

    Args:
        lam: ``lambda``, score units given up per frame of imbalance (entropy in nats: the
            largest is ``log C``).
        counts: ``"soft"`` (the probabilities, Eq. 4.8 as written: an uncertain frame
            counts towards several classes; MILP up to :data:`MILP_MAX_ITEMS` candidates,
            the rounded LP relaxation beyond) or ``"hard"`` (the predicted class, one-hot:
            the thesis' "Entropy-L1-Pseudo Label"; solved exactly by sorting).
        target: class proportions to balance towards (default uniform, as in the thesis).
        solver: one of :data:`SOLVERS` (:func:`pick_balanced`).
        time_limit: seconds HiGHS may take per call.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4})
        >>> s = FrameScores(frames={"a": np.array([0.9, 0.8, 0.7, 0.1])},
        ...                 extra={"probs": {"a": np.eye(2)[[0, 0, 0, 1]]}})
        >>> BalancedSelector(lam=1.0)(s, pool, Budget(frames=2), np.random.default_rng(0)).frames["a"].tolist()
        [0, 3]
    """

    lam: float = 1.0
    counts: str = "soft"
    target: tuple[float, ...] | None = None
    solver: str = "auto"
    time_limit: float = 30.0
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "extra:probs"})
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_options(self.lam, self.counts, self.target)
        check_option(
            self.solver in SOLVERS,
            f"solver={self.solver!r}: use one of {', '.join(SOLVERS)}",
        )
        check_option(self.time_limit > 0, f"time_limit={self.time_limit} must be > 0")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool)
        ids = videos_in_order(pool)
        vi, fr, co, sc = unlabeled_table(pool, ids, scores.frames)
        classes = _gather_classes(scores, pool, ids, hard=self.counts == "hard")
        taker = Taker(pool, budget)
        if len(fr) == 0:
            return taker.selection()
        count = _planned(pool, budget, ids, vi, fr, co, _best_first(vi, fr, sc))
        omega = _target(classes, count, self.target)
        _warn_inputs("frames", count, classes.rows, omega)
        pick = pick_balanced(
            sc,
            classes.rows,
            count,
            omega,
            lam=self.lam,
            costs=co,
            max_cost=budget.cost,
            solver=self.solver,
            time_limit=self.time_limit,
        )
        i = pick.indices[_best_first(vi[pick.indices], fr[pick.indices], sc[pick.indices])]
        taker.take_in_order(ids, vi[i], fr[i], co[i], sc[i])
        info = _info(
            self.lam,
            classes,
            omega,
            classes.rows,
            pick.indices,
            pick.method,
            pick.gap,
            pick.objective,
        )
        return taker.selection(info=info)


def _embeddings(scores: FrameScores, pool: LabelPool, ids: list[str]):
    """Unlabeled and labeled frames' embeddings from ``scores.extra["frame_features"]`` (``[T, D]``)."""
    table = scores.extra.get("frame_features")
    cand, ref, dim = [], [], None
    for v in ids:
        x = None if table is None else table.get(v)
        if x is None:
            raise VidalError(
                f"class-balanced KCenter needs scores.extra['frame_features'][{v!r}]: an embedding per frame, [T, D]"
            )
        x = np.asarray(x, dtype=np.float64)
        n = pool.num_frames[v]
        if x.ndim != 2 or x.shape[0] != n or (dim is not None and x.shape[1] != dim):
            raise VidalError(
                f"scores.extra['frame_features'][{v!r}] has shape {x.shape}, expected ({n}, D)"
            )
        if not np.isfinite(x).all():
            raise VidalError(f"scores.extra['frame_features'][{v!r}] is not finite")
        dim = x.shape[1]
        mask = np.asarray(pool.mask(v))
        cand.append(x[~mask])
        ref.append(x[mask])
    if dim is None:
        return np.zeros((0, 1)), np.zeros((0, 1))
    return np.concatenate(cand), np.concatenate(ref)


@dataclass(frozen=True, kw_only=True)
class BalancedKCenterSelector:
    """Diverse and class-balanced frames: class-balanced KCenterGreedy (thesis Algorithm 2).

    Frames far (in ``scores.extra["frame_features"]``) from every labeled and already picked frame,
    traded against the L1 distance of the picked predicted classes to ``Omega`` (Eq. 4.4,
    ``b`` = the frames the budget allows taking farthest first). Picks go on while the frames
    and cost budgets allow. ``lam = 0`` is plain KCenterGreedy.

    Args:
        lam: ``lambda``, embedding distance given up per frame of imbalance.
        counts: ``"hard"`` or ``"soft"`` class rows (see :class:`BalancedSelector`).
        target: class proportions to balance towards (default uniform).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4})
        >>> s = FrameScores(extra={"probs": {"a": np.eye(2)[[0, 1, 1, 0]]},
        ...                        "frame_features": {"a": np.array([[0.0], [1.0], [2.0], [10.0]])}})
        >>> BalancedKCenterSelector(lam=100.0)(s, pool, Budget(frames=2), np.random.default_rng(0)).frames["a"].tolist()
        [1, 3]
    """

    lam: float = 1.0
    counts: str = "soft"
    target: tuple[float, ...] | None = None
    requires: ClassVar[frozenset[str]] = frozenset({"extra:probs", "extra:frame_features"})
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_options(self.lam, self.counts, self.target)

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        ids = videos_in_order(pool)
        vi, fr, co, _ = unlabeled_table(pool, ids)
        classes = _gather_classes(scores, pool, ids, hard=self.counts == "hard")
        x, ref = _embeddings(scores, pool, ids)
        taker = Taker(pool, budget)
        if len(fr) == 0:
            return taker.selection()
        start = _initial_distance(x, ref)
        count = _planned(pool, budget, ids, vi, fr, co, _best_first(vi, fr, start))
        omega = _target(classes, count, self.target)
        _warn_inputs("frames", count, classes.rows, omega)
        most = len(fr) if budget.frames is None else min(int(budget.frames), len(fr))
        picks, dist = kcenter_balanced(
            x, ref, classes.rows, most, omega, lam=self.lam, costs=co, max_cost=budget.cost
        )
        for i, d in zip(picks, dist, strict=True):
            taker.take(ids[vi[i]], int(fr[i]), float(co[i]), float(d))
        obj = balance_objective(
            dist, classes.rows[picks], np.arange(len(picks)), omega, lam=self.lam
        )
        info = _info(self.lam, classes, omega, classes.rows, picks, "greedy", math.inf, obj)
        return taker.selection(info=info)


@dataclass(frozen=True, kw_only=True)
class BalancedCLAUSSelector(CLAUSSelector):
    """CLAUS (:class:`~vidal.select.claus.CLAUSSelector`) choosing its videos class-balanced.

    CLAUS's inter-sample step takes the best ``V_score`` videos within each cluster's quota;
    here the videos are the optimum of Eq. 4.9 over the candidate videos, ``u = V_score``:
    ``min_z -u^T z + lam ||Omega - P^T z||_1`` with ``1^T z = min(B_v, N_U)`` and at most
    ``ceil(n_c B_v / N_U)`` videos of each cluster (the same quotas), solved by
    :func:`pick_balanced` (HiGHS). A video's class row is the mean of its frames'
    ``scores.extra["probs"]`` (one-hot argmax with ``counts="hard"``); ``n_i`` counts the
    videos whose class ``pool.labeled_videos`` records. The chosen videos then get their
    ranked frames as in CLAUS, best ``V_score`` first.

    Args:
        lam: ``lambda``, ``V_score`` units given up per video of imbalance.
        counts: ``"hard"`` or ``"soft"`` class rows.
        target: class proportions to balance towards (default uniform).
        time_limit: seconds HiGHS may take per call.
        (and CLAUS's own options)
    """

    lam: float = 1.0
    counts: str = "soft"
    target: tuple[float, ...] | None = None
    time_limit: float = 30.0
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "features", "extra:probs"})

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_options(self.lam, self.counts, self.target)
        check_option(self.time_limit > 0, f"time_limit={self.time_limit} must be > 0")

    def _video_order(self, scores, pool, candidates, video_score, labels, caps, videos_budget):
        if not candidates:
            return [], {}
        hard = self.counts == "hard"
        means, classes = [], None
        for v in candidates:
            p = _video_probs(scores, v, pool.num_frames[v], classes)
            classes = p.shape[1]
            means.append(p.mean(0))
        rows = _class_rows(np.stack(means), hard)
        known = np.array([c for c in pool.labeled_videos.values() if c is not None], dtype=np.int64)
        if len(known) and (known.min() < 0 or known.max() >= classes):
            raise VidalError(f"pool.labeled_videos has class {known.max()}, probs have {classes}")
        labeled = _Classes(rows, np.bincount(known, minlength=classes).astype(float), "labels")
        count = min(videos_budget, len(candidates))
        omega = _target(labeled, count, self.target)
        _warn_inputs("videos", count, rows, omega, stacklevel=4)
        gain = np.array([video_score[v] for v in candidates])
        pick = pick_balanced(
            gain,
            rows,
            count,
            omega,
            lam=self.lam,
            groups=labels,
            group_caps=caps,
            time_limit=self.time_limit,
        )
        order = sorted(pick.indices.tolist(), key=lambda i: -gain[i])
        info = _info(
            self.lam, labeled, omega, rows, pick.indices, pick.method, pick.gap, pick.objective
        )
        return order, {"balance": info}
