"""Per-frame uncertainty of MC-dropout foreground maps: numba kernels for the CPU.

The model runs ``R`` stochastic forward passes (MC dropout) and gives, for every pass, a
foreground probability per pixel: ``p (ndarray[R, T, H, W])``. Three per-frame scores
``[T]`` come out of it, each in one pass over ``p`` with temporaries of ``O(H*W)`` per
thread, never of the input's size:

``uncertainty`` (Rana & Rawat, NeurIPS 2022 "ASL", Eq. 1; CVPR 2023 "CLAUS", Eq. 2)
    per pixel ``u = (1/R) sum_r -log(max(p_r, eps))``.
``entropy``
    per pixel the entropy of the mean Bernoulli, ``h(pbar)`` with
    ``h(q) = -q log q - (1-q) log(1-q)`` and ``pbar = clip((1/R) sum_r p_r, eps, 1-eps)``.
``mutual_information`` (BALD)
    per pixel ``h(pbar) - (1/R) sum_r h(clip(p_r, eps, 1-eps))``.

Non-activity suppression (ASL Sec. 3.1, CLAUS Sec. 3.1): a pixel whose mean foreground
probability over the passes is below ``1 - tau`` is "definite background" and contributes
0. CLAUS writes it exactly so ("Uncertainty values for M(p) below certain threshold
(definite background) is set to 0"), and ASL Eq. 1 divides by ``I_p``, "the total number
of pixels in a frame". So by default (``normalize="pixels"``) a frame's score is the sum
over the kept pixels divided by ``H*W``; ``normalize="kept"`` divides by the number of kept
pixels instead. Either way a frame whose pixels are all suppressed scores 0.

Accumulation is in float64 whatever the input dtype (float32 or float64). ``-log`` of the
passes is summed as ``-log`` of their product, taken over groups of passes small enough that
the product cannot underflow (``eps ** group > 1e-290``): ``R / group`` logarithms per pixel
instead of ``R``, equal to the sum of logarithms to ~1e-15 relative. ``fastmath`` stays off;
logarithms come from a float64 series written so that LLVM vectorises it (a libm call per
element does not vectorise), accurate to ~1e-15, so the torch path
(:mod:`vidal.scoring.torch_scores`) agrees to far better than 1e-6.
"""

from __future__ import annotations

import math
from typing import Literal

import numba as nb
import numpy as np

from vidal.errors import VidalError

__all__ = [
    "pixel_uncertainty",
    "pixel_entropy",
    "mutual_information",
    "frame_sums",
    "Kind",
    "Normalize",
]

Kind = Literal["uncertainty", "entropy", "mutual_information"]
Normalize = Literal["pixels", "kept"]

KINDS: dict[str, int] = {"uncertainty": 0, "entropy": 1, "mutual_information": 2}
_BLOCK = 512  # pixels per block: the 11 float64 scratch arrays (4 KiB each) stay in L1/L2
_BITS = {  # dtype -> (unsigned view, bits of 1.0, bits of -0.0)
    np.dtype(np.float32): (np.uint32, np.uint32(0x3F800000), np.uint32(0x80000000)),
    np.dtype(np.float64): (
        np.uint64,
        np.uint64(0x3FF0000000000000),
        np.uint64(0x8000000000000000),
    ),
}


_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)
_EXPONENT_ONE = np.uint64(0x3FF0000000000000)


@nb.njit(error_model="numpy", cache=True)
def _log_block(x, out, scratch, n):  # pragma: no cover - compiled
    # out[:n] = log(x[:n]) for positive normal float64 x, in loops LLVM vectorises (a libm
    # call per element does not vectorise without fastmath and a vector math library).
    # x = 2^e * m with m in [sqrt(1/2), sqrt(2)): log x = e log 2 + 2 atanh(s),
    # s = (m - 1) / (m + 1), |s| < 0.172, atanh by its series to s^17: error < 1e-15.
    x_bits = x.view(np.uint64)
    m_bits = scratch.view(np.uint64)
    for k in range(n):
        m_bits[k] = (x_bits[k] & _MANTISSA) | _EXPONENT_ONE  # m in [1, 2)
    for k in range(n):
        e = np.float64(np.int64(x_bits[k] >> 52)) - 1023.0
        m = scratch[k]
        big = m > _SQRT2
        m = m * 0.5 if big else m
        e = e + 1.0 if big else e
        s = (m - 1.0) / (m + 1.0)
        z = s * s
        series = 1.0 / 17.0  # Horner: 1 + z/3 + z^2/5 + ... + z^8/17
        series = 1.0 / 15.0 + z * series
        series = 1.0 / 13.0 + z * series
        series = 1.0 / 11.0 + z * series
        series = 1.0 / 9.0 + z * series
        series = 1.0 / 7.0 + z * series
        series = 1.0 / 5.0 + z * series
        series = 1.0 / 3.0 + z * series
        series = 1.0 + z * series
        out[k] = e * _LN2 + 2.0 * s * series


@nb.njit(parallel=True, error_model="numpy", cache=True)
def _frame_sums_kernel(p, bits, one, neg_zero, mode, thr, eps, group):  # pragma: no cover
    # p [R, T, P] float32|float64 C-contiguous; bits: the same memory viewed as uint32|uint64.
    # A value is in [0, 1] iff its bit pattern, read as an unsigned integer, is <= the pattern
    # of 1.0 (or is -0.0): negatives have the sign bit set and NaN patterns are larger.
    # One integer max per element checks the range and NaN and still vectorises.
    # mode 0: uncertainty, 1: entropy, 2: mutual information.
    # Returns sums [T] float64, kept [T] int64, bad [T] bool.
    R, T, P = p.shape
    sums = np.zeros(T, dtype=np.float64)
    kept = np.zeros(T, dtype=np.int64)
    bad = np.zeros(T, dtype=np.bool_)
    inv_r = 1.0 / R
    hi_eps = 1.0 - eps
    for t in nb.prange(T):
        sp = np.empty(_BLOCK, dtype=np.float64)  # sum_r p
        acc = np.empty(_BLOCK, dtype=np.float64)  # sum_r -log p (mode 0), sum_r -h(p) (mode 2)
        prod = np.empty(_BLOCK, dtype=np.float64)  # prod_r max(p, eps) over a group
        qa = np.empty(_BLOCK, dtype=np.float64)  # q, then log q
        qb = np.empty(_BLOCK, dtype=np.float64)  # 1 - q, then log(1 - q)
        la = np.empty(_BLOCK, dtype=np.float64)
        lb = np.empty(_BLOCK, dtype=np.float64)
        scratch = np.empty(_BLOCK, dtype=np.float64)
        value = np.empty(_BLOCK, dtype=np.float64)
        lane_sum = np.zeros(_BLOCK, dtype=np.float64)  # per-pixel-lane sums of kept scores
        lane_kept = np.zeros(_BLOCK, dtype=np.int64)
        top = one - one  # max bit pattern seen
        for b0 in range(0, P, _BLOCK):
            n = min(_BLOCK, P - b0)
            for k in range(n):
                sp[k] = 0.0
                acc[k] = 0.0
            for r0 in range(0, R, group):
                if mode == 0:
                    for k in range(n):
                        prod[k] = 1.0
                for r in range(r0, min(r0 + group, R)):
                    row = p[r, t, b0 : b0 + n]  # 1-D views: the loops below vectorise
                    row_bits = bits[r, t, b0 : b0 + n]
                    if mode == 0:
                        for k in range(n):
                            v = np.float64(row[k])
                            sp[k] += v
                            prod[k] *= max(v, eps)
                            u = row_bits[k]
                            top = max(top, u if u != neg_zero else one)
                    elif mode == 1:
                        for k in range(n):
                            sp[k] += np.float64(row[k])
                            u = row_bits[k]
                            top = max(top, u if u != neg_zero else one)
                    else:
                        for k in range(n):
                            v = np.float64(row[k])
                            sp[k] += v
                            q = min(max(v, eps), hi_eps)
                            qa[k] = q
                            qb[k] = 1.0 - q
                            u = row_bits[k]
                            top = max(top, u if u != neg_zero else one)
                        _log_block(qa, la, scratch, n)
                        _log_block(qb, lb, scratch, n)
                        for k in range(n):  # q log q + (1 - q) log(1 - q) = -h(q)
                            acc[k] += qa[k] * la[k] + qb[k] * lb[k]
                if mode == 0:
                    _log_block(prod, la, scratch, n)
                    for k in range(n):
                        acc[k] -= la[k]
            if mode != 0:  # entropy of the mean Bernoulli
                for k in range(n):
                    q = min(max(sp[k] * inv_r, eps), hi_eps)
                    qa[k] = q
                    qb[k] = 1.0 - q
                _log_block(qa, la, scratch, n)
                _log_block(qb, lb, scratch, n)
            if mode == 0:  # pixel score into `value`
                for k in range(n):
                    value[k] = acc[k] * inv_r
            elif mode == 1:
                for k in range(n):
                    value[k] = -(qa[k] * la[k] + qb[k] * lb[k])
            else:
                for k in range(n):
                    value[k] = acc[k] * inv_r - (qa[k] * la[k] + qb[k] * lb[k])
            for k in range(n):  # per-lane sums: no loop-carried dependency, so it vectorises
                keep = sp[k] * inv_r >= thr  # False for NaN, which `top` reports
                lane_sum[k] += value[k] if keep else 0.0
                lane_kept[k] += 1 if keep else 0
        sums[t] = lane_sum.sum()
        kept[t] = lane_kept.sum()
        bad[t] = top > one
    return sums, kept, bad


def check_options(tau: float | None, eps: float, normalize: str) -> float:
    """Validate the shared options; returns the suppression threshold ``1 - tau``."""
    if not 0.0 < eps < 0.5:
        raise VidalError(f"eps={eps!r} must be in (0, 0.5)")
    if normalize not in ("pixels", "kept"):
        raise VidalError(f"normalize={normalize!r} must be 'pixels' or 'kept'")
    if tau is None:
        return -math.inf
    if not 0.0 <= tau <= 1.0:
        raise VidalError(f"tau={tau!r} must be in [0, 1] (or None for no suppression)")
    return 1.0 - tau


def check_frame_input(shape: tuple[int, ...], kind: str, tau: float | None, eps: float) -> float:
    """Validate the input of :func:`frame_sums` (and its torch twin) by ``p``'s shape;
    returns the suppression threshold ``1 - tau``.

    Raises:
        VidalError: on a bad option, an unknown ``kind``, or ``p`` not ``[R, T, H, W]``
            with ``R >= 1``.
    """
    thr = check_options(tau, eps, "pixels")
    if kind not in KINDS:
        raise VidalError(f"unknown score kind {kind!r}; known: {sorted(KINDS)}")
    if len(shape) != 4:
        raise VidalError(f"p must have shape [R, T, H, W], got {shape}")
    if shape[0] == 0:
        raise VidalError("p must hold at least one pass (R >= 1)")
    return thr


def product_group(eps: float) -> int:
    """How many passes' probabilities may be multiplied before ``-log`` without underflow."""
    return max(1, int(290.0 // -math.log10(eps)))


def bad_probabilities(frame: int, has_nan: bool) -> VidalError:
    """The error for probabilities of ``frame`` that hold NaN or fall outside ``[0, 1]``."""
    if has_nan:
        return VidalError(f"probabilities of frame {frame} contain NaN")
    return VidalError(
        f"probabilities of frame {frame} fall outside [0, 1]: pass foreground "
        "probabilities (after the sigmoid), not logits"
    )


def frame_sums(
    p: np.ndarray, *, kind: Kind, tau: float | None, eps: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame sum of the pixel score over the kept pixels, and the kept-pixel count.

    The building block of :func:`pixel_uncertainty` and friends: chunks of frames can be
    summed separately and divided later.

    Args:
        p (ndarray[R, T, H, W]): foreground probabilities in ``[0, 1]``, float32 or float64.
            A non-contiguous array is copied.
        kind: ``"uncertainty"``, ``"entropy"`` or ``"mutual_information"``.
        tau: suppression confidence; pixels with mean probability below ``1 - tau`` are left
            out. ``None`` keeps every pixel.
        eps: probabilities are clamped to ``[eps, 1 - eps]`` (``eps`` only from below for
            ``-log p``) before taking logarithms.

    Returns:
        ``(sums, kept)``: float64 ``ndarray[T]`` and int64 ``ndarray[T]``.

    Raises:
        VidalError: when ``p`` is not 4-D, holds NaN or values outside ``[0, 1]``.
    """
    p = np.asarray(p)
    thr = check_frame_input(p.shape, kind, tau, eps)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    R, T, H, W = p.shape
    if T == 0 or H * W == 0:
        return np.zeros(T, dtype=np.float64), np.zeros(T, dtype=np.int64)
    flat = np.ascontiguousarray(p).reshape(R, T, H * W)  # [R, T, H*W]
    view, one, neg_zero = _BITS[flat.dtype]
    sums, kept, bad = _frame_sums_kernel(
        flat, flat.view(view), one, neg_zero, KINDS[kind], thr, eps, product_group(eps)
    )
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise bad_probabilities(t, bool(np.isnan(flat[:, t]).any()))
    return sums, kept


def normalize_sums(
    sums: np.ndarray, kept: np.ndarray, num_pixels: int, normalize: Normalize
) -> np.ndarray:
    """Frame scores ``[T]`` from :func:`frame_sums` (0 where every pixel was suppressed)."""
    if normalize == "pixels":
        return sums / num_pixels if num_pixels else np.zeros_like(sums)
    return np.divide(sums, kept, out=np.zeros_like(sums), where=kept > 0)


def _score(p, kind: Kind, tau: float | None, eps: float, normalize: Normalize) -> np.ndarray:
    check_options(tau, eps, normalize)
    sums, kept = frame_sums(p, kind=kind, tau=tau, eps=eps)
    shape = np.shape(p)
    return normalize_sums(sums, kept, shape[2] * shape[3], normalize)


def pixel_uncertainty(
    p: np.ndarray, *, tau: float | None = 0.9, eps: float = 1e-6, normalize: Normalize = "pixels"
) -> np.ndarray:
    """Frame uncertainty with non-activity suppression (ASL Eq. 1, CLAUS Eq. 2).

    ``U_t = (1/(H*W)) sum_{kept pixels} (1/R) sum_r -log(max(p[r, t, h, w], eps))`` where a
    pixel is kept when its mean foreground probability over the passes is at least
    ``1 - tau``.

    Args:
        p (ndarray[R, T, H, W]): MC-dropout foreground probabilities, float32 or float64.
        tau: suppression confidence (paper: 0.9); ``None`` keeps every pixel.
        eps: lower clamp of ``p`` inside the logarithm.
        normalize: ``"pixels"`` divides by ``H*W`` (the paper), ``"kept"`` by the number
            of kept pixels.

    Returns:
        float64 ``ndarray[T]``, 0 for frames whose pixels are all suppressed.

    Example:
        >>> p = np.full((2, 3, 4, 4), 0.5, dtype=np.float32)
        >>> p[:, 2] = 0.01  # definite background
        >>> pixel_uncertainty(p).round(4).tolist()
        [0.6931, 0.6931, 0.0]
    """
    return _score(p, "uncertainty", tau, eps, normalize)


def pixel_entropy(
    p: np.ndarray, *, tau: float | None = None, eps: float = 1e-6, normalize: Normalize = "pixels"
) -> np.ndarray:
    """Mean pixel entropy of the mean Bernoulli foreground, per frame.

    ``E_t = (1/(H*W)) sum_{kept pixels} h(pbar)``, ``pbar`` the mean over passes clamped to
    ``[eps, 1 - eps]`` and ``h`` the Bernoulli entropy in nats.

    Args:
        p (ndarray[R, T, H, W]): MC-dropout foreground probabilities.
        tau: optional non-activity suppression as in :func:`pixel_uncertainty`.
        eps: clamp of ``pbar`` inside the logarithms.
        normalize: ``"pixels"`` or ``"kept"``.

    Returns:
        float64 ``ndarray[T]`` in ``[0, log 2]``.

    Example:
        >>> p = np.stack([np.full((1, 2, 2), 0.5), np.full((1, 2, 2), 1.0)])  # [2, 1, 2, 2]
        >>> pixel_entropy(p).round(4).tolist()
        [0.5623]
    """
    return _score(p, "entropy", tau, eps, normalize)


def mutual_information(
    p: np.ndarray, *, tau: float | None = None, eps: float = 1e-6, normalize: Normalize = "pixels"
) -> np.ndarray:
    """Mean pixel mutual information (BALD) between the foreground and the dropout mask.

    ``I_t = (1/(H*W)) sum_{kept pixels} [h(pbar) - (1/R) sum_r h(p_r)]`` with the
    probabilities clamped to ``[eps, 1 - eps]``.

    Args:
        p (ndarray[R, T, H, W]): MC-dropout foreground probabilities.
        tau: optional non-activity suppression as in :func:`pixel_uncertainty`.
        eps: clamp inside the logarithms.
        normalize: ``"pixels"`` or ``"kept"``.

    Returns:
        float64 ``ndarray[T]``, >= 0 up to rounding; 0 when every pass agrees.

    Example:
        >>> p = np.stack([np.zeros((1, 2, 2)), np.ones((1, 2, 2))])  # passes disagree
        >>> mutual_information(p).round(4).tolist()
        [0.6931]
    """
    return _score(p, "mutual_information", tau, eps, normalize)
