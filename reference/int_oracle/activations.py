"""Integer oracles of the activation family, transcribed from the C++ with Python ints.

Sources, read line by line:

* gemmlowp ``fixedpoint/fixedpoint.h``: the FixedPoint operators and the math functions
  (exp_on_negative_values, tanh, logistic, one_over_one_plus_x_for_x_in_0_1, ...);
* LiteRT ``tflite/kernels/internal/common.h``: CountLeadingZeros, GetReciprocal,
  MultiplyByQuantizedMultiplier (double rounding, ``common.cc``);
* LiteRT ``tflite/kernels/internal/reference/integer_ops/lut.h`` (LookupTable),
  ``reference/softmax.h`` (quantized Softmax), ``reference/hard_swish.h`` (quantized HardSwish);
* TFLite Micro ``tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h`` and
  ``tanh.h`` (int8 Logistic and Tanh).

A FixedPoint<int32, IntegerBits> is its raw int32 value here; C's int32/int16 arithmetic that can
overflow is wrapped explicitly (``_wrap32``/``_wrap16``), C's ``/`` is ``_cdiv`` (toward zero).
Slow and obvious on purpose; never imports ``intq.kernels``.
"""

from __future__ import annotations

import numpy as np

from .fixed_point import rounding_divide_by_pot, srdhm

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def _wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def _wrap16(v: int) -> int:
    return (v + 2**15) % 2**16 - 2**15


def _cdiv(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# ---- gemmlowp FixedPoint<int32_t, tIntegerBits> ------------------------------------------------


def _add(a: int, b: int) -> int:  # gemmlowp Add: int32 '+' (wraps)
    return _wrap32(a + b)


def _sub(a: int, b: int) -> int:  # gemmlowp Sub
    return _wrap32(a - b)


def _neg(a: int) -> int:  # gemmlowp Neg
    return _wrap32(-a)


def _mul(a: int, b: int) -> int:  # FixedPoint operator*: SaturatingRoundingDoublingHighMul
    return srdhm(a, b)


def _one(integer_bits: int) -> int:  # FixedPoint::One()
    return INT32_MAX if integer_bits == 0 else 1 << (31 - integer_bits)


def _constant_pot(integer_bits: int, exponent: int) -> int:  # FixedPoint::ConstantPOT<exponent>()
    return 1 << (31 - integer_bits + exponent)


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """gemmlowp ImplSaturatingRoundingMultiplyByPOT<Exponent, int32_t>::eval, all three signs."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (32 - 1 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return _wrap32(x * (1 << exponent))


def rescale(x: int, src_integer_bits: int, dst_integer_bits: int) -> int:
    """gemmlowp Rescale<tIntegerBitsDst>(FixedPoint<int32, tIntegerBitsSrc>)."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a: int, b: int) -> int:
    """gemmlowp RoundingHalfSum<int32_t>."""
    total = a + b
    sign = 1 if total >= 0 else -1
    return _wrap32(_cdiv(total + sign, 2))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """gemmlowp, F = FixedPoint<int32_t, 0>."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883  # 1/3
    x = _add(a, _constant_pot(0, -3))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        _add(_mul(_add(x4_over_4, x3), constant_1_over_3), x2), -1
    )
    # AddSaturatingIf16Bit is a plain Add for int32.
    return _add(
        constant_term, _mul(constant_term, _add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2))
    )


# GEMMLOWP_EXP_BARREL_SHIFTER(Exponent, FixedPointMultiplier): exp(-2^Exponent) in Q0.31.
_BARREL_SHIFTER = (
    (-2, 1672461947),
    (-1, 1302514674),
    (+0, 790015084),
    (+1, 290630308),
    (+2, 39332535),
    (+3, 720401),
    (+4, 242),
)


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp exp_on_negative_values(FixedPoint<int32_t, integer_bits>) → FixedPoint<int32, 0>."""
    fractional_bits = 31 - integer_bits
    k_one_quarter = _constant_pot(integer_bits, -2)
    mask = _sub(k_one_quarter, 1)
    a_mod_quarter_minus_one_quarter = _sub(a & mask, k_one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = _sub(a_mod_quarter_minus_one_quarter, a)
    for exponent, multiplier in _BARREL_SHIFTER:
        if integer_bits > exponent:
            shift_amount = fractional_bits + exponent if integer_bits > exponent else 0
            if remainder & (1 << shift_amount):
                result = _mul(result, multiplier)
    clamp_b = 36 - integer_bits if integer_bits > 5 else 0
    if integer_bits > 5:
        clamp = -(1 << clamp_b)  # -32.0 in Q{integer_bits}
        if a < clamp:
            result = 0
    if a == 0:
        result = _one(0)
    return result


def _newton_raphson_division(half_denominator: int) -> int:
    # The body shared by one_minus_x_over_one_plus_x_for_x_in_0_1 and
    # one_over_one_plus_x_for_x_in_0_1 (F0 half_denominator, F2 x).
    constant_48_over_17 = 1515870810  # 48/17 in Q2.29
    constant_neg_32_over_17 = -1010580540  # -32/17 in Q2.29
    x = _add(constant_48_over_17, _mul(half_denominator, constant_neg_32_over_17))
    for _ in range(3):
        half_denominator_times_x = _mul(half_denominator, x)
        one_minus_half_denominator_times_x = _sub(_one(2), half_denominator_times_x)
        x = _add(x, rescale(_mul(x, one_minus_half_denominator_times_x), 2 + 2, 2))
    return x


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """gemmlowp, FixedPoint<int32_t, 0> → FixedPoint<int32_t, 0>."""
    half_denominator = rounding_half_sum(a, _one(0))
    x = _newton_raphson_division(half_denominator)
    return rescale(_sub(x, _one(2)), 2, 0)


def neg_tanh_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp: ExactMulByPot<1> reads the same raw value with one more integer bit."""
    return one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(a, integer_bits + 1))


def gemmlowp_tanh(a: int, integer_bits: int) -> int:
    """gemmlowp tanh(FixedPoint<int32_t, integer_bits>) → FixedPoint<int32_t, 0>."""
    mask_if_negative = a < 0
    mask_if_zero = a == 0
    n = a if mask_if_negative else _neg(a)
    t = neg_tanh_on_negative_values(n, integer_bits)
    if mask_if_zero:
        return 0
    return _neg(t) if mask_if_negative else t


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """gemmlowp, FixedPoint<int32_t, 0> → FixedPoint<int32_t, 0>."""
    half_denominator = rounding_half_sum(a, _one(0))
    x = _newton_raphson_division(half_denominator)
    return rescale(x, 1, 0)  # Rescale<0>(ExactMulByPot<-1>(x)): x read as Q1.30


def logistic_on_positive_values(a: int, integer_bits: int) -> int:
    return one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(_neg(a), integer_bits))


def gemmlowp_logistic(a: int, integer_bits: int) -> int:
    """gemmlowp logistic(FixedPoint<int32_t, integer_bits>) → FixedPoint<int32_t, 0>."""
    mask_if_positive = a > 0
    mask_if_zero = a == 0
    abs_input = a if mask_if_positive else _neg(a)
    result_if_positive = logistic_on_positive_values(abs_input, integer_bits)
    result_if_negative = _sub(_one(0), result_if_positive)
    one_half = 1 << 30
    if mask_if_zero:
        return one_half
    return result_if_positive if mask_if_positive else result_if_negative


# ---- LiteRT common.h / common.cc --------------------------------------------------------------


def count_leading_zeros_32(x: int) -> int:
    """CountLeadingZeros(static_cast<uint32_t>(x))."""
    u = x % 2**32
    return 32 - u.bit_length()


def get_reciprocal(x: int, x_integer_digits: int) -> tuple[int, int]:
    """GetReciprocal(x, x_integer_digits, &num_bits_over_unit) → (raw Q0.31, num_bits_over_unit)."""
    headroom_plus_one = count_leading_zeros_32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    # uint32 arithmetic; a shift by 32 only happens for x == 0, where every bit is 0 anyway.
    shifted = ((x % 2**32) << headroom_plus_one) % 2**32
    shifted_sum_minus_one = _wrap32((shifted - (1 << 31)) % 2**32)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def multiply_by_quantized_multiplier_double_rounding(x: int, multiplier: int, shift: int) -> int:
    """common.cc MultiplyByQuantizedMultiplier(int32 x, M, shift), the default build:
    ``RoundingDivideByPOT(srdhm(x * (1 << left_shift), M), right_shift)``; the int32 product
    ``x * (1 << left_shift)`` wraps."""
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return rounding_divide_by_pot(srdhm(_wrap32(x * (1 << left_shift)), multiplier), right_shift)


# ---- the kernels ------------------------------------------------------------------------------


def lookup_table(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """LookupTable: ``out[i] = table[x[i] − qmin(x)]`` (intq orders the 256 entries from qmin)."""
    qmin = int(np.iinfo(x.dtype).min)
    entries = table.tolist()
    result = [entries[v - qmin] for v in x.ravel().tolist()]
    return np.array(result, dtype=np.int64).reshape(x.shape)


def logistic(
    x: np.ndarray,
    x_zero_point: int,
    input_range_radius: int,
    input_multiplier: int,
    input_left_shift: int,
) -> np.ndarray:
    """TFLite Micro reference_integer_ops::Logistic(int8) (integer_ops/logistic.h)."""
    k_input_integer_bits = 4
    k_output_integer_bits = 8
    k_min_int8, k_max_int8 = -128, 127
    k_output_zero_point = -128
    result = []
    for v in x.ravel().tolist():
        value = v - x_zero_point
        if value <= -input_range_radius:
            result.append(k_min_int8)
        elif value >= input_range_radius:
            result.append(k_max_int8)
        else:
            input_in_q4 = multiply_by_quantized_multiplier_double_rounding(
                value, input_multiplier, input_left_shift
            )
            output_in_q0 = gemmlowp_logistic(input_in_q4, k_input_integer_bits)
            output_in_q23 = rounding_divide_by_pot(output_in_q0, 31 - k_output_integer_bits)
            output_in_q23 = min(max(output_in_q23 + k_output_zero_point, k_min_int8), k_max_int8)
            result.append(output_in_q23)
    return np.array(result, dtype=np.int64).reshape(x.shape)


def tanh(
    x: np.ndarray,
    x_zero_point: int,
    input_range_radius: int,
    input_multiplier: int,
    input_left_shift: int,
) -> np.ndarray:
    """TFLite Micro reference_integer_ops::Tanh(int8) (integer_ops/tanh.h)."""
    k_input_integer_bits = 4
    k_output_scale = 7
    k_min_int8, k_max_int8 = -128, 127
    result = []
    for v in x.ravel().tolist():
        value = v - x_zero_point
        if value <= -input_range_radius:
            result.append(k_min_int8)
        elif value >= input_range_radius:
            result.append(k_max_int8)
        else:
            input_in_q4 = multiply_by_quantized_multiplier_double_rounding(
                value, input_multiplier, input_left_shift
            )
            output_in_q0 = gemmlowp_tanh(input_in_q4, k_input_integer_bits)
            output_in_q24 = rounding_divide_by_pot(output_in_q0, 31 - k_output_scale)
            result.append(min(max(output_in_q24, k_min_int8), k_max_int8))
    return np.array(result, dtype=np.int64).reshape(x.shape)


def softmax(
    x: np.ndarray,
    input_beta_multiplier: int,
    input_beta_left_shift: int,
    diff_min: int,
    out_dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """LiteRT reference_ops::Softmax<InputT, OutputT> (reference/softmax.h) over the last axis.

    ``out_dtype`` is OutputT (the kernel reads it from ``out``): int8, uint8 or int16; by default
    the input's dtype. Raises ``ValueError`` where LiteRT's ``TFLITE_CHECK(0 <= exponent <= 31)``
    aborts.
    """
    out_info = np.iinfo(np.dtype(out_dtype) if out_dtype is not None else x.dtype)
    out_min, out_max, out_bits = int(out_info.min), int(out_info.max), out_info.bits
    in_min = int(np.iinfo(x.dtype).min)
    k_scaled_diff_integer_bits = 5
    k_accumulation_integer_bits = 12
    depth = x.shape[-1]
    if x.size == 0:
        return np.zeros(x.shape, dtype=np.int64)
    rows = x.reshape(-1, depth).tolist()

    def input_diff_rescaled(input_diff: int) -> int:
        # MultiplyByQuantizedMultiplierGreaterThanOne, double rounding:
        # SaturatingRoundingDoublingHighMul(x * (1 << left_shift), M).
        return srdhm(_wrap32(input_diff * (1 << input_beta_left_shift)), input_beta_multiplier)

    result = []
    for row in rows:
        max_in_row = in_min
        for v in row:
            max_in_row = max(max_in_row, v)

        sum_of_exps = 0  # FixedPointAccum::Zero()
        for v in row:
            input_diff = v - max_in_row
            if input_diff >= diff_min:
                scaled_diff_f8 = input_diff_rescaled(input_diff)
                sum_of_exps = _add(
                    sum_of_exps,
                    rescale(
                        exp_on_negative_values(scaled_diff_f8, k_scaled_diff_integer_bits),
                        0,
                        k_accumulation_integer_bits,
                    ),
                )

        shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, k_accumulation_integer_bits)
        exponent = num_bits_over_unit + 31 - out_bits
        if not 0 <= exponent <= 31:
            raise ValueError(
                "softmax: a row's sum of exponentials is too large for the output type (8-bit "
                "outputs: a sum of 512 or more, e.g. 512 entries equal to the row maximum); "
                "LiteRT's reference kernel aborts here (TFLITE_CHECK(0 <= exponent <= 31))"
            )

        for v in row:
            input_diff = v - max_in_row
            if input_diff >= diff_min:
                scaled_diff_f8 = input_diff_rescaled(input_diff)
                exp_in_0 = exp_on_negative_values(scaled_diff_f8, k_scaled_diff_integer_bits)
                unsat_output = rounding_divide_by_pot(_mul(shifted_scale, exp_in_0), exponent)
                shifted_output = unsat_output + out_min
                result.append(max(min(shifted_output, out_max), out_min))
            else:
                result.append(out_min)
    return np.array(result, dtype=np.int64).reshape(x.shape)


# ---- hard_swish.h: int16 arithmetic -----------------------------------------------------------


def srdhm_int16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul<int16_t>."""
    overflow = a == b and a == INT16_MIN
    ab_32 = a * b
    nudge = (1 << 14) if ab_32 >= 0 else (1 - (1 << 14))
    ab_x2_high16 = _wrap16(_cdiv(ab_32 + nudge, 1 << 15))
    return INT16_MAX if overflow else ab_x2_high16


def rounding_divide_by_pot_int16(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT<int16_t>: every intermediate is an int16 (Dup, Add, ...)."""
    mask = _wrap16((1 << exponent) - 1)
    zero, one = 0, 1
    remainder = _wrap16(x & mask)
    mask_if_less_than = -1 if x < zero else 0
    threshold = _wrap16((mask >> 1) + (mask_if_less_than & one))
    mask_if_greater_than = -1 if remainder > threshold else 0
    return _wrap16((x >> exponent) + (mask_if_greater_than & one))


def saturating_left_shift_int16(value: int, amount: int) -> int:
    """hard_swish.h SaturatingLeftShift."""
    result = value * (1 << amount)
    result = min(result, INT16_MAX)
    result = max(result, INT16_MIN)
    return result


def saturating_doubling_high_mul_int16(a: int, b: int) -> int:
    """hard_swish.h SaturatingDoublingHighMul (SQDMULH: truncating)."""
    overflow = a == b and a == INT16_MIN
    ab_32 = a * b
    ab_x2_high16 = _wrap16(_cdiv(ab_32, 1 << 15))
    return INT16_MAX if overflow else ab_x2_high16


def hard_swish(
    x: np.ndarray,
    x_zero_point: int,
    out_zero_point: int,
    reluish_multiplier_fixedpoint_int16: int,
    reluish_multiplier_exponent: int,
    output_multiplier_fixedpoint_int16: int,
    output_multiplier_exponent: int,
) -> np.ndarray:
    """LiteRT reference_ops::HardSwish<T>(const HardSwishParams&, ...) (reference/hard_swish.h);
    T is ``x``'s dtype (int8 or uint8), which is also the output's."""
    info = np.iinfo(x.dtype)
    t_min, t_max = int(info.min), int(info.max)
    result = []
    for v in x.ravel().tolist():
        input_value = _wrap16(v - x_zero_point)
        input_value_on_hires_input_scale = _wrap16(input_value * (1 << 7))
        input_value_on_preshift_output_scale = srdhm_int16(
            input_value_on_hires_input_scale, output_multiplier_fixedpoint_int16
        )
        reluish_value = input_value_on_hires_input_scale
        if reluish_multiplier_exponent > 0:
            reluish_value = saturating_left_shift_int16(
                reluish_value, reluish_multiplier_exponent - 1
            )
        reluish_value = srdhm_int16(reluish_value, reluish_multiplier_fixedpoint_int16)
        if reluish_multiplier_exponent > 0:
            reluish_value = saturating_left_shift_int16(reluish_value, 1)
        if reluish_multiplier_exponent < 0:
            reluish_value = rounding_divide_by_pot_int16(
                reluish_value, -reluish_multiplier_exponent
            )
        reluish_value = _wrap16((reluish_value + (1 << 15)) >> 1)
        preshift_output_value = saturating_doubling_high_mul_int16(
            reluish_value, input_value_on_preshift_output_scale
        )
        output_value = rounding_divide_by_pot_int16(
            preshift_output_value, -output_multiplier_exponent
        )
        output_value = _wrap16(output_value + out_zero_point)
        output_value = min(output_value, t_max)
        output_value = max(output_value, t_min)
        result.append(output_value)
    return np.array(result, dtype=np.int64).reshape(x.shape)
