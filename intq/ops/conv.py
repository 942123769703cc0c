"""Quantized convolutions: ``conv2d`` (with groups) and ``depthwise_conv2d``, NHWC.

Both reproduce LiteRT's reference kernels bit for bit (``reference/integer_ops/conv.h``
``ConvPerChannel`` and ``depthwise_conv.h`` ``DepthwiseConvPerChannel``; SEMANTICS.md §4.2–4.3):
``acc = Σ w · (x − zp_x)`` over the taps inside the image, ``+ bias``, requantized per output
channel, ``+ zp_out``, clamped to the fused activation. The integer parameters are derived
offline as LiteRT's ``Prepare`` does (``kernels/conv.cc``, ``kernels/depthwise_conv.cc``,
``kernel_util.cc`` PopulateConvolutionQuantizationParams, ``padding.h``):

* per output channel ``c``: ``real = double(s_x) · double(s_w[c]) / double(s_out)`` from the
  float32 scales (SEMANTICS.md §1; per-tensor weights broadcast ``s_w`` to every channel), then
  the profile's ``quantize_multiplier`` → ``(multiplier[c], shift[c])``;
* SAME padding: ``out = ceil(in / stride)``, ``total = max((out − 1)·stride + (k − 1)·dilation
  + 1 − in, 0)``, ``top = total // 2`` (the odd element goes to the bottom/right); VALID:
  ``out = (in − (k − 1)·dilation − 1) // stride + 1``; explicit ``((top, bottom), (left, right))``
  pads with the input zero point (what a PAD op in front of a VALID conv does);
* clamp bounds: ``CalculateActivationRangeQuantized`` of the fused activation.

Types: int8 or uint8 activations with an int32 bias (int32 accumulator, the profile's rounding);
16x8: int16 activations with zero points 0 and an int64 bias, which LiteRT accumulates in int64
and requantizes with the 16-bit-multiplier overload in every build (``INT64_ACCUMULATOR``).
``conv2d`` also takes int16 with an int32 bias (or none) — LiteRT then runs the int32-accumulator
overload with the profile's rounding — while ``depthwise_conv2d`` with int16 always uses the
int64 overload (LiteRT has no other). Weights are int8 with zero point 0, per channel along the
output-channel axis (0 for OHWI, 3 for 1HWO) or per tensor. Every wrapper proves that the
accumulator cannot overflow (``check_accumulator``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import conv as _kconv
from ..kernels import fixed_point as _kfp
from ..profiles import Profile, get_profile
from ..qparams import QuantParams
from ._common import (
    Activation,
    activation_range,
    channel_multipliers,
    check_accumulator,
    check_layout,
    check_per_tensor,
    check_quantized,
    requantization_code,
    scale32,
)
from ._geometry import IntPair, Padding, is_int, window_geometry

_INT8, _UINT8, _INT16 = np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)
_INT32, _INT64 = np.dtype(np.int32), np.dtype(np.int64)
_DTYPES = (_INT8, _UINT8, _INT16)
# Largest shift each MultiplyByQuantizedMultiplier overload is defined for (common.cc DCHECKs):
# the int32 ones compute x·2^shift in int32 (shift <= 30), the int64 one checks shift < 8.
_MAX_SHIFT = {False: 30, True: 7}


@dataclass(frozen=True)
class ConvParams:
    """The integers a convolution kernel receives, derived offline.

    ``pad_top``/``pad_left`` are what the kernel reads; ``pad_bottom``/``pad_right`` complete the
    picture. ``groups`` is the number of channel groups (a depthwise convolution is the grouped
    convolution with ``groups = C_in``) and ``depth_multiplier`` the number of output channels
    per input channel of a depthwise convolution (1 for ``conv2d``). ``multiplier``/``shift``
    are int32 arrays of length ``C_out``; ``rounding`` is the kernel's requantization code
    (``DOUBLE_ROUNDING``, ``SINGLE_ROUNDING`` or ``INT64_ACCUMULATOR``); ``act_min``/``act_max``
    the clamp bounds applied after ``+ out_zero_point``.
    """

    x_zero_point: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    out_h: int
    out_w: int
    groups: int
    depth_multiplier: int
    multiplier: np.ndarray
    shift: np.ndarray
    rounding: int
    out_zero_point: int
    act_min: int
    act_max: int

    @property
    def int64_accumulator(self) -> bool:
        """True for the 16x8 kernels that accumulate (and requantize) in int64."""
        return self.rounding == _kfp.INT64_ACCUMULATOR


# ---- argument parsing --------------------------------------------------------------------------


# ---- validation ----------------------------------------------------------------------------


def _check_tensors(
    op: str,
    x: object,
    w: object,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    weight_axis: int,
) -> tuple[np.ndarray, np.ndarray]:
    x = check_layout(x, x_qparams, "x")
    check_per_tensor(x_qparams, "x")
    if x.dtype not in _DTYPES:
        raise TypeError(f"x: {op} supports int8, uint8 and int16 inputs, got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"x: expected a 4-D NHWC tensor, got shape {x.shape}")
    if not isinstance(out_qparams, QuantParams):
        raise TypeError(f"out_qparams: expected QuantParams, got {type(out_qparams).__name__}")
    check_per_tensor(out_qparams, "out")
    if out_qparams.dtype != x.dtype:
        raise TypeError(
            f"out_qparams: {op} outputs the input type {x.dtype}, but out_qparams describe "
            f"{out_qparams.dtype}"
        )
    if x.dtype == _INT16:
        for name, q in (("x", x_qparams), ("out", out_qparams)):
            if q.zero_point != 0:
                raise ValueError(
                    f"{name}_qparams: 16x8 {op} needs zero point 0 (int16 quantization is "
                    f"symmetric; LiteRT enforces it), got {q.zero_point}"
                )
    if not isinstance(w_qparams, QuantParams):
        raise TypeError(f"w_qparams: expected QuantParams, got {type(w_qparams).__name__}")
    if w_qparams.dtype != _INT8:
        raise TypeError(
            f"w_qparams: {op} weights must be int8 (8-bit signed), got a "
            f"{w_qparams.bits}-bit {'signed' if w_qparams.signed else 'unsigned'} grid"
        )
    w = check_quantized(w, w_qparams, "w")
    if w.ndim != 4:
        raise ValueError(f"w: expected a 4-D filter, got shape {w.shape}")
    if np.any(np.asarray(w_qparams.zero_point) != 0):
        raise ValueError(
            f"w_qparams: weights must be symmetric (zero point 0), got {w_qparams.zero_point!r}"
        )
    if w_qparams.per_channel:
        axis = w_qparams.axis
        if not -4 <= axis < 4 or axis % 4 != weight_axis:
            layout = "OHWI" if weight_axis == 0 else "1HWO"
            raise ValueError(
                f"w_qparams: per-channel weights of {op} ({layout}) are quantized along axis "
                f"{weight_axis}, got axis={axis}"
            )
        # kernels/conv.cc: one scale (broadcast) or one per output channel.
        if w_qparams.num_channels not in (1, w.shape[weight_axis]):
            raise ValueError(
                f"w_qparams: {w_qparams.num_channels} channel scales for "
                f"{w.shape[weight_axis]} output channels (w axis {weight_axis})"
            )
    return x, w


def _check_bias(op: str, bias: object, channels: int, allowed: tuple[np.dtype, ...]) -> None:
    if not isinstance(bias, np.ndarray):
        raise TypeError(f"bias: expected a NumPy integer array or None, got {type(bias).__name__}")
    if bias.dtype not in allowed:
        names = " or ".join(str(d) for d in allowed)
        raise TypeError(f"bias: {op} needs a bias of dtype {names} here, got {bias.dtype}")
    if bias.shape != (channels,):
        raise ValueError(
            f"bias: expected shape ({channels},) (one per output channel), got {bias.shape}"
        )


def _derive(
    op: str,
    bias: np.ndarray,
    weight_abs_sums: np.ndarray,
    channels: int,
    int64_accumulator: bool,
    geometry: tuple[int, ...],
    groups: int,
    depth_multiplier: int,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation,
    profile: str | Profile,
) -> ConvParams:
    profile = get_profile(profile)
    check_accumulator(op, weight_abs_sums, x_qparams, bias, int64_accumulator=int64_accumulator)
    # PopulateConvolutionQuantizationParams: double(s_in) · double(s_w[c]) / double(s_out).
    real = scale32(x_qparams) * np.asarray(scale32(w_qparams), dtype=np.float64)
    real = np.broadcast_to(real / scale32(out_qparams), (channels,))
    multiplier, shift = channel_multipliers(real, channels, profile)
    limit = _MAX_SHIFT[int64_accumulator]
    if shift.size and int(shift.max()) > limit:
        c = int(np.argmax(shift))
        raise ValueError(
            f"out_qparams: the real multiplier s_x·s_w/s_out = {float(real[c])!r} of output "
            f"channel {c} needs shift {int(shift[c])}, beyond the {limit} that LiteRT's "
            f"{'int64' if int64_accumulator else 'int32'} requantization allows; "
            "out_qparams.scale is too small for these scales"
        )
    act_min, act_max = activation_range(activation, out_qparams)
    return ConvParams(
        int(x_qparams.zero_point), *geometry, groups, depth_multiplier, multiplier, shift,
        requantization_code(profile, int64_accumulator), int(out_qparams.zero_point), act_min,
        act_max,
    )  # fmt: skip


# ---- public API ----------------------------------------------------------------------------


def conv2d_params(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    stride: IntPair = 1,
    padding: Padding = "valid",
    dilation: IntPair = 1,
    groups: int = 1,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> ConvParams:
    """Validate the arguments of ``conv2d`` and return the integers its kernel receives.

    Raises ``TypeError``/``ValueError`` naming the offending argument: dtypes, shapes (``x``
    NHWC, ``w`` OHWI with ``C_in / groups`` input channels, ``groups`` dividing ``C_in`` and
    ``C_out``), weight quantization (int8, zero point 0, per channel along axis 0 or per
    tensor), bias (int32 of shape ``(C_out,)``; int16 inputs: int32 or int64), strides,
    dilations, padding leaving an empty output, an accumulator that could overflow, a
    multiplier beyond the kernel's shift range.
    """
    x, w = _check_tensors("conv2d", x, w, x_qparams, w_qparams, out_qparams, 0)
    if not is_int(groups) or groups < 1:
        raise ValueError(f"groups: must be a positive int, got {groups!r}")
    c_in, c_out, filter_depth = x.shape[3], w.shape[0], w.shape[3]
    if c_in < 1 or c_out < 1:
        raise ValueError(
            f"x, w: conv2d needs input and output channels, got C_in={c_in}, C_out={c_out}"
        )
    if c_in % groups:
        raise ValueError(f"groups: {groups} does not divide the {c_in} input channels")
    if c_out % groups:
        raise ValueError(f"groups: {groups} does not divide the {c_out} output channels")
    if filter_depth != c_in // groups:
        raise ValueError(
            f"w: expected C_in / groups = {c_in // groups} input channels per filter "
            f"(OHWI, axis 3), got shape {w.shape}"
        )
    if bias is None:
        # conv.cc: only an int64 bias selects the int64 accumulator; none means int32 (and 0).
        int64_acc = False
        bias = np.zeros(c_out, dtype=np.int32)
    else:
        allowed = (_INT32, _INT64) if x.dtype == _INT16 else (_INT32,)
        _check_bias("conv2d", bias, c_out, allowed)
        int64_acc = bias.dtype == _INT64
    geometry = window_geometry(x.shape, (w.shape[1], w.shape[2]), stride, dilation, padding)
    sums = np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3))
    return _derive(
        "conv2d", bias, sums, c_out, int64_acc, geometry, int(groups), 1, x_qparams,
        w_qparams, out_qparams, activation, profile,
    )  # fmt: skip


def depthwise_conv2d_params(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    stride: IntPair = 1,
    padding: Padding = "valid",
    dilation: IntPair = 1,
    depth_multiplier: int = 1,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> ConvParams:
    """Validate the arguments of ``depthwise_conv2d`` and return its kernel's integers.

    As ``conv2d_params``, with ``w`` 1HWO of shape ``(1, KH, KW, C_in · depth_multiplier)``,
    per-channel weights along axis 3, and the bias int32 (int8/uint8) or int64 (int16).
    """
    x, w = _check_tensors("depthwise_conv2d", x, w, x_qparams, w_qparams, out_qparams, 3)
    if not is_int(depth_multiplier) or depth_multiplier < 1:
        raise ValueError(f"depth_multiplier: must be a positive int, got {depth_multiplier!r}")
    c_in = x.shape[3]
    c_out = c_in * int(depth_multiplier)
    if c_in < 1:
        raise ValueError(f"x: depthwise_conv2d needs input channels, got shape {x.shape}")
    if w.shape[0] != 1 or w.shape[3] != c_out:
        raise ValueError(
            f"w: expected a 1HWO filter (1, KH, KW, C_in · depth_multiplier = {c_out}), "
            f"got shape {w.shape}"
        )
    int64_acc = x.dtype == _INT16  # depthwise_conv.cc: int16 runs the int64 overload only
    bias_dtype = _INT64 if int64_acc else _INT32
    if bias is None:
        bias = np.zeros(c_out, dtype=bias_dtype)
    else:
        _check_bias("depthwise_conv2d", bias, c_out, (bias_dtype,))
    geometry = window_geometry(x.shape, (w.shape[1], w.shape[2]), stride, dilation, padding)
    sums = np.abs(w.astype(np.int64)).sum(axis=(0, 1, 2))
    return _derive(
        "depthwise_conv2d", bias, sums, c_out, int64_acc, geometry, c_in,
        int(depth_multiplier), x_qparams, w_qparams, out_qparams, activation, profile,
    )  # fmt: skip


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    stride: IntPair = 1,
    padding: Padding = "valid",
    dilation: IntPair = 1,
    groups: int = 1,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized CONV_2D of an NHWC tensor with OHWI int8 weights (LiteRT ``ConvPerChannel``).

    For each output ``(b, oy, ox, c)``: ``acc = Σ w[c, ky, kx, i] · (x[b, iy, ix, g·C_g + i] −
    zp_x)`` over the taps inside the image (``g`` = the group of ``c``; padding contributes
    nothing, as padding with ``zp_x`` would), ``acc += bias[c]``, ``acc = MBQM(acc, M[c],
    shift[c])`` with the profile's rounding (16x8 with an int64 bias: the int64 overload),
    ``+ zp_out``, clamp to the fused ``activation``. The multiplier is ``double(s_x) ·
    double(s_w[c]) / double(s_out)`` of the float32 scales (SEMANTICS.md §1). ``stride`` and
    ``dilation`` are an int or ``(h, w)``; ``padding`` ``"valid"``, ``"same"`` or
    ``((top, bottom), (left, right))``. Returns a new ``(N, out_h, out_w, C_out)`` array of
    ``out_qparams.dtype``; see ``conv2d_params`` for the derived integers and the errors.
    """
    x = check_quantized(x, x_qparams, "x")
    p = conv2d_params(
        x, w, bias, x_qparams=x_qparams, w_qparams=w_qparams, out_qparams=out_qparams,
        stride=stride, padding=padding, dilation=dilation, groups=groups, activation=activation,
        profile=profile,
    )  # fmt: skip
    return run_conv2d(x, w, bias, p)


def depthwise_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    stride: IntPair = 1,
    padding: Padding = "valid",
    dilation: IntPair = 1,
    depth_multiplier: int = 1,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized DEPTHWISE_CONV_2D of an NHWC tensor with 1HWO int8 weights (LiteRT
    ``DepthwiseConvPerChannel``).

    Output channel ``c = i·depth_multiplier + m`` sees input channel ``i`` only: ``acc =
    Σ w[0, ky, kx, c] · (x[b, iy, ix, i] − zp_x)`` over the taps inside the image, then as
    ``conv2d`` (bias, per-channel multiplier ``double(s_x)·double(s_w[c])/double(s_out)``,
    ``+ zp_out``, clamp). int16 inputs always use the int64-accumulator overload. Returns a new
    ``(N, out_h, out_w, C_in · depth_multiplier)`` array of ``out_qparams.dtype``.
    """
    x = check_quantized(x, x_qparams, "x")
    p = depthwise_conv2d_params(
        x, w, bias, x_qparams=x_qparams, w_qparams=w_qparams, out_qparams=out_qparams,
        stride=stride, padding=padding, dilation=dilation, depth_multiplier=depth_multiplier,
        activation=activation, profile=profile,
    )  # fmt: skip
    return run_depthwise_conv2d(x, w, bias, p)


def run_conv2d(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, params: ConvParams
) -> np.ndarray:
    """The integer half of ``conv2d``: ``intq.kernels.conv.conv2d`` on validated operands with
    the precomputed ``params``; returns ``(N, out_h, out_w, C_out)`` of ``x``'s dtype."""
    return _run(_kconv.conv2d, x, w, bias, params, w.shape[0], params.groups)


def run_depthwise_conv2d(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, params: ConvParams
) -> np.ndarray:
    """The integer half of ``depthwise_conv2d``: ``intq.kernels.conv.depthwise_conv2d`` with the
    precomputed ``params``; returns ``(N, out_h, out_w, C_in · depth_multiplier)``."""
    return _run(_kconv.depthwise_conv2d, x, w, bias, params, w.shape[3], params.depth_multiplier)


def _run(
    kernel, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, p: ConvParams, c_out: int,
    channel_arg: int,
) -> np.ndarray:  # fmt: skip
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    if bias is None:
        bias = np.zeros(c_out, dtype=np.int64 if p.int64_accumulator else np.int32)
    bias = np.ascontiguousarray(bias)
    out = np.empty((x.shape[0], p.out_h, p.out_w, c_out), dtype=x.dtype)
    i64 = np.int64
    kernel(
        x, i64(p.x_zero_point), w, bias, i64(p.stride_h), i64(p.stride_w), i64(p.dilation_h),
        i64(p.dilation_w), i64(p.pad_top), i64(p.pad_left), i64(channel_arg), p.multiplier,
        p.shift, i64(p.rounding), i64(p.out_zero_point), i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out
