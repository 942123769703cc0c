"""Integer oracles of the elementwise family, transcribed from the LiteRT reference kernels.

Sources, read line by line:

* ``tflite/kernels/internal/reference/integer_ops/add.h`` (``AddFunc``, int8) and
  ``reference/add.h`` (``AddElementwise``: uint8 and the general-scale int16 path), with the
  parameters ``tflite/kernels/add.cc`` prepares;
* ``reference/sub.h`` (``SubElementwise``, ``BroadcastQuantSubSlow``) with ``kernels/sub.cc``;
* ``reference/integer_ops/mul.h`` (``MulElementwise``) and ``reference/mul.h`` (uint8);
* ``reference/requantize.h`` (``Requantize``, used by ``kernels/quantize.cc`` for int8/uint8/int16
  inputs);
* ``reference/concatenation.h`` (``Concatenation``: a plain copy) — int8 CONCATENATION refuses
  differing quantization parameters (``kernels/concatenation.cc``), so converters insert QUANTIZE
  (requantize) ops in front of it, which ``concat`` below reproduces;
* ``reference/pad.h`` (``PadImpl``) with the pad value chosen by ``kernels/pad.cc``;
* ``reference/reduce.h`` (``QuantizedMeanOrSum``), which ``kernels/reduce.cc`` runs for every int8,
  uint8 and int16 MEAN when the reference kernels are selected.

Binary ops broadcast their operands themselves, with NumPy's rules (the index of a size-1
dimension is 0), as TFLite's ``BroadcastBinaryOpSimple``/``NdArrayDesc`` do; for operands of one
shape they take exactly the kernels' arguments. Python ints, C's int32 wrap made explicit
(``_wrap32``), C's ``/`` is ``_cdiv``. Slow and obvious on purpose; never imports ``intq.kernels``.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import fixed_point as fp

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _wrap32(v: int) -> int:
    """C's int32 arithmetic (two's complement wrap)."""
    return (v + 2**31) % 2**32 - 2**31


def _cdiv(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _mbqm(x: int, multiplier: int, shift: int, rounding: int) -> int:
    """``MultiplyByQuantizedMultiplier(int32 x, M, shift)`` of the build ``rounding`` selects
    (``tflite/kernels/internal/common.cc``): double rounding in the default build, one rounding in
    TFLITE_SINGLE_ROUNDING builds."""
    if rounding == fp.SINGLE_ROUNDING:
        return fp.multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
    if rounding == fp.DOUBLE_ROUNDING:
        return fp.multiply_by_quantized_multiplier(x, multiplier, shift)
    raise ValueError(f"rounding: expected DOUBLE_ROUNDING or SINGLE_ROUNDING, got {rounding}")


def _mbqm_smaller_than_one_exp(x: int, multiplier: int, shift: int, rounding: int) -> int:
    """``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (``tflite/kernels/internal/common.h``).

    Default (double-rounding) build: ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x,
    M), −shift)``; TFLITE_SINGLE_ROUNDING: ``MultiplyByQuantizedMultiplier(x, M, shift)``. The
    double-rounding form needs ``shift <= 0`` (RoundingDivideByPOT of a negative exponent is
    undefined behaviour in C): ``ValueError`` otherwise.
    """
    if rounding == fp.SINGLE_ROUNDING:
        return fp.multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
    if rounding == fp.DOUBLE_ROUNDING:
        if shift > 0:
            raise ValueError("shift: > 0 makes RoundingDivideByPOT's exponent negative (UB in C)")
        return fp.rounding_divide_by_pot(fp.srdhm(x, multiplier), -shift)
    raise ValueError(f"rounding: expected DOUBLE_ROUNDING or SINGLE_ROUNDING, got {rounding}")


def _broadcast_pairs(x1: np.ndarray, x2: np.ndarray):
    """Output shape and, in C order of the output, the pairs ``(a, b)`` of input values.

    NumPy broadcasting written out: shapes are right-aligned, a dimension of size 1 is read at
    index 0. ``ValueError`` when the shapes do not broadcast.
    """
    ndim = max(x1.ndim, x2.ndim)
    s1 = (1,) * (ndim - x1.ndim) + x1.shape
    s2 = (1,) * (ndim - x2.ndim) + x2.shape
    shape = []
    for d1, d2 in zip(s1, s2, strict=True):
        if d1 != d2 and 1 not in (d1, d2):
            raise ValueError(f"x2: shape {x2.shape} does not broadcast against {x1.shape}")
        shape.append(d2 if d1 == 1 else d1)
    a = x1.reshape(s1).tolist() if ndim else x1.tolist()
    b = x2.reshape(s2).tolist() if ndim else x2.tolist()

    def get(nested, dims, index):
        for i, d in zip(index, dims, strict=True):
            nested = nested[0 if d == 1 else i]
        return nested

    pairs = [
        (get(a, s1, index), get(b, s2, index))
        for index in itertools.product(*[range(n) for n in shape])
    ]
    return tuple(shape), pairs


def _add_or_sub(
    sign, x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
    x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min, act_max,
):  # fmt: skip
    shape, pairs = _broadcast_pairs(x1, x2)
    input1_offset, input2_offset = -x1_zero_point, -x2_zero_point
    result = []
    for a, b in pairs:
        input1_val = _wrap32(input1_offset + a)
        input2_val = _wrap32(input2_offset + b)
        shifted_input1_val = _wrap32(input1_val * (1 << left_shift))
        shifted_input2_val = _wrap32(input2_val * (1 << left_shift))
        scaled_input1_val = _mbqm_smaller_than_one_exp(
            shifted_input1_val, x1_multiplier, x1_shift, rounding
        )
        scaled_input2_val = _mbqm_smaller_than_one_exp(
            shifted_input2_val, x2_multiplier, x2_shift, rounding
        )
        raw = _wrap32(scaled_input1_val + sign * scaled_input2_val)
        # sub.cc may prepare a greater-than-one output multiplier (shift > 0), yet sub.h still
        # calls the SmallerThanOneExp variant: defined only in TFLITE_SINGLE_ROUNDING builds.
        scaled = _mbqm_smaller_than_one_exp(raw, out_multiplier, out_shift, rounding)
        raw_output = _wrap32(scaled + out_zero_point)
        result.append(min(act_max, max(act_min, raw_output)))
    return np.array(result, dtype=np.int64).reshape(shape)


def add(
    x1: np.ndarray,
    x2: np.ndarray,
    x1_zero_point: int,
    x2_zero_point: int,
    left_shift: int,
    x1_multiplier: int,
    x1_shift: int,
    x2_multiplier: int,
    x2_shift: int,
    out_multiplier: int,
    out_shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """LiteRT quantized ADD (int8 ``AddFunc``; uint8 and general int16 ``AddElementwise``).

    Per element: ``v_i = q_i − zp_i``; ``shifted_i = v_i · 2^left_shift`` (int32);
    ``scaled_i = MultiplyByQuantizedMultiplierSmallerThanOneExp(shifted_i, M_i, s_i)``;
    ``raw = scaled_1 + scaled_2``; ``out = clamp(MBQMSmallerThanOneExp(raw, M_o, s_o) + zp_out,
    act_min, act_max)``. ``rounding`` is DOUBLE_ROUNDING or SINGLE_ROUNDING.
    """
    return _add_or_sub(
        1, x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
        x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min,
        act_max,
    )  # fmt: skip


def sub(
    x1: np.ndarray,
    x2: np.ndarray,
    x1_zero_point: int,
    x2_zero_point: int,
    left_shift: int,
    x1_multiplier: int,
    x1_shift: int,
    x2_multiplier: int,
    x2_shift: int,
    out_multiplier: int,
    out_shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """LiteRT quantized SUB (``reference/sub.h`` ``SubElementwise``/``BroadcastQuantSubSlow``).

    As ``add`` with ``raw = scaled_1 − scaled_2`` (the scaled second input is subtracted; its
    multiplier stays positive). ``out_shift`` may be positive only with SINGLE_ROUNDING (sub.cc
    prepares a greater-than-one output multiplier when ``2·max(s1, s2) > 2^left_shift · s_out``).
    """
    return _add_or_sub(
        -1, x1, x2, x1_zero_point, x2_zero_point, left_shift, x1_multiplier, x1_shift,
        x2_multiplier, x2_shift, out_multiplier, out_shift, rounding, out_zero_point, act_min,
        act_max,
    )  # fmt: skip


def mul(
    x1: np.ndarray,
    x2: np.ndarray,
    x1_zero_point: int,
    x2_zero_point: int,
    multiplier: int,
    shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """LiteRT quantized MUL (``reference/integer_ops/mul.h`` ``MulElementwise``).

    ``out = clamp(zp_out + MultiplyByQuantizedMultiplier((q1 − zp1)·(q2 − zp2), M, shift),
    act_min, act_max)``, the product in int32.
    """
    shape, pairs = _broadcast_pairs(x1, x2)
    result = []
    for a, b in pairs:
        input1_val = _wrap32(-x1_zero_point + a)
        input2_val = _wrap32(-x2_zero_point + b)
        product = _wrap32(input1_val * input2_val)
        unclamped = _wrap32(out_zero_point + _mbqm(product, multiplier, shift, rounding))
        result.append(min(act_max, max(act_min, unclamped)))
    return np.array(result, dtype=np.int64).reshape(shape)


def requantize(
    x: np.ndarray,
    x_zero_point: int,
    multiplier: int,
    shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """LiteRT ``reference_ops::Requantize`` (QUANTIZE of an integer tensor).

    When ``(multiplier, shift) == (2^30, 1)`` (scale ratio exactly 1) and the op turns int8 into
    uint8 with ``zp_in − zp_out == −128`` (or uint8 into int8 with ``+128``), the reference kernel
    flips the sign bit (``input ^ 0x80``); otherwise ``clamp(MBQM(q − zp_in, M, shift) + zp_out)``
    to the output type's limits ``[act_min, act_max]`` (the output type is uint8 when
    ``act_min >= 0``, else signed).
    """
    data = [int(v) for v in x.ravel().tolist()]
    in_unsigned = np.iinfo(x.dtype).min == 0
    out_unsigned = act_min >= 0
    same_scale = multiplier == 1 << 30 and shift == 1
    zero_point_diff = x_zero_point - out_zero_point
    if same_scale and x.dtype.itemsize == 1:
        int8_to_uint8 = not in_unsigned and out_unsigned and zero_point_diff == -128
        uint8_to_int8 = in_unsigned and not out_unsigned and zero_point_diff == 128
        if int8_to_uint8 or uint8_to_int8:
            flipped = [(v & 0xFF) ^ 0x80 for v in data]  # the byte with its top bit flipped
            if not out_unsigned:
                flipped = [v - 256 if v >= 128 else v for v in flipped]
            return np.array(flipped, dtype=np.int64).reshape(x.shape)
    result = []
    for v in data:
        value = _wrap32(v - x_zero_point)
        output = _wrap32(_mbqm(value, multiplier, shift, rounding) + out_zero_point)
        result.append(max(min(output, act_max), act_min))
    return np.array(result, dtype=np.int64).reshape(x.shape)


def concat(
    inputs: list[np.ndarray],
    axis: int,
    input_zero_points: list[int],
    multipliers: list[int],
    shifts: list[int],
    rescale: list[bool],
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """CONCATENATION of int8 tensors as a TFLite graph computes it.

    Input ``i`` is first requantized when ``rescale[i]`` (a QUANTIZE op, ``requantize`` above with
    ``input_zero_points[i]``, ``multipliers[i]``, ``shifts[i]``) and copied unchanged otherwise;
    then ``reference_ops::Concatenation``: for each ``k`` of the outer size (product of the
    dimensions before ``axis``), the ``k``-th block of every input in turn.
    """
    parts = []
    for i, x in enumerate(inputs):
        if rescale[i]:
            part = requantize(
                x, input_zero_points[i], multipliers[i], shifts[i], rounding, out_zero_point,
                act_min, act_max,
            )  # fmt: skip
        else:
            part = np.array(x.tolist(), dtype=np.int64).reshape(x.shape)
        parts.append(part)
    first = parts[0]
    ndim = first.ndim
    axis = axis + ndim if axis < 0 else axis
    out_shape = list(first.shape)
    out_shape[axis] = sum(p.shape[axis] for p in parts)
    outer_size = 1
    for d in range(axis):
        outer_size *= out_shape[d]
    base_inner_size = 1
    for d in range(axis + 1, ndim):
        base_inner_size *= out_shape[d]
    flats = [p.ravel().tolist() for p in parts]
    output = []
    for k in range(outer_size):
        for p, flat in zip(parts, flats, strict=True):
            copy_size = p.shape[axis] * base_inner_size
            output.extend(flat[k * copy_size : (k + 1) * copy_size])
    return np.array(output, dtype=np.int64).reshape(out_shape)


def pad(x: np.ndarray, pad_before: np.ndarray, pad_after: np.ndarray, pad_value: int) -> np.ndarray:
    """LiteRT ``reference_ops::PadImpl``: each output element is the input element it lies over,
    or ``pad_value`` (PAD: the zero point; PADV2: the quantized constant) in the padding.

    ``pad_before``/``pad_after``: non-negative counts per dimension of ``x``.
    """
    before = [int(v) for v in pad_before.tolist()]
    after = [int(v) for v in pad_after.tolist()]
    in_shape = x.shape
    out_shape = tuple(n + b + a for n, b, a in zip(in_shape, before, after, strict=True))
    flat = x.ravel().tolist()
    result = []
    for index in itertools.product(*[range(n) for n in out_shape]):
        inside = all(b <= i < b + n for i, b, n in zip(index, before, in_shape, strict=True))
        if inside:
            offset = 0
            for i, b, n in zip(index, before, in_shape, strict=True):
                offset = offset * n + (i - b)
            result.append(flat[offset])
        else:
            result.append(pad_value)
    return np.array(result, dtype=np.int64).reshape(out_shape)


def _count_leading_zeros_u64(n: int) -> int:
    """``CountLeadingZeros(uint64_t)`` (``tflite/kernels/internal/common.h``), ``n > 0``."""
    return 64 - n.bit_length()


def mean_reduce(
    x: np.ndarray,
    axes: list[int],
    keep_dims: bool,
    x_zero_point: int,
    multiplier: int,
    shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """LiteRT ``reference_ops::QuantizedMeanOrSum(compute_sum=false)`` on an N-D tensor.

    ``kernels/reduce.cc`` (EvalMean → EvalQuantizedMean) runs it for int8/uint8/int16 MEAN over any
    axes when the reference kernels are selected; ``(multiplier, shift)`` is QuantizeMultiplier of
    ``double(s_in) / double(s_out)`` (PrepareMeanOrSum). Steps:

    1. ``axes`` resolved (negative counted from the end, duplicates dropped); an empty input gives
       zeros (reduce.cc's InitializeMeanOutput writes ``numeric_limits<T>::quiet_NaN()``, 0);
    2. ``temp_sum``: int32 sums of the raw values over the reduced axes (wrapping adds);
    3. ``n`` elements per output: ``sh = 63 − CountLeadingZeros(n)`` (floor(log2 n)),
       ``sh = min(sh, 32)``, ``sh = min(sh, 31 + shift)``; ``M' = int32((int64(M) << sh) / n)``
       (truncating), ``s' = shift − sh``;
    4. ``out = clamp(MBQM(int32(temp_sum − zp_in·n), M', s') + zp_out)`` to the output type's
       limits ``[act_min, act_max]``.
    """
    ndim = x.ndim
    resolved = []
    for a in axes:
        current = a + ndim if a < 0 else a
        if not 0 <= current < ndim:
            raise ValueError(f"axes: {a} is out of range for a {ndim}-D input")
        if current not in resolved:
            resolved.append(current)
    out_shape = [1 if d in resolved else n for d, n in enumerate(x.shape)]
    final_shape = (
        out_shape if keep_dims else [n for d, n in enumerate(x.shape) if d not in resolved]
    )
    num_outputs = 1
    for n in out_shape:
        num_outputs *= n
    if x.size == 0:
        return np.zeros(final_shape, dtype=np.int64)
    temp_sum = [0] * num_outputs
    flat = x.ravel().tolist()
    for offset, index in enumerate(itertools.product(*[range(n) for n in x.shape])):
        out_offset = 0
        for d, i in enumerate(index):
            out_offset = out_offset * out_shape[d] + (0 if d in resolved else i)
        temp_sum[out_offset] = _wrap32(temp_sum[out_offset] + flat[offset])
    num_elements_in_axis = 1
    for d in resolved:
        num_elements_in_axis *= x.shape[d]
    output_multiplier, output_shift = multiplier, shift
    sh = 63 - _count_leading_zeros_u64(num_elements_in_axis)
    sh = min(sh, 32)
    sh = min(sh, 31 + output_shift)
    output_multiplier = _wrap32(_cdiv(output_multiplier << sh, num_elements_in_axis))
    output_shift = output_shift - sh
    result = []
    for s in temp_sum:
        shifted_sum = _wrap32(s - x_zero_point * num_elements_in_axis)
        output = _wrap32(
            _mbqm(shifted_sum, output_multiplier, output_shift, rounding) + out_zero_point
        )
        result.append(min(max(output, act_min), act_max))
    return np.array(result, dtype=np.int64).reshape(final_shape)


def mean(
    x: np.ndarray,
    x_zero_point: int,
    multiplier: int,
    shift: int,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """The kernel's form of ``mean_reduce``: ``x`` is ``(outer, n)`` and the mean runs over axis 1
    (the wrapper moves the reduced axes last and flattens them); returns shape ``(outer,)``."""
    return mean_reduce(
        x, [1], False, x_zero_point, multiplier, shift, rounding, out_zero_point, act_min, act_max
    )
