"""Quantized elementwise ops: add, sub, mul, requantize, concat, pad, mean.

Each reproduces LiteRT's reference kernel bit for bit (SEMANTICS.md §4.6–§4.10) and derives its
integer parameters offline exactly as the kernel's ``Prepare`` does, from the float32 scales
(``_common.scale32``) widened to double:

* ``add``/``sub`` (``kernels/add.cc``, ``kernels/sub.cc``): ``left_shift`` 20 for 8-bit, 15 for
  int16; ``twice_max = 2·max(s1, s2)``; ``m1 = s1/twice_max``, ``m2 = s2/twice_max``,
  ``mo = twice_max / (2^left_shift · s_out)``, each through QuantizeMultiplierSmallerThanOneExp
  (SUB: QuantizeMultiplierGreaterThanOne when ``mo > 1``);
* ``mul`` (``kernels/mul.cc``): ``m = float32(float32(s1·s2) / s_out)`` — LiteRT computes the
  expression in float32 and widens it — through QuantizeMultiplier;
* ``requantize`` (``kernels/quantize.cc``) and ``mean`` (``kernels/reduce.cc``):
  ``m = double(s_in) / double(s_out)`` through QuantizeMultiplier.

The multipliers go through the profile's ``quantize_multiplier`` and its requantization code
(double or single rounding). Binary ops broadcast with NumPy's rules: the wrapper materialises
both operands in the broadcast shape as contiguous arrays and runs the kernel on the flattened
arrays (exact, since every output element depends on one pair of input elements only; TFLite's
own broadcast loops stop at 6 dimensions, intq has no such limit).

Every wrapper also proves that no int32 intermediate of the kernel can wrap for any input on the
grid; where LiteRT would silently wrap, ``ValueError`` says so instead.

Checked against LiteRT 2.3 (ai-edge-litert 2.3.0, ``OpResolverType.BUILTIN_REF``) on single-op
models: ADD, SUB (int8, uint8, int16; broadcasting; fused activations), MUL, MEAN (4-D spatial
``keep_dims`` and other axes), QUANTIZE (the six integer type pairs) and PAD/PADV2 agree bit for
bit with the ``tflite`` profile (tests/test_elementwise.py pins some of those outputs).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..kernels import elementwise as _kew
from ..kernels import fixed_point as _kfp
from ..profiles import Profile, get_profile
from ..qparams import QuantParams
from ._common import (
    INT32_MAX,
    Activation,
    activation_range,
    check_layout,
    check_per_tensor,
    check_quantized,
    requantization_code,
    scale32,
)

_INT8, _UINT8, _INT16 = np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)
_DTYPES = (_INT8, _UINT8, _INT16)
# kernels/quantize.cc Prepare: the integer → integer QUANTIZE pairs LiteRT runs.
_REQUANTIZE_PAIRS = {(np.dtype(i), np.dtype(o)) for i, o in _kew.REQUANTIZE_TYPES}
PAD_MAX_DIMS = 5  # LiteRT reference_ops::PadKernelMaxDimensionCount()


# ---- shared validation ---------------------------------------------------------------------


def _check_input(x: object, qparams: QuantParams, name: str, op: str) -> np.ndarray:
    x = check_quantized(x, qparams, name)
    check_per_tensor(qparams, name)
    if x.dtype not in _DTYPES:
        raise TypeError(f"{name}: {op} supports int8, uint8 and int16 tensors, got {x.dtype}")
    return x


def _check_out(qparams: QuantParams, dtype: np.dtype, op: str) -> None:
    if not isinstance(qparams, QuantParams):
        raise TypeError(f"out_qparams: expected QuantParams, got {type(qparams).__name__}")
    check_per_tensor(qparams, "out")
    if qparams.dtype != dtype:
        raise TypeError(
            f"out_qparams: {op} outputs the input type {dtype}, but out_qparams describe "
            f"{qparams.dtype}"
        )


def _check_int16_symmetric(op: str, **qparams: QuantParams) -> None:
    for name, q in qparams.items():
        if q.dtype == _INT16 and q.zero_point != 0:
            raise ValueError(
                f"{name}_qparams: int16 {op} needs zero point 0 (16x8 quantization is symmetric; "
                f"LiteRT enforces it), got {q.zero_point}"
            )


def _max_abs_offset(q: QuantParams) -> int:
    """``max |v − zero_point|`` over the grid ``[qmin, qmax]``."""
    return max(q.qmax - q.zero_point, q.zero_point - q.qmin)


def _check_requantization_fits(
    op: str, what: str, max_abs: int, multiplier: int, shift: int, zero_point: int, rounding: int
) -> None:
    """Prove ``MBQM(x, M, shift) + zero_point`` stays inside int32 for ``|x| <= max_abs``.

    Double rounding first forms ``x · 2^max(shift, 0)`` in int32 (TFLite's left shift wraps);
    both roundings return about ``x · M · 2^(shift − 31)``, at most one more than its ceiling.
    """
    left = max(shift, 0)
    product = max_abs * multiplier
    if shift <= 31:
        scaled_bound = -(-product // (1 << (31 - shift))) + 1
    else:
        scaled_bound = product << (shift - 31)
    if (rounding == _kfp.DOUBLE_ROUNDING and max_abs << left > INT32_MAX) or (
        scaled_bound + abs(zero_point) > INT32_MAX
    ):
        raise ValueError(
            f"{op}: {what} up to {max_abs} times the multiplier {multiplier}·2^({shift} − 31) "
            "leaves int32, where LiteRT's int32 arithmetic wraps; the scales are too far apart"
        )


def _quantize_multiplier(real: float, profile: Profile) -> tuple[int, int]:
    multiplier, shift = profile.quantize_multiplier(real)
    return int(multiplier), int(shift)


def _smaller_than_one(real: float, profile: Profile, name: str, op: str) -> tuple[int, int]:
    """LiteRT QuantizeMultiplierSmallerThanOneExp: TFLITE_CHECK ``0 <= real < 1`` and a
    non-positive shift (a mantissa rounding up to 1.0 would make it +1); ``ValueError`` here."""
    multiplier, shift = _quantize_multiplier(real, profile)
    if not 0 <= real < 1 or shift > 0:
        raise ValueError(
            f"{op}: the real {name} multiplier {real!r} must be below 1 "
            "(LiteRT's QuantizeMultiplierSmallerThanOneExp aborts otherwise); "
            "out_qparams.scale is too small for these input scales"
        )
    return multiplier, shift


def _broadcast(x1: np.ndarray, x2: np.ndarray) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(
            f"x2: shape {x2.shape} does not broadcast against x1's shape {x1.shape}"
        ) from None
    a = np.ascontiguousarray(np.broadcast_to(x1, shape)).reshape(-1)
    b = np.ascontiguousarray(np.broadcast_to(x2, shape)).reshape(-1)
    return shape, a, b


# ---- add / sub -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AddParams:
    """Integer parameters of quantized ADD/SUB (LiteRT ``ArithmeticParams``), derived offline.

    ``real_*`` keep the double-precision multipliers they come from, for inspection.
    """

    left_shift: int
    x1_zero_point: int
    x2_zero_point: int
    x1_multiplier: int
    x1_shift: int
    x2_multiplier: int
    x2_shift: int
    out_multiplier: int
    out_shift: int
    out_zero_point: int
    act_min: int
    act_max: int
    rounding: int
    real_x1_multiplier: float
    real_x2_multiplier: float
    real_out_multiplier: float


def add_params(
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    *,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    op: str = "add",
) -> AddParams:
    """Derive ADD's (``op="add"``) or SUB's (``op="sub"``) integers as ``kernels/add.cc`` /
    ``kernels/sub.cc`` Prepare do (SEMANTICS.md §4.6).

    With float32 scales widened to double: ``left_shift`` = 15 for int16, else 20;
    ``twice_max = 2·max(s1, s2)``; ``real_x1 = s1 / twice_max``; ``real_x2 = s2 / twice_max``;
    ``real_out = twice_max / (2^left_shift · s_out)``; each through
    QuantizeMultiplierSmallerThanOneExp (``real < 1``, shift ``<= 0``). SUB takes
    QuantizeMultiplierGreaterThanOne when ``real_out > 1``; that positive shift is only defined
    in single-rounding builds (the double-rounding ``RoundingDivideByPOT`` would get a negative
    exponent), so the ``tflite`` profile raises ``ValueError`` there. ADD with ``real_out >= 1``
    makes LiteRT abort: ``ValueError``.
    """
    if op not in ("add", "sub"):
        raise ValueError(f"op: expected 'add' or 'sub', got {op!r}")
    for name, q in (("x1", x1_qparams), ("x2", x2_qparams), ("out", out_qparams)):
        if not isinstance(q, QuantParams):
            raise TypeError(f"{name}_qparams: expected QuantParams, got {type(q).__name__}")
        check_per_tensor(q, name)
    prof = get_profile(profile)
    rounding = requantization_code(prof)
    dtype = out_qparams.dtype
    for name, q in (("x1", x1_qparams), ("x2", x2_qparams)):
        if q.dtype != dtype:
            raise TypeError(
                f"{name}_qparams: {op} needs inputs and output of one type, got {q.dtype} and "
                f"output {dtype}"
            )
    if dtype not in _DTYPES:
        raise TypeError(f"out_qparams: {op} supports int8, uint8 and int16, got {dtype}")
    _check_int16_symmetric(op, x1=x1_qparams, x2=x2_qparams, out=out_qparams)
    left_shift = 15 if dtype == _INT16 else 20
    s1, s2, so = scale32(x1_qparams), scale32(x2_qparams), scale32(out_qparams)
    twice_max = 2 * max(s1, s2)
    real_x1 = s1 / twice_max
    real_x2 = s2 / twice_max
    real_out = twice_max / (float(1 << left_shift) * so)
    m1, sh1 = _smaller_than_one(real_x1, prof, "x1", op)
    m2, sh2 = _smaller_than_one(real_x2, prof, "x2", op)
    if op == "sub" and real_out > 1:
        if rounding == _kfp.DOUBLE_ROUNDING:
            raise ValueError(
                f"sub: the real output multiplier {real_out!r} exceeds 1; LiteRT's SUB then uses "
                "a positive shift that only TFLITE_SINGLE_ROUNDING builds define (use the "
                "'tflite-single-rounding' profile, or a larger out_qparams.scale)"
            )
        mo, sho = _quantize_multiplier(real_out, prof)  # QuantizeMultiplierGreaterThanOne
    else:
        mo, sho = _smaller_than_one(real_out, prof, "output", op)
    act_min, act_max = activation_range(activation, out_qparams)
    params = AddParams(
        left_shift, int(x1_qparams.zero_point), int(x2_qparams.zero_point), m1, sh1, m2, sh2, mo,
        sho, int(out_qparams.zero_point), act_min, act_max, rounding, real_x1, real_x2, real_out,
    )  # fmt: skip
    if sho > 0:
        max_raw = sum(
            -(-(_max_abs_offset(q) << left_shift) * m // (1 << (31 - s))) + 1
            for q, m, s in ((x1_qparams, m1, sh1), (x2_qparams, m2, sh2))
        )
        _check_requantization_fits(
            op, "the rescaled difference", max_raw, mo, sho, params.out_zero_point, rounding
        )
    return params


def _binary_add_sub(
    op: str,
    x1: np.ndarray,
    x2: np.ndarray,
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation,
    profile: str | Profile,
    pot_scale_int16: bool,
) -> np.ndarray:
    x1 = _check_input(x1, x1_qparams, "x1", op)
    x2 = _check_input(x2, x2_qparams, "x2", op)
    if pot_scale_int16:
        raise ValueError(
            f"pot_scale_int16: intq implements LiteRT's general-scale int16 {op} (left shift 15), "
            "which the converter selects by default; the power-of-two LSTM path is not supported"
        )
    p = add_params(
        x1_qparams, x2_qparams, out_qparams, activation=activation, profile=profile, op=op
    )
    return run_add_sub(op, x1, x2, p, out_qparams.dtype)


def run_add_sub(
    op: str, x1: np.ndarray, x2: np.ndarray, params: AddParams, out_dtype: np.dtype
) -> np.ndarray:
    """The integer half of ``add`` (``op="add"``) and ``sub``: the broadcast kernel with the
    precomputed ``params``, output of ``out_dtype``."""
    p = params
    shape, a, b = _broadcast(x1, x2)
    out = np.empty(a.shape, dtype=out_dtype)
    kernel = _kew.add if op == "add" else _kew.sub
    i64 = np.int64
    kernel(
        a, b, i64(p.x1_zero_point), i64(p.x2_zero_point), i64(p.left_shift),
        i64(p.x1_multiplier), i64(p.x1_shift), i64(p.x2_multiplier), i64(p.x2_shift),
        i64(p.out_multiplier), i64(p.out_shift), i64(p.rounding), i64(p.out_zero_point),
        i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out.reshape(shape)


def add(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    pot_scale_int16: bool = False,
) -> np.ndarray:
    """Quantized ADD (LiteRT reference kernels: ``reference/integer_ops/add.h`` for int8,
    ``reference/add.h`` for uint8 and int16), NumPy broadcasting.

    Per element, with the integers of ``add_params``: ``shifted_k = (q_k − zp_k) · 2^left_shift``;
    ``scaled_k = MBQMSmallerThanOneExp(shifted_k, M_k, s_k)`` (double rounding:
    ``RoundingDivideByPOT(srdhm(x, M), −s)``; single rounding: MBQM);
    ``out = clamp(MBQMSmallerThanOneExp(scaled_1 + scaled_2, M_o, s_o) + zp_out)`` to the fused
    ``activation``'s bounds. int8/uint8 use ``left_shift`` 20; int16 (16x8, zero points 0) the
    general-scale path with ``left_shift`` 15 — the one LiteRT's converter selects
    (``pot_scale_int16=False``); the power-of-two path raises ``ValueError``.
    """
    return _binary_add_sub(
        "add", x1, x2, x1_qparams, x2_qparams, out_qparams, activation, profile, pot_scale_int16
    )


def sub(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation = None,
    profile: str | Profile = "tflite",
    pot_scale_int16: bool = False,
) -> np.ndarray:
    """Quantized SUB ``x1 − x2`` (LiteRT ``reference/sub.h``), NumPy broadcasting.

    As ``add`` with ``scaled_1 − scaled_2`` (the second input's multiplier stays positive; its
    rescaled value is subtracted). Parameters from ``add_params(..., op="sub")``.
    """
    return _binary_add_sub(
        "sub", x1, x2, x1_qparams, x2_qparams, out_qparams, activation, profile, pot_scale_int16
    )


# ---- mul -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MulParams:
    """Integer parameters of quantized MUL, derived offline; ``real_multiplier`` is the float32
    value ``float32(float32(s1·s2) / s_out)`` LiteRT quantizes."""

    x1_zero_point: int
    x2_zero_point: int
    multiplier: int
    shift: int
    out_zero_point: int
    act_min: int
    act_max: int
    rounding: int
    real_multiplier: float


def mul_params(
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    *,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> MulParams:
    """Derive MUL's integers as ``kernels/mul.cc`` Prepare does (SEMANTICS.md §1, §4.7).

    ``double real_multiplier = input1->params.scale * input2->params.scale /
    output->params.scale;`` evaluates in float32 (all three are ``float``) and is then widened, so
    ``m = float32(float32(s1·s2) / s_out)``; ``(M, shift) = QuantizeMultiplier(m)`` (any size).
    """
    for name, q in (("x1", x1_qparams), ("x2", x2_qparams), ("out", out_qparams)):
        if not isinstance(q, QuantParams):
            raise TypeError(f"{name}_qparams: expected QuantParams, got {type(q).__name__}")
        check_per_tensor(q, name)
    prof = get_profile(profile)
    rounding = requantization_code(prof)
    dtype = out_qparams.dtype
    for name, q in (("x1", x1_qparams), ("x2", x2_qparams)):
        if q.dtype != dtype:
            raise TypeError(
                f"{name}_qparams: mul needs inputs and output of one type, got {q.dtype} and "
                f"output {dtype}"
            )
    if dtype not in _DTYPES:
        raise TypeError(f"out_qparams: mul supports int8, uint8 and int16, got {dtype}")
    _check_int16_symmetric("mul", x1=x1_qparams, x2=x2_qparams, out=out_qparams)
    f32 = np.float32
    with np.errstate(over="ignore", under="ignore"):
        real = f32(f32(scale32(x1_qparams)) * f32(scale32(x2_qparams))) / f32(scale32(out_qparams))
    if not np.isfinite(real):
        raise ValueError(
            "mul: the float32 multiplier s1·s2/s_out overflows; out_qparams.scale is too small"
        )
    multiplier, shift = _quantize_multiplier(float(real), prof)
    act_min, act_max = activation_range(activation, out_qparams)
    params = MulParams(
        int(x1_qparams.zero_point), int(x2_qparams.zero_point), multiplier, shift,
        int(out_qparams.zero_point), act_min, act_max, rounding, float(real),
    )  # fmt: skip
    max_product = _max_abs_offset(x1_qparams) * _max_abs_offset(x2_qparams)
    _check_requantization_fits(
        "mul", "the product", max_product, multiplier, shift, params.out_zero_point, rounding
    )
    return params


def mul(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    x1_qparams: QuantParams,
    x2_qparams: QuantParams,
    out_qparams: QuantParams,
    activation: Activation = None,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized MUL (LiteRT ``reference/integer_ops/mul.h``), NumPy broadcasting.

    ``out = clamp(zp_out + MultiplyByQuantizedMultiplier((q1 − zp1)·(q2 − zp2), M, shift))`` to
    the fused ``activation``'s bounds, with ``(M, shift)`` from ``mul_params`` (the multiplier
    precision of SEMANTICS.md §1: float32, widened). int16 needs zero points 0 (mul.cc).
    """
    x1 = _check_input(x1, x1_qparams, "x1", "mul")
    x2 = _check_input(x2, x2_qparams, "x2", "mul")
    p = mul_params(x1_qparams, x2_qparams, out_qparams, activation=activation, profile=profile)
    return run_mul(x1, x2, p, out_qparams.dtype)


def run_mul(x1: np.ndarray, x2: np.ndarray, params: MulParams, out_dtype: np.dtype) -> np.ndarray:
    """The integer half of ``mul``: the broadcast kernel with the precomputed ``params``."""
    p = params
    shape, a, b = _broadcast(x1, x2)
    out = np.empty(a.shape, dtype=out_dtype)
    i64 = np.int64
    _kew.mul(
        a, b, i64(p.x1_zero_point), i64(p.x2_zero_point), i64(p.multiplier), i64(p.shift),
        i64(p.rounding), i64(p.out_zero_point), i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out.reshape(shape)


# ---- requantize / concat -------------------------------------------------------------------


@dataclass(frozen=True)
class RequantizeParams:
    """Integer parameters of QUANTIZE (integer → integer), derived offline."""

    x_zero_point: int
    multiplier: int
    shift: int
    out_zero_point: int
    act_min: int
    act_max: int
    rounding: int
    real_multiplier: float


def requantize_params(
    x_qparams: QuantParams, out_qparams: QuantParams, *, profile: str | Profile = "tflite"
) -> RequantizeParams:
    """Derive QUANTIZE's integers as ``kernels/quantize.cc`` Prepare does:
    ``(M, shift) = QuantizeMultiplier(double(s_in) / double(s_out))``; the clamp is the output
    grid ``[qmin, qmax]`` (LiteRT: the output type's limits; QUANTIZE has no activation).

    Supported types, as LiteRT: int8/uint8 → int8/uint8, int16 → int8/int16 (int16 → int16 with
    zero points 0).
    """
    for name, q in (("x", x_qparams), ("out", out_qparams)):
        if not isinstance(q, QuantParams):
            raise TypeError(f"{name}_qparams: expected QuantParams, got {type(q).__name__}")
        check_per_tensor(q, name)
    if (x_qparams.dtype, out_qparams.dtype) not in _REQUANTIZE_PAIRS:
        raise TypeError(
            f"out_qparams: LiteRT's QUANTIZE does not turn {x_qparams.dtype} into "
            f"{out_qparams.dtype} (supported: int8/uint8 → int8/uint8, int16 → int8/int16)"
        )
    if x_qparams.dtype == _INT16 and out_qparams.dtype == _INT16:
        _check_int16_symmetric("requantize", x=x_qparams, out=out_qparams)
    prof = get_profile(profile)
    rounding = requantization_code(prof)
    real = scale32(x_qparams) / scale32(out_qparams)
    multiplier, shift = _quantize_multiplier(real, prof)
    params = RequantizeParams(
        int(x_qparams.zero_point), multiplier, shift, int(out_qparams.zero_point),
        out_qparams.qmin, out_qparams.qmax, rounding, real,
    )  # fmt: skip
    _check_requantization_fits(
        "requantize", "|q − zero_point|", _max_abs_offset(x_qparams), multiplier, shift,
        params.out_zero_point, rounding,
    )  # fmt: skip
    return params


def run_requantize(x: np.ndarray, p: RequantizeParams, out_dtype: np.dtype) -> np.ndarray:
    """The integer half of ``requantize``: the kernel with the precomputed ``params``."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype=out_dtype)
    i64 = np.int64
    _kew.requantize(
        flat, i64(p.x_zero_point), i64(p.multiplier), i64(p.shift), i64(p.rounding),
        i64(p.out_zero_point), i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out.reshape(x.shape)


def requantize(
    x: np.ndarray,
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """QUANTIZE of an integer tensor into new quantization parameters (LiteRT
    ``reference/requantize.h``): ``clamp(MBQM(q − zp_in, M, shift) + zp_out)`` to the output grid,
    ``(M, shift)`` from ``double(s_in)/double(s_out)`` (``requantize_params``).

    LiteRT's int8 ↔ uint8 shortcut at one scale with zero points 128 apart (``q ^ 0x80``) gives
    the same values: the multiplier ``(2^30, 1)`` of a ratio of exactly 1 is an exact identity in
    both roundings, so the kernel needs no special case (the oracle keeps it, literally).
    """
    x = _check_input(x, x_qparams, "x", "requantize")
    p = requantize_params(x_qparams, out_qparams, profile=profile)
    return run_requantize(x, p, out_qparams.dtype)


def concat(
    inputs: Sequence[np.ndarray],
    axis: int,
    *,
    input_qparams: Sequence[QuantParams],
    out_qparams: QuantParams,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """CONCATENATION along ``axis`` (negative counts from the end; SEMANTICS.md §4.8).

    An input whose float32 scale and zero point equal the output's is copied unchanged (LiteRT
    ``reference_ops::Concatenation``); any other input is first requantized exactly as a QUANTIZE
    op (``requantize``): LiteRT's int8 CONCATENATION refuses differing parameters, so converters
    insert that op in front of it. (LiteRT's *uint8* kernel would instead rescale in float,
    ``ConcatenationWithScaling``; intq uses the integer requantization for every type.) int16
    tensors need zero point 0, as LiteRT checks.
    """
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence) or not inputs:
        raise ValueError("inputs: expected a non-empty sequence of arrays")
    if isinstance(input_qparams, QuantParams) or len(input_qparams) != len(inputs):
        raise ValueError(
            f"input_qparams: expected one QuantParams per input ({len(inputs)}), got "
            f"{input_qparams!r}"
        )
    checked = [
        _check_input(x, q, f"inputs[{i}]", "concat")
        for i, (x, q) in enumerate(zip(inputs, input_qparams, strict=True))
    ]
    first = checked[0]
    _check_out(out_qparams, first.dtype, "concat")
    if first.dtype == _INT16:
        _check_int16_symmetric("concat", out=out_qparams)
        for i, q in enumerate(input_qparams):
            _check_int16_symmetric("concat", **{f"input[{i}]": q})
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise ValueError(f"axis: expected an int, got {axis!r}")
    ndim = first.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis: {axis} is out of range for {ndim}-D inputs")
    axis = int(axis) % ndim
    for i, x in enumerate(checked):
        if x.dtype != first.dtype:
            raise TypeError(f"inputs[{i}]: dtype {x.dtype} differs from inputs[0]'s {first.dtype}")
        if x.ndim != ndim or any(x.shape[d] != first.shape[d] for d in range(ndim) if d != axis):
            raise ValueError(
                f"inputs[{i}]: shape {x.shape} does not match inputs[0]'s {first.shape} outside "
                f"axis {axis}"
            )
    parts = []
    for i, (x, q) in enumerate(zip(checked, input_qparams, strict=True)):
        same = scale32(q) == scale32(out_qparams) and q.zero_point == out_qparams.zero_point
        if same:
            parts.append(x)
        else:
            try:
                p = requantize_params(q, out_qparams, profile=profile)
            except (TypeError, ValueError) as err:
                raise ValueError(f"input_qparams[{i}]: {err}") from None
            parts.append(run_requantize(x, p, out_qparams.dtype))
    return np.concatenate(parts, axis=axis).astype(out_qparams.dtype, copy=False)


# ---- pad -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PadParams:
    """The integers of PAD/PADV2: ``pad_before``/``pad_after`` (int64, one per dimension of the
    input) and the quantized pad ``value``."""

    pad_before: np.ndarray
    pad_after: np.ndarray
    value: int


def pad_params(
    x: object,
    paddings: Sequence[Sequence[int]] | np.ndarray,
    *,
    x_qparams: QuantParams,
    constant: int | np.ndarray | None = None,
) -> PadParams:
    """Validate the arguments of ``pad`` for ``x`` (an array or a graph tensor) and return its
    integers: the paddings as int64 arrays and the pad value (``x_qparams.zero_point`` for PAD,
    ``constant`` for PADV2)."""
    x = check_layout(x, x_qparams, "x")
    check_per_tensor(x_qparams, "x")
    if x.ndim > PAD_MAX_DIMS:
        raise ValueError(
            f"x: LiteRT pads tensors of at most {PAD_MAX_DIMS} dimensions, got {x.ndim}"
        )
    try:
        pads = np.asarray(paddings)
    except (TypeError, ValueError):
        pads = np.asarray(None)
    if pads.size == 0 and x.ndim == 0:
        pads = np.zeros((0, 2), np.int64)
    if (
        pads.shape != (x.ndim, 2)
        or pads.dtype == bool
        or not (np.issubdtype(pads.dtype, np.integer) or pads.size == 0)
    ):
        raise ValueError(
            f"paddings: expected {x.ndim} (before, after) pairs of ints, got {paddings!r}"
        )
    pads = pads.astype(np.int64)
    if pads.size and pads.min() < 0:
        raise ValueError(f"paddings: must be non-negative, got {pads.tolist()}")
    if constant is None:
        value = int(x_qparams.zero_point)
    else:
        c = np.asarray(constant)
        if c.size != 1 or c.dtype == bool or not np.issubdtype(c.dtype, np.integer):
            raise ValueError(
                f"constant: expected one integer quantized with x_qparams, got {constant!r}"
            )
        value = int(c.reshape(()))
        if not x_qparams.qmin <= value <= x_qparams.qmax:
            raise ValueError(
                f"constant: {value} lies outside the grid [{x_qparams.qmin}, {x_qparams.qmax}] "
                "of x_qparams"
            )
    return PadParams(np.ascontiguousarray(pads[:, 0]), np.ascontiguousarray(pads[:, 1]), value)


def run_pad(x: np.ndarray, params: PadParams) -> np.ndarray:
    """The integer half of ``pad``: the kernel, on ``x`` viewed as 5-D, with ``params``."""
    lead = PAD_MAX_DIMS - x.ndim
    x5 = np.ascontiguousarray(x).reshape((1,) * lead + x.shape)
    before = np.concatenate([np.zeros(lead, np.int64), params.pad_before])
    after = np.concatenate([np.zeros(lead, np.int64), params.pad_after])
    out_shape = tuple(int(n + b + a) for n, b, a in zip(x5.shape, before, after, strict=True))
    out = np.empty(out_shape, dtype=x.dtype)
    _kew.pad(x5, before, after, np.int64(params.value), out)
    return out.reshape(out_shape[lead:])


def pad(
    x: np.ndarray,
    paddings: Sequence[Sequence[int]] | np.ndarray,
    *,
    x_qparams: QuantParams,
    constant: int | np.ndarray | None = None,
) -> np.ndarray:
    """PAD / PADV2 (LiteRT ``reference/pad.h`` with the pad value of ``kernels/pad.cc``).

    ``paddings`` has one ``(before, after)`` pair of non-negative ints per dimension of ``x``
    (at most 5, LiteRT's limit). PAD (``constant=None``) pads with ``x_qparams.zero_point`` — the
    quantized 0.0; PADV2 pads with ``constant``, an integer already quantized with ``x_qparams``
    (LiteRT requires the constant tensor to share the output's scale and zero point). The output
    keeps ``x_qparams``.
    """
    x = _check_input(x, x_qparams, "x", "pad")
    return run_pad(x, pad_params(x, paddings, x_qparams=x_qparams, constant=constant))


# ---- mean ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanParams:
    """Integer parameters of quantized MEAN over ``count`` elements per output.

    ``multiplier``/``shift``: QuantizeMultiplier of ``double(s_in)/double(s_out)`` (what the
    kernel receives); ``effective_multiplier``/``effective_shift``: the ``M'``, ``s'`` that
    ``reference/reduce.h`` derives from them at run time for ``count`` (shown for study).
    """

    x_zero_point: int
    multiplier: int
    shift: int
    out_zero_point: int
    act_min: int
    act_max: int
    rounding: int
    count: int
    effective_multiplier: int
    effective_shift: int
    real_multiplier: float


def _mean_effective(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """``reference/reduce.h``: ``sh = min(floor(log2 n), 32, 31 + shift)``,
    ``M' = (M << sh) / n`` (truncating), ``s' = shift − sh``."""
    if count == 0:
        return multiplier, shift
    sh = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << sh) // count, shift - sh


def mean_params(
    x_qparams: QuantParams,
    out_qparams: QuantParams,
    count: int,
    *,
    profile: str | Profile = "tflite",
) -> MeanParams:
    """Derive MEAN's integers as ``kernels/reduce.cc`` PrepareMeanOrSum does (SEMANTICS.md §4.9):
    ``(M, shift) = QuantizeMultiplier(double(s_in)/double(s_out))``; the clamp is the output grid
    (MEAN has no activation). ``count`` (elements averaged per output) fixes ``M'``, ``s'``.
    """
    for name, q in (("x", x_qparams), ("out", out_qparams)):
        if not isinstance(q, QuantParams):
            raise TypeError(f"{name}_qparams: expected QuantParams, got {type(q).__name__}")
        check_per_tensor(q, name)
    if out_qparams.dtype != x_qparams.dtype or x_qparams.dtype not in _DTYPES:
        raise TypeError(
            f"out_qparams: mean supports int8, uint8 and int16 with the input's type, got "
            f"{x_qparams.dtype} → {out_qparams.dtype}"
        )
    _check_int16_symmetric("mean", x=x_qparams, out=out_qparams)
    prof = get_profile(profile)
    rounding = requantization_code(prof)
    real = scale32(x_qparams) / scale32(out_qparams)
    multiplier, shift = _quantize_multiplier(real, prof)
    eff_m, eff_s = _mean_effective(multiplier, shift, count)
    params = MeanParams(
        int(x_qparams.zero_point), multiplier, shift, int(out_qparams.zero_point),
        out_qparams.qmin, out_qparams.qmax, rounding, count, eff_m, eff_s, real,
    )  # fmt: skip
    max_sum = count * _max_abs_offset(x_qparams)
    if max_sum > INT32_MAX:
        raise ValueError(
            f"mean: {count} elements of |q − zero_point| up to {_max_abs_offset(x_qparams)} can "
            "overflow LiteRT's int32 sum"
        )
    _check_requantization_fits(
        "mean", "the zero-point-free sum", max_sum, eff_m, eff_s, params.out_zero_point, rounding
    )
    return params


def resolve_axes(axes: int | Sequence[int], ndim: int) -> list[int]:
    """LiteRT ResolveAxis: negative axes count from the end; duplicates are dropped."""
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = [axes]
    if not isinstance(axes, Sequence | np.ndarray) or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes
    ):
        raise ValueError(f"axes: expected an int or a sequence of ints, got {axes!r}")
    resolved: list[int] = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axes: {a} is out of range for a {ndim}-D input")
        a = int(a) % ndim
        if a not in resolved:
            resolved.append(a)
    return resolved


def mean(
    x: np.ndarray,
    axes: int | Sequence[int],
    *,
    x_qparams: QuantParams,
    out_qparams: QuantParams,
    keepdims: bool = False,
    profile: str | Profile = "tflite",
) -> np.ndarray:
    """Quantized MEAN over ``axes`` as LiteRT's reference kernels compute it.

    Path: ``kernels/reduce.cc`` EvalMean with the reference kernel type sends every int8, uint8
    and int16 MEAN — the 4-D ``keep_dims`` mean over axes (1, 2) included (the specialised
    ``optimized_integer_ops::Mean`` runs only with the optimized kernel type) — to
    EvalQuantizedMean → ``reference_ops::QuantizedMeanOrSum(..., compute_sum=false)``
    (``reference/reduce.h``; in EvalMean the ``kernel_type == kGenericOptimized`` block is the
    only one that branches on the axes). Older TensorFlow releases routed the 4-D spatial case to
    ``reference_integer_ops::Mean`` instead; LiteRT 2.3's reference resolver runs the formula
    below (checked on single-op models), while its optimized MEAN differs on ~1 output in 4.
    For ``n`` elements per output: int32 ``sum`` of raw values,
    ``sh = min(floor(log2 n), 32, 31 + shift)``, ``M' = (M << sh) / n``, ``s' = shift − sh``,
    ``out = clamp(MBQM(sum − zp_in·n, M', s') + zp_out)`` to the output grid (``mean_params``).
    An empty input gives zeros (LiteRT writes ``numeric_limits<T>::quiet_NaN()``, i.e. 0).

    The wrapper moves the reduced axes last and flattens them, so the kernel sees ``(outer, n)``;
    the output has the remaining axes in order (size-1 axes kept with ``keepdims``).
    """
    x = _check_input(x, x_qparams, "x", "mean")
    resolved = resolve_axes(axes, x.ndim)
    count = math.prod(x.shape[d] for d in resolved)
    p = mean_params(x_qparams, out_qparams, count, profile=profile)
    return run_mean(x, resolved, keepdims, p, out_qparams.dtype)


def run_mean(
    x: np.ndarray, axes: Sequence[int], keepdims: bool, params: MeanParams, out_dtype: np.dtype
) -> np.ndarray:
    """The integer half of ``mean``: the kernel over the resolved, non-negative ``axes`` (whose
    element count is ``params.count``) with the precomputed ``params``."""
    p = params
    resolved = list(axes)
    kept = [d for d in range(x.ndim) if d not in resolved]
    out_shape = tuple(1 if d in resolved else x.shape[d] for d in range(x.ndim))
    final_shape = out_shape if keepdims else tuple(x.shape[d] for d in kept)
    if x.size == 0:
        return np.zeros(final_shape, dtype=out_dtype)
    outer = math.prod(x.shape[d] for d in kept)
    x2 = np.ascontiguousarray(np.transpose(x, kept + resolved)).reshape(outer, p.count)
    out = np.empty(outer, dtype=out_dtype)
    i64 = np.int64
    _kew.mean(
        x2, i64(p.x_zero_point), i64(p.multiplier), i64(p.shift), i64(p.rounding),
        i64(p.out_zero_point), i64(p.act_min), i64(p.act_max), out,
    )  # fmt: skip
    return out.reshape(final_shape)
