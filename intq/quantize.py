"""Quantize, dequantize and fake-quantize arrays, per tensor or per channel (eq. (1), (12)–(13)).

These are the float ↔ integer boundary of a model; they run at conversion time, at the model's
inputs and outputs, and in training (fake quantization). Each states the float precision and
rounding it reproduces, because engines differ exactly there (SEMANTICS.md §4.11, §5, §6).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .qparams import QuantParams
from .rounding import RoundingMode, check_rounding, round_with

NonFinite = Literal["raise", "saturate"]


def _float_input(x: object, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name}: expected a float array, got dtype {x.dtype}")
        arr = x
    else:
        arr = np.asarray(x, dtype=np.float64)
    # float16 and smaller work in float32, like TFLite's float16 → float32 dequantized graphs.
    return arr.astype(np.float32) if arr.dtype.itemsize < 4 else arr


def _check_finite(x: np.ndarray, name: str, nonfinite: str) -> None:
    if nonfinite not in ("raise", "saturate"):
        raise ValueError(f"nonfinite: expected 'raise' or 'saturate', got {nonfinite!r}")
    if nonfinite == "raise":
        bad = ~np.isfinite(x)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name}: {int(bad.sum())} non-finite value(s) (first {float(x[first])!r} at index "
                f"{first}); pass nonfinite='saturate' to map +inf to qmax, -inf to qmin and NaN "
                "to the zero point"
            )


def quantize(
    x: np.ndarray,
    qparams: QuantParams,
    *,
    rounding: RoundingMode = "half_away_from_zero",
    nonfinite: NonFinite = "raise",
) -> np.ndarray:
    """``q = clamp(round(x / scale) + zero_point, qmin, qmax)``, in ``qparams.dtype``.

    Arithmetic as TFLite's Quantize kernel (SEMANTICS.md §4.11): the division is done in the
    input's precision (float32 input: ``x / float32(scale)``; float64 input: in double), then
    rounded with ``rounding`` (``"half_away_from_zero"`` TFLite, ``"half_to_even"`` ONNX and
    fbgemm, ``"half_up"``), then the zero point is added and the result clamped. Per-channel
    parameters apply along ``qparams.axis``. Non-finite values raise ``ValueError`` unless
    ``nonfinite="saturate"``: +inf → qmax, −inf → qmin, NaN → zero_point.
    """
    check_rounding(rounding)
    x = _float_input(x, "x")
    _check_finite(x, "x", nonfinite)
    scale, zero_point = qparams.broadcast_to(x.shape, "x")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        levels = round_with(x / scale.astype(x.dtype), rounding)
    # Clamp in float before the integer cast, so huge or infinite values saturate, not wrap.
    levels = np.clip(levels, qparams.qmin - zero_point, qparams.qmax - zero_point)
    levels = np.where(np.isnan(levels), 0, levels)
    return (levels.astype(np.int64) + zero_point).astype(qparams.dtype)


def dequantize(q: np.ndarray, qparams: QuantParams, *, dtype: type = np.float32) -> np.ndarray:
    """``real = scale · (q − zero_point)`` (eq. (1)).

    Computed in double and rounded once to ``dtype``, as TFLite's Dequantize kernel does for
    float32 (``float32(double(scale) · (q − zp))``, SEMANTICS.md §4.11). ``q`` must be an integer
    array whose values lie in ``[qmin, qmax]``; otherwise ``TypeError``/``ValueError`` naming ``q``.
    """
    q = np.asarray(q)
    if q.dtype == bool or not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"q: expected an integer array, got dtype {q.dtype}")
    if q.size and (q.min() < qparams.qmin or q.max() > qparams.qmax):
        raise ValueError(
            f"q: values span [{q.min()}, {q.max()}], outside the grid "
            f"[{qparams.qmin}, {qparams.qmax}] of its quantization parameters"
        )
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype: expected a float dtype, got {np.dtype(dtype)}")
    scale, zero_point = qparams.broadcast_to(q.shape, "q")
    return (scale * (q.astype(np.int64) - zero_point)).astype(dtype)


def nudged_range(qparams: QuantParams, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(nudged_min, nudged_max) = ((qmin − zp)·scale, (qmax − zp)·scale)`` in ``dtype``.

    The float range a grid represents exactly (TF's ``Nudge``), per channel when ``qparams`` is.
    """
    scale = np.asarray(qparams.scale).astype(dtype)
    zero_point = np.asarray(qparams.zero_point)
    lo = (qparams.qmin - zero_point).astype(dtype) * scale
    hi = (qparams.qmax - zero_point).astype(dtype) * scale
    return lo, hi


def fake_quantize(
    x: np.ndarray,
    qparams: QuantParams,
    *,
    rounding: RoundingMode = "half_up",
    nonfinite: NonFinite = "raise",
) -> np.ndarray:
    """Quantize and dequantize in float: the grid point of ``x`` (eq. (12)–(13)).

    TF's ``fake_quant_with_min_max_vars`` (TF 2.21, SEMANTICS.md §5), in the input's precision
    (float32 for TF bit-exactness): with ``nmin, nmax = nudged_range(qparams)``,
    ``c = clamp(x, nmin, nmax)``, ``qz = round(−nmin / scale)`` and
    ``out = round((c − nmin) / scale − qz) · scale``, so 0.0 maps to exactly 0.0. Per-tensor
    parameters divide by ``scale``; per-channel ones multiply by ``1 / scale`` (both as TF).
    ``rounding="half_up"`` is TF's ``floor(t + 0.5)`` evaluated in the input's precision (it
    differs from an exact half-up only for ``t`` one half-ulp below 0.5); the other modes round
    ``t`` exactly. The straight-through gradient lives with the training code.
    """
    check_rounding(rounding)
    x = _float_input(x, "x")
    _check_finite(x, "x", nonfinite)
    dtype = x.dtype.type
    nmin, nmax = nudged_range(qparams, dtype)
    scale = np.asarray(qparams.scale).astype(dtype)
    if qparams.per_channel:
        view = qparams.broadcast_to(x.shape, "x")[0].shape
        nmin, nmax, scale = nmin.reshape(view), nmax.reshape(view), scale.reshape(view)
        inv_scale = dtype(1) / scale

        def steps(v: np.ndarray) -> np.ndarray:
            return v * inv_scale
    else:

        def steps(v: np.ndarray) -> np.ndarray:
            return v / scale

    half = dtype(0.5)
    quant_zero = np.floor(steps(-nmin) + half)  # the integer zp − qmin, recovered in float
    t = steps(np.clip(x, nmin, nmax) - nmin) - quant_zero
    levels = np.floor(t + half) if rounding == "half_up" else round_with(t, rounding)
    out = levels * scale
    return np.where(np.isnan(x), dtype(0), out) if nonfinite == "saturate" else out
