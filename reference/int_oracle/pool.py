"""Integer oracles of the pooling family, transcribed from the LiteRT reference kernels.

Sources, read line by line:

* LiteRT ``tflite/kernels/internal/reference/integer_ops/pooling.h``: ``AveragePool`` and
  ``MaxPool`` for int8 and int16 (identical bodies apart from the type);
* LiteRT ``tflite/kernels/internal/reference/pooling.h``: the uint8 ``AveragePool`` (``acc`` is
  never negative there, so its ``(acc + count/2) / count`` is the int8 formula's positive branch)
  and the uint8 ``MaxPool`` (starts from 0, the lowest uint8).

Same arguments as the kernels of ``intq.kernels.pool`` without ``out``, plus ``out_h`` and
``out_w`` (the kernels read the output size from ``out``); inputs NHWC. Python ints
and explicit loops; C's ``/`` is ``_cdiv`` (toward zero), never Python's ``//``. Slow and obvious
on purpose; never imports ``intq.kernels``.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _wrap32(v: int) -> int:
    """C's int32 arithmetic (two's complement wrap)."""
    return (v + 2**31) % 2**32 - 2**31


def _cdiv(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _window(out_pos: int, stride: int, pad: int, filter_size: int, in_size: int):
    """``(in_origin, filter_start, filter_end)`` exactly as pooling.h computes them."""
    in_origin = out_pos * stride - pad
    filter_start = max(0, -in_origin)
    filter_end = min(filter_size, in_size - in_origin)
    return in_origin, filter_start, filter_end


def avg_pool2d(
    x: np.ndarray,
    filter_h: int,
    filter_w: int,
    stride_h: int,
    stride_w: int,
    pad_top: int,
    pad_left: int,
    act_min: int,
    act_max: int,
    out_h: int,
    out_w: int,
) -> np.ndarray:
    """LiteRT ``reference_integer_ops::AveragePool`` (int8, int16) and
    ``reference_ops::AveragePool`` (uint8).

    For each output ``(b, oy, ox, c)``: the window is clipped to the image; ``acc`` is the int32 sum
    of the raw input values in it and ``count`` the number of valid taps (padding excluded);
    ``acc = (acc + count/2) / count`` if ``acc > 0`` else ``(acc − count/2) / count`` with C's
    truncating division; ``clamp(acc, act_min, act_max)``. A window without any valid tap makes
    TFLite return an error: ``ValueError`` here. ``out_h``/``out_w`` give the output size (the
    kernel reads them from ``out``).
    """
    data = x.tolist()
    batches, in_h, in_w, depth = x.shape
    result = [[[[0] * depth for _ in range(out_w)] for _ in range(out_h)] for _ in range(batches)]
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                for c in range(depth):
                    in_x0, fx_start, fx_end = _window(ox, stride_w, pad_left, filter_w, in_w)
                    in_y0, fy_start, fy_end = _window(oy, stride_h, pad_top, filter_h, in_h)
                    acc = 0
                    filter_count = 0
                    for fy in range(fy_start, fy_end):
                        for fx in range(fx_start, fx_end):
                            acc = _wrap32(acc + data[b][in_y0 + fy][in_x0 + fx][c])
                            filter_count += 1
                    if filter_count == 0:
                        raise ValueError("avg_pool2d: a pooling window holds no input element")
                    # Round to the closest integer value (ties away from zero).
                    if acc > 0:
                        acc = _cdiv(acc + _cdiv(filter_count, 2), filter_count)
                    else:
                        acc = _cdiv(acc - _cdiv(filter_count, 2), filter_count)
                    acc = max(acc, act_min)
                    acc = min(acc, act_max)
                    result[b][oy][ox][c] = acc
    return np.array(result, dtype=np.int64).reshape(batches, out_h, out_w, depth)


def max_pool2d(
    x: np.ndarray,
    filter_h: int,
    filter_w: int,
    stride_h: int,
    stride_w: int,
    pad_top: int,
    pad_left: int,
    act_min: int,
    act_max: int,
    out_h: int,
    out_w: int,
) -> np.ndarray:
    """LiteRT ``reference_integer_ops::MaxPool`` (int8, int16) and ``reference_ops::MaxPool``
    (uint8).

    The maximum over the window clipped to the image, starting from the lowest value of the input
    type, then ``clamp(max, act_min, act_max)``.
    """
    data = x.tolist()
    batches, in_h, in_w, depth = x.shape
    lowest = int(np.iinfo(x.dtype).min)
    result = [[[[0] * depth for _ in range(out_w)] for _ in range(out_h)] for _ in range(batches)]
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                for c in range(depth):
                    in_x0, fx_start, fx_end = _window(ox, stride_w, pad_left, filter_w, in_w)
                    in_y0, fy_start, fy_end = _window(oy, stride_h, pad_top, filter_h, in_h)
                    value = lowest
                    for fy in range(fy_start, fy_end):
                        for fx in range(fx_start, fx_end):
                            value = max(value, data[b][in_y0 + fy][in_x0 + fx][c])
                    value = max(value, act_min)
                    value = min(value, act_max)
                    result[b][oy][ox][c] = value
    return np.array(result, dtype=np.int64).reshape(batches, out_h, out_w, depth)
