"""Integer oracles of the convolution family, transcribed from the LiteRT reference kernels.

Sources, read line by line:

* ``tflite/kernels/internal/reference/integer_ops/conv.h``: ``ConvPerChannel`` for int8 (int32
  accumulator, ``acc += filter_val * (input_val + input_offset)``, then ``+ output_offset``) and
  the 16x8 ``template <typename AccumScalar> ConvPerChannel`` for int16 inputs (``acc +=
  filter_val * input_val`` with no offsets; ``AccumScalar`` is ``int64_t`` for an int64 bias and
  ``int32_t`` for an int32 bias, and ``MultiplyByQuantizedMultiplier`` is the overload of that
  accumulator type). Grouped convolution as in that file: ``groups = input_depth /
  filter_input_depth``, ``filters_per_group = output_depth / groups``, output channel ``oc``
  reads input channels ``group · filter_input_depth + i`` with ``group = oc /
  filters_per_group``.
* ``reference/integer_ops/depthwise_conv.h``: ``DepthwiseConvPerChannel`` for int8 and for int16
  with an int64 bias; ``output_channel = m + in_channel · depth_multiplier``.
* ``tflite/kernels/conv.cc`` (``EvalQuantizedPerChannel16x8``) chooses the int64 overload when the
  bias is int64 and the int32 one otherwise; ``kernels/depthwise_conv.cc`` accepts int64 biases
  only for int16. LiteRT requires zero points 0 for int16 input and output (both ``Prepare``).

The uint8 case follows the int8 body with uint8 data (the per-channel formula; LiteRT's own
uint8 path, ``reference/conv.h``, has uint8 weights with a zero point, which intq does not use).

Same arguments as the kernels of ``intq.kernels.conv`` without ``out``, plus ``out_h`` and
``out_w`` (the kernels read them from ``out``). ``rounding`` picks the
``MultiplyByQuantizedMultiplier`` overload: 0 double rounding, 1 single rounding (both on an
int32 accumulator, which wraps as C's int32 arithmetic does), 2 the int64-accumulator overload.
Python ints and explicit loops; never imports ``intq.kernels``.
"""

from __future__ import annotations

import numpy as np

from . import fixed_point as fp


def _wrap32(v: int) -> int:
    """C's int32 arithmetic (two's complement wrap)."""
    return (v + 2**31) % 2**32 - 2**31


def _accumulate(acc: int, term: int, rounding: int) -> int:
    """``acc += term`` in the accumulator type: int32 (wrapping) unless the int64 overload."""
    if rounding == fp.INT64_ACCUMULATOR:
        return acc + term
    return _wrap32(acc + term)


def _is_16x8(x: np.ndarray, x_zero_point: int, out_zero_point: int) -> bool:
    """int16 inputs take the 16x8 overload, which has no input or output offset."""
    if x.dtype == np.int16:
        assert x_zero_point == 0 and out_zero_point == 0, "16x8: LiteRT requires zero points 0"
        return True
    return False


def conv2d(
    x: np.ndarray,
    x_zero_point: int,
    w: np.ndarray,
    bias: np.ndarray,
    stride_h: int,
    stride_w: int,
    dilation_h: int,
    dilation_w: int,
    pad_top: int,
    pad_left: int,
    groups: int,
    multiplier: np.ndarray,
    shift: np.ndarray,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
    out_h: int,
    out_w: int,
) -> np.ndarray:
    """LiteRT ``reference_integer_ops::ConvPerChannel`` (int8/uint8; int16 with int32 or int64
    accumulator), NHWC input, OHWI filter ``(C_out, KH, KW, C_in / groups)``.

    For each output ``(b, oy, ox, oc)``: ``acc = Σ filter · (input − x_zero_point)`` over the
    taps inside the image (16x8: ``Σ filter · input``), ``acc += bias[oc]``,
    ``acc = MultiplyByQuantizedMultiplier(acc, multiplier[oc], shift[oc])``, ``+ out_zero_point``
    (not in the 16x8 overload), clamp to ``[act_min, act_max]``.
    """
    input_data = x.tolist()
    filter_data = w.tolist()
    bias_data = bias.tolist()
    output_multiplier = multiplier.tolist()
    output_shift = shift.tolist()
    batches, input_height, input_width, input_depth = x.shape
    output_depth, filter_height, filter_width, filter_input_depth = w.shape
    assert groups == input_depth // filter_input_depth  # conv.h derives groups from the shapes
    assert input_depth % filter_input_depth == 0
    filters_per_group = output_depth // groups
    is_16x8 = _is_16x8(x, x_zero_point, out_zero_point)
    input_offset = -x_zero_point
    output_offset = out_zero_point
    result = [
        [[[0] * output_depth for _ in range(out_w)] for _ in range(out_h)] for _ in range(batches)
    ]
    for batch in range(batches):
        for out_y in range(out_h):
            in_y_origin = (out_y * stride_h) - pad_top
            for out_x in range(out_w):
                in_x_origin = (out_x * stride_w) - pad_left
                for out_channel in range(output_depth):
                    group = out_channel // filters_per_group
                    acc = 0
                    for filter_y in range(filter_height):
                        in_y = in_y_origin + dilation_h * filter_y
                        for filter_x in range(filter_width):
                            in_x = in_x_origin + dilation_w * filter_x
                            # Zero padding by omitting the areas outside the image.
                            is_point_inside_image = (
                                (in_x >= 0)
                                and (in_x < input_width)
                                and (in_y >= 0)
                                and (in_y < input_height)
                            )
                            if not is_point_inside_image:
                                continue
                            for in_channel in range(filter_input_depth):
                                input_val = input_data[batch][in_y][in_x][
                                    in_channel + group * filter_input_depth
                                ]
                                filter_val = filter_data[out_channel][filter_y][filter_x][
                                    in_channel
                                ]
                                if is_16x8:
                                    term = filter_val * input_val
                                else:
                                    term = filter_val * (input_val + input_offset)
                                acc = _accumulate(acc, term, rounding)
                    acc = _accumulate(acc, bias_data[out_channel], rounding)
                    acc = fp.requantize(
                        acc, output_multiplier[out_channel], output_shift[out_channel], rounding
                    )
                    if not is_16x8:
                        acc = _wrap32(acc + output_offset)
                    acc = max(acc, act_min)
                    acc = min(acc, act_max)
                    result[batch][out_y][out_x][out_channel] = acc
    return np.array(result, dtype=np.int64).reshape(batches, out_h, out_w, output_depth)


def depthwise_conv2d(
    x: np.ndarray,
    x_zero_point: int,
    w: np.ndarray,
    bias: np.ndarray,
    stride_h: int,
    stride_w: int,
    dilation_h: int,
    dilation_w: int,
    pad_top: int,
    pad_left: int,
    depth_multiplier: int,
    multiplier: np.ndarray,
    shift: np.ndarray,
    rounding: int,
    out_zero_point: int,
    act_min: int,
    act_max: int,
    out_h: int,
    out_w: int,
) -> np.ndarray:
    """LiteRT ``reference_integer_ops::DepthwiseConvPerChannel`` (int8/uint8; int16 with int64
    accumulator), NHWC input, 1HWO filter ``(1, KH, KW, C_in · depth_multiplier)``.

    For each output ``(b, oy, ox, ic, m)`` with ``oc = m + ic · depth_multiplier``:
    ``acc = Σ filter[oc] · (input[ic] − x_zero_point)`` over the taps inside the image (16x8:
    no offset), ``+ bias[oc]``, ``MultiplyByQuantizedMultiplier(acc, multiplier[oc],
    shift[oc])``, ``+ out_zero_point`` (not in the 16x8 overload), clamp.
    """
    input_data = x.tolist()
    filter_data = w.tolist()
    bias_data = bias.tolist()
    output_multiplier = multiplier.tolist()
    output_shift = shift.tolist()
    batches, input_height, input_width, input_depth = x.shape
    _, filter_height, filter_width, output_depth = w.shape
    assert output_depth == input_depth * depth_multiplier
    is_16x8 = _is_16x8(x, x_zero_point, out_zero_point)
    input_offset = -x_zero_point
    output_offset = out_zero_point
    result = [
        [[[0] * output_depth for _ in range(out_w)] for _ in range(out_h)] for _ in range(batches)
    ]
    for batch in range(batches):
        for out_y in range(out_h):
            for out_x in range(out_w):
                for in_channel in range(input_depth):
                    for m in range(depth_multiplier):
                        output_channel = m + in_channel * depth_multiplier
                        in_x_origin = (out_x * stride_w) - pad_left
                        in_y_origin = (out_y * stride_h) - pad_top
                        acc = 0
                        for filter_y in range(filter_height):
                            for filter_x in range(filter_width):
                                in_x = in_x_origin + dilation_w * filter_x
                                in_y = in_y_origin + dilation_h * filter_y
                                # Zero padding by omitting the areas outside the image.
                                is_point_inside_image = (
                                    (in_x >= 0)
                                    and (in_x < input_width)
                                    and (in_y >= 0)
                                    and (in_y < input_height)
                                )
                                if is_point_inside_image:
                                    input_val = input_data[batch][in_y][in_x][in_channel]
                                    filter_val = filter_data[0][filter_y][filter_x][output_channel]
                                    if is_16x8:
                                        term = filter_val * input_val
                                    else:
                                        term = filter_val * (input_val + input_offset)
                                    acc = _accumulate(acc, term, rounding)
                        acc = _accumulate(acc, bias_data[output_channel], rounding)
                        acc = fp.requantize(
                            acc,
                            output_multiplier[output_channel],
                            output_shift[output_channel],
                            rounding,
                        )
                        if not is_16x8:
                            acc = _wrap32(acc + output_offset)
                        acc = max(acc, act_min)
                        acc = min(acc, act_max)
                        result[batch][out_y][out_x][output_channel] = acc
    return np.array(result, dtype=np.int64).reshape(batches, out_h, out_w, output_depth)
