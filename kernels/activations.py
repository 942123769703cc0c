"""Integer kernels of the activation family: table lookup, fixed-point logistic and tanh (TFLite
Micro), softmax and hard-swish (LiteRT reference kernels).

Which engine each kernel reproduces (SEMANTICS.md §4.12, §4.13):

* ``lookup_table``: LiteRT's int8/uint8 LOGISTIC and TANH (reference and optimized builds) gather
  from a 256-entry table that ``intq.ops.activations`` builds offline in float32, exactly as
  LiteRT's ``LUTPopulate`` does at prepare time;
* ``logistic``, ``tanh``: TFLite Micro's int8 kernels (``reference/integer_ops/logistic.h``,
  ``tanh.h``): gemmlowp's fixed-point functions on a Q4.27 input;
* ``softmax``: LiteRT's (and TFLite Micro's) reference quantized softmax
  (``reference/softmax.h``): gemmlowp fixed point, Q5.26 differences, Q12.19 sum;
* ``hard_swish``: LiteRT's reference quantized hard-swish (``reference/hard_swish.h``), 16-bit
  fixed point.

Kernels take C-contiguous integer arrays and int64 scalars and write into ``out``; the output
type's limits (``std::numeric_limits<T>``) come from ``out.dtype``. No kernel uses a float.
"""

import numpy as np
from numba import njit

from . import fixedpoint_math as fpm
from .fixed_point import multiply_by_quantized_multiplier, rounding_divide_by_pot, srdhm, wrap_int32

# TFLite Micro logistic.h / tanh.h: the input is rescaled to Q4.27.
LOGISTIC_TANH_INPUT_INTEGER_BITS = 4
# logistic.h: Q0.31 → 1/256 steps (RoundingDivideByPOT by 31 − 8), output zero point −128.
LOGISTIC_OUTPUT_INTEGER_BITS = 8
# tanh.h: Q0.31 → 1/128 steps (RoundingDivideByPOT by 31 − 7), output zero point 0.
TANH_OUTPUT_SCALE_BITS = 7
# softmax.h: differences in Q5.26, sum of exponentials in Q12.19.
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12

_LUT = ["void(int8[::1], int8[::1], int8[::1])", "void(uint8[::1], uint8[::1], uint8[::1])"]
_FIXED = ["void(int8[::1], int64, int64, int64, int64, int8[::1])"]
SIGNATURES: dict[str, list[str]] = {
    "lookup_table": _LUT,
    "logistic": _FIXED,
    "tanh": _FIXED,
    "_softmax_scaled_diff": ["int64(int64, int64, int64)"],
    "softmax": [
        "void(int8[:, ::1], int64, int64, int64, int8[:, ::1])",
        "void(uint8[:, ::1], int64, int64, int64, uint8[:, ::1])",
        "void(int8[:, ::1], int64, int64, int64, int16[:, ::1])",
    ],
    "hard_swish": [
        "void(int8[::1], int64, int64, int64, int64, int64, int64, int8[::1])",
        "void(uint8[::1], int64, int64, int64, int64, int64, int64, uint8[::1])",
    ],
    "saturating_left_shift_int16": ["int64(int64, int64)"],
    "saturating_doubling_high_mul_int16": ["int64(int64, int64)"],
}


@njit(cache=True)
def lookup_table(x, table, out):
    """``out[i] = table[x[i] − qmin]``, ``qmin`` the smallest value of ``x``'s dtype (−128 for int8,
    0 for uint8): a gather from a 256-entry table ordered by input value.

    LiteRT ``optimized_integer_ops::LookupTable`` / ``reference_integer_ops::LookupTable``
    (``tflite/kernels/internal/{optimized,reference}/integer_ops/lut.h``) index a table stored in
    ``uint8`` order (``table[uint8_t(x)]``); intq's table is the same 256 entries ordered from
    ``qmin`` up, so ``table[x − qmin]`` is the same entry.
    """
    qmin = np.int64(np.iinfo(x.dtype).min)
    for i in range(x.shape[0]):
        out[i] = table[np.int64(x[i]) - qmin]


@njit(cache=True)
def logistic(x, x_zero_point, input_range_radius, input_multiplier, input_left_shift, out):
    """TFLite Micro int8 logistic (``reference/integer_ops/logistic.h``, ``Logistic(int8)``).

    For each element, ``v = x − x_zero_point``:

    * ``v <= −input_range_radius`` → −128; ``v >= input_range_radius`` → 127;
    * otherwise ``q4 = MultiplyByQuantizedMultiplier(v, input_multiplier, input_left_shift)``
      (the double-rounding one: ``srdhm(v · 2^shift, M)``, int32 left shift wrapping), the input
      as Q4.27; ``q0 = gemmlowp::logistic(q4)`` in Q0.31; ``out = clamp(RoundingDivideByPOT(q0,
      23) − 128, −128, 127)``.

    ``0 <= input_left_shift <= 31``, ``0 <= input_range_radius <= INT32_MAX``. When the radius is
    derived as TFLite Micro does (``CalculateInputRadius``), ``|v · 2^shift| < 2^31`` whenever the
    multiply runs, and then the single-rounding build's ``MultiplyByQuantizedMultiplier`` gives
    the same value (both are ``floor((v·M·2^shift + 2^30) / 2^31)``).
    """
    info = np.iinfo(out.dtype)
    qmin = np.int64(info.min)
    qmax = np.int64(info.max)
    radius = np.int64(input_range_radius)
    output_zero_point = np.int64(-128)  # kOutputZeroPoint
    for i in range(x.shape[0]):
        value = np.int64(x[i]) - np.int64(x_zero_point)
        if value <= -radius:
            out[i] = qmin
        elif value >= radius:
            out[i] = qmax
        else:
            input_in_q4 = multiply_by_quantized_multiplier(
                value, input_multiplier, input_left_shift
            )
            output_in_q0 = fpm.logistic(input_in_q4, LOGISTIC_TANH_INPUT_INTEGER_BITS)
            output_in_q23 = np.int64(
                rounding_divide_by_pot(output_in_q0, 31 - LOGISTIC_OUTPUT_INTEGER_BITS)
            )
            out[i] = min(max(output_in_q23 + output_zero_point, qmin), qmax)


@njit(cache=True)
def tanh(x, x_zero_point, input_range_radius, input_multiplier, input_left_shift, out):
    """TFLite Micro int8 tanh (``reference/integer_ops/tanh.h``, ``Tanh(int8)``).

    As ``logistic`` with ``gemmlowp::tanh`` on the Q4.27 input and the output
    ``clamp(RoundingDivideByPOT(q0, 24), −128, 127)`` (scale 1/128, zero point 0, no offset
    added); ``v <= −radius`` → −128, ``v >= radius`` → 127.
    """
    info = np.iinfo(out.dtype)
    qmin = np.int64(info.min)
    qmax = np.int64(info.max)
    radius = np.int64(input_range_radius)
    for i in range(x.shape[0]):
        value = np.int64(x[i]) - np.int64(x_zero_point)
        if value <= -radius:
            out[i] = qmin
        elif value >= radius:
            out[i] = qmax
        else:
            input_in_q4 = multiply_by_quantized_multiplier(
                value, input_multiplier, input_left_shift
            )
            output_in_q0 = fpm.tanh(input_in_q4, LOGISTIC_TANH_INPUT_INTEGER_BITS)
            output_in_q24 = np.int64(
                rounding_divide_by_pot(output_in_q0, 31 - TANH_OUTPUT_SCALE_BITS)
            )
            out[i] = min(max(output_in_q24, qmin), qmax)


@njit(cache=True)
def _softmax_scaled_diff(input_diff, input_beta_multiplier, input_beta_left_shift):
    # MultiplyByQuantizedMultiplierGreaterThanOne (double-rounding build):
    # srdhm(x · 2^left_shift, M), the left shift in wrapping int32 arithmetic.
    shifted = wrap_int32(np.int64(input_diff) << np.int64(input_beta_left_shift))
    return np.int64(srdhm(shifted, input_beta_multiplier))


@njit(cache=True)
def softmax(x, input_beta_multiplier, input_beta_left_shift, diff_min, out):
    """LiteRT reference quantized softmax over the last axis (``reference/softmax.h``,
    ``Softmax<InputT, OutputT>``), for each row of ``x`` (rows × depth):

    1. ``max_in_row`` = the row's largest value;
    2. for each ``d = x − max_in_row >= diff_min``: ``s = srdhm(d · 2^input_beta_left_shift,
       input_beta_multiplier)`` (MultiplyByQuantizedMultiplierGreaterThanOne), read as Q5.26;
       ``sum += Rescale<12>(exp_on_negative_values(s))``, a wrapping int32 sum in Q12.19;
    3. ``(r, num_bits_over_unit) = GetReciprocal(sum, 12)``;
       ``exponent = num_bits_over_unit + 31 − bits(OutputT)``, which must lie in [0, 31] (LiteRT's
       ``TFLITE_CHECK``, here a ``ValueError``). For 8-bit outputs that fails as soon as the sum
       reaches 2^28 (512 in real terms: e.g. 512 entries equal to the row maximum, each output
       then below half a step); for int16 outputs never (an int32 overflow of the sum, 4096
       entries near the maximum, wraps silently as in LiteRT);
    4. each output: ``clamp(RoundingDivideByPOT(srdhm(r, exp_on_negative_values(s)), exponent) +
       min(OutputT))``, or ``min(OutputT)`` where ``d < diff_min``.

    The output scale is ``2^−bits(OutputT)`` and its zero point ``min(OutputT)``: (1/256, −128)
    for int8, (1/256, 0) for uint8, (1/65536, −32768) for int16.
    ``0 <= input_beta_left_shift <= 31``, ``diff_min <= 0``. With ``diff_min`` derived by
    ``CalculateInputRadius``, ``d · 2^shift`` never overflows and the single-rounding build's
    multiply gives the same value.
    """
    info = np.iinfo(out.dtype)
    out_min = np.int64(info.min)
    out_max = np.int64(info.max)
    out_bits = np.int64(out.itemsize * 8)
    in_min = np.int64(np.iinfo(x.dtype).min)
    diff_min64 = np.int64(diff_min)
    for i in range(x.shape[0]):
        max_in_row = in_min
        for c in range(x.shape[1]):
            max_in_row = max(max_in_row, np.int64(x[i, c]))

        sum_of_exps = np.int64(0)
        for c in range(x.shape[1]):
            input_diff = np.int64(x[i, c]) - max_in_row
            if input_diff >= diff_min64:
                scaled_diff = _softmax_scaled_diff(
                    input_diff, input_beta_multiplier, input_beta_left_shift
                )
                exp_in_0 = fpm.exp_on_negative_values(scaled_diff, SOFTMAX_SCALED_DIFF_INTEGER_BITS)
                sum_of_exps = wrap_int32(
                    sum_of_exps + fpm.rescale(exp_in_0, 0, SOFTMAX_ACCUMULATION_INTEGER_BITS)
                )

        shifted_scale, num_bits_over_unit = fpm.get_reciprocal(
            sum_of_exps, SOFTMAX_ACCUMULATION_INTEGER_BITS
        )
        exponent = num_bits_over_unit + 31 - out_bits
        if exponent < 0 or exponent > 31:
            raise ValueError(
                "softmax: a row's sum of exponentials is too large for the output type (8-bit "
                "outputs: a sum of 512 or more, e.g. 512 entries equal to the row maximum); "
                "LiteRT's reference kernel aborts here (TFLITE_CHECK(0 <= exponent <= 31))"
            )

        for c in range(x.shape[1]):
            input_diff = np.int64(x[i, c]) - max_in_row
            if input_diff >= diff_min64:
                scaled_diff = _softmax_scaled_diff(
                    input_diff, input_beta_multiplier, input_beta_left_shift
                )
                exp_in_0 = fpm.exp_on_negative_values(scaled_diff, SOFTMAX_SCALED_DIFF_INTEGER_BITS)
                unsat_output = np.int64(
                    rounding_divide_by_pot(srdhm(shifted_scale, exp_in_0), exponent)
                )
                shifted_output = unsat_output + out_min
                out[i, c] = max(min(shifted_output, out_max), out_min)
            else:
                out[i, c] = out_min


@njit(cache=True)
def saturating_left_shift_int16(value, amount):
    """LiteRT ``SaturatingLeftShift(int16 value, int amount)`` (``reference/hard_swish.h``):
    ``value · 2^amount`` in int64, clamped to [−32768, 32767]; ``0 <= amount <= 30``."""
    result = np.int64(value) * (np.int64(1) << np.int64(amount))
    return min(max(result, np.int64(fpm.INT16_MIN)), np.int64(fpm.INT16_MAX))


@njit(cache=True)
def saturating_doubling_high_mul_int16(a, b):
    """LiteRT ``SaturatingDoublingHighMul(int16 a, int16 b)`` (``reference/hard_swish.h``, ARM
    ``SQDMULH``): ``a·b / 2^15`` with C's truncating division (rounds toward zero, unlike
    ``srdhm_int16``); ``−32768·−32768`` saturates to 32767."""
    a64 = np.int64(a)
    b64 = np.int64(b)
    if a64 == fpm.INT16_MIN and b64 == fpm.INT16_MIN:
        return np.int64(fpm.INT16_MAX)
    ab = a64 * b64
    quotient = ab >> 15 if ab >= 0 else -((-ab) >> 15)
    return fpm.wrap_int16(quotient)


@njit(cache=True)
def hard_swish(
    x,
    x_zero_point,
    out_zero_point,
    reluish_multiplier_fixedpoint_int16,
    reluish_multiplier_exponent,
    output_multiplier_fixedpoint_int16,
    output_multiplier_exponent,
    out,
):
    """LiteRT reference quantized hard-swish (``reference/hard_swish.h``, ``HardSwish<T>``), all in
    16-bit fixed point; every assignment to an ``int16_t`` wraps as in C.

    For each element:

    1. ``v = int16(x − x_zero_point)``; ``hires = int16(v · 2^7)`` (the input on scale s_in/128);
    2. ``preshift = srdhm_int16(hires, output_multiplier_fixedpoint_int16)``;
    3. reluish: ``r = hires``; if ``reluish_multiplier_exponent > 0``:
       ``r = SaturatingLeftShift(r, exponent − 1)``; ``r = srdhm_int16(r,
       reluish_multiplier_fixedpoint_int16)``; then ``SaturatingLeftShift(r, 1)`` if the exponent is
       positive, or ``RoundingDivideByPOT<int16>(r, −exponent)`` if it is negative: ``r`` is x/3 on
       the Q0.15 scale, saturated to [−1, 1);
    4. ``r = (r + 2^15) >> 1`` (relu6(x + 3)/6 in Q0.15, in [0, 1));
    5. ``o = RoundingDivideByPOT<int16>(SaturatingDoublingHighMul(r, preshift),
       −output_multiplier_exponent)``; ``o = int16(o + out_zero_point)``;
    6. ``out = clamp(o, min(T), max(T))``.

    ``0 <= multipliers <= 32767``, ``−31 <= reluish_multiplier_exponent <= 31``,
    ``−31 <= output_multiplier_exponent <= 0``.
    """
    info = np.iinfo(out.dtype)
    qmin = np.int64(info.min)
    qmax = np.int64(info.max)
    reluish_exponent = np.int64(reluish_multiplier_exponent)
    for i in range(x.shape[0]):
        input_value = fpm.wrap_int16(np.int64(x[i]) - np.int64(x_zero_point))
        input_value_on_hires_input_scale = fpm.wrap_int16(input_value * 128)
        input_value_on_preshift_output_scale = fpm.srdhm_int16(
            input_value_on_hires_input_scale, output_multiplier_fixedpoint_int16
        )
        reluish_value = input_value_on_hires_input_scale
        if reluish_exponent > 0:
            reluish_value = saturating_left_shift_int16(reluish_value, reluish_exponent - 1)
        reluish_value = fpm.srdhm_int16(reluish_value, reluish_multiplier_fixedpoint_int16)
        if reluish_exponent > 0:
            reluish_value = saturating_left_shift_int16(reluish_value, 1)
        if reluish_exponent < 0:
            reluish_value = fpm.rounding_divide_by_pot_int16(reluish_value, -reluish_exponent)
        reluish_value = (reluish_value + (1 << 15)) >> 1
        preshift_output_value = saturating_doubling_high_mul_int16(
            reluish_value, input_value_on_preshift_output_scale
        )
        output_value = fpm.rounding_divide_by_pot_int16(
            preshift_output_value, -np.int64(output_multiplier_exponent)
        )
        output_value = fpm.wrap_int16(output_value + np.int64(out_zero_point))
        out[i] = max(min(output_value, qmax), qmin)
