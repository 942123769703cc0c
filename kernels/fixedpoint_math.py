"""gemmlowp's fixed-point math functions (exp, tanh, logistic, 1/(1 + x)) as Numba integer code.

A gemmlowp ``FixedPoint<int32_t, IntegerBits>`` is a raw int32 ``r`` standing for the real number
``r / 2^(31 − IntegerBits)`` (format Q{IntegerBits}.{31 − IntegerBits}, range
``[−2^IntegerBits, 2^IntegerBits)``). Here it is just the raw integer, held in an int64, and the
template parameter ``IntegerBits`` becomes an explicit ``integer_bits`` argument. The FixedPoint
operators map to integer primitives:

* ``a + b``, ``a − b``, ``−a``: int32 arithmetic that **wraps** (gemmlowp's ``Add``/``Sub``/``Neg``
  leave overflow undefined; every compiler wraps, and so do we, with ``wrap_int32``);
* ``a * b``: ``srdhm(a, b)`` (SaturatingRoundingDoublingHighMul; the integer bits add up);
* ``Rescale<dst>(x)`` and ``SaturatingRoundingMultiplyByPOT<e>``: ``x · 2^e`` saturating for
  ``e > 0``, ``rounding_divide_by_pot(x, −e)`` (ties away from zero) for ``e < 0``;
* ``SelectUsingMask``: an ``if``.

Source: gemmlowp ``fixedpoint/fixedpoint.h``
(exp_on_interval_between_negative_one_quarter_and_0_excl, exp_on_negative_values,
one_minus_x_over_one_plus_x_for_x_in_0_1, neg_tanh_on_negative_values, tanh,
one_over_one_plus_x_for_x_in_0_1, logistic_on_positive_values, logistic, RoundingHalfSum and the
int16 specializations of SaturatingRoundingDoublingHighMul and RoundingDivideByPOT) and LiteRT
``tflite/kernels/internal/common.h`` (CountLeadingZeros, GetReciprocal).

Every magic integer below is written next to the real number it encodes (``FromDouble``: the real
times ``2^FractionalBits``, rounded half away from zero); ``tests/test_activations.py`` recomputes
each of them. The ``integer_bits`` arguments are valid in ``[0, 29]``; intq uses 0, 2, 4, 5 and 12.
"""

import numpy as np
from numba import njit

from .fixed_point import (
    INT32_MAX,
    rounding_divide_by_pot,
    saturating_rounding_multiply_by_pot,
    srdhm,
    wrap_int32,
)

INT16_MIN = -(2**15)
INT16_MAX = 2**15 - 1

# ---- gemmlowp constants (GEMMLOWP_CHECKED_FIXEDPOINT_CONSTANT), raw int32 values --------------
# exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31:
EXP_MINUS_ONE_EIGHTH_Q0_31 = 1895147668  # exp(−1/8)
ONE_THIRD_Q0_31 = 715827883  # 1/3
ONE_EIGHTH_Q0_31 = 1 << 28  # 1/8 (ConstantPOT<−3>)
# exp_on_negative_values' barrel shifter: exp(−2^k) in Q0.31 for k = −2..4.
EXP_MINUS_QUARTER_Q0_31 = 1672461947  # exp(−1/4)
EXP_MINUS_HALF_Q0_31 = 1302514674  # exp(−1/2)
EXP_MINUS_ONE_Q0_31 = 790015084  # exp(−1)
EXP_MINUS_TWO_Q0_31 = 290630308  # exp(−2)
EXP_MINUS_FOUR_Q0_31 = 39332535  # exp(−4)
EXP_MINUS_EIGHT_Q0_31 = 720401  # exp(−8)
EXP_MINUS_SIXTEEN_Q0_31 = 242  # exp(−16)
# Newton–Raphson division (one_over_one_plus_x / one_minus_x_over_one_plus_x), Q2.29:
FORTY_EIGHT_OVER_SEVENTEEN_Q2_29 = 1515870810  # 48/17
MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2_29 = -1010580540  # −32/17
# logistic(0), Q0.31:
ONE_HALF_Q0_31 = 1 << 30  # 1/2

SIGNATURES: dict[str, list[str]] = {
    "constant_pot": ["int64(int64, int64)"],
    "fixed_point_one": ["int64(int64)"],
    "multiply_by_pot": ["int64(int64, int64)"],
    "rescale": ["int64(int64, int64, int64)"],
    "rounding_half_sum": ["int64(int64, int64)"],
    "exp_on_interval_between_negative_one_quarter_and_0_excl": ["int64(int64)"],
    "_exp_barrel_step": ["int64(int64, int64, int64, int64, int64)"],
    "exp_on_negative_values": ["int64(int64, int64)"],
    "_newton_raphson_reciprocal_q2": ["int64(int64)"],
    "one_minus_x_over_one_plus_x_for_x_in_0_1": ["int64(int64)"],
    "neg_tanh_on_negative_values": ["int64(int64, int64)"],
    "tanh": ["int64(int64, int64)"],
    "one_over_one_plus_x_for_x_in_0_1": ["int64(int64)"],
    "logistic_on_positive_values": ["int64(int64, int64)"],
    "logistic": ["int64(int64, int64)"],
    "count_leading_zeros_32": ["int64(int64)"],
    "get_reciprocal": ["UniTuple(int64, 2)(int64, int64)"],
    "wrap_int16": ["int64(int64)"],
    "srdhm_int16": ["int64(int64, int64)"],
    "rounding_divide_by_pot_int16": ["int64(int64, int64)"],
}


@njit(cache=True)
def constant_pot(integer_bits, exponent):
    """Raw value of ``2^exponent`` in Q{integer_bits} (``FixedPoint::ConstantPOT<exponent>``)."""
    return np.int64(1) << (np.int64(31) - np.int64(integer_bits) + np.int64(exponent))


@njit(cache=True)
def fixed_point_one(integer_bits):
    """Raw value of ``FixedPoint::One()``: ``2^(31 − integer_bits)``, or INT32_MAX (the largest
    value below 1) when ``integer_bits == 0``."""
    if integer_bits == 0:
        return np.int64(INT32_MAX)
    return np.int64(1) << (np.int64(31) - np.int64(integer_bits))


@njit(cache=True)
def multiply_by_pot(x, exponent):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>(x)`` for int32 ``x``.

    ``exponent > 0``: ``x · 2^exponent`` saturated to [INT32_MIN, INT32_MAX] (exact otherwise);
    ``exponent < 0``: ``rounding_divide_by_pot(x, −exponent)``, ties away from zero;
    ``exponent == 0``: ``x``. ``|exponent| <= 31``.
    """
    e = np.int64(exponent)
    if e > 0:
        return np.int64(saturating_rounding_multiply_by_pot(x, e))
    if e < 0:
        return np.int64(rounding_divide_by_pot(x, -e))
    return np.int64(x)


@njit(cache=True)
def rescale(x, src_integer_bits, dst_integer_bits):
    """gemmlowp ``Rescale<dst>(FixedPoint<int32, src> x)``: the same real number in Q{dst},
    ``multiply_by_pot(x, src − dst)`` (saturating when gaining precision, rounding when losing)."""
    return multiply_by_pot(x, np.int64(src_integer_bits) - np.int64(dst_integer_bits))


@njit(cache=True)
def rounding_half_sum(a, b):
    """gemmlowp ``RoundingHalfSum(int32 a, int32 b)``: ``(a + b + sign) / 2`` in int64 with C's
    truncating division, ``sign = 1`` if ``a + b >= 0`` else ``−1``: ``(a + b) / 2`` rounded to
    nearest, ties away from zero (ARM ``VRHADD`` for non-negative sums)."""
    total = np.int64(a) + np.int64(b)
    nudged = total + (np.int64(1) if total >= 0 else np.int64(-1))
    # C's '/' truncates toward zero; '>>' floors, so halve the magnitude.
    half = nudged >> 1 if nudged >= 0 else -((-nudged) >> 1)
    return wrap_int32(half)


@njit(cache=True)
def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """``exp(a)`` for Q0.31 ``a`` in [−1/4, 0), as Q0.31.

    Taylor expansion around −1/8 to the 4th order: with ``x = a + 1/8``,
    ``exp(−1/8) · (1 + x + x²/2 + x³/6 + x⁴/24)``, evaluated as
    ``c + c · (x + ((x⁴/4 + x³) · 1/3 + x²) / 2)`` with ``c = exp(−1/8)``; every product is
    ``srdhm``, ``/4`` and ``/2`` are rounding shifts, sums wrap.
    """
    x = wrap_int32(np.int64(a) + ONE_EIGHTH_Q0_31)
    x2 = np.int64(srdhm(x, x))
    x3 = np.int64(srdhm(x2, x))
    x4 = np.int64(srdhm(x2, x2))
    x4_over_4 = multiply_by_pot(x4, -2)
    inner = wrap_int32(np.int64(srdhm(wrap_int32(x4_over_4 + x3), ONE_THIRD_Q0_31)) + x2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = multiply_by_pot(inner, -1)
    tail = srdhm(
        EXP_MINUS_ONE_EIGHTH_Q0_31, wrap_int32(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)
    )
    return wrap_int32(EXP_MINUS_ONE_EIGHTH_Q0_31 + np.int64(tail))


@njit(cache=True)
def _exp_barrel_step(result, remainder, integer_bits, exponent, multiplier):
    # One GEMMLOWP_EXP_BARREL_SHIFTER(exponent, multiplier) line: if the input has the bit worth
    # 2^exponent, multiply the result by exp(−2^exponent).
    if integer_bits > exponent:
        shift_amount = np.int64(31) - np.int64(integer_bits) + np.int64(exponent)
        if (np.int64(remainder) & (np.int64(1) << shift_amount)) != 0:
            return np.int64(srdhm(result, multiplier))
    return np.int64(result)


@njit(cache=True)
def exp_on_negative_values(a, integer_bits):
    """``exp(a)`` for ``a <= 0`` in Q{integer_bits}, as Q0.31 (gemmlowp exp_on_negative_values).

    ``a`` is split as ``a = (a mod 1/4 − 1/4) − remainder``: the first part, in [−1/4, 0), goes
    through the Taylor polynomial; each set bit of ``remainder`` (worth 2^k, k = −2..4 while
    k < integer_bits) multiplies the result by the constant ``exp(−2^k)``. For more than 5 integer
    bits, inputs below −32 give 0. ``a == 0`` gives ``One()`` = INT32_MAX.
    """
    a = np.int64(a)
    ib = np.int64(integer_bits)
    one_quarter = constant_pot(ib, -2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap_int32((a & mask) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, ib, 0)
    )
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    result = _exp_barrel_step(result, remainder, ib, -2, EXP_MINUS_QUARTER_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, -1, EXP_MINUS_HALF_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, 0, EXP_MINUS_ONE_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, 1, EXP_MINUS_TWO_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, 2, EXP_MINUS_FOUR_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, 3, EXP_MINUS_EIGHT_Q0_31)
    result = _exp_barrel_step(result, remainder, ib, 4, EXP_MINUS_SIXTEEN_Q0_31)
    if ib > 5:
        clamp = -(np.int64(1) << (np.int64(36) - ib))  # −32 in Q{integer_bits}
        if a < clamp:
            result = np.int64(0)
    if a == 0:
        result = fixed_point_one(0)
    return np.int64(result)


@njit(cache=True)
def _newton_raphson_reciprocal_q2(half_denominator):
    # x ≈ 1 / d in Q2.29 for d = half_denominator in [1/2, 1) (Q0.31): the initial guess
    # 48/17 − 32/17·d, then three Newton–Raphson iterations x ← x + x·(1 − d·x).
    one_q2 = fixed_point_one(2)
    x = wrap_int32(
        FORTY_EIGHT_OVER_SEVENTEEN_Q2_29
        + np.int64(srdhm(half_denominator, MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2_29))
    )
    for _ in range(3):
        half_denominator_times_x = np.int64(srdhm(half_denominator, x))
        one_minus_half_denominator_times_x = wrap_int32(one_q2 - half_denominator_times_x)
        x = wrap_int32(x + rescale(srdhm(x, one_minus_half_denominator_times_x), 4, 2))
    return np.int64(x)


@njit(cache=True)
def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """``(1 − a) / (1 + a)`` for Q0.31 ``a`` in (0, 1), as Q0.31 (Newton–Raphson division by
    ``(1 + a)/2 = RoundingHalfSum(a, One())``)."""
    half_denominator = rounding_half_sum(a, fixed_point_one(0))
    x = _newton_raphson_reciprocal_q2(half_denominator)
    return rescale(wrap_int32(x - fixed_point_one(2)), 2, 0)


@njit(cache=True)
def neg_tanh_on_negative_values(a, integer_bits):
    """``−tanh(a)`` for ``a <= 0`` in Q{integer_bits}, as Q0.31: ``(1 − e) / (1 + e)`` with
    ``e = exp(2a)`` (``ExactMulByPot<1>``: the same raw value read with one more integer bit)."""
    return one_minus_x_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(a, np.int64(integer_bits) + 1)
    )


@njit(cache=True)
def tanh(a, integer_bits):
    """gemmlowp ``tanh`` of Q{integer_bits} ``a``, as Q0.31: ``−neg_tanh(−|a|)`` with the sign of
    ``a`` restored; exactly 0 for ``a == 0``."""
    a = np.int64(a)
    negative = a < 0
    n = a if negative else wrap_int32(-a)
    t = neg_tanh_on_negative_values(n, integer_bits)
    if a == 0:
        return np.int64(0)
    return wrap_int32(-t) if negative else np.int64(t)


@njit(cache=True)
def one_over_one_plus_x_for_x_in_0_1(a):
    """``1 / (1 + a)`` for Q0.31 ``a`` in [0, 1), as Q0.31 (Newton–Raphson on ``(1 + a)/2``, then
    halved: ``ExactMulByPot<−1>`` and ``Rescale<0>``)."""
    half_denominator = rounding_half_sum(a, fixed_point_one(0))
    x = _newton_raphson_reciprocal_q2(half_denominator)
    return rescale(x, 1, 0)


@njit(cache=True)
def logistic_on_positive_values(a, integer_bits):
    """``1 / (1 + exp(−a))`` for ``a >= 0`` in Q{integer_bits}, as Q0.31."""
    return one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(wrap_int32(-np.int64(a)), integer_bits)
    )


@njit(cache=True)
def logistic(a, integer_bits):
    """gemmlowp ``logistic`` of Q{integer_bits} ``a``, as Q0.31: ``logistic_on_positive_values(a)``
    for ``a > 0``, ``One() − logistic_on_positive_values(−a)`` for ``a < 0``, exactly 1/2 at 0."""
    a = np.int64(a)
    positive = a > 0
    abs_input = a if positive else wrap_int32(-a)
    result_if_positive = logistic_on_positive_values(abs_input, integer_bits)
    result_if_negative = wrap_int32(fixed_point_one(0) - result_if_positive)
    if a == 0:
        return np.int64(ONE_HALF_Q0_31)
    return np.int64(result_if_positive) if positive else np.int64(result_if_negative)


@njit(cache=True)
def count_leading_zeros_32(x):
    """LiteRT ``CountLeadingZeros(uint32_t x)``: leading zero bits of ``x mod 2^32`` (32 for 0)."""
    u = np.int64(x) & 0xFFFFFFFF
    if u == 0:
        return np.int64(32)
    n = np.int64(0)
    while u < (np.int64(1) << 31):
        u = u << 1
        n += 1
    return n


@njit(cache=True)
def get_reciprocal(x, x_integer_digits):
    """LiteRT ``GetReciprocal(x, x_integer_digits, &num_bits_over_unit)`` (``common.h``).

    For a positive Q{x_integer_digits} ``x``: normalise it to ``1 + f`` with ``f`` in [0, 1) by a
    left shift of ``headroom_plus_one = clz(x)`` bits (uint32 arithmetic, then cast to int32),
    return ``(one_over_one_plus_x_for_x_in_0_1(f), num_bits_over_unit)`` with
    ``num_bits_over_unit = x_integer_digits − headroom_plus_one``: ``1/x`` equals the Q0.31
    result times ``2^−num_bits_over_unit``.
    """
    u = np.int64(x) & 0xFFFFFFFF
    headroom_plus_one = count_leading_zeros_32(u)
    num_bits_over_unit = np.int64(x_integer_digits) - headroom_plus_one
    shifted = (u << headroom_plus_one) & 0xFFFFFFFF  # a shift by 32 (x == 0) gives 0 here
    shifted_sum_minus_one = wrap_int32(shifted - (np.int64(1) << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


@njit(cache=True)
def wrap_int16(x):
    """Two's-complement wrap to int16, as C's conversion to ``int16_t``; returned as int64."""
    return ((np.int64(x) + 2**15) & 0xFFFF) - 2**15


@njit(cache=True)
def srdhm_int16(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul(int16 a, int16 b)`` (ARM ``SQRDMULH`` on 16
    bits): ``(a·b + nudge) / 2^15`` with C's truncating division, ``nudge = 2^14`` for
    ``a·b >= 0`` else ``1 − 2^14``, i.e. ``floor((a·b + 2^14) / 2^15)``: ties **up**.
    ``−32768·−32768`` saturates to 32767."""
    a64 = np.int64(a)
    b64 = np.int64(b)
    if a64 == INT16_MIN and b64 == INT16_MIN:
        return np.int64(INT16_MAX)
    ab = a64 * b64
    nudged = ab + (np.int64(1 << 14) if ab >= 0 else np.int64(1 - (1 << 14)))
    quotient = nudged >> 15 if nudged >= 0 else -((-nudged) >> 15)
    return wrap_int16(quotient)


@njit(cache=True)
def rounding_divide_by_pot_int16(x, exponent):
    """gemmlowp ``RoundingDivideByPOT<int16_t>(x, exponent)``, ``0 <= exponent <= 31``, literally.

    ``mask = int16(2^exponent − 1)``, ``remainder = x & mask``,
    ``threshold = int16((mask >> 1) + (x < 0))``, result ``int16((x >> exponent) +
    (remainder > threshold))``: ties away from zero for ``exponent <= 15``. For ``exponent >= 16``
    the int16 mask truncates to −1 and the result is 1 for ``x >= 0`` and −1 for ``x < 0`` (what
    LiteRT's int16 hard-swish computes for such output shifts).
    """
    x64 = np.int64(x)
    e = np.int64(exponent)
    mask = wrap_int16((np.int64(1) << e) - 1)
    remainder = x64 & mask
    threshold = wrap_int16((mask >> 1) + (np.int64(1) if x64 < 0 else np.int64(0)))
    return wrap_int16((x64 >> e) + (np.int64(1) if remainder > threshold else np.int64(0)))
