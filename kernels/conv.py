"""Integer kernels of the convolution family: conv2d (grouped) and depthwise_conv2d, NHWC.

LiteRT ``tflite/kernels/internal/reference/integer_ops/conv.h`` (``ConvPerChannel``) and
``depthwise_conv.h`` (``DepthwiseConvPerChannel``), SEMANTICS.md §4.2–4.3. For every output
element, in this order:

1. ``acc = Σ w · (x − x_zero_point)`` over the filter taps that fall inside the image (taps in the
   padding are skipped, which is the same as padding with ``x_zero_point``);
2. ``acc += bias[oc]``;
3. ``acc = requantize(acc, multiplier[oc], shift[oc], rounding)`` (``fixed_point.requantize``);
4. ``acc += out_zero_point``; clamp to ``[act_min, act_max]``; store.

The accumulator type follows ``rounding``: ``INT64_ACCUMULATOR`` (16x8 with an int64 bias,
LiteRT's ``AccumScalar = int64_t``) keeps the exact int64 sum; the other codes model LiteRT's
int32 accumulator, so the sum is brought back to int32 with two's-complement wrap
(``wrap_int32``) before it is requantized. The wrapper (``intq.ops.conv``) proves the sum never
leaves int32 (``check_accumulator``), so the wrap only matters for integers drawn directly in the
tests, where it reproduces C's int32 arithmetic. The 16x8 overloads of LiteRT have no input or
output offset; their zero points are 0 by LiteRT's ``Prepare``, which makes steps 1 and 4 the
same.

Layouts: ``x`` ``(N, H, W, C_in)``; conv weights OHWI ``(C_out, KH, KW, C_in / groups)``;
depthwise weights 1HWO ``(1, KH, KW, C_in · depth_multiplier)``; ``out`` ``(N, out_h, out_w,
C_out)``, allocated by the caller. The loops are direct (no im2col) and ordered as a GEMM would
see them: an output pixel is a row, output channels are columns, and the taps × input channels
of one group are the reduction, read contiguously from ``x`` and ``w``. The loops are serial (no
``prange``: Numba's parallel scheduler splits work with float arithmetic); each output row
depends on its own window only, so any split of (batch, output row) across threads gives the
same bits. No kernel uses a float.
"""

import numpy as np
from numba import njit

from .fixed_point import INT64_ACCUMULATOR, requantize, wrap_int32

_ARGS = (
    "void({x}[:, :, :, ::1], int64, int8[:, :, :, ::1], {b}[::1], int64, int64, int64, int64, "
    "int64, int64, int64, int32[::1], int32[::1], int64, int64, int64, int64, {x}[:, :, :, ::1])"
)
# (input/output dtype, bias dtype) pairs the wrapper calls: int8 and uint8 with an int32 bias;
# int16 (16x8) with an int64 bias (int64 accumulator) and, for conv2d, with an int32 bias.
_CONV_TYPES = (("int8", "int32"), ("uint8", "int32"), ("int16", "int64"), ("int16", "int32"))
_DEPTHWISE_TYPES = (("int8", "int32"), ("uint8", "int32"), ("int16", "int64"))

SIGNATURES: dict[str, list[str]] = {
    "conv2d": [_ARGS.format(x=x, b=b) for x, b in _CONV_TYPES],
    "depthwise_conv2d": [_ARGS.format(x=x, b=b) for x, b in _DEPTHWISE_TYPES],
}


@njit(cache=True)
def conv2d(
    x,
    x_zero_point,
    w,
    bias,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    groups,
    multiplier,
    shift,
    rounding,
    out_zero_point,
    act_min,
    act_max,
    out,
):
    """Grouped 2-D convolution (LiteRT ``reference_integer_ops::ConvPerChannel``, conv.h).

    For output ``(b, oy, ox, oc)`` with ``g = oc // (C_out / groups)`` and ``C_g = C_in /
    groups``: ``acc = Σ_{ky, kx, i} w[oc, ky, kx, i] · (x[b, iy, ix, g·C_g + i] − x_zero_point)``
    over ``iy = oy·stride_h − pad_top + ky·dilation_h``, ``ix = ox·stride_w − pad_left +
    kx·dilation_w`` inside the image; ``acc += bias[oc]`` (int32 wrap unless ``rounding`` is
    ``INT64_ACCUMULATOR``); ``requantize(acc, multiplier[oc], shift[oc], rounding)``;
    ``+ out_zero_point``; clamp to ``[act_min, act_max]``; store.
    """
    batches = x.shape[0]
    in_h = x.shape[1]
    in_w = x.shape[2]
    out_h = out.shape[1]
    out_w = out.shape[2]
    out_depth = out.shape[3]
    filter_h = w.shape[1]
    filter_w = w.shape[2]
    filter_depth = w.shape[3]  # input channels per group
    filters_per_group = out_depth // groups
    zp = np.int64(x_zero_point)
    wide = rounding == INT64_ACCUMULATOR
    for row in range(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        in_y0 = np.int64(oy) * stride_h - pad_top
        for ox in range(out_w):
            in_x0 = np.int64(ox) * stride_w - pad_left
            for oc in range(out_depth):
                c0 = (oc // filters_per_group) * filter_depth  # first input channel of the group
                acc = np.int64(0)
                for ky in range(filter_h):
                    iy = in_y0 + dilation_h * ky
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(filter_w):
                        ix = in_x0 + dilation_w * kx
                        if ix < 0 or ix >= in_w:
                            continue
                        for i in range(filter_depth):
                            acc += np.int64(w[oc, ky, kx, i]) * (
                                np.int64(x[b, iy, ix, c0 + i]) - zp
                            )
                acc += np.int64(bias[oc])
                if not wide:
                    acc = wrap_int32(acc)
                acc = np.int64(
                    requantize(acc, np.int64(multiplier[oc]), np.int64(shift[oc]), rounding)
                )
                acc = wrap_int32(acc + out_zero_point)
                acc = max(acc, act_min)
                acc = min(acc, act_max)
                out[b, oy, ox, oc] = acc


@njit(cache=True)
def depthwise_conv2d(
    x,
    x_zero_point,
    w,
    bias,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    depth_multiplier,
    multiplier,
    shift,
    rounding,
    out_zero_point,
    act_min,
    act_max,
    out,
):
    """Depthwise 2-D convolution (LiteRT ``reference_integer_ops::DepthwiseConvPerChannel``,
    depthwise_conv.h).

    For output ``(b, oy, ox, oc)`` with ``oc = ic·depth_multiplier + m``: ``acc = Σ_{ky, kx}
    w[0, ky, kx, oc] · (x[b, iy, ix, ic] − x_zero_point)`` over the taps inside the image (as in
    ``conv2d``); ``acc += bias[oc]`` (int32 wrap unless ``INT64_ACCUMULATOR``);
    ``requantize(acc, multiplier[oc], shift[oc], rounding)``; ``+ out_zero_point``; clamp; store.
    """
    batches = x.shape[0]
    in_h = x.shape[1]
    in_w = x.shape[2]
    in_depth = x.shape[3]
    out_h = out.shape[1]
    out_w = out.shape[2]
    filter_h = w.shape[1]
    filter_w = w.shape[2]
    zp = np.int64(x_zero_point)
    wide = rounding == INT64_ACCUMULATOR
    for row in range(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        in_y0 = np.int64(oy) * stride_h - pad_top
        for ox in range(out_w):
            in_x0 = np.int64(ox) * stride_w - pad_left
            for ic in range(in_depth):
                for m in range(depth_multiplier):
                    oc = ic * depth_multiplier + m
                    acc = np.int64(0)
                    for ky in range(filter_h):
                        iy = in_y0 + dilation_h * ky
                        if iy < 0 or iy >= in_h:
                            continue
                        for kx in range(filter_w):
                            ix = in_x0 + dilation_w * kx
                            if ix < 0 or ix >= in_w:
                                continue
                            acc += np.int64(w[0, ky, kx, oc]) * (np.int64(x[b, iy, ix, ic]) - zp)
                    acc += np.int64(bias[oc])
                    if not wide:
                        acc = wrap_int32(acc)
                    acc = np.int64(
                        requantize(acc, np.int64(multiplier[oc]), np.int64(shift[oc]), rounding)
                    )
                    acc = wrap_int32(acc + out_zero_point)
                    acc = max(acc, act_min)
                    acc = min(acc, act_max)
                    out[b, oy, ox, oc] = acc
