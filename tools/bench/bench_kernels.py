"""Throughput of vidal's numba score kernels against plain NumPy and the memory bandwidth.

On random MC-dropout probabilities ``p [R, T, H, W]`` (float32), times in the same run:

- bandwidth: reading ``p`` once with ``numpy.sum`` (one core, float32 SIMD): roughly what
  a kernel that reads its input once can reach;
- for each score (``uncertainty`` with suppression tau = 0.9, ``entropy``,
  ``mutual_information``): vidal's numba kernel and a straightforward NumPy statement of the
  same formula with float64 accumulation (full-size temporaries), and for ``uncertainty``
  also NumPy in float32 (faster, less accurate);

each the best of ``--repeats`` runs, as GB/s of input read and frames/s, with the kernel's
speed-up over NumPy (target >= 5x on 2 cores) and its fraction of the bandwidth. Set
``NUMBA_NUM_THREADS`` to change the kernel's threads; on a shared machine the load average
printed before and after says how much to trust the numbers.

Example:
    python tools/bench/bench_kernels.py --passes 10 --frames 32 --size 224
"""

from __future__ import annotations

import argparse
import os

import numba as nb
import numpy as np
from _timing import best_of, load_average

from vidal.scoring import mutual_information, pixel_entropy, pixel_uncertainty


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--passes", type=int, default=10, help="R, MC-dropout passes")
    p.add_argument("--frames", type=int, default=32, help="T, frames")
    p.add_argument("--size", type=int, default=224, help="H = W, pixels")
    p.add_argument("--repeats", type=int, default=5, help="runs per measurement (best kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probabilities")
    return p


def numpy_uncertainty(p: np.ndarray, tau: float = 0.9, eps: float = 1e-6) -> np.ndarray:
    """ASL Eq. 1 with suppression, as one would write it in NumPy, float64 accumulation."""
    pbar = p.mean(axis=0, dtype=np.float64)  # [T, H, W]
    nll = -np.log(np.maximum(p, eps).astype(np.float64)).mean(axis=0)  # [T, H, W]
    return np.where(pbar >= 1 - tau, nll, 0.0).mean(axis=(1, 2))


def numpy_uncertainty_f32(p: np.ndarray, tau: float = 0.9, eps: float = 1e-6) -> np.ndarray:
    """The same in float32 throughout (NumPy's fastest, about 1e-4 relative error)."""
    pbar = p.mean(axis=0)
    nll = -np.log(np.maximum(p, np.float32(eps))).mean(axis=0)
    return np.where(pbar >= 1 - tau, nll, 0.0).mean(axis=(1, 2), dtype=np.float64)


def _h(q: np.ndarray) -> np.ndarray:
    return -(q * np.log(q) + (1 - q) * np.log1p(-q))


def numpy_entropy(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    pbar = np.clip(p.mean(axis=0, dtype=np.float64), eps, 1 - eps)
    return _h(pbar).mean(axis=(1, 2))


def numpy_mutual_information(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    q = np.clip(p.astype(np.float64), eps, 1 - eps)  # [R, T, H, W]
    pbar = np.clip(p.mean(axis=0, dtype=np.float64), eps, 1 - eps)
    return (_h(pbar) - _h(q).mean(axis=0)).mean(axis=(1, 2))


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    shape = (args.passes, args.frames, args.size, args.size)
    p = rng.random(shape, dtype=np.float32)
    gb = p.nbytes / 1e9
    print(
        f"p: {shape} float32 = {p.nbytes / 2**20:.0f} MiB; numba threads: {nb.get_num_threads()}; "
        f"best of {args.repeats}; {load_average()}"
    )

    def row(name: str, seconds: float, note: str = "") -> None:
        print(f"  {name:<28} {seconds * 1e3:9.2f} ms {gb / seconds:7.2f} GB/s "
              f"{args.frames / seconds:9.0f} frames/s  {note}")  # fmt: skip

    best_read = best_of(args.repeats, lambda: p.sum(), warmup=True)
    print("memory read bandwidth (one pass over p):")
    row("numpy sum (1 core)", best_read)

    cases = [
        ("uncertainty", lambda: pixel_uncertainty(p, tau=0.9), lambda: numpy_uncertainty(p)),
        ("entropy", lambda: pixel_entropy(p), lambda: numpy_entropy(p)),
        ("mutual_information", lambda: mutual_information(p), lambda: numpy_mutual_information(p)),
    ]
    for name, kernel, reference in cases:
        np.testing.assert_allclose(kernel(), reference(), rtol=1e-9, atol=1e-12)
        k = best_of(args.repeats, kernel, warmup=True)
        r = best_of(args.repeats, reference, warmup=True)
        print(f"{name}:")
        row("numba kernel", k, f"{best_read / k:.0%} of bandwidth")
        row("numpy float64", r, f"kernel is {r / k:.1f}x faster (target >= 5x)")
        if name == "uncertainty":
            r32 = best_of(args.repeats, lambda: numpy_uncertainty_f32(p), warmup=True)
            row("numpy float32", r32, f"kernel is {r32 / k:.1f}x faster")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (a busy machine slows every row)")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
