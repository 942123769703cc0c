"""Fixed-point primitives of gemmlowp and TFLite, as Numba scalar functions and array loops.

Every function here takes and returns integers only. The scalar functions are meant to be
called from other kernels (Numba inlines or links them); the ``*_array`` loops are what the
``intq.fixed_point`` wrappers call after validating their inputs.

Sources: gemmlowp ``fixedpoint/fixedpoint.h`` (SaturatingRoundingDoublingHighMul,
RoundingDivideByPOT, SaturatingRoundingMultiplyByPOT) and LiteRT
``tflite/kernels/internal/common.cc`` (MultiplyByQuantizedMultiplier, both builds).

Numba types integer arithmetic as int64, and C's int32 arithmetic wraps where TFLite marks it
``TFLITE_NO_SANITIZE_INTEGER_OVERFLOW``. Each function therefore computes in int64 and states
where, and how, a result is brought back to int32 (``wrap_int32``), so that the JIT and
``NUMBA_DISABLE_JIT=1`` give the same bits.
"""

import numpy as np
from numba import njit

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Requantization conventions (which MultiplyByQuantizedMultiplier overload), passed to kernels as
# a plain integer.
DOUBLE_ROUNDING = 0  # srdhm then rounding_divide_by_pot: TFLite, TFLM, CMSIS-NN default builds
SINGLE_ROUNDING = 1  # one int64 product, one rounding shift: TFLITE_SINGLE_ROUNDING, ruy
INT64_ACCUMULATOR = 2  # the int64-accumulator overload of 16x8 kernels (any build)

# Numba signatures intq compiles each kernel for; the FPU-free test compiles and scans all of them.
SIGNATURES = {
    "wrap_int32": ["int64(int64)"],
    "srdhm": ["int32(int32, int32)", "int32(int64, int64)"],
    "rounding_divide_by_pot": ["int32(int32, int64)", "int32(int64, int64)"],
    "saturating_rounding_multiply_by_pot": ["int32(int32, int64)", "int32(int64, int64)"],
    "multiply_by_quantized_multiplier": [
        "int32(int32, int32, int64)",
        "int32(int64, int64, int64)",
    ],
    "multiply_by_quantized_multiplier_single_rounding": [
        "int32(int32, int32, int64)",
        "int32(int64, int64, int64)",
    ],
    "multiply_by_quantized_multiplier_int64": [
        "int32(int64, int32, int64)",
        "int32(int64, int64, int64)",
    ],
    "requantize": ["int32(int32, int32, int64, int64)", "int32(int64, int64, int64, int64)"],
    "srdhm_array": ["void(int32[::1], int32[::1], int32[::1])"],
    "rounding_divide_by_pot_array": ["void(int32[::1], int32[::1], int32[::1])"],
    "saturating_rounding_multiply_by_pot_array": ["void(int32[::1], int32[::1], int32[::1])"],
    "multiply_by_quantized_multiplier_array": [
        "void(int32[::1], int32[::1], int32[::1], int64, int32[::1])"
    ],
    "multiply_by_quantized_multiplier_int64_array": [
        "void(int64[::1], int32[::1], int32[::1], int32[::1])"
    ],
}


@njit(cache=True)
def wrap_int32(x):
    """Two's-complement wrap of an integer to int32, as C's ``static_cast<int32_t>``.

    Returned as int64 holding a value in [INT32_MIN, INT32_MAX].
    """
    return ((np.int64(x) + 2**31) & 0xFFFFFFFF) - 2**31


@njit(cache=True)
def srdhm(a, b):
    """Saturating rounding doubling high multiply (gemmlowp SaturatingRoundingDoublingHighMul).

    For int32 ``a`` and ``b``: the high 32 bits of ``2·a·b``, rounded to nearest with ties
    **up** (toward +inf), i.e. ``floor((a·b + 2^30) / 2^31)``; this equals gemmlowp's
    ``(ab + nudge) / 2^31`` with C's truncating division and nudge ``2^30`` or ``1 − 2^30``.
    The one product that does not fit, INT32_MIN·INT32_MIN, saturates to INT32_MAX.
    Matches ARM ``SQRDMULH``.
    """
    a64 = np.int64(a)
    b64 = np.int64(b)
    if a64 == INT32_MIN and b64 == INT32_MIN:
        return np.int32(INT32_MAX)
    # |a·b| <= 2^62, so the sum cannot overflow int64; >> is an arithmetic (floor) shift.
    return np.int32((a64 * b64 + (1 << 30)) >> 31)


@njit(cache=True)
def rounding_divide_by_pot(x, exponent):
    """``x / 2^exponent`` rounded to nearest, ties **away from zero** (RoundingDivideByPOT).

    ``x`` is an int32 value and ``0 <= exponent <= 31``. With ``mask = 2^e − 1``,
    ``remainder = x & mask`` and ``threshold = (mask >> 1) + (x < 0)``, the result is
    ``(x >> e) + (remainder > threshold)``. Never overflows.
    """
    x64 = np.int64(x)
    e = np.int64(exponent)
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (1 if x64 < 0 else 0)
    return np.int32((x64 >> e) + (1 if remainder > threshold else 0))


@njit(cache=True)
def saturating_rounding_multiply_by_pot(x, exponent):
    """``x · 2^exponent`` for ``0 <= exponent <= 31``, saturated to [INT32_MIN, INT32_MAX].

    gemmlowp SaturatingRoundingMultiplyByPOT for a non-negative exponent (no rounding is
    needed: the product is exact before saturation).
    """
    y = np.int64(x) << np.int64(exponent)  # |x| <= 2^31, exponent <= 31: fits in int64
    if y > INT32_MAX:
        return np.int32(INT32_MAX)
    if y < INT32_MIN:
        return np.int32(INT32_MIN)
    return np.int32(y)


@njit(cache=True)
def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's default (double-rounding) ``MultiplyByQuantizedMultiplier(int32 x, M, shift)``.

    Approximates ``x · M · 2^(shift − 31)`` for ``0 <= M < 2^31`` and ``−31 <= shift <= 30``:
    ``rounding_divide_by_pot(srdhm(x · 2^max(shift, 0), M), max(−shift, 0))``. Two roundings:
    ties up in srdhm, then ties away from zero. The left shift ``x · 2^shift`` is int32
    arithmetic that **wraps** exactly as in TFLite's build (common.cc marks it
    TFLITE_NO_SANITIZE_INTEGER_OVERFLOW); callers keep ``|x·2^shift| < 2^31``.
    """
    s = np.int64(shift)
    left_shift = s if s > 0 else np.int64(0)
    right_shift = np.int64(0) if s > 0 else -s
    shifted = wrap_int32(np.int64(x) << left_shift)
    return rounding_divide_by_pot(srdhm(shifted, multiplier), right_shift)


@njit(cache=True)
def multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift):
    """TFLITE_SINGLE_ROUNDING ``MultiplyByQuantizedMultiplier(int32 x, M, shift)`` (also ruy's).

    ``(x·M + 2^(30 − shift)) >> (31 − shift)`` in int64 for ``−31 <= shift <= 30``: one
    rounding, ties **up**. The final cast to int32 wraps as TFLite's ``static_cast`` does when
    the result is out of range (TFLite only DCHECKs it).
    """
    total_shift = np.int64(31) - np.int64(shift)
    rounding = np.int64(1) << (total_shift - 1)
    result = (np.int64(x) * np.int64(multiplier) + rounding) >> total_shift
    return np.int32(wrap_int32(result))


@njit(cache=True)
def multiply_by_quantized_multiplier_int64(x, multiplier, shift):
    """``MultiplyByQuantizedMultiplier(int64 x, M, shift)`` used with int64 accumulators (16x8).

    The same in TFLite's double- and single-rounding builds: the multiplier is reduced to 16
    bits, ``Mr = (M + 2^15) >> 16`` (or 0x7FFF when ``M >= 0x7FFF0000``), then
    ``(x·Mr + 2^(14 − shift)) >> (15 − shift)``: one rounding, ties **up**. Valid for
    ``−2^47 <= x < 2^47`` and ``−31 <= shift <= 7``; the cast to int32 wraps as in TFLite.
    """
    m = np.int64(multiplier)
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else np.int64(0x7FFF)
    total_shift = np.int64(15) - np.int64(shift)
    rounding = np.int64(1) << (total_shift - 1)
    result = (np.int64(x) * reduced + rounding) >> total_shift
    return np.int32(wrap_int32(result))


@njit(cache=True)
def requantize(x, multiplier, shift, rounding):
    """``multiply_by_quantized_multiplier`` of the convention ``rounding``: DOUBLE_ROUNDING,
    SINGLE_ROUNDING or INT64_ACCUMULATOR. The one place a kernel picks its requantization."""
    if rounding == SINGLE_ROUNDING:
        return multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
    if rounding == INT64_ACCUMULATOR:
        return multiply_by_quantized_multiplier_int64(x, multiplier, shift)
    return multiply_by_quantized_multiplier(x, multiplier, shift)


@njit(cache=True)
def srdhm_array(a, b, out):
    """``out[i] = srdhm(a[i], b[i])`` over contiguous int32 arrays of one length."""
    for i in range(out.shape[0]):
        out[i] = srdhm(a[i], b[i])


@njit(cache=True)
def rounding_divide_by_pot_array(x, exponent, out):
    """``out[i] = rounding_divide_by_pot(x[i], exponent[i])``, exponents in [0, 31]."""
    for i in range(out.shape[0]):
        out[i] = rounding_divide_by_pot(x[i], exponent[i])


@njit(cache=True)
def saturating_rounding_multiply_by_pot_array(x, exponent, out):
    """``out[i] = saturating_rounding_multiply_by_pot(x[i], exponent[i])``, exponents in [0, 31]."""
    for i in range(out.shape[0]):
        out[i] = saturating_rounding_multiply_by_pot(x[i], exponent[i])


@njit(cache=True)
def multiply_by_quantized_multiplier_array(x, multiplier, shift, rounding, out):
    """``out[i] = requantize(x[i], multiplier[i], shift[i], rounding)``."""
    for i in range(out.shape[0]):
        out[i] = requantize(x[i], multiplier[i], shift[i], rounding)


@njit(cache=True)
def multiply_by_quantized_multiplier_int64_array(x, multiplier, shift, out):
    """``out[i] = multiply_by_quantized_multiplier_int64(x[i], multiplier[i], shift[i])``."""
    for i in range(out.shape[0]):
        out[i] = multiply_by_quantized_multiplier_int64(x[i], multiplier[i], shift[i])
