"""Integer kernels of the pooling family: average and max pooling over NHWC tensors.

LiteRT ``tflite/kernels/internal/reference/integer_ops/pooling.h`` (int8, int16) and
``reference/pooling.h`` (uint8), SEMANTICS.md §4.5. The window of each output element is clipped
to the image (padded taps are skipped, never read); the average divides the sum of the raw values
by the number of valid taps with C's truncating division, rounding half away from zero.

Kernels take a C-contiguous NHWC input, int64 scalars, and write into ``out`` (same dtype, shape
``(N, out_h, out_w, C)``); the wrapper (``intq.ops.pool``) computes the padding and the output size
and guarantees that every window holds at least one input element. The kernels are serial (no
``prange``: Numba's parallel scheduler splits work with float arithmetic); each output element
depends on its own window only, so any split of the rows across threads gives the same bits.
No kernel uses a float.
"""

import numpy as np
from numba import njit

_POOL = (
    "void({t}[:, :, :, ::1], int64, int64, int64, int64, int64, int64, int64, int64, "
    "{t}[:, :, :, ::1])"
)
SIGNATURES: dict[str, list[str]] = {
    "avg_pool2d": [_POOL.format(t=t) for t in ("int8", "uint8", "int16")],
    "max_pool2d": [_POOL.format(t=t) for t in ("int8", "uint8", "int16")],
}


@njit(cache=True)
def avg_pool2d(x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max, out):
    """Average pooling (LiteRT ``reference_integer_ops::AveragePool``, int8/int16; uint8:
    ``reference_ops::AveragePool``, whose sums are never negative).

    For output ``(b, oy, ox, c)``: ``in_y0 = oy·stride_h − pad_top``, taps ``fy`` in
    ``[max(0, −in_y0), min(filter_h, H − in_y0))`` (likewise in x); ``acc`` = int32 sum of the raw
    input values (no zero point subtracted), ``count`` = number of taps; then
    ``acc = (acc + count/2) / count`` if ``acc > 0`` else ``(acc − count/2) / count``, C's
    truncating ``/`` (ties away from zero); ``clamp(acc, act_min, act_max)``; store. The wrapper
    ensures ``count >= 1`` and ``filter_h·filter_w·max|q| < 2^31`` (no int32 overflow).
    """
    batches = x.shape[0]
    in_h = x.shape[1]
    in_w = x.shape[2]
    depth = x.shape[3]
    out_h = out.shape[1]
    out_w = out.shape[2]
    for by in range(batches * out_h):
        b = by // out_h
        oy = by - b * out_h
        in_y0 = np.int64(oy) * stride_h - pad_top
        fy_start = max(np.int64(0), -in_y0)
        fy_end = min(filter_h, np.int64(in_h) - in_y0)
        for ox in range(out_w):
            in_x0 = np.int64(ox) * stride_w - pad_left
            fx_start = max(np.int64(0), -in_x0)
            fx_end = min(filter_w, np.int64(in_w) - in_x0)
            count = (fy_end - fy_start) * (fx_end - fx_start)
            half = count // 2  # count > 0: C's count / 2
            for c in range(depth):
                acc = np.int64(0)
                for fy in range(fy_start, fy_end):
                    for fx in range(fx_start, fx_end):
                        acc += np.int64(x[b, in_y0 + fy, in_x0 + fx, c])
                # C's truncating division of a non-negative numerator by count > 0 is //;
                # a negative one is −((−numerator) // count).
                if acc > 0:
                    acc = (acc + half) // count
                else:
                    acc = -((half - acc) // count)
                acc = max(acc, act_min)
                acc = min(acc, act_max)
                out[b, oy, ox, c] = acc


@njit(cache=True)
def max_pool2d(x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max, out):
    """Max pooling (LiteRT ``reference_integer_ops::MaxPool``, int8/int16; uint8:
    ``reference_ops::MaxPool``).

    The window is clipped as in ``avg_pool2d``; ``max`` starts from the lowest value of the input
    type and takes the largest raw input value; ``clamp(max, act_min, act_max)``; store.
    """
    batches = x.shape[0]
    in_h = x.shape[1]
    in_w = x.shape[2]
    depth = x.shape[3]
    out_h = out.shape[1]
    out_w = out.shape[2]
    lowest = np.int64(np.iinfo(x.dtype).min)
    for by in range(batches * out_h):
        b = by // out_h
        oy = by - b * out_h
        in_y0 = np.int64(oy) * stride_h - pad_top
        fy_start = max(np.int64(0), -in_y0)
        fy_end = min(filter_h, np.int64(in_h) - in_y0)
        for ox in range(out_w):
            in_x0 = np.int64(ox) * stride_w - pad_left
            fx_start = max(np.int64(0), -in_x0)
            fx_end = min(filter_w, np.int64(in_w) - in_x0)
            for c in range(depth):
                value = lowest
                for fy in range(fy_start, fy_end):
                    for fx in range(fx_start, fx_end):
                        value = max(value, np.int64(x[b, in_y0 + fy, in_x0 + fx, c]))
                value = max(value, act_min)
                value = min(value, act_max)
                out[b, oy, ox, c] = value
