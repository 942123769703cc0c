"""Fixed-point primitives with Python ints, written as the C++ sources spell them.

gemmlowp ``fixedpoint/fixedpoint.h`` and LiteRT ``tflite/kernels/internal/common.cc`` /
``quantization_util.cc``. C's truncating ``/`` and two's-complement int32 wrap are spelled out
by ``c_div`` and ``wrap_int32``; nothing here is clever.
"""

from fractions import Fraction

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

DOUBLE_ROUNDING = 0
SINGLE_ROUNDING = 1
INT64_ACCUMULATOR = 2


def c_div(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def wrap_int32(x: int) -> int:
    """Two's-complement wrap to int32 (C's static_cast<int32_t>, or an overflowing int32 op)."""
    return (x + 2**31) % 2**32 - 2**31


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul(int32 a, int32 b)."""
    overflow = a == b and a == INT32_MIN
    ab_64 = a * b
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    ab_x2_high32 = c_div(ab_64 + nudge, 1 << 31)
    return INT32_MAX if overflow else ab_x2_high32


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT(int32 x, 0 <= exponent <= 31)."""
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent > 0>(int32 x), and x for exponent 0."""
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return wrap_int32(x * (1 << exponent))


def multiply_by_quantized_multiplier(x: int, quantized_multiplier: int, shift: int) -> int:
    """LiteRT MultiplyByQuantizedMultiplier(int32 x, ...) of the default (double-rounding) build."""
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return rounding_divide_by_pot(
        srdhm(wrap_int32(x * (1 << left_shift)), quantized_multiplier), right_shift
    )


def multiply_by_quantized_multiplier_single_rounding(
    x: int, quantized_multiplier: int, shift: int
) -> int:
    """LiteRT MultiplyByQuantizedMultiplier(int32 x, ...) under TFLITE_SINGLE_ROUNDING."""
    assert quantized_multiplier >= 0 and -31 <= shift <= 30
    total_shift = 31 - shift
    round_ = 1 << (total_shift - 1)
    result = x * quantized_multiplier + round_
    result = result >> total_shift
    return wrap_int32(result)


def multiply_by_quantized_multiplier_int64(x: int, quantized_multiplier: int, shift: int) -> int:
    """LiteRT MultiplyByQuantizedMultiplier(int64 x, ...), the same in both builds."""
    assert quantized_multiplier >= 0 and -31 <= shift < 8
    if quantized_multiplier < 0x7FFF0000:
        reduced_multiplier = (quantized_multiplier + (1 << 15)) >> 16
    else:
        reduced_multiplier = 0x7FFF
    total_shift = 15 - shift
    round_ = 1 << (total_shift - 1)
    result = x * reduced_multiplier + round_
    result = result >> total_shift
    return wrap_int32(result)


def requantize(x: int, multiplier: int, shift: int, rounding: int) -> int:
    """The MultiplyByQuantizedMultiplier overload named by ``rounding`` (0, 1 or 2)."""
    if rounding == SINGLE_ROUNDING:
        return multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
    if rounding == INT64_ACCUMULATOR:
        return multiply_by_quantized_multiplier_int64(x, multiplier, shift)
    assert rounding == DOUBLE_ROUNDING
    return multiply_by_quantized_multiplier(x, multiplier, shift)


def quantize_multiplier(real: float, single_rounding: bool = False) -> tuple[int, int]:
    """LiteRT QuantizeMultiplier, with exact rational arithmetic instead of frexp and std::round."""
    if real != real or real in (float("inf"), float("-inf")) or real < 0:
        raise ValueError(f"real: must be finite and non-negative, got {real!r}")
    if real == 0:
        return 0, 0
    value = Fraction(float(real))
    shift = 0
    while value >= 1:  # bring the mantissa into [1/2, 1)
        value /= 2
        shift += 1
    while value < Fraction(1, 2):
        value *= 2
        shift -= 1
    scaled = value * 2**31
    q_fixed = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)  # half away
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if single_rounding and shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return q_fixed, shift
