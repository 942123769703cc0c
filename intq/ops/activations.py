"""Quantized activations: logistic, tanh, softmax and hard-swish (SEMANTICS.md §3, §4.12, §4.13).

Each op validates its arguments, derives its integer parameters offline (a 256-entry table built
in float32, or fixed-point multipliers and shifts) and runs a kernel of
``intq.kernels.activations`` that sees integers only. The ``*_params`` functions return the
derived integers so they can be printed, stored in a model, or fed to the oracles of
``intq.reference.int_oracle.activations``.

Engines differ here (SEMANTICS.md §8, fact 9): LiteRT computes int8/uint8 LOGISTIC and TANH from a
table it builds in float32 at prepare time; TFLite Micro and CMSIS-NN use gemmlowp's fixed-point
``logistic``/``tanh``. ``method="table"|"fixed_point"`` chooses, and by default the profile's
``logistic_tanh`` field does ("table" for the built-in "tflite" profiles). The two methods differ
by one output step on a part of the 256 inputs (``tests/test_activations.py`` pins how many for a
few scales). Softmax and hard-swish are the LiteRT reference kernels in every profile.

Output quantization is fixed by the int8 spec (SEMANTICS.md §3): logistic and softmax
(1/256, −128) (uint8: (1/256, 0)), tanh (1/128, 0) (uint8: (1/128, 128)), int8 → int16 softmax
(1/65536, −32768). ``out_qparams=None`` selects them; anything else is rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..kernels import activations as _k
from ..profiles import Profile, get_profile
from ..qparams import QuantParams
from ..rounding import round_half_away_from_zero
from ._common import check_per_tensor, check_quantized, scale32

Method = Literal["table", "fixed_point"]
METHODS: tuple[str, ...] = ("table", "fixed_point")

_INT32_MAX = 2**31 - 1
_F32 = np.float32


@dataclass(frozen=True, eq=False)
class ActivationTable:
    """A 256-entry lookup table: ``out = table[x − x_qmin]`` (LiteRT's LOGISTIC/TANH, int8/uint8).

    ``uncertain`` lists the input values whose entry would change if the C library's ``expf``
    (logistic) or ``tanhf`` (tanh) returned a float32 up to two ulps away from the correctly
    rounded value intq assumes: those entries may differ between LiteRT builds on different C
    libraries (glibc 2.36's ``tanhf`` is off by up to two ulps, its ``expf`` by one).
    """

    table: np.ndarray
    x_qmin: int
    out_qparams: QuantParams
    uncertain: tuple[int, ...]


@dataclass(frozen=True)
class FixedPointActivationParams:
    """TFLite Micro's int8 logistic/tanh parameters (``logistic_common.cc``, ``tanh_common.cc``).

    ``input_multiplier · 2^(input_left_shift − 31)`` is ``s_in · 2^27`` (the input rescaled to
    Q4.27); inputs with ``|x − x_zero_point| >= input_range_radius`` saturate the output.
    """

    x_zero_point: int
    input_range_radius: int
    input_multiplier: int
    input_left_shift: int
    out_qparams: QuantParams


@dataclass(frozen=True)
class SoftmaxParams:
    """LiteRT's quantized softmax parameters (PreprocessSoftmaxScaling, CalculateInputRadius).

    ``input_beta_multiplier · 2^(input_beta_left_shift − 31)`` is ``β · s_in · 2^26`` (differences
    rescaled to Q5.26), capped at ``real_cap``; differences below ``diff_min`` give the output's
    minimum. ``real_multiplier`` is the uncapped ``β · s_in · 2^26``.
    """

    input_beta_multiplier: int
    input_beta_left_shift: int
    diff_min: int
    real_multiplier: float
    real_cap: float
    out_qparams: QuantParams

    @property
    def capped(self) -> bool:
        """True when ``β · s_in · 2^26`` exceeded the cap (LiteRT then uses the cap)."""
        return self.real_multiplier > self.real_cap


@dataclass(frozen=True)
class HardSwishParams:
    """LiteRT's ``HardSwishParams`` as ``HardSwishPrepare`` fills them (``activations.cc``)."""

    x_zero_point: int
    out_zero_point: int
    reluish_multiplier_fixedpoint_int16: int
    reluish_multiplier_exponent: int
    output_multiplier_fixedpoint_int16: int
    output_multiplier_exponent: int
    out_qparams: QuantParams


# ---- validation --------------------------------------------------------------------------------


def _check_8bit_input(x_qparams: QuantParams, op: str) -> None:
    if not isinstance(x_qparams, QuantParams):
        raise TypeError(f"x_qparams: expected QuantParams, got {type(x_qparams).__name__}")
    check_per_tensor(x_qparams, "x")
    if x_qparams.bits != 8:
        raise ValueError(
            f"x_qparams: {op} takes 8-bit inputs (int8 or uint8), got a {x_qparams.bits}-bit grid"
        )


def _fixed_output(
    op: str, out_qparams: QuantParams | None, scale: float, zero_point: int, bits: int, signed: bool
) -> QuantParams:
    # The int8 spec fixes these outputs; a given out_qparams must be exactly that.
    expected = QuantParams(scale, zero_point, bits=bits, signed=signed)
    if out_qparams is None:
        return expected
    if not isinstance(out_qparams, QuantParams):
        raise TypeError(f"out_qparams: expected QuantParams, got {type(out_qparams).__name__}")
    check_per_tensor(out_qparams, "out")
    same = (
        out_qparams.bits == bits
        and out_qparams.signed == signed
        and not out_qparams.narrow_range
        and _F32(out_qparams.scale) == _F32(scale)
        and out_qparams.zero_point == zero_point
    )
    if not same:
        raise ValueError(
            f"out_qparams: the {op} output is fixed by the quantization spec to a "
            f"{bits}-bit {'signed' if signed else 'unsigned'} grid with scale {scale!r} and "
            f"zero point {zero_point}; got {out_qparams!r} (pass out_qparams=None)"
        )
    return expected


def _method(method: str | None, profile: str | Profile) -> str:
    chosen = get_profile(profile).logistic_tanh if method is None else method
    if chosen not in METHODS:
        raise ValueError(f"method: expected one of {METHODS} or None, got {method!r}")
    return chosen


# ---- logistic and tanh ------------------------------------------------------------------------


def _expf(x: np.ndarray) -> np.ndarray:
    # C's expf(float), emulated as the correctly rounded float32 of the double exp; see
    # build_lookup_table for why this rather than NumPy's float32 np.exp.
    with np.errstate(over="ignore"):
        return np.exp(x.astype(np.float64)).astype(_F32)


def _tanhf(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(_F32)


def build_lookup_table(
    function: Literal["logistic", "tanh"], x_qparams: QuantParams, out_qparams: QuantParams
) -> ActivationTable:
    """The 256-entry table of LiteRT's ``LUTPopulate<T>`` (``tflite/kernels/internal/common.h``,
    ``LUTPopulateInt8``) for int8/uint8 LOGISTIC or TANH, computed in float32 as LiteRT does:

    for every ``v`` of the input type: ``d = float(s_in) · float(v − zp_in)`` (a float32
    product); ``y = 1.0f / (1.0f + expf(−d))`` (logistic) or ``y = tanhf(d)``;
    ``q = int32(roundf(y · inverse_scale) + zp_out)`` with ``inverse_scale = 1.0f / s_out`` —
    LiteRT **multiplies by the float32 reciprocal** of the output scale (exactly 256 or 128 here)
    and rounds with ``std::round`` on float (``TfLiteRound``): half away from zero; then
    ``clamp(q, qmin, qmax)``.

    Every float32 operation is IEEE-exact in NumPy except the C library's ``expf``/``tanhf``,
    which are not specified to the bit. intq assumes the correctly rounded float32 value
    (double ``exp``/``tanh`` rounded to float32). Measured on glibc 2.36 (x86-64) over 154,000
    arguments ``s·k``: its ``expf`` agrees on all but 0.06% of them and its ``tanhf`` differs by
    one ulp on 18%, while NumPy's own float32 ``np.exp``/``np.tanh`` (SIMD, CPU-dependent) differ
    from glibc on 39% and 29%; in 3,000 random tables that changed 0 logistic and 1 tanh entry.
    A difference of an ulp or two flips an entry only when ``y · inverse_scale`` lies that close
    to a rounding tie; those inputs are listed in ``ActivationTable.uncertain`` (the table is
    monotone in the transcendental's value, so perturbing it by ±2 ulps finds them all).
    """
    if function not in ("logistic", "tanh"):
        raise ValueError(f"function: expected 'logistic' or 'tanh', got {function!r}")
    info = np.iinfo(x_qparams.dtype)  # std::numeric_limits<T> of the input type
    values = np.arange(int(info.min), int(info.max) + 1, dtype=np.int64)
    input_scale = _F32(x_qparams.scale)
    inverse_scale = _F32(1) / _F32(out_qparams.scale)
    dequantized = input_scale * (values - x_qparams.zero_point).astype(_F32)

    def finish(transcendental: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            y = _F32(1) / (_F32(1) + transcendental) if function == "logistic" else transcendental
            rescaled = round_half_away_from_zero((y * inverse_scale).astype(_F32))
            quantized = (rescaled + _F32(out_qparams.zero_point)).astype(np.int64)
        return np.clip(quantized, int(info.min), int(info.max))

    t = _expf(-dequantized) if function == "logistic" else _tanhf(dequantized)
    table = finish(t)
    down, up = _F32(-np.inf), _F32(np.inf)
    lower = finish(np.nextafter(np.nextafter(t, down), down))
    upper = finish(np.nextafter(np.nextafter(t, up), up))
    uncertain = tuple(int(v) for v in values[(lower != table) | (upper != table)])
    return ActivationTable(
        table=table.astype(out_qparams.dtype),
        x_qmin=int(info.min),
        out_qparams=out_qparams,
        uncertain=uncertain,
    )


def fixed_point_params(
    x_qparams: QuantParams, out_qparams: QuantParams
) -> FixedPointActivationParams:
    """TFLite Micro's ``CalculateArithmeticOpDataLogistic`` / ``CalculateArithmeticOpDataTanh``
    (int8, identical for both functions), in double:

    * ``(q, input_left_shift) = frexp(double(s_in) · 2^27)`` (kInputIntegerBits = 4) and
      ``input_multiplier = round_half_away(q · 2^31)`` — exact, since a float32 scale has 24
      significant bits (TFLite Micro does not call QuantizeMultiplier here, so no profile cap
      applies);
    * ``input_range_radius = CalculateInputRadius(4, input_left_shift, 31)
      = floor(15 · 2^27 / 2^input_left_shift)``.

    ``ValueError`` for ``s_in < 2^−28`` (``input_left_shift < 0``): the radius would exceed int32
    and TFLite Micro's conversion of it is undefined. For ``s_in >= 8`` the shift is at least 31
    and the radius 0: every input saturates, including ``x == x_zero_point`` (logistic → 0.0,
    tanh → −1.0), as TFLite Micro computes.
    """
    real = scale32(x_qparams) * float(1 << 27)
    q, input_left_shift = math.frexp(real)
    input_multiplier = int(round_half_away_from_zero(np.float64(q * 2.0**31)))
    if input_left_shift < 0:
        raise ValueError(
            f"x_qparams: scale {x_qparams.scale!r} is below 2^-28; TFLite Micro's fixed-point "
            "logistic/tanh input radius would overflow int32 (use method='table')"
        )
    radius = (15 << 27) >> input_left_shift if input_left_shift < 63 else 0
    return FixedPointActivationParams(
        x_zero_point=int(x_qparams.zero_point),
        input_range_radius=radius,
        input_multiplier=input_multiplier,
        input_left_shift=input_left_shift,
        out_qparams=out_qparams,
    )


def _unary_params(
    function: Literal["logistic", "tanh"],
    x_qparams: QuantParams,
    out_qparams: QuantParams | None,
    profile: str | Profile,
    method: str | None,
) -> ActivationTable | FixedPointActivationParams:
    _check_8bit_input(x_qparams, function)
    chosen = _method(method, profile)
    signed = x_qparams.signed
    if function == "logistic":
        out = _fixed_output(function, out_qparams, 1 / 256, -128 if signed else 0, 8, signed)
    else:
        out = _fixed_output(function, out_qparams, 1 / 128, 0 if signed else 128, 8, signed)
    if chosen == "table":
        return build_lookup_table(function, x_qparams, out)
    if not signed:
        raise ValueError(
            f"method: TFLite Micro's fixed-point {function} takes int8 only; "
            "use method='table' for uint8"
        )
    return fixed_point_params(x_qparams, out)


def logistic_params(
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    *,
    profile: str | Profile = "tflite",
    method: Method | None = None,
) -> ActivationTable | FixedPointActivationParams:
    """The integer parameters ``logistic`` derives: its table or its fixed-point parameters."""
    return _unary_params("logistic", x_qparams, out_qparams, profile, method)


def tanh_params(
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    *,
    profile: str | Profile = "tflite",
    method: Method | None = None,
) -> ActivationTable | FixedPointActivationParams:
    """The integer parameters ``tanh`` derives: its table or its fixed-point parameters."""
    return _unary_params("tanh", x_qparams, out_qparams, profile, method)


def _run_unary(
    x: np.ndarray, params: ActivationTable | FixedPointActivationParams, fixed_kernel
) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype=params.out_qparams.dtype)
    if isinstance(params, ActivationTable):
        _k.lookup_table(flat, params.table, out)
    else:
        fixed_kernel(
            flat,
            np.int64(params.x_zero_point),
            np.int64(params.input_range_radius),
            np.int64(params.input_multiplier),
            # Shifts above 31 come with radius 0: the kernel never multiplies then.
            np.int64(min(params.input_left_shift, 31)),
            out,
        )
    return out.reshape(x.shape)


def run_logistic(x: np.ndarray, params: ActivationTable | FixedPointActivationParams) -> np.ndarray:
    """The integer half of ``logistic``: a table gather or the fixed-point kernel."""
    return _run_unary(x, params, _k.logistic)


def run_tanh(x: np.ndarray, params: ActivationTable | FixedPointActivationParams) -> np.ndarray:
    """The integer half of ``tanh``: a table gather or the fixed-point kernel."""
    return _run_unary(x, params, _k.tanh)


def logistic(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    profile: str | Profile = "tflite",
    method: Method | None = None,
) -> np.ndarray:
    """Quantized logistic ``1 / (1 + exp(−x))`` of an int8/uint8 array (any shape and layout).

    ``method="table"`` (LiteRT): ``build_lookup_table`` then a gather; ``"fixed_point"`` (TFLite
    Micro, int8 only): ``fixed_point_params`` then ``intq.kernels.activations.logistic``
    (gemmlowp's fixed-point logistic on a Q4.27 input); ``None`` takes the profile's
    ``logistic_tanh``. The output is (1/256, −128) for int8, (1/256, 0) for uint8.
    """
    x = check_quantized(x, x_qparams, "x")
    params = logistic_params(x_qparams, out_qparams, profile=profile, method=method)
    return run_logistic(x, params)


def tanh(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    profile: str | Profile = "tflite",
    method: Method | None = None,
) -> np.ndarray:
    """Quantized ``tanh`` of an int8/uint8 array, by table (LiteRT) or gemmlowp fixed point
    (TFLite Micro, int8 only), as ``logistic``. The output is (1/128, 0) for int8, (1/128, 128)
    for uint8."""
    x = check_quantized(x, x_qparams, "x")
    params = tanh_params(x_qparams, out_qparams, profile=profile, method=method)
    return run_tanh(x, params)


# ---- softmax ----------------------------------------------------------------------------------


def softmax_params(
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    *,
    beta: float = 1.0,
    profile: str | Profile = "tflite",
) -> SoftmaxParams:
    """LiteRT's ``PreprocessSoftmaxScaling`` and ``CalculateInputRadius``
    (``tflite/kernels/internal/quantization_util.cc``), kScaledDiffIntegerBits = 5, in double:

    * ``real = min(double(float(β)) · double(s_in) · 2^26, cap)`` with ``cap = 2^31 − 1`` (or
      ``2^30 − 1`` in a TFLITE_SINGLE_ROUNDING build, profile "tflite-single-rounding"). LiteRT
      caps rather than fails: with the cap, ``diff_min`` is 0 and only the row maxima count;
    * ``(input_beta_multiplier, input_beta_left_shift) = QuantizeMultiplierGreaterThanOne(real)``
      (the profile's ``quantize_multiplier``);
    * ``diff_min = −floor(31 · 2^26 / 2^input_beta_left_shift)``.

    β is a float32 in the .tflite file and is rounded to float32 first. The output
    quantization must be exactly the spec's (LiteRT's prepare tolerates a scale within 0.1% of
    1/256 for int8; TFLite Micro requires it exactly); the kernel never reads it.
    ``ValueError`` when ``real <= 1`` (a tiny input scale or β): there LiteRT's
    ``QuantizeMultiplierGreaterThanOne`` fails its ``TFLITE_CHECK_GT(double_multiplier, 1.)`` and
    aborts the process at prepare time.
    """
    if not isinstance(x_qparams, QuantParams):
        raise TypeError(f"x_qparams: expected QuantParams, got {type(x_qparams).__name__}")
    check_per_tensor(x_qparams, "x")
    if x_qparams.bits != 8:
        raise ValueError(
            "x_qparams: softmax takes 8-bit inputs (int8 or uint8), "
            f"got a {x_qparams.bits}-bit grid"
        )
    profile = get_profile(profile)
    if x_qparams.signed:
        if (
            isinstance(out_qparams, QuantParams)
            and out_qparams.bits == 16
            and out_qparams.signed
            and not out_qparams.per_channel
        ):
            out = _fixed_output("softmax", out_qparams, 1 / 65536, -32768, 16, True)
        else:
            out = _fixed_output("softmax", out_qparams, 1 / 256, -128, 8, True)
    else:
        out = _fixed_output("softmax", out_qparams, 1 / 256, 0, 8, False)

    try:
        beta32 = float(_F32(beta))
    except (TypeError, ValueError):
        raise TypeError(f"beta: expected a real number, got {beta!r}") from None
    if not (math.isfinite(beta32) and beta32 > 0):
        raise ValueError(f"beta: must be finite and positive (as a float32), got {beta!r}")
    real = beta32 * scale32(x_qparams) * float(1 << (31 - _k.SOFTMAX_SCALED_DIFF_INTEGER_BITS))
    cap = float((1 << 30) - 1) if profile.requantization == "single" else float((1 << 31) - 1)
    effective = min(real, cap)
    if not effective > 1.0:
        raise ValueError(
            f"x_qparams: softmax needs beta * scale * 2^26 > 1, got {real!r} (scale "
            f"{x_qparams.scale!r}, beta {beta32!r}); LiteRT's PreprocessSoftmaxScaling aborts "
            "here (QuantizeMultiplierGreaterThanOne)"
        )
    multiplier, shift = profile.quantize_multiplier(effective)
    integer_bits = _k.SOFTMAX_SCALED_DIFF_INTEGER_BITS
    diff_min = -(((1 << integer_bits) - 1) << (31 - integer_bits) >> shift)
    return SoftmaxParams(
        input_beta_multiplier=int(multiplier),
        input_beta_left_shift=int(shift),
        diff_min=diff_min,
        real_multiplier=real,
        real_cap=cap,
        out_qparams=out,
    )


def softmax(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams | None = None,
    beta: float = 1.0,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized ``softmax(β·x)`` over the last axis: LiteRT's (and TFLite Micro's) reference
    int8/uint8 kernel, gemmlowp fixed point (SEMANTICS.md §4.13; ``softmax_params`` for the
    derivation, ``intq.kernels.activations.softmax`` for the arithmetic).

    int8 → int8 (1/256, −128), uint8 → uint8 (1/256, 0), or int8 → int16 (1/65536, −32768) when
    ``out_qparams`` says so. LiteRT's optimized softmax (a float table) rounds differently and is
    not reproduced. ``ValueError`` where LiteRT's kernel aborts (``TFLITE_CHECK``): with 8-bit
    outputs, a row whose sum of ``exp(β·s_in·(x − max))`` reaches 512 (e.g. 512 entries equal to
    the row maximum); int16 outputs have no such limit.
    """
    x = check_quantized(x, x_qparams, "x")
    if x.ndim < 1:
        raise ValueError("x: softmax needs at least one dimension (it runs over the last axis)")
    params = softmax_params(x_qparams, out_qparams, beta=beta, profile=profile)
    return run_softmax(x, params)


def run_softmax(x: np.ndarray, params: SoftmaxParams) -> np.ndarray:
    """The integer half of ``softmax``: the kernel over the last axis with ``params``."""
    out = np.empty(x.shape, dtype=params.out_qparams.dtype)
    if x.size == 0:
        return out
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out2 = out.reshape(rows.shape)
    _k.softmax(
        rows,
        np.int64(params.input_beta_multiplier),
        np.int64(params.input_beta_left_shift),
        np.int64(params.diff_min),
        out2,
    )
    return out


# ---- hard-swish -------------------------------------------------------------------------------


def _down_scale_int32_to_int16_multiplier(multiplier: int) -> int:
    # LiteRT DownScaleInt32ToInt16Multiplier (common.h): round the Q0.31 multiplier to Q0.15.
    rounding_offset = 1 << 15
    if multiplier >= _INT32_MAX - rounding_offset:
        return 2**15 - 1
    return (multiplier + rounding_offset) >> 16


def hard_swish_params(
    x_qparams: QuantParams, out_qparams: QuantParams, *, profile: str | Profile = "tflite"
) -> HardSwishParams:
    """LiteRT ``HardSwishPrepare`` (``tflite/kernels/activations.cc``), in float32 as written:

    * ``hires_input_scale = (1.0f / 128.0f) · s_in``; ``reluish_scale = 3.0f / 32768.0f``;
    * ``output_multiplier = hires_input_scale / s_out`` and
      ``reluish_multiplier = hires_input_scale / reluish_scale`` (float32 divisions);
    * each through ``QuantizeMultiplier`` (the profile's, in double from the float32 value) and
      ``DownScaleInt32ToInt16Multiplier`` (``(M + 2^15) >> 16``, or 32767 near the top).

    ``ValueError`` when ``output_multiplier_exponent > 0`` (``s_in / (128 · s_out)`` rounds to 1
    or more: LiteRT's ``TF_LITE_ENSURE`` fails) or when ``reluish_multiplier_exponent > 31``
    (``s_in`` above about 2^22; LiteRT's ``1 << (exponent − 1)`` would overflow).
    """
    _check_8bit_input(x_qparams, "hard_swish")
    if not isinstance(out_qparams, QuantParams):
        raise TypeError(f"out_qparams: expected QuantParams, got {type(out_qparams).__name__}")
    check_per_tensor(out_qparams, "out")
    if out_qparams.dtype != x_qparams.dtype or out_qparams.bits != 8:
        raise ValueError(
            f"out_qparams: hard_swish outputs the input type ({x_qparams.dtype}, 8 bits), got "
            f"a {out_qparams.bits}-bit {out_qparams.dtype} grid"
        )
    profile = get_profile(profile)
    input_scale = _F32(x_qparams.scale)
    output_scale = _F32(out_qparams.scale)
    with np.errstate(over="ignore", under="ignore"):
        hires_input_scale = (_F32(1.0) / _F32(128.0)) * input_scale
        reluish_scale = _F32(3.0) / _F32(32768.0)
        output_multiplier = hires_input_scale / output_scale
        reluish_multiplier = hires_input_scale / reluish_scale
    if not (np.isfinite(output_multiplier) and np.isfinite(reluish_multiplier)):
        raise ValueError(
            f"out_qparams: hard_swish multipliers overflow float32 (input scale "
            f"{x_qparams.scale!r}, output scale {out_qparams.scale!r})"
        )
    output_m32, output_exponent = profile.quantize_multiplier(float(output_multiplier))
    if output_exponent > 0:
        raise ValueError(
            f"out_qparams: hard_swish needs input scale / (128 * output scale) < 1, got "
            f"{float(output_multiplier)!r} (input scale {x_qparams.scale!r}, output scale "
            f"{out_qparams.scale!r}); LiteRT's HardSwishPrepare rejects it"
        )
    reluish_m32, reluish_exponent = profile.quantize_multiplier(float(reluish_multiplier))
    if reluish_exponent > 31:
        raise ValueError(
            f"x_qparams: hard_swish input scale {x_qparams.scale!r} is too large: its reluish "
            f"multiplier exponent {reluish_exponent} exceeds 31"
        )
    return HardSwishParams(
        x_zero_point=int(x_qparams.zero_point),
        out_zero_point=int(out_qparams.zero_point),
        reluish_multiplier_fixedpoint_int16=_down_scale_int32_to_int16_multiplier(int(reluish_m32)),
        reluish_multiplier_exponent=int(reluish_exponent),
        output_multiplier_fixedpoint_int16=_down_scale_int32_to_int16_multiplier(int(output_m32)),
        output_multiplier_exponent=int(output_exponent),
        out_qparams=out_qparams,
    )


def hard_swish(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized hard-swish ``x · relu6(x + 3) / 6`` of an int8/uint8 array: LiteRT's reference
    kernel, 16-bit fixed point (``hard_swish_params`` for the derivation,
    ``intq.kernels.activations.hard_swish`` for the arithmetic). Any output quantization of the
    input's type with ``s_in / (128 · s_out) < 1``."""
    x = check_quantized(x, x_qparams, "x")
    params = hard_swish_params(x_qparams, out_qparams, profile=profile)
    return run_hard_swish(x, params)


def run_hard_swish(x: np.ndarray, params: HardSwishParams) -> np.ndarray:
    """The integer half of ``hard_swish``: the fixed-point kernel with ``params``."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype=params.out_qparams.dtype)
    _k.hard_swish(
        flat,
        np.int64(params.x_zero_point),
        np.int64(params.out_zero_point),
        np.int64(params.reluish_multiplier_fixedpoint_int16),
        np.int64(params.reluish_multiplier_exponent),
        np.int64(params.output_multiplier_fixedpoint_int16),
        np.int64(params.output_multiplier_exponent),
        out,
    )
    return out.reshape(x.shape)
