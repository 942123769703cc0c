"""Quantized pooling: ``avg_pool2d`` and ``max_pool2d`` over NHWC tensors (SEMANTICS.md §4.5).

Both reproduce LiteRT's reference kernels (``reference/integer_ops/pooling.h`` for int8 and
int16, ``reference/pooling.h`` for uint8) bit for bit. They rescale nothing: the int8
quantization spec gives the output the input's scale and zero point (SEMANTICS.md §3), so no
multiplier is derived and the arithmetic is the same in every profile. What the wrapper derives
offline is the geometry (padding, output size, ``PoolParams``) and the clamp bounds of the fused
activation. Checked bit for bit against LiteRT 2.3's reference kernels (``BUILTIN_REF``) for
int8, uint8 and int16, SAME and VALID padding, all fused activations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..kernels import pool as _kpool
from ..profiles import Profile, get_profile
from ..qparams import QuantParams
from ._common import INT32_MAX, Activation, activation_range, check_per_tensor, check_quantized
from ._geometry import Padding, int_pair, window_geometry

_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


@dataclass(frozen=True)
class PoolParams:
    """The integers a pooling kernel receives, derived offline.

    ``pad_top``/``pad_left`` are what the kernel reads; ``pad_bottom``/``pad_right`` complete the
    picture (SAME puts the odd padding element at the bottom/right, as LiteRT's
    ``ComputePaddingHeightWidth``). ``act_min``/``act_max`` are the clamp bounds after the fused
    activation (LiteRT ``CalculateActivationRangeQuantized``).
    """

    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    out_h: int
    out_w: int
    act_min: int
    act_max: int


def _check_windows(in_size: int, filter_size: int, stride: int, pad: int, out_size: int, axis):
    """LiteRT's AveragePool returns an error when a window holds no input element; refuse such a
    geometry up front (it can only arise from explicit padding at least as wide as the window)."""
    for o in range(out_size):
        origin = o * stride - pad
        if min(filter_size, in_size - origin) <= max(0, -origin):
            raise ValueError(
                f"padding: the window of output {axis} {o} lies entirely in the padding "
                "(no input element to pool; TFLite rejects this)"
            )


def pool_params(
    input_shape: Sequence[int],
    x_qparams: QuantParams,
    *,
    filter_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: Padding = "valid",
    activation: Activation = None,
    average: bool = False,
) -> PoolParams:
    """Derive the pooling geometry and clamp bounds for an NHWC input of ``input_shape``.

    ``filter_size`` and ``stride`` are an int or ``(h, w)``; ``stride=None`` means the filter size.
    ``padding`` is ``"valid"``, ``"same"`` (TF/LiteRT: ``out = ceil(in/stride)``, total padding
    ``max((out − 1)·stride + filter − in, 0)``, ``top = total // 2``) or explicit
    ``((top, bottom), (left, right))`` (``out = (in + top + bottom − filter) // stride + 1``).
    Raises ``ValueError`` when the window does not fit or a window lies wholly in the padding,
    and, for an average pool (``average=True``), when a window's int32 sum could overflow.
    """
    if len(input_shape) != 4:
        raise ValueError(f"x: expected a 4-D NHWC tensor, got shape {tuple(input_shape)}")
    _, in_h, in_w, _ = (int(v) for v in input_shape)
    filter_h, filter_w = int_pair(filter_size, "filter_size")
    stride = (filter_h, filter_w) if stride is None else stride
    stride_h, stride_w, _, _, top, bottom, left, right, out_h, out_w = window_geometry(
        tuple(input_shape), (filter_h, filter_w), stride, 1, padding
    )
    _check_windows(in_h, filter_h, stride_h, top, out_h, "row")
    _check_windows(in_w, filter_w, stride_w, left, out_w, "column")
    largest = max(abs(x_qparams.qmin), abs(x_qparams.qmax))
    if average and filter_h * filter_w * largest > INT32_MAX:
        raise ValueError(
            f"filter_size: a {filter_h}x{filter_w} window of values up to {largest} can "
            "overflow LiteRT's int32 sum"
        )
    act_min, act_max = activation_range(activation, x_qparams)
    return PoolParams(
        filter_h, filter_w, stride_h, stride_w, top, bottom, left, right, out_h, out_w,
        act_min, act_max,
    )  # fmt: skip


def _validate(
    op: str, x: object, x_qparams: QuantParams, out_qparams: QuantParams | None, profile
) -> np.ndarray:
    x = check_quantized(x, x_qparams, "x")
    check_per_tensor(x_qparams, "x")
    get_profile(profile)  # validated for uniformity; pooling rescales nothing
    if x.dtype not in _DTYPES:
        raise TypeError(f"x: {op} supports int8, uint8 and int16 inputs, got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"x: expected a 4-D NHWC tensor, got shape {x.shape}")
    if out_qparams is not None and out_qparams != x_qparams:
        raise ValueError(
            f"out_qparams: {op} keeps the input's quantization (int8 spec: same scale and zero "
            f"point in and out); got {out_qparams!r} for input {x_qparams!r}"
        )
    return x


def avg_pool2d(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    filter_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: Padding = "valid",
    activation: Activation = None,
    out_qparams: QuantParams | None = None,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized AVERAGE_POOL_2D of an NHWC int8/uint8/int16 tensor (LiteRT reference kernels).

    For each output element, over the window clipped to the image (padding is not counted):
    ``acc = Σ q`` (raw values, no zero point subtracted), ``count`` = number of valid taps,
    ``avg = (acc + count/2) / count`` if ``acc > 0`` else ``(acc − count/2) / count`` with C's
    truncating division (round half away from zero in the raw values), then the clamp of the
    fused ``activation``. No zero point enters because the output shares the input's: the mean of
    ``q`` is ``zp`` plus the mean of ``q − zp`` (ties round away from the raw zero, not from
    ``zp``, exactly as LiteRT). The output keeps ``x_qparams``; a different ``out_qparams`` raises
    ``ValueError``. See ``pool_params`` for the geometry.
    """
    x = _validate("avg_pool2d", x, x_qparams, out_qparams, profile)
    params = pool_params(
        x.shape, x_qparams, filter_size=filter_size, stride=stride, padding=padding,
        activation=activation, average=True,
    )  # fmt: skip
    return run_avg_pool2d(x, params)


def max_pool2d(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    filter_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: Padding = "valid",
    activation: Activation = None,
    out_qparams: QuantParams | None = None,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized MAX_POOL_2D of an NHWC int8/uint8/int16 tensor (LiteRT reference kernels).

    The largest raw value in the window clipped to the image, then the clamp of the fused
    ``activation``. The output keeps ``x_qparams`` (a different ``out_qparams`` raises
    ``ValueError``); see ``pool_params`` for the geometry.
    """
    x = _validate("max_pool2d", x, x_qparams, out_qparams, profile)
    params = pool_params(
        x.shape, x_qparams, filter_size=filter_size, stride=stride, padding=padding,
        activation=activation,
    )  # fmt: skip
    return run_max_pool2d(x, params)


def run_avg_pool2d(x: np.ndarray, params: PoolParams) -> np.ndarray:
    """The integer half of ``avg_pool2d``: ``intq.kernels.pool.avg_pool2d`` with ``params``."""
    return _run(_kpool.avg_pool2d, x, params)


def run_max_pool2d(x: np.ndarray, params: PoolParams) -> np.ndarray:
    """The integer half of ``max_pool2d``: ``intq.kernels.pool.max_pool2d`` with ``params``."""
    return _run(_kpool.max_pool2d, x, params)


def _run(kernel, x: np.ndarray, p: PoolParams) -> np.ndarray:
    x = np.ascontiguousarray(x)
    out = np.empty((x.shape[0], p.out_h, p.out_w, x.shape[3]), dtype=x.dtype)
    i64 = np.int64
    kernel(
        x, i64(p.filter_h), i64(p.filter_w), i64(p.stride_h), i64(p.stride_w), i64(p.pad_top),
        i64(p.pad_left), i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out
