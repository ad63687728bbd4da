"""How class-balanced selection changes the labeled set's class balance, cycle by cycle.

A synthetic frame pool with UCF-101-24's class imbalance (frames per class from
``pyannot.pkl``, cut into 50-frame single-class videos), and a simulated model: each cycle
(a retrained model) gives every frame logits ``m_i e_y + sigma eps + log(pi)`` with ``y`` the
true class, ``m_i ~ U(0, 2 margin)`` a per-frame difficulty, ``eps ~ N(0, 1)`` and ``pi`` the
pool's class frequencies raised to ``--bias`` (1: a model biased towards frequent classes,
which makes rare-class frames uncertain; 0: no bias, uncertainty independent of the class);
the predicted class is
the argmax, the score the entropy of the softmax. Starting from ``--initial`` random
frames, each method labels ``--budget`` frames per cycle (the oracle reveals the true
class, given to the selectors as ``extra["labels"]``). Printed per cycle, mean ± std over
seeds: the labeled set's imbalance (thesis Eq. 4.10 L1 score: 0 uniform, 1 one class), the
normalised entropy of its class counts (1 uniform), and the mean entropy score of the
frames picked (what balancing gives up in informativeness). ``--time`` measures the
solver's time per call instead.

    OMP_NUM_THREADS=1 python tools/study_balance.py --seeds 5 --cycles 6 --budget 100 200 500
    OMP_NUM_THREADS=1 python tools/study_balance.py --time --pool 10000 --budget 100 200 500
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from vidal.data.formats.ucf101_24 import read_ucf101_24
from vidal.pool import Budget, LabelPool
from vidal.select import FrameScores, get_selector
from vidal.select.balanced import balance_target, kcenter_balanced, l1_score, pick_balanced

DEFAULT_ANNOTATIONS = (
    Path(__file__).resolve().parents[1].parent / "shared/data/ucf101-24/pyannot.pkl"
)
VIDEO_LENGTH = 50


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--annotations", type=Path, default=DEFAULT_ANNOTATIONS, help="pyannot.pkl")
    p.add_argument("--pool", type=int, default=10000, help="frames in the pool")
    p.add_argument("--initial", type=int, default=200, help="random frames labeled first")
    p.add_argument("--budget", type=int, nargs="+", default=[200], help="frames per cycle")
    p.add_argument("--cycles", type=int, default=6)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--margin", type=float, default=3.0, help="mean logit margin of the true class")
    p.add_argument("--sigma", type=float, default=1.0, help="logit noise")
    p.add_argument("--bias", type=float, default=1.0, help="weight of the log class prior")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["random", "topk", "balanced:0.3", "balanced:1", "balanced_hard:1"],
        help="random, topk, balanced:LAMBDA (soft counts), balanced_hard:LAMBDA, "
        "balanced_greedy:LAMBDA (soft counts, Algorithm 2's greedy order)",
    )
    p.add_argument("--time", action="store_true", help="time the solvers instead")
    p.add_argument("--repeats", type=int, default=3, help="calls per timing (median)")
    return p


def class_frames(path: Path) -> np.ndarray:
    """Frames of each UCF-101-24 class, ``ndarray[24]``."""
    dataset = read_ucf101_24(path)
    labels = np.array([v.label for v in dataset])
    frames = np.array([v.num_frames for v in dataset], dtype=np.float64)
    return np.bincount(labels, weights=frames)


def make_pool(per_class: np.ndarray, frames: int) -> tuple[LabelPool, dict[str, int]]:
    """Single-class videos of :data:`VIDEO_LENGTH` frames, classes in proportion to ``per_class``."""
    videos = max(1, frames // VIDEO_LENGTH)
    share = per_class / per_class.sum() * videos
    count = np.floor(share).astype(int)
    count[np.argsort(-(share - count))[: videos - count.sum()]] += 1
    classes = np.repeat(np.arange(len(per_class)), count)
    ids = {f"v{i:04d}": int(c) for i, c in enumerate(classes)}
    return LabelPool(dict.fromkeys(ids, VIDEO_LENGTH)), ids


def simulate(pool: LabelPool, video_class: dict[str, int], prior: np.ndarray, args, rng):
    """One cycle's model output: FrameScores with entropy, probs and the labeled classes."""
    c = len(prior)
    scores = FrameScores()
    scores.extra = {"probs": {}, "labels": {}}
    wrong = 0
    for v, y in video_class.items():
        n = pool.num_frames[v]
        logits = rng.normal(0.0, args.sigma, size=(n, c)) + args.bias * np.log(prior)
        logits[:, y] += rng.uniform(0, 2 * args.margin, size=n)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        wrong += int((p.argmax(1) != y).sum())
        scores.frames[v] = -(p * np.log(np.maximum(p, 1e-300))).sum(1)
        scores.extra["probs"][v] = p
        scores.extra["labels"][v] = np.where(pool.mask(v), y, -1)
    return scores, wrong / pool.total_frames


def selector_for(method: str):
    name, _, lam = method.partition(":")
    if name == "balanced":  # the default: soft counts, solver auto (LP rounding at 10k)
        return get_selector("balanced", lam=float(lam))
    if name == "balanced_hard":
        return get_selector("balanced", lam=float(lam), counts="hard")
    if name == "balanced_greedy":
        return get_selector("balanced", lam=float(lam), solver="greedy")
    return get_selector(name)


def labeled_counts(pool: LabelPool, video_class: dict[str, int], c: int) -> np.ndarray:
    counts = np.zeros(c)
    for v, y in video_class.items():
        counts[y] += pool.mask(v).sum()
    return counts


def norm_entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


def run(method: str, seed: int, budget: int, per_class, args) -> np.ndarray:
    """``[cycles + 1, 3]``: L1 score, normalised entropy, mean picked entropy per cycle."""
    seeds = np.random.SeedSequence([seed, budget]).spawn(args.cycles + 1)
    pool, video_class = make_pool(per_class, args.pool)
    prior = per_class / per_class.sum()
    rng = np.random.default_rng(seeds[0])
    first = rng.choice(pool.total_frames, size=args.initial, replace=False)
    ids = list(pool.num_frames)
    for f in first:
        pool.add_frames(ids[f // VIDEO_LENGTH], [f % VIDEO_LENGTH])
    selector = selector_for(method)
    counts = labeled_counts(pool, video_class, len(prior))
    rows = [(l1_score(counts), norm_entropy(counts), np.nan)]
    for cycle in range(args.cycles):
        rng = np.random.default_rng(seeds[cycle + 1])
        scores, _ = simulate(pool, video_class, prior, args, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sel = selector(scores, pool, Budget(frames=budget), rng)
        picked = np.concatenate([scores.frames[v][f] for v, f in sel.frames.items()])
        for v, f in sel.frames.items():
            pool.add_frames(v, f)
        counts = labeled_counts(pool, video_class, len(prior))
        rows.append((l1_score(counts), norm_entropy(counts), float(picked.mean())))
    return np.array(rows)


def study(args, per_class) -> None:
    pool, video_class = make_pool(per_class, args.pool)
    _, confusion = simulate(
        pool, video_class, per_class / per_class.sum(), args, np.random.default_rng(0)
    )
    print(
        f"pool {pool.total_frames} frames, {len(video_class)} videos, 24 classes "
        f"(frames per class {int(per_class.min())}..{int(per_class.max())} in UCF-101-24, "
        f"L1 score of the pool {l1_score(per_class):.3f}); simulated model confusion "
        f"{confusion:.1%} (margin {args.margin}, sigma {args.sigma}, bias {args.bias}); "
        f"{args.seeds} seeds"
    )
    for budget in args.budget:
        results = {
            m: np.stack([run(m, s, budget, per_class, args) for s in range(args.seeds)])
            for m in args.methods
        }
        print(f"\nbudget {budget} frames per cycle, {args.initial} initial random frames")
        for col, title in enumerate(
            ["L1 score (0 = balanced)", "normalised class entropy", "mean entropy of picks"]
        ):
            print(f"  {title}")
            print("    cycle " + "".join(f"{m:>18}" for m in args.methods))
            for cycle in range(args.cycles + 1):
                cells = []
                for m in args.methods:
                    v = results[m][:, cycle, col]
                    cells.append("" if np.isnan(v).all() else f"{v.mean():.3f}±{v.std():.3f}")
                print(f"    {cycle:>5} " + "".join(f"{c:>18}" for c in cells))


def timed(fn, repeats: int):
    """Median wall and CPU seconds of ``repeats`` calls of ``fn``, and its last result."""
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu)), out


def solver_cases(gain, p, hard, costs, x, labeled, b: int, omega: np.ndarray) -> dict:
    """The calls timed for budget ``b``: name -> function of no arguments."""
    return {
        "hard, sorted (exact)": lambda: pick_balanced(gain, hard, b, omega, lam=1.0),
        "hard, milp": lambda: pick_balanced(gain, hard, b, omega, lam=1.0, solver="milp"),
        "hard, milp, cost budget": lambda: pick_balanced(
            gain, hard, b, omega, lam=1.0, costs=costs, max_cost=4.0 * b
        ),
        "soft, greedy": lambda: pick_balanced(gain, p, b, omega, lam=1.0, solver="greedy"),
        "soft, lp (auto)": lambda: pick_balanced(gain, p, b, omega, lam=1.0),
        "soft, milp (30 s limit)": lambda: pick_balanced(gain, p, b, omega, lam=1.0, solver="milp"),
        "kcenter (Alg. 2), D=64": lambda: kcenter_balanced(x, labeled, hard, b, omega, lam=1.0),
    }


def timing(args, per_class) -> None:
    rng = np.random.default_rng(0)
    c, n = len(per_class), args.pool
    prior = per_class / per_class.sum()
    y = rng.choice(c, size=n, p=prior)
    logits = rng.normal(size=(n, c)) + args.bias * np.log(prior)
    logits[np.arange(n), y] += rng.uniform(0, 2 * args.margin, size=n)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    gain = -(p * np.log(p)).sum(1)
    hard = np.eye(c)[p.argmax(1)]
    costs = rng.choice([2.0, 4.0, 6.0], size=n)
    x = rng.normal(size=(n, 64))
    labeled = rng.normal(size=(args.initial, 64))
    print(f"{n} candidates, {c} classes, median of {args.repeats} calls, lambda = 1")
    print(f"  {'budget':>6} {'solver':<26} {'wall s':>8} {'cpu s':>8} {'method':>11} {'gap':>8}")
    for b in args.budget:
        omega = balance_target(np.bincount(y[: args.initial], minlength=c), b)
        for name, fn in solver_cases(gain, p, hard, costs, x, labeled, b, omega).items():
            wall, cpu, out = timed(fn, 1 if "soft, milp" in name else args.repeats)
            method = getattr(out, "method", "greedy")
            gap = getattr(out, "gap", float("nan"))
            print(f"  {b:>6} {name:<26} {wall:>8.3f} {cpu:>8.3f} {method:>11} {gap:>8.3g}")


def main(args: argparse.Namespace) -> None:
    per_class = class_frames(args.annotations)
    if args.time:
        timing(args, per_class)
    else:
        study(args, per_class)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
