"""FULLY_CONNECTED with Python ints, transcribed from LiteRT's reference kernels.

Sources (LiteRT ``tflite/kernels/internal/reference/``):

* ``integer_ops/fully_connected.h`` ``FullyConnected`` (int8, per-tensor):
  ``acc += (filter_val + filter_offset) * (input_val + input_offset)`` with
  ``filter_offset = −w_zero_point`` and ``input_offset = −x_zero_point``; then
  ``acc += bias[out_c]``, ``MultiplyByQuantizedMultiplier``, ``+= output_offset``, clamp, cast.
* ``integer_ops/fully_connected.h`` ``FullyConnectedPerChannel``: the same with the filter offset
  left out (the weights are symmetric, zero point 0) and ``M``, ``shift`` indexed by ``out_c``.
* ``fully_connected.h`` ``FullyConnected`` (uint8 inputs, uint8 weights): the per-tensor formula.
* ``integer_ops/fully_connected.h`` ``FullyConnected<AccumScalar>`` (16x8: int16 inputs with zero
  point 0, int8 weights, ``AccumScalar`` = int64 with an int64 bias, int32 with an int32 bias),
  requantized by ``MultiplyByQuantizedMultiplier(AccumScalar acc, ...)``.

One loop nest covers all of them: ``acc = Σ_d (w[n, d] − w_zero_point) · (x[m, d] − x_zero_point)``
literally (no row/column-sum expansion), ``+ bias[n]``, requantize with ``rounding`` and the
per-channel ``multiplier[n]``/``shift[n]`` (the kernel wrapper broadcasts per-tensor values).

The accumulator: with ``rounding`` DOUBLE_ROUNDING or SINGLE_ROUNDING it is C's ``int32_t acc``;
the sum is brought back to int32 with ``wrap_int32``, which is what the two's-complement adds of
every real build compute should it overflow (C calls that undefined; ``intq.ops`` proves it cannot
happen). With INT64_ACCUMULATOR it is ``int64_t`` and is kept exact.
"""

import numpy as np

from .fixed_point import INT64_ACCUMULATOR, requantize, wrap_int32


def _accumulators(x, x_zero_point, w, w_zero_point, bias, int64_accumulator):
    """``acc[m][n] = Σ_d (w[n][d] − w_zp)(x[m][d] − x_zp) + bias[n]`` as Python ints."""
    xs = x.tolist()
    ws = w.tolist()
    biases = bias.tolist()
    x_zp = int(x_zero_point)
    w_zp = int(w_zero_point)
    batches = len(xs)
    output_depth = len(ws)
    accum_depth = w.shape[1]
    assert x.shape[1] == accum_depth and len(biases) == output_depth
    rows = []
    for b in range(batches):
        row = []
        for out_c in range(output_depth):
            acc = 0
            for d in range(accum_depth):
                input_val = xs[b][d]
                filter_val = ws[out_c][d]
                acc += (filter_val - w_zp) * (input_val - x_zp)
            acc += biases[out_c]
            if not int64_accumulator:
                acc = wrap_int32(acc)  # C's int32_t accumulator
            row.append(acc)
        rows.append(row)
    return rows, batches, output_depth


def fully_connected(
    x,
    x_zero_point,
    w,
    w_zero_point,
    bias,
    multiplier,
    shift,
    rounding,
    out_zero_point,
    act_min,
    act_max,
):
    """LiteRT's reference FULLY_CONNECTED on integers; returns an int64 array ``(M, N)``.

    ``x`` (M, K) int8/uint8/int16, ``w`` (N, K) int8, ``bias`` (N,) int32 (int64 with
    INT64_ACCUMULATOR), ``multiplier``/``shift`` (N,), scalars as ints (see the module docstring).
    """
    rounding = int(rounding)
    rows, batches, output_depth = _accumulators(
        x, x_zero_point, w, w_zero_point, bias, rounding == INT64_ACCUMULATOR
    )
    multipliers = multiplier.tolist()
    shifts = shift.tolist()
    out_zp = int(out_zero_point)
    lo = int(act_min)
    hi = int(act_max)
    result = []
    for b in range(batches):
        out_row = []
        for out_c in range(output_depth):
            acc = requantize(rows[b][out_c], multipliers[out_c], shifts[out_c], rounding)
            acc += out_zp
            acc = max(acc, lo)
            acc = min(acc, hi)
            out_row.append(acc)
        result.append(out_row)
    return np.array(result, dtype=np.int64).reshape(batches, output_depth)


def fully_connected_int32(x, x_zero_point, w, w_zero_point, bias):
    """The raw accumulator ``Σ (w − w_zp)(x − x_zp) + bias``, wrapped to int32; shape (M, N)."""
    rows, batches, output_depth = _accumulators(
        x, x_zero_point, w, w_zero_point, bias, int64_accumulator=False
    )
    return np.array(rows, dtype=np.int64).reshape(batches, output_depth)
