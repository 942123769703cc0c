"""Quantized fully connected layer (TFLite FULLY_CONNECTED): ``linear`` and ``linear_accumulate``.

Integer semantics (SEMANTICS.md §4.4; LiteRT ``reference/integer_ops/fully_connected.h`` and, for
uint8, ``reference/fully_connected.h``): for every row ``m`` of ``x`` and output channel ``n``

    acc = Σ_k (w[n, k] − w_zp) · (x[m, k] − x_zp) + bias[n]            (eq. (4), via eq. (7))
    out = clamp(MBQM(acc, M[n], shift[n]) + out_zp, act_min, act_max)

with ``MBQM`` the profile's ``MultiplyByQuantizedMultiplier`` (double rounding for ``"tflite"``,
single for ``"tflite-single-rounding"``; the int64-accumulator variant for 16x8 with an int64
bias, in every profile). The kernel (``intq.kernels.gemm``) computes the sum through the
row/column-sum expansion of Jacob et al. eq. (7)–(8), exactly.

Multiplier precision (SEMANTICS.md §1, LiteRT ``kernels/fully_connected.cc`` Prepare and
``kernel_util.cc`` GetQuantizedConvolutionMultipler), from float32 scales:

* per-channel weights: ``M[c] = double(s_in) · double(s_w[c]) / double(s_out)``;
* per-tensor weights: ``M = double(float32(s_in · s_w)) / double(s_out)`` — the product of the two
  float32 scales is rounded to float32 before it is widened.

LiteRT calls weights per-channel when they carry more than one scale; a per-channel
``QuantParams`` with a single channel is therefore derived as per-tensor, as LiteRT does.

Accepted type combinations (LiteRT ``CheckTypes``/``Prepare``):

* int8 ``x`` (any zero point), int8 ``w`` per-tensor (any zero point: LiteRT keeps the weight
  offset of per-tensor weights "for backward compatibility") or per-channel along axis 0 with
  zero point 0, int32 bias, int8 output;
* uint8 ``x``, uint8 ``w`` per-tensor (legacy models; any zero point, ``reference/
  fully_connected.h``), int32 bias, uint8 output. uint8 weights are handed to the kernel as int8
  ``w − 128`` with zero point ``zp − 128`` (the same ``w − zp``). int8 per-tensor weights with
  uint8 inputs are computed by the same formula (LiteRT has no such layer: it reads the weights
  of a uint8 layer as uint8);
* 16x8: int16 ``x`` with zero point 0, int8 ``w`` (per-tensor or per-channel as above), int16
  output with zero point 0, and an int64 bias (or None: LiteRT's default is the int64 path) →
  int64 accumulator, or an int32 bias → int32 accumulator with the profile's rounding.

The bias is an integer array of shape ``(N,)`` whose scale is implicitly ``s_in · s_w[n]`` and zero
point 0 (the int8 spec); pass ``bias_qparams`` to have that checked as LiteRT does
(``|s_in·s_w − s_bias| / s_out <= 0.02``). ``x`` may have leading batch dimensions ``(..., K)``;
the output keeps them, ``(..., N)`` (TFLite's ``keep_num_dims``). A weight matrix with ``K = 0``
gives an all-zero output, as LiteRT's Eval ``memset``s it. Before calling the kernel, the wrapper
proves that no accumulator can overflow (``check_accumulator`` with
``Σ_k |w[n, k] − w_zp|`` per channel) and that no requantized value can leave int32 (where
LiteRT's int32 arithmetic would wrap), or raises ``ValueError`` naming the op and channel.

Note: LiteRT's newest *reference* int8/int16 FC requantizes in double-precision float
(SEMANTICS.md §4.4); the profiles here reproduce the MBQM kernels (LiteRT's optimized kernels,
TFLite Micro, and the reference kernels before 2025).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import fixed_point as _kfp
from ..kernels import gemm as _kgemm
from ..profiles import Profile
from ..qparams import QuantParams
from ._common import (
    INT32_MAX,
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

_INT8, _UINT8, _INT16 = np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)
_INT32, _INT64 = np.dtype(np.int32), np.dtype(np.int64)
# LiteRT's bias-scale check (kernel_util.cc GetQuantizedConvolutionMultipler): the bias scale may
# differ from s_in·s_w by at most this fraction of an output step.
BIAS_SCALE_TOLERANCE = 0.02
# MultiplyByQuantizedMultiplier(int64 x, ...) requires shift < 8 (TFLITE_DCHECK in common.h).
_INT64_MAX_SHIFT = 7


@dataclass(frozen=True)
class LinearParams:
    """The integers ``intq.kernels.gemm.fully_connected`` receives, derived offline.

    ``w_zero_point`` is the zero point of the int8 weights the kernel sees (uint8 weights are
    shifted by −128, so it is then ``zp − 128``). ``multiplier``/``shift`` are int32 arrays of
    length ``units`` (per-tensor values broadcast); ``real_multiplier`` holds the doubles they
    were quantized from; ``rounding`` is the kernel's requantization code; ``act_min``/
    ``act_max`` the clamp bounds after ``+ out_zero_point``.
    """

    x_zero_point: int
    w_zero_point: int
    out_zero_point: int
    multiplier: np.ndarray
    shift: np.ndarray
    rounding: int
    act_min: int
    act_max: int
    real_multiplier: np.ndarray
    per_channel: bool
    int64_accumulator: bool


def _is_per_channel(w_qparams: QuantParams) -> bool:
    """LiteRT's test: per-channel when the weights carry more than one scale."""
    return w_qparams.per_channel and np.asarray(w_qparams.scale).size > 1


def _check_weight_qparams(w_qparams: QuantParams, units: int, x_dtype: np.dtype) -> None:
    if not isinstance(w_qparams, QuantParams):
        raise TypeError(f"w_qparams: expected QuantParams, got {type(w_qparams).__name__}")
    w_dtype = w_qparams.dtype
    if w_dtype not in (_INT8, _UINT8):
        raise TypeError(f"w: linear takes int8 (or legacy uint8) weights, got {w_dtype}")
    if w_dtype == _UINT8 and (x_dtype != _UINT8 or w_qparams.per_channel):
        raise ValueError(
            "w: uint8 weights are the legacy per-tensor quantization and go with uint8 inputs "
            f"only (got {x_dtype} inputs{', per-channel' if w_qparams.per_channel else ''})"
        )
    if not w_qparams.per_channel:
        return
    if w_qparams.axis not in (0, -2):
        raise ValueError(
            f"w_qparams: per-channel weights are quantized along axis 0 (output channels of the "
            f"(N, K) matrix), got axis={w_qparams.axis}"
        )
    count = np.asarray(w_qparams.scale).size
    if count != units:
        raise ValueError(
            f"w_qparams: {count} per-channel scales for {units} output channels (w has shape "
            f"({units}, K))"
        )
    if np.any(np.asarray(w_qparams.zero_point) != 0):
        raise ValueError(
            "w_qparams: per-channel weights must be symmetric (zero_point 0 in every channel; "
            f"LiteRT ignores the weight offset of per-channel FC), got {w_qparams.zero_point}"
        )
    if x_dtype == _UINT8:
        raise ValueError(
            "w_qparams: per-channel weights need int8 or int16 inputs (LiteRT), got uint8 inputs"
        )


def _check_input_qparams(x_qparams: QuantParams) -> None:
    if not isinstance(x_qparams, QuantParams):
        raise TypeError(f"x_qparams: expected QuantParams, got {type(x_qparams).__name__}")
    check_per_tensor(x_qparams, "x")
    if x_qparams.dtype not in (_INT8, _UINT8, _INT16):
        raise TypeError(f"x: linear takes int8, uint8 or int16 inputs, got {x_qparams.dtype}")
    if x_qparams.dtype == _INT16 and x_qparams.zero_point != 0:
        raise ValueError(
            "x_qparams: int16 (16x8) inputs need zero point 0 (symmetric; LiteRT enforces it), "
            f"got {x_qparams.zero_point}"
        )


def _weight_zero_point(w_qparams: QuantParams) -> int:
    """The zero point the int8 kernel weights carry (uint8 → int8: zp − 128)."""
    # Per-channel weights have zero point 0 in every channel (checked).
    zp = 0 if w_qparams.per_channel else int(w_qparams.zero_point)
    return zp - 128 if w_qparams.dtype == _UINT8 else zp


def _real_multipliers(
    x_qparams: QuantParams, w_qparams: QuantParams, out_qparams: QuantParams, units: int
) -> tuple[np.ndarray, bool]:
    s_in = scale32(x_qparams)
    s_out = scale32(out_qparams)
    s_w = np.atleast_1d(np.asarray(scale32(w_qparams), dtype=np.float64))
    if _is_per_channel(w_qparams):
        # fully_connected.cc: static_cast<double>(input_scale) * filter_scale / double(out_scale)
        return s_in * s_w / s_out, True
    # GetQuantizedConvolutionMultipler: static_cast<double>(input->scale * filter->scale), a
    # float32 product, then divided by the output scale in double.
    product = float(np.float32(s_in) * np.float32(s_w[0]))
    return np.full(units, product / s_out, dtype=np.float64), False


def linear_params(
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    *,
    units: int,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    bias_dtype: np.dtype | type | None = None,
) -> LinearParams:
    """Derive the kernel integers of a fully connected layer with ``units`` output channels.

    ``bias_dtype`` (int32, int64 or None for no bias) selects the 16x8 accumulator: int16 inputs
    with an int64 bias or no bias use the int64 accumulator (rounding code INT64_ACCUMULATOR),
    with an int32 bias the int32 one (the profile's rounding). See the module docstring for the
    multiplier precision and the accepted types; raises ``TypeError``/``ValueError`` naming the
    offending argument.
    """
    _check_input_qparams(x_qparams)
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 0:
        raise ValueError(f"units: expected a non-negative int, got {units!r}")
    units = int(units)
    _check_weight_qparams(w_qparams, units, x_qparams.dtype)
    if not isinstance(out_qparams, QuantParams):
        raise TypeError(f"out_qparams: expected QuantParams, got {type(out_qparams).__name__}")
    check_per_tensor(out_qparams, "out")
    if out_qparams.dtype != x_qparams.dtype:
        raise TypeError(
            f"out_qparams: linear outputs the input type {x_qparams.dtype}, but out_qparams "
            f"describe {out_qparams.dtype}"
        )
    if out_qparams.dtype == _INT16 and out_qparams.zero_point != 0:
        raise ValueError(
            "out_qparams: int16 (16x8) outputs need zero point 0 (LiteRT enforces it), "
            f"got {out_qparams.zero_point}"
        )
    bias_dtype = None if bias_dtype is None else np.dtype(bias_dtype)
    if bias_dtype not in (None, _INT32, _INT64):
        raise TypeError(f"bias: expected an int32 (or, for 16x8, int64) array, got {bias_dtype}")
    if bias_dtype == _INT64 and x_qparams.dtype != _INT16:
        raise TypeError(
            f"bias: int64 bias belongs to 16x8 (int16 inputs); {x_qparams.dtype} inputs take int32"
        )
    int64_accumulator = x_qparams.dtype == _INT16 and bias_dtype != _INT32
    real, per_channel = _real_multipliers(x_qparams, w_qparams, out_qparams, units)
    multiplier, shift = channel_multipliers(real, units, profile)
    if int64_accumulator and units and int(shift.max()) > _INT64_MAX_SHIFT:
        c = int(np.argmax(shift))
        raise ValueError(
            f"out_qparams: the 16x8 int64-accumulator requantization of output channel {c} needs "
            f"shift <= {_INT64_MAX_SHIFT} (real multiplier below 2^7), got the real multiplier "
            f"{real[c]!r} (shift {int(shift[c])}); out_qparams.scale is too small"
        )
    act_min, act_max = activation_range(activation, out_qparams)
    return LinearParams(
        x_zero_point=int(x_qparams.zero_point),
        w_zero_point=_weight_zero_point(w_qparams),
        out_zero_point=int(out_qparams.zero_point),
        multiplier=multiplier,
        shift=shift,
        rounding=requantization_code(profile, int64_accumulator),
        act_min=int(act_min),
        act_max=int(act_max),
        real_multiplier=np.asarray(real, dtype=np.float64),
        per_channel=per_channel,
        int64_accumulator=int64_accumulator,
    )


def _check_operands(
    x: object, w: object, x_qparams: QuantParams, w_qparams: QuantParams
) -> tuple[object, np.ndarray]:
    """Validate ``x`` (an array, or a graph tensor whose values come at run time) and the
    weights ``w`` (N, K) against each other and their quantization parameters."""
    _check_input_qparams(x_qparams)
    x = check_layout(x, x_qparams, "x")
    if not isinstance(w_qparams, QuantParams):
        raise TypeError(f"w_qparams: expected QuantParams, got {type(w_qparams).__name__}")
    w = check_quantized(w, w_qparams, "w")
    if w.ndim != 2:
        raise ValueError(f"w: expected a 2-D (N, K) weight matrix, got shape {w.shape}")
    if x.ndim < 1:
        raise ValueError("x: expected an array of shape (..., K), got a 0-d array")
    units, depth = w.shape
    if x.shape[-1] != depth:
        raise ValueError(
            f"w: shape {w.shape} does not match x's last dimension {x.shape[-1]} "
            "(expected w of shape (N, K) for x of shape (..., K))"
        )
    _check_weight_qparams(w_qparams, units, np.dtype(x.dtype))
    return x, w


def _kernel_weights(w: np.ndarray) -> np.ndarray:
    """The int8 weights the kernel reads: uint8 ``w`` shifted by −128 (the same ``w − zp`` with
    zero point ``zp − 128``), C-contiguous."""
    if w.dtype == _UINT8:
        w = (w.astype(np.int16) - 128).astype(np.int8)
    return np.ascontiguousarray(w)


def _prepare_bias(bias: object, units: int, dtypes: tuple[np.dtype, ...]) -> np.ndarray | None:
    """``bias`` as a C-contiguous ``(units,)`` array of one of ``dtypes``, or None."""
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray):
        raise TypeError(f"bias: expected a NumPy integer array or None, got {type(bias).__name__}")
    if bias.dtype not in dtypes:
        raise TypeError(f"bias: expected dtype {' or '.join(map(str, dtypes))}, got {bias.dtype}")
    if bias.shape != (units,):
        raise ValueError(
            f"bias: expected shape ({units},), one value per output channel, got {bias.shape}"
        )
    return np.ascontiguousarray(bias)


def _check_bias_qparams(
    bias: np.ndarray | None,
    bias_qparams: QuantParams,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
) -> None:
    """LiteRT's bias check (``GetQuantizedConvolutionMultipler``): zero point 0 and
    ``|double(s_in)·double(s_w) − double(s_bias)| / double(s_out) <= 0.02``, per channel for
    per-channel weights (LiteRT checks per-tensor layers only)."""
    if bias is None:
        raise ValueError("bias_qparams: given without a bias")
    check_quantized(bias, bias_qparams, "bias")
    if np.any(np.asarray(bias_qparams.zero_point) != 0):
        raise ValueError(f"bias_qparams: zero_point must be 0, got {bias_qparams.zero_point}")
    units = bias.shape[0]
    s_bias = np.asarray(scale32(bias_qparams), dtype=np.float64)
    if s_bias.size not in (1, units):
        raise ValueError(f"bias_qparams: {s_bias.size} scales for {units} output channels")
    product = scale32(x_qparams) * np.asarray(scale32(w_qparams), dtype=np.float64)
    s_bias, product = np.broadcast_arrays(s_bias, product)
    excess = np.abs(product - s_bias) / scale32(out_qparams)
    if np.any(excess > BIAS_SCALE_TOLERANCE):
        c = int(np.argmax(np.atleast_1d(excess)))
        raise ValueError(
            f"bias_qparams: the bias scale must be x scale · w scale (LiteRT allows "
            f"{BIAS_SCALE_TOLERANCE} of an output step); got {float(np.ravel(s_bias)[c])!r} for "
            f"{float(np.ravel(product)[c])!r}{f' at channel {c}' if s_bias.ndim else ''}"
        )


def _weight_abs_sums(w: np.ndarray, w_zero_point: int) -> np.ndarray:
    """``Σ_k |w[n, k] − w_zp|`` per output channel (exact int64)."""
    return np.abs(w.astype(np.int64) - w_zero_point).sum(axis=1)


def _check_requantization_fits(
    sums: np.ndarray, x_qparams: QuantParams, bias: np.ndarray | None, params: LinearParams
) -> None:
    """Prove ``MBQM(acc, M[c], shift[c]) + out_zp`` stays inside int32 for every accumulator the
    layer can produce (``|acc| <= B[c] = max|x − x_zp| · Σ_k |w − w_zp| + |bias[c]|``, the
    bound of ``check_accumulator``), or raise ``ValueError``.

    LiteRT's int32 arithmetic would wrap silently: the double-rounding ``acc · 2^shift`` for
    ``shift > 0``, the cast of the rescaled value to int32, and ``+ output_offset``. The rescaled
    value is at most ``⌈B · M · 2^(shift − 31)⌉ + 1`` (``⌈B · Mr · 2^(shift − 15)⌉ + 1`` with the
    16-bit multiplier ``Mr`` of the int64-accumulator path).
    """
    x_max = max(
        x_qparams.qmax - int(x_qparams.zero_point), int(x_qparams.zero_point) - x_qparams.qmin
    )
    for c, total in enumerate(sums.tolist()):
        bound = total * x_max + (abs(int(bias[c])) if bias is not None else 0)
        multiplier, shift = int(params.multiplier[c]), int(params.shift[c])
        if params.int64_accumulator:
            multiplier = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
            fraction_bits = 15 - shift
        else:
            fraction_bits = 31 - shift
        product = bound * multiplier
        if fraction_bits >= 0:
            scaled = -(-product // (1 << fraction_bits)) + 1
        else:
            scaled = product << -fraction_bits
        left_shift = params.rounding == _kfp.DOUBLE_ROUNDING and bound << max(shift, 0) > INT32_MAX
        if left_shift or scaled + abs(params.out_zero_point) > INT32_MAX:
            raise ValueError(
                f"linear: the accumulator of output channel {c} (up to {bound}) times the "
                f"multiplier {multiplier}·2^({shift} − {fraction_bits + shift}) "
                "leaves int32 in MultiplyByQuantizedMultiplier, where LiteRT's int32 arithmetic "
                "wraps; out_qparams.scale is too small for these input and weight scales"
            )


def linear_layer_params(
    x: object,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    bias_qparams: QuantParams | None = None,
) -> LinearParams:
    """Validate a whole fully connected layer and derive its kernel integers (``linear_params``).

    Beyond ``linear_params`` this checks ``x`` (an array, or a graph tensor: dtype and last
    dimension only) against the weights ``w`` (N, K) and ``bias``, the bias scale if
    ``bias_qparams`` is given, and proves from the constant weights that no accumulator can
    overflow and no requantized value can leave int32 (``ValueError`` otherwise).
    """
    x, w = _check_operands(x, w, x_qparams, w_qparams)
    units = w.shape[0]
    bias = _prepare_bias(bias, units, (_INT32, _INT64) if x.dtype == _INT16 else (_INT32,))
    params = linear_params(
        x_qparams, w_qparams, out_qparams, units=units, activation=activation, profile=profile,
        bias_dtype=None if bias is None else bias.dtype,
    )  # fmt: skip
    if bias_qparams is not None:
        _check_bias_qparams(bias, bias_qparams, x_qparams, w_qparams, out_qparams)
    sums = _weight_abs_sums(_kernel_weights(w), params.w_zero_point)
    check_accumulator("linear", sums, x_qparams, bias, int64_accumulator=params.int64_accumulator)
    _check_requantization_fits(sums, x_qparams, bias, params)
    return params


def run_linear(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, params: LinearParams,
    out_dtype: np.dtype,
) -> np.ndarray:  # fmt: skip
    """The integer half of ``linear``: run ``intq.kernels.gemm.fully_connected`` on validated
    operands with the precomputed ``params``; ``x`` (..., K) → ``(..., N)`` of ``out_dtype``."""
    w8 = _kernel_weights(w)
    units, depth = w8.shape
    out_shape = (*x.shape[:-1], units)
    if depth == 0:
        # LiteRT Eval: "if (filter->dims->data[1] == 0) memset(output->data.data, 0, ...)".
        return np.zeros(out_shape, dtype=out_dtype)
    if bias is None:
        bias = np.zeros(units, dtype=np.int64 if params.int64_accumulator else np.int32)
    x2 = np.ascontiguousarray(x.reshape(-1, depth))
    out = np.empty((x2.shape[0], units), dtype=out_dtype)
    i64 = np.int64
    _kgemm.fully_connected(
        x2, i64(params.x_zero_point), w8, i64(params.w_zero_point), np.ascontiguousarray(bias),
        params.multiplier, params.shift, i64(params.rounding), i64(params.out_zero_point),
        i64(params.act_min), i64(params.act_max), out,
    )  # fmt: skip
    return out.reshape(out_shape)


def linear(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    bias_qparams: QuantParams | None = None,
) -> np.ndarray:
    """Quantized FULLY_CONNECTED: ``x`` (..., K) times ``w`` (N, K) transposed, plus ``bias``.

    ``out[..., n] = clamp(MBQM(Σ_k (w[n, k] − w_zp)(x[..., k] − x_zp) + bias[n], M[n], shift[n])
    + out_zp, act_min, act_max)`` in ``out_qparams.dtype`` (the input's), bit for bit as LiteRT's
    FC kernels with the profile's requantization; ``activation`` is the fused activation
    (``None``, ``"relu"``, ``"relu6"``, ``"relu_n1_to_1"``). See the module docstring for the
    multiplier precision (float32 product for per-tensor weights, double for per-channel), the
    accepted types and the bias. Raises ``ValueError`` if an accumulator could overflow.
    """
    _check_input_qparams(x_qparams)
    x = check_quantized(x, x_qparams, "x")
    params = linear_layer_params(
        x, w, bias, x_qparams=x_qparams, w_qparams=w_qparams, out_qparams=out_qparams,
        activation=activation, profile=profile, bias_qparams=bias_qparams,
    )  # fmt: skip
    return run_linear(x, w, bias, params, out_qparams.dtype)


def linear_accumulate(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    x_qparams: QuantParams,
    w_qparams: QuantParams,
) -> np.ndarray:
    """The raw int32 accumulator of a quantized fully connected layer, before requantization.

    ``acc[..., n] = Σ_k (w[n, k] − w_zp)(x[..., k] − x_zp) + bias[n]`` as an int32 array of shape
    ``(..., N)``; its real value is ``acc · s_in · s_w[n]`` (eq. (4) before the multiplier). Same
    inputs as ``linear`` (int8/uint8/int16 ``x``, int32 ``bias`` or None); raises ``ValueError``
    when the int32 accumulator could overflow.
    """
    _check_input_qparams(x_qparams)
    x, w = _check_operands(check_quantized(x, x_qparams, "x"), w, x_qparams, w_qparams)
    w8 = _kernel_weights(w)
    units, depth = w8.shape
    bias = _prepare_bias(bias, units, (_INT32,))
    w_zero_point = _weight_zero_point(w_qparams)
    check_accumulator("linear", _weight_abs_sums(w8, w_zero_point), x_qparams, bias)
    if bias is None:
        bias = np.zeros(units, dtype=np.int32)
    x2 = np.ascontiguousarray(x.reshape(-1, depth))
    out = np.empty((x2.shape[0], units), dtype=np.int32)
    _kgemm.fully_connected_int32(
        x2, np.int64(x_qparams.zero_point), w8, np.int64(w_zero_point), bias, out
    )
    return out.reshape((*x.shape[:-1], units))


__all__ = [
    "BIAS_SCALE_TOLERANCE",
    "LinearParams",
    "linear",
    "linear_accumulate",
    "linear_layer_params",
    "linear_params",
    "run_linear",
]
