"""Integer kernels of the elementwise family: add, sub, mul, requantize, pad, mean.

Each reproduces a LiteRT reference kernel (SEMANTICS.md §4.6–§4.10):

* ``add``/``sub``: ``reference/integer_ops/add.h`` (int8), ``reference/add.h`` (uint8, int16
  general scale), ``reference/sub.h``: both inputs brought to a common scale at ``2^left_shift``
  resolution by smaller-than-one multipliers, summed (or subtracted), rescaled to the output;
* ``mul``: ``reference/integer_ops/mul.h``: the product of the zero-point-free inputs, rescaled;
* ``requantize``: ``reference/requantize.h`` (QUANTIZE of an integer tensor; CONCATENATION of
  tensors with differing quantization parameters goes through it);
* ``pad``: ``reference/pad.h`` on a 5-D view (LiteRT's ``PadKernelMaxDimensionCount()``);
* ``mean``: ``reference/reduce.h`` ``QuantizedMeanOrSum`` on an ``(outer, n)`` view.

Binary kernels see operands of one shape, flattened: the wrapper (``intq.ops.elementwise``)
broadcasts them with NumPy's rules first (each output element is one pair of input elements,
whatever the order, so materialising the broadcast is exact). ``rounding`` is the requantization
code of ``fixed_point`` (``DOUBLE_ROUNDING`` or ``SINGLE_ROUNDING``). The arithmetic is int64
holding the int32 values TFLite computes, brought back to int32 with ``wrap_int32`` wherever C's
int32 arithmetic would wrap (the wrappers keep every intermediate inside int32, so with their
parameters nothing wraps; the kernels still match the C code for any integers drawn in tests).
Each output element is written by exactly one loop iteration; no kernel uses a float.
"""

import numpy as np
from numba import njit

from .fixed_point import (
    DOUBLE_ROUNDING,
    rounding_divide_by_pot,
    srdhm,
    wrap_int32,
)
from .fixed_point import requantize as multiply_by_quantized_multiplier

_ADD = (
    "void({t}[::1], {t}[::1], int64, int64, int64, int64, int64, int64, int64, int64, int64, "
    "int64, int64, int64, int64, {t}[::1])"
)
_MUL = "void({t}[::1], {t}[::1], int64, int64, int64, int64, int64, int64, int64, int64, {t}[::1])"
_REQUANTIZE = "void({i}[::1], int64, int64, int64, int64, int64, int64, int64, {o}[::1])"
_PAD = "void({t}[:, :, :, :, ::1], int64[::1], int64[::1], int64, {t}[:, :, :, :, ::1])"
_MEAN = "void({t}[:, ::1], int64, int64, int64, int64, int64, int64, int64, {t}[::1])"
_TYPES = ("int8", "uint8", "int16")
# QUANTIZE int→int pairs LiteRT supports (kernels/quantize.cc Prepare).
REQUANTIZE_TYPES = (
    ("int8", "int8"),
    ("int8", "uint8"),
    ("uint8", "int8"),
    ("uint8", "uint8"),
    ("int16", "int8"),
    ("int16", "int16"),
)
SIGNATURES: dict[str, list[str]] = {
    "multiply_by_quantized_multiplier_smaller_than_one_exp": ["int64(int64, int64, int64, int64)"],
    "_add_sub": [_ADD.replace("void(", "void(int64, ").format(t=t) for t in _TYPES],
    "add": [_ADD.format(t=t) for t in _TYPES],
    "sub": [_ADD.format(t=t) for t in _TYPES],
    "mul": [_MUL.format(t=t) for t in _TYPES],
    "requantize": [_REQUANTIZE.format(i=i, o=o) for i, o in REQUANTIZE_TYPES],
    "pad": [_PAD.format(t=t) for t in _TYPES],
    "mean": [_MEAN.format(t=t) for t in _TYPES],
}


@njit(cache=True)
def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, shift, rounding):
    """LiteRT ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (``kernels/internal/common.h``).

    Default (double-rounding) build: ``RoundingDivideByPOT(srdhm(x, M), −shift)``, which needs
    ``shift <= 0``; for such shifts it equals the double-rounding ``MultiplyByQuantizedMultiplier``.
    TFLITE_SINGLE_ROUNDING builds: ``MultiplyByQuantizedMultiplier(x, M, shift)`` (one rounding,
    any shift in [−31, 30]; SUB's greater-than-one output multiplier relies on it).
    """
    if rounding == DOUBLE_ROUNDING:
        return np.int64(rounding_divide_by_pot(srdhm(x, multiplier), -np.int64(shift)))
    return np.int64(multiply_by_quantized_multiplier(x, multiplier, shift, rounding))


@njit(cache=True)
def _add_sub(
    sign, x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
    x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min,
    act_max, out,
):  # fmt: skip
    for i in range(out.shape[0]):
        input1_val = np.int64(x1[i]) - x1_zero_point
        input2_val = np.int64(x2[i]) - x2_zero_point
        shifted_input1_val = wrap_int32(input1_val << left_shift)
        shifted_input2_val = wrap_int32(input2_val << left_shift)
        scaled_input1_val = multiply_by_quantized_multiplier_smaller_than_one_exp(
            shifted_input1_val, x1_multiplier, x1_shift, rounding
        )
        scaled_input2_val = multiply_by_quantized_multiplier_smaller_than_one_exp(
            shifted_input2_val, x2_multiplier, x2_shift, rounding
        )
        raw = wrap_int32(scaled_input1_val + sign * scaled_input2_val)
        raw_output = wrap_int32(
            multiply_by_quantized_multiplier_smaller_than_one_exp(
                raw, out_multiplier, out_shift, rounding
            )
            + out_zero_point
        )
        out[i] = min(act_max, max(act_min, raw_output))


@njit(cache=True)
def add(
    x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift, x2_multiplier,
    x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min, act_max, out,
):  # fmt: skip
    """Quantized ADD (LiteRT ``reference_integer_ops::AddFunc``; ``reference_ops::AddElementwise``
    for uint8 and the general-scale int16 path).

    Per element: ``shifted_k = (q_k − zp_k) · 2^left_shift`` (20 for 8-bit, 15 for int16);
    ``scaled_k = MBQMSmallerThanOneExp(shifted_k, M_k, s_k)``; ``raw = scaled_1 + scaled_2``;
    ``out = clamp(MBQMSmallerThanOneExp(raw, M_o, s_o) + zp_out, act_min, act_max)``. All shifts
    are ``<= 0`` (the multipliers are below one); every value stays within int32.
    """
    _add_sub(
        np.int64(1), x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
        x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min,
        act_max, out,
    )  # fmt: skip


@njit(cache=True)
def sub(
    x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift, x2_multiplier,
    x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min, act_max, out,
):  # fmt: skip
    """Quantized SUB (LiteRT ``reference_ops::SubElementwise``/``BroadcastQuantSubSlow``).

    As ``add`` with ``raw = scaled_1 − scaled_2``: the second input's scaled value is subtracted
    (its multiplier stays positive). ``out_shift`` may be positive with SINGLE_ROUNDING only
    (``kernels/sub.cc`` prepares a greater-than-one output multiplier when
    ``2·max(s1, s2) > 2^left_shift · s_out``; the double-rounding form would be undefined).
    """
    _add_sub(
        np.int64(-1), x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
        x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min,
        act_max, out,
    )  # fmt: skip


@njit(cache=True)
def mul(
    x1, x2, x1_zero_point, x2_zero_point, multiplier, shift, rounding, out_zero_point, act_min,
    act_max, out,
):  # fmt: skip
    """Quantized MUL (LiteRT ``reference_integer_ops::MulElementwise``; uint8:
    ``reference_ops::MulElementwise``).

    ``out = clamp(zp_out + MultiplyByQuantizedMultiplier((q1 − zp1)·(q2 − zp2), M, shift),
    act_min, act_max)``; the product is an int32 (``|product| <= 2^30`` for 16-bit inputs with
    zero point 0, ``<= 255²`` for 8-bit); the wrapper keeps ``product · 2^shift`` inside int32.
    """
    for i in range(out.shape[0]):
        input1_val = np.int64(x1[i]) - x1_zero_point
        input2_val = np.int64(x2[i]) - x2_zero_point
        product = wrap_int32(input1_val * input2_val)
        unclamped_result = wrap_int32(
            out_zero_point
            + np.int64(multiply_by_quantized_multiplier(product, multiplier, shift, rounding))
        )
        out[i] = min(act_max, max(act_min, unclamped_result))


@njit(cache=True)
def requantize(x, x_zero_point, multiplier, shift, rounding, out_zero_point, act_min, act_max, out):
    """QUANTIZE of an integer tensor (LiteRT ``reference_ops::Requantize``).

    ``out = clamp(MultiplyByQuantizedMultiplier(q − zp_in, M, shift) + zp_out, act_min, act_max)``
    with ``[act_min, act_max]`` the output type's limits and ``(M, shift)`` from
    ``double(s_in)/double(s_out)``. LiteRT's fast path for int8↔uint8 at one scale
    (``(M, shift) == (2^30, 1)``, zero points 128 apart: ``q ^ 0x80``) computes the same values,
    since that multiplier is exactly 1 in both roundings; it needs no branch here.
    """
    for i in range(out.shape[0]):
        value = np.int64(x[i]) - x_zero_point
        output = wrap_int32(
            np.int64(multiply_by_quantized_multiplier(value, multiplier, shift, rounding))
            + out_zero_point
        )
        out[i] = max(min(output, act_max), act_min)


@njit(cache=True)
def pad(x, pad_before, pad_after, pad_value, out):
    """PAD/PADV2 (LiteRT ``reference_ops::PadImpl``) of a 5-D tensor.

    ``out[i0..i4] = x[i0 − b0, ..., i4 − b4]`` where every index lies inside the input, else
    ``pad_value`` (PAD: the zero point; PADV2: the quantized constant). ``pad_before``/``pad_after``
    are non-negative and ``out.shape[d] = x.shape[d] + pad_before[d] + pad_after[d]``
    (``pad_after`` is implied by the shapes and kept for the interface). The wrapper extends
    lower-rank tensors with leading size-1 dimensions, as LiteRT extends shapes to 5-D.
    """
    b0, b1, b2, b3, b4 = pad_before[0], pad_before[1], pad_before[2], pad_before[3], pad_before[4]
    n0, n1, n2, n3, n4 = x.shape
    for i0 in range(out.shape[0]):
        for i1 in range(out.shape[1]):
            for i2 in range(out.shape[2]):
                for i3 in range(out.shape[3]):
                    for i4 in range(out.shape[4]):
                        j0, j1, j2, j3, j4 = i0 - b0, i1 - b1, i2 - b2, i3 - b3, i4 - b4
                        inside = (
                            0 <= j0 < n0
                            and 0 <= j1 < n1
                            and 0 <= j2 < n2
                            and 0 <= j3 < n3
                            and 0 <= j4 < n4
                        )
                        if inside:
                            out[i0, i1, i2, i3, i4] = x[j0, j1, j2, j3, j4]
                        else:
                            out[i0, i1, i2, i3, i4] = pad_value


@njit(cache=True)
def mean(x, x_zero_point, multiplier, shift, rounding, out_zero_point, act_min, act_max, out):
    """MEAN of the int8/uint8/int16 reference kernels (LiteRT ``reference_ops::QuantizedMeanOrSum``
    with ``compute_sum = false``), over axis 1 of ``x`` of shape ``(outer, n)``.

    ``(multiplier, shift)`` is QuantizeMultiplier of ``double(s_in)/double(s_out)``. As reduce.h:
    ``sh = 63 − CountLeadingZeros(uint64 n)`` (``floor(log2 n)``), ``sh = min(sh, 32, 31 + shift)``;
    ``M' = int32((int64(M) << sh) / n)`` (non-negative, so ``/`` is ``//``); ``s' = shift − sh``;
    per row ``sum`` = int32 sum of the raw values (wrapping adds),
    ``out = clamp(MBQM(int32(sum − zp_in·n), M', s') + zp_out, act_min, act_max)``. ``n == 0``
    (an empty input) gives 0, as LiteRT's InitializeMeanOutput.
    """
    n = np.int64(x.shape[1])
    if n == 0:
        for i in range(out.shape[0]):
            out[i] = 0
        return
    sh = np.int64(0)
    while (n >> (sh + 1)) > 0:  # floor(log2 n) = 63 − CountLeadingZeros(n)
        sh += 1
    sh = min(sh, np.int64(32))
    sh = min(sh, np.int64(31) + shift)
    output_multiplier = wrap_int32((np.int64(multiplier) << sh) // n)
    output_shift = shift - sh
    for i in range(out.shape[0]):
        acc = np.int64(0)
        for k in range(n):
            acc = wrap_int32(acc + np.int64(x[i, k]))
        shifted_sum = wrap_int32(acc - x_zero_point * n)
        output = wrap_int32(
            np.int64(
                multiply_by_quantized_multiplier(
                    shifted_sum, output_multiplier, output_shift, rounding
                )
            )
            + out_zero_point
        )
        out[i] = min(max(output, act_min), act_max)
