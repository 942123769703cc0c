"""What every quantized op does before calling its kernel: validate, then derive integers offline.

Scales enter every derivation as float32 values widened to double, because that is what a
.tflite file stores and what LiteRT computes with (SEMANTICS.md §1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..kernels import fixed_point as _kfp
from ..profiles import Profile, get_profile
from ..qparams import QuantParams
from ..rounding import round_half_away_from_zero

Activation = Literal["relu", "relu6", "relu_n1_to_1"] | None
ACTIVATIONS: tuple[str | None, ...] = (None, "relu", "relu6", "relu_n1_to_1")

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def scale32(qparams: QuantParams) -> float | np.ndarray:
    """The scale(s) of ``qparams`` rounded to float32 and widened back to double."""
    scale = np.asarray(qparams.scale, dtype=np.float32).astype(np.float64)
    return float(scale) if scale.ndim == 0 else scale


def check_quantized(x: object, qparams: QuantParams, name: str) -> np.ndarray:
    """``x`` as an array, after checking it is an integer array of ``qparams.dtype`` whose values
    lie on the grid ``[qmin, qmax]``; ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if not isinstance(qparams, QuantParams):
        raise TypeError(f"{name}_qparams: expected QuantParams, got {type(qparams).__name__}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy integer array, got {type(x).__name__}")
    if x.dtype != qparams.dtype:
        raise TypeError(
            f"{name}: dtype {x.dtype} does not match its quantization parameters "
            f"({qparams.bits}-bit {'signed' if qparams.signed else 'unsigned'}: {qparams.dtype})"
        )
    info = np.iinfo(x.dtype)
    if x.size and (qparams.qmin > info.min or qparams.qmax < info.max):
        lo, hi = int(x.min()), int(x.max())
        if lo < qparams.qmin or hi > qparams.qmax:
            raise ValueError(
                f"{name}: values span [{lo}, {hi}], outside the grid "
                f"[{qparams.qmin}, {qparams.qmax}]"
            )
    return x


def check_layout(x: object, qparams: QuantParams, name: str) -> object:
    """Check a non-constant operand while deriving parameters: an array is checked as by
    ``check_quantized``; anything else with ``shape``, ``ndim`` and ``dtype`` (a graph
    ``Tensor``, whose values exist only at run time) must have ``qparams.dtype``."""
    if isinstance(x, np.ndarray):
        return check_quantized(x, qparams, name)
    if not isinstance(qparams, QuantParams):
        raise TypeError(f"{name}_qparams: expected QuantParams, got {type(qparams).__name__}")
    if not all(hasattr(x, a) for a in ("shape", "ndim", "dtype")):
        raise TypeError(f"{name}: expected a NumPy integer array, got {type(x).__name__}")
    if np.dtype(x.dtype) != qparams.dtype:
        raise TypeError(
            f"{name}: dtype {x.dtype} does not match its quantization parameters "
            f"({qparams.bits}-bit {'signed' if qparams.signed else 'unsigned'}: {qparams.dtype})"
        )
    return x


def check_per_tensor(qparams: QuantParams, name: str) -> None:
    """``ValueError`` unless ``qparams`` is per-tensor (activations are, in the int8 spec)."""
    if qparams.per_channel:
        raise ValueError(f"{name}_qparams: must be per-tensor (axis=None), got axis={qparams.axis}")


def activation_range(activation: Activation, qparams: QuantParams) -> tuple[int, int]:
    """Clamp bounds ``(act_min, act_max)`` of a fused activation, applied after ``+ zero_point``.

    LiteRT ``CalculateActivationRangeQuantized`` (SEMANTICS.md §4.1): a real bound ``f`` maps to
    ``zero_point + round_half_away_from_zero(float32(f) / float32(scale))`` computed in float32;
    ``None`` → ``[qmin, qmax]``; ``"relu"`` → ``[max(qmin, q(0)), qmax]``; ``"relu6"`` →
    ``[max(qmin, q(0)), min(qmax, q(6))]``; ``"relu_n1_to_1"`` → ``[max(qmin, q(−1)),
    min(qmax, q(1))]``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
    check_per_tensor(qparams, "out")
    qmin, qmax = qparams.qmin, qparams.qmax
    scale = np.float32(qparams.scale)

    def q(f: float) -> int:
        return qparams.zero_point + int(round_half_away_from_zero(np.float32(f) / scale))

    if activation == "relu":
        return max(qmin, q(0.0)), qmax
    if activation == "relu6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "relu_n1_to_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    return qmin, qmax


def requantization_code(profile: str | Profile, int64_accumulator: bool = False) -> int:
    """The integer code a kernel receives for its requantization: the profile's rounding, or
    ``INT64_ACCUMULATOR`` for 16x8 kernels with int64 bias (the same in every TFLite build)."""
    if int64_accumulator:
        return _kfp.INT64_ACCUMULATOR
    return get_profile(profile).rounding_code


def channel_multipliers(
    real: float | np.ndarray, channels: int, profile: str | Profile
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(multiplier, shift)`` int32 arrays of length ``channels`` for the real
    multiplier(s) ``real`` (a scalar is broadcast), as the profile derives them."""
    real = np.broadcast_to(np.asarray(real, dtype=np.float64), (channels,))
    multiplier, shift = get_profile(profile).quantize_multiplier(np.ascontiguousarray(real))
    return np.ascontiguousarray(multiplier, np.int32), np.ascontiguousarray(shift, np.int32)


def check_accumulator(
    op: str,
    weight_abs_sums: np.ndarray,
    input_qparams: QuantParams,
    bias: np.ndarray | None,
    *,
    int64_accumulator: bool = False,
) -> None:
    """Prove the accumulator of every output channel cannot overflow, or raise ``ValueError``.

    For channel ``c``: ``|acc_c| <= max|q_in − zp_in| · Σ_k |w_ck − zp_w| + |bias_c|``, where
    ``weight_abs_sums[c] = Σ_k |w_ck − zp_w|`` (weights are constants, so the bound is exact for
    them) and the input term takes the worst value of the input grid. The bound must stay within
    int32 (or, for int64 accumulators, within the ±2^47 domain of their requantization).
    """
    zp = int(np.asarray(input_qparams.zero_point).max())
    x_max = max(input_qparams.qmax - zp, zp - input_qparams.qmin)
    sums = np.asarray(weight_abs_sums, dtype=object)
    bound = sums * x_max
    if bias is not None:
        bound = bound + np.abs(np.asarray(bias).astype(object))
    limit = 2**47 - 1 if int64_accumulator else INT32_MAX
    over = [c for c, b in enumerate(bound) if b > limit]
    if over:
        c = over[0]
        raise ValueError(
            f"{op}: the {'int64' if int64_accumulator else 'int32'} accumulator of output channel "
            f"{c} can reach {int(bound[c])} (max |input - zero_point| {x_max} times "
            f"sum |weights| {int(sums[c])} plus |bias|), beyond {limit}; "
            "quantize with fewer bits or a smaller kernel"
        )
