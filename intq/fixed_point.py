"""Real multipliers as fixed-point integers, and the fixed-point primitives on arrays.

``quantize_multiplier`` turns a real multiplier ``M`` (eq. (5)) into ``(multiplier, shift)`` with
``M ≈ multiplier · 2^(shift − 31)`` (eq. (6), ``M0 = multiplier / 2^31`` in [0.5, 1)), exactly as
LiteRT's ``QuantizeMultiplier`` (``quantization_util.cc``; SEMANTICS.md §1). It runs offline,
once per layer, in double precision; the kernels only ever see the two integers.

The array functions validate their arguments and call the Numba kernels of
``intq.kernels.fixed_point``; their semantics are documented on those kernels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .kernels import fixed_point as _k
from .rounding import round_half_away_from_zero

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

Rounding = Literal["double", "single"]
_ROUNDING_CODES = {"double": _k.DOUBLE_ROUNDING, "single": _k.SINGLE_ROUNDING}


def _as_real(real: float | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(real, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise ValueError(
            f"{name}: must be finite and non-negative, got {float(arr.flat[int(np.argmax(bad))])!r}"
        )
    return arr


def quantize_multiplier(
    real: float | np.ndarray, *, single_rounding: bool = False
) -> tuple[int, int] | tuple[np.ndarray, np.ndarray]:
    """``(multiplier, shift)`` with ``real ≈ multiplier · 2^(shift − 31)`` (QuantizeMultiplier).

    1. ``real == 0`` → ``(0, 0)``;
    2. ``(q, shift) = frexp(real)``, ``q`` in [0.5, 1);
    3. ``multiplier = round_half_away_from_zero(q · 2^31)`` in double (the scaling is exact);
    4. ``multiplier == 2^31`` → ``(2^30, shift + 1)``;
    5. ``shift < −31`` → ``(0, 0)``: the product would be shifted out entirely (flush to zero);
    6. ``single_rounding`` (TFLITE_SINGLE_ROUNDING builds): ``shift > 30`` → ``(2^31 − 1, 30)``.

    A positive shift is a left shift. ``real`` is a non-negative finite float or an array of
    them (per-channel); arrays give int32 arrays of the same shape.
    """
    arr = _as_real(real, "real")
    mantissa, shift = np.frexp(arr)
    multiplier = round_half_away_from_zero(mantissa * 2.0**31).astype(np.int64)
    shift = shift.astype(np.int64)
    carry = multiplier == 2**31
    multiplier = np.where(carry, 2**30, multiplier)
    shift = np.where(carry, shift + 1, shift)
    flush = (arr == 0) | (shift < -31)
    multiplier = np.where(flush, 0, multiplier)
    shift = np.where(flush, 0, shift)
    if single_rounding:
        cap = shift > 30
        multiplier = np.where(cap, INT32_MAX, multiplier)
        shift = np.where(cap, 30, shift)
    if arr.ndim == 0:
        return int(multiplier), int(shift)
    return multiplier.astype(np.int32), shift.astype(np.int32)


def quantize_multiplier_smaller_than_one(
    real: float | np.ndarray,
) -> tuple[int, int] | tuple[np.ndarray, np.ndarray]:
    """``quantize_multiplier`` for ``0 < real < 1`` (LiteRT QuantizeMultiplierSmallerThanOneExp).

    The returned shift is ``<= 0`` (a right shift). Raises ``ValueError`` when ``real`` is not in
    (0, 1) or rounds up to 1 (shift would become positive), as LiteRT's checks do.
    """
    arr = _as_real(real, "real")
    outside = (arr <= 0) | (arr >= 1)
    if outside.any():
        raise ValueError(
            f"real: must lie in (0, 1), got {float(arr.flat[int(np.argmax(outside))])!r}"
        )
    multiplier, shift = quantize_multiplier(real)
    if np.any(np.asarray(shift) > 0):
        raise ValueError("real: rounds up to 1.0 in 31 bits; not a smaller-than-one multiplier")
    return multiplier, shift


def quantize_multiplier_greater_than_one(
    real: float | np.ndarray,
) -> tuple[int, int] | tuple[np.ndarray, np.ndarray]:
    """``quantize_multiplier`` for ``real > 1`` (LiteRT QuantizeMultiplierGreaterThanOne).

    The returned shift is ``>= 0`` (a left shift); ``ValueError`` when ``real <= 1``.
    """
    arr = _as_real(real, "real")
    if np.any(arr <= 1):
        raise ValueError(
            f"real: must be greater than 1, got {float(arr.flat[int(np.argmax(arr <= 1))])!r}"
        )
    return quantize_multiplier(real)


def _int_array(value: object, name: str, lo: int, hi: int, dtype: type = np.int32) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ValueError(f"{name}: values must lie in [{lo}, {hi}], got [{arr.min()}, {arr.max()}]")
    return arr.astype(dtype)


def _elementwise(kernel, arrays: list[np.ndarray], *scalars: np.integer) -> np.ndarray:
    # Broadcast, flatten to contiguous 1-D, and run kernel(*arrays, *scalars, out) into int32.
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    # Copies: broadcast views are not (or, in future NumPy, will not be) writeable arrays, for
    # which Numba would compile an unlisted read-only signature.
    flat = [np.array(a, order="C").ravel() for a in arrays]
    out = np.empty(int(np.prod(shape)), dtype=np.int32)
    kernel(*flat, *scalars, out)
    return out.reshape(shape)


def srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Saturating rounding doubling high multiply of int32 arrays (broadcast); see the kernel."""
    a = _int_array(a, "a", INT32_MIN, INT32_MAX)
    b = _int_array(b, "b", INT32_MIN, INT32_MAX)
    return _elementwise(_k.srdhm_array, [a, b])


def rounding_divide_by_pot(x: np.ndarray, exponent: int | np.ndarray) -> np.ndarray:
    """``x / 2^exponent`` rounded half away from zero, for int32 ``x`` and exponents 0..31."""
    x = _int_array(x, "x", INT32_MIN, INT32_MAX)
    exponent = _int_array(exponent, "exponent", 0, 31)
    return _elementwise(_k.rounding_divide_by_pot_array, [x, exponent])


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int | np.ndarray) -> np.ndarray:
    """``x · 2^exponent`` saturated to int32, for int32 ``x`` and exponents 0..31."""
    x = _int_array(x, "x", INT32_MIN, INT32_MAX)
    exponent = _int_array(exponent, "exponent", 0, 31)
    return _elementwise(_k.saturating_rounding_multiply_by_pot_array, [x, exponent])


def _check_scaled_fits(x: np.ndarray, shift: np.ndarray) -> None:
    # Requantization's domain: since multiplier < 2^31, |result| <= |x · 2^shift|, so the result
    # fits int32 whenever x · 2^shift does. Outside it TFLite's int32 arithmetic wraps.
    xb, sb = (a.astype(np.int64) for a in np.broadcast_arrays(x, shift))
    left = np.maximum(sb, 0)
    right = np.maximum(-sb, 0)
    lo = np.where(sb >= 0, INT32_MIN >> left, INT32_MIN << right)
    hi = np.where(sb >= 0, INT32_MAX >> left, INT32_MAX << right)
    bad = (xb < lo) | (xb > hi)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(
            f"x: {int(xb[i])} · 2^{int(sb[i])} leaves int32, where TFLite's requantization wraps"
        )


def multiply_by_quantized_multiplier(
    x: np.ndarray,
    multiplier: int | np.ndarray,
    shift: int | np.ndarray,
    *,
    rounding: Rounding = "double",
) -> np.ndarray:
    """``x · multiplier · 2^(shift − 31)`` rounded as TFLite does, on int32 arrays (broadcast).

    ``rounding="double"`` is TFLite's default build (srdhm, then rounding_divide_by_pot);
    ``"single"`` is TFLITE_SINGLE_ROUNDING / ruy (one int64 rounding shift). ``multiplier`` lies
    in [0, 2^31), ``shift`` in [−31, 30]. The kernel wraps to int32 exactly as TFLite's compiled
    code when an intermediate leaves int32; this wrapper refuses such inputs instead
    (``ValueError``), so nothing wraps silently.
    """
    if rounding not in _ROUNDING_CODES:
        raise ValueError(f"rounding: expected 'double' or 'single', got {rounding!r}")
    x = _int_array(x, "x", INT32_MIN, INT32_MAX)
    multiplier = _int_array(multiplier, "multiplier", 0, INT32_MAX)
    shift = _int_array(shift, "shift", -31, 30)
    _check_scaled_fits(x, shift)
    return _elementwise(
        _k.multiply_by_quantized_multiplier_array,
        [x, multiplier, shift],
        np.int64(_ROUNDING_CODES[rounding]),
    )


def multiply_by_quantized_multiplier_int64(
    x: np.ndarray, multiplier: int | np.ndarray, shift: int | np.ndarray
) -> np.ndarray:
    """The int64-accumulator requantization of 16x8 kernels (see the kernel), on arrays.

    ``x`` in [−2^47, 2^47), ``multiplier`` in [0, 2^31), ``shift`` in [−31, 7]; the result
    must fit int32 (``ValueError`` otherwise, where TFLite would wrap).
    """
    x = _int_array(x, "x", -(2**47), 2**47 - 1, np.int64)
    multiplier = _int_array(multiplier, "multiplier", 0, INT32_MAX)
    shift = _int_array(shift, "shift", -31, 7)
    _check_scaled_fits(x, shift)
    return _elementwise(_k.multiply_by_quantized_multiplier_int64_array, [x, multiplier, shift])
