"""Activations: intq.kernels.activations / fixedpoint_math against the integer oracles of
intq.reference.int_oracle.activations (bit for bit), intq.ops.activations against the same oracles
fed the derived integers, and the dequantized results against the float64 references."""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from kernel_checks import OutputCoverage
from kernel_checks import assert_same as _assert_same

from intq import Profile, QuantParams
from intq.kernels import activations as K
from intq.kernels import fixedpoint_math as FPM
from intq.ops import activations as A
from intq.reference.float_ops import activations as F
from intq.reference.int_oracle import activations as O

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
PROFILES = ("tflite", "tflite-single-rounding")
TFLM = Profile(
    name="test-tflm", description="fixed-point logistic/tanh", logistic_tanh="fixed_point"
)

# Output values seen by the randomized op tests, per (op, "min"/"max"/"mid"); checked last.
COVERAGE = OutputCoverage()
SEEN = COVERAGE.seen
_record = COVERAGE.record


def _all_values(dtype: np.dtype, seed: int, shape: tuple[int, ...] = (256,)) -> np.ndarray:
    info = np.iinfo(dtype)
    values = np.arange(int(info.min), int(info.max) + 1).astype(dtype)
    return np.random.default_rng(seed).permutation(values).reshape(shape)


# ---- strategies -------------------------------------------------------------------------------

int32s = st.integers(INT32_MIN, INT32_MAX)
multipliers = st.one_of(st.integers(0, INT32_MAX), st.sampled_from([0, 1, 2**30, INT32_MAX]))
seeds = st.integers(0, 2**32 - 1)
shapes_256 = st.sampled_from([(256,), (16, 16), (2, 128), (4, 4, 16), (1, 256, 1)])


def scales(lo_exponent: int, hi_exponent: int) -> st.SearchStrategy[float]:
    """Positive scales ``m · 2^e`` with ``m`` in [1, 2): tiny to large, log-uniform-ish."""
    return st.builds(
        lambda m, e: m * 2.0**e,
        st.floats(1.0, 2.0, exclude_max=True),
        st.integers(lo_exponent, hi_exponent),
    )


def qparams_8bit(scale: float, zero_point: int, signed: bool) -> QuantParams:
    return QuantParams(scale, zero_point if signed else zero_point + 128, signed=signed)


# ---- gemmlowp constants -----------------------------------------------------------------------

# (constant in kernels/fixedpoint_math.py, integer bits of its Q format, the real number it encodes)
CONSTANTS = [
    ("EXP_MINUS_ONE_EIGHTH_Q0_31", 0, math.exp(-1 / 8)),
    ("ONE_THIRD_Q0_31", 0, 1 / 3),
    ("ONE_EIGHTH_Q0_31", 0, 1 / 8),
    ("EXP_MINUS_QUARTER_Q0_31", 0, math.exp(-0.25)),
    ("EXP_MINUS_HALF_Q0_31", 0, math.exp(-0.5)),
    ("EXP_MINUS_ONE_Q0_31", 0, math.exp(-1)),
    ("EXP_MINUS_TWO_Q0_31", 0, math.exp(-2)),
    ("EXP_MINUS_FOUR_Q0_31", 0, math.exp(-4)),
    ("EXP_MINUS_EIGHT_Q0_31", 0, math.exp(-8)),
    ("EXP_MINUS_SIXTEEN_Q0_31", 0, math.exp(-16)),
    ("FORTY_EIGHT_OVER_SEVENTEEN_Q2_29", 2, 48 / 17),
    ("MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2_29", 2, -32 / 17),
    ("ONE_HALF_Q0_31", 0, 0.5),
]


def _from_double(real: float, integer_bits: int) -> int:
    # gemmlowp FixedPoint::FromDouble: round(x · 2^FractionalBits) (C round: half away), clamped.
    scaled = real * 2.0 ** (31 - integer_bits)
    rounded = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
    return min(max(rounded, INT32_MIN), INT32_MAX)


@pytest.mark.parametrize("name,integer_bits,real", CONSTANTS, ids=[c[0] for c in CONSTANTS])
def test_gemmlowp_constant_encodes_its_real_value(name, integer_bits, real):
    assert getattr(FPM, name) == _from_double(real, integer_bits)


def test_oracle_barrel_shifter_constants():
    for exponent, multiplier in O._BARREL_SHIFTER:
        assert multiplier == _from_double(math.exp(-(2.0**exponent)), 0)


# ---- gemmlowp functions: kernel == oracle on gemmlowp's edge set, and accuracy ------------------


def _edge_set() -> list[int]:
    # gemmlowp test_fixedpoint.cc: ±2^i + {−2..2}, the int32 extremes and a fixed random set.
    values = {INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, INT32_MAX - 2, INT32_MAX - 1, INT32_MAX}
    for i in range(31):
        for d in range(-2, 3):
            values.update({2**i + d, -(2**i) + d})
    rng = np.random.default_rng(20261125)
    values.update(int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 600, endpoint=True))
    return sorted(v for v in values if INT32_MIN <= v <= INT32_MAX)


EDGES = _edge_set()

UNARY_FUNCTIONS = [
    ("exp_on_interval", FPM.exp_on_interval_between_negative_one_quarter_and_0_excl,
     O.exp_on_interval_between_negative_one_quarter_and_0_excl),
    ("one_minus_x_over_one_plus_x", FPM.one_minus_x_over_one_plus_x_for_x_in_0_1,
     O.one_minus_x_over_one_plus_x_for_x_in_0_1),
    ("one_over_one_plus_x", FPM.one_over_one_plus_x_for_x_in_0_1,
     O.one_over_one_plus_x_for_x_in_0_1),
]  # fmt: skip
INTEGER_BITS_FUNCTIONS = [
    ("exp_on_negative_values", FPM.exp_on_negative_values, O.exp_on_negative_values),
    ("logistic", FPM.logistic, O.gemmlowp_logistic),
    ("tanh", FPM.tanh, O.gemmlowp_tanh),
]


@pytest.mark.parametrize("name,kernel,oracle", UNARY_FUNCTIONS, ids=[f[0] for f in UNARY_FUNCTIONS])
def test_q0_functions_match_oracle_on_edge_set(name, kernel, oracle):
    mismatches = [a for a in EDGES if kernel(a) != oracle(a)]
    assert not mismatches, (
        f"{name}: {len(mismatches)} of {len(EDGES)} differ, e.g. {mismatches[:3]}"
    )


@pytest.mark.parametrize(
    "name,kernel,oracle", INTEGER_BITS_FUNCTIONS, ids=[f[0] for f in INTEGER_BITS_FUNCTIONS]
)
@pytest.mark.parametrize("integer_bits", [0, 1, 4, 5, 6, 12])
def test_integer_bits_functions_match_oracle_on_edge_set(name, kernel, oracle, integer_bits):
    mismatches = [a for a in EDGES if kernel(a, integer_bits) != oracle(a, integer_bits)]
    assert not mismatches, f"{name}: {len(mismatches)} of {len(EDGES)} differ: {mismatches[:3]}"


def test_reciprocal_and_int16_primitives_match_oracle():
    for x in EDGES:
        assert FPM.get_reciprocal(x, 12) == O.get_reciprocal(x, 12), x
        assert FPM.count_leading_zeros_32(x) == O.count_leading_zeros_32(x), x
    int16_edges = sorted({-(2**15), -(2**15) + 1, -1, 0, 1, 2**15 - 2, 2**15 - 1} | {
        s * 2**i + d for i in range(15) for d in (-1, 0, 1) for s in (-1, 1)
    } - {2**15})  # fmt: skip
    for a in int16_edges:
        for e in range(32):
            assert FPM.rounding_divide_by_pot_int16(a, e) == O.rounding_divide_by_pot_int16(a, e)
        for amount in (0, 1, 7, 15, 30):
            assert K.saturating_left_shift_int16(a, amount) == O.saturating_left_shift_int16(
                a, amount
            )
        for b in int16_edges:
            assert FPM.srdhm_int16(a, b) == O.srdhm_int16(a, b), (a, b)
            assert K.saturating_doubling_high_mul_int16(a, b) == (
                O.saturating_doubling_high_mul_int16(a, b)
            )


def test_int16_rounding_divide_quirk_for_large_exponents():
    # The int16 mask truncates for exponents >= 16: the result is the sign, not a rounded quotient.
    assert [FPM.rounding_divide_by_pot_int16(v, 20) for v in (-300, -1, 0, 1, 300)] == [
        -1, -1, 1, 1, 1,
    ]  # fmt: skip
    assert [FPM.rounding_divide_by_pot_int16(v, 2) for v in (-6, -5, -2, 2, 5, 6)] == [
        -2, -1, -1, 1, 1, 2,
    ]  # fmt: skip


@given(st.integers(0, 2**31), st.sampled_from([0, 1, 4, 5, 12]))
def test_exp_on_negative_values_is_accurate(magnitude, integer_bits):
    a = -min(magnitude, 2**31)
    real = a / 2.0 ** (31 - integer_bits)
    got = FPM.exp_on_negative_values(a, integer_bits) / 2.0**31
    assert abs(got - math.exp(real)) <= 4e-7, (a, integer_bits, got, math.exp(real))


@given(int32s)
def test_logistic_and_tanh_q4_are_accurate(a):
    real = a / 2.0**27
    assert abs(FPM.logistic(a, 4) / 2.0**31 - F.logistic(np.array(real))) <= 2e-7
    assert abs(FPM.tanh(a, 4) / 2.0**31 - math.tanh(real)) <= 3e-7


@given(st.integers(0, INT32_MAX))
def test_newton_raphson_divisions_are_accurate(a):
    x = a / 2.0**31
    assert abs(FPM.one_over_one_plus_x_for_x_in_0_1(a) / 2.0**31 - 1 / (1 + x)) <= 1e-8
    assert (
        abs(FPM.one_minus_x_over_one_plus_x_for_x_in_0_1(a) / 2.0**31 - (1 - x) / (1 + x)) <= 2e-8
    )


@given(st.integers(2**19, INT32_MAX))
def test_get_reciprocal_is_accurate(total):
    reciprocal, num_bits_over_unit = FPM.get_reciprocal(total, 12)
    approx = reciprocal / 2.0**31 * 2.0**-num_bits_over_unit
    exact = 2.0**19 / total
    assert abs(approx - exact) <= 1e-8 * exact


# ---- kernels against oracles, integers drawn directly -----------------------------------------


@given(st.sampled_from([np.int8, np.uint8]), seeds, st.integers(0, 40))
def test_lookup_table_kernel_matches_oracle(dtype, seed, n):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    table = rng.integers(int(info.min), int(info.max), 256, endpoint=True).astype(dtype)
    x = rng.integers(int(info.min), int(info.max), n, endpoint=True).astype(dtype)
    out = np.empty(n, dtype)
    K.lookup_table(x, table, out)
    _assert_same(out, O.lookup_table(x, table), np.dtype(dtype))


radii = st.one_of(st.integers(0, INT32_MAX), st.integers(0, 300), st.sampled_from([0, 1, 2]))


@given(
    st.sampled_from(["logistic", "tanh"]),
    st.integers(-128, 127),
    radii,
    multipliers,
    st.integers(0, 31),
    seeds,
)
def test_fixed_point_logistic_tanh_kernels_match_oracle(
    function, zp, radius, multiplier, shift, seed
):
    x = _all_values(np.dtype(np.int8), seed)
    out = np.empty_like(x)
    getattr(K, function)(x, zp, radius, multiplier, shift, out)
    _assert_same(out, getattr(O, function)(x, zp, radius, multiplier, shift), np.dtype(np.int8))


@given(
    st.sampled_from([(np.int8, np.int8), (np.uint8, np.uint8), (np.int8, np.int16)]),
    multipliers,
    st.integers(0, 31),
    st.one_of(st.integers(-300, 0), st.integers(-(2**31) + 1, 0), st.just(0)),
    st.integers(0, 4),
    st.integers(1, 23),
    seeds,
)
def test_softmax_kernel_matches_oracle(dtypes, multiplier, shift, diff_min, rows, depth, seed):
    in_dtype, out_dtype = dtypes
    info = np.iinfo(in_dtype)
    rng = np.random.default_rng(seed)
    x = rng.integers(int(info.min), int(info.max), (rows, depth), endpoint=True).astype(in_dtype)
    if rows and seed % 3 == 0:
        x[0] = x[0, 0]  # an all-equal row
    out = np.empty((rows, depth), out_dtype)
    K.softmax(x, multiplier, shift, diff_min, out)
    want = O.softmax(x, multiplier, shift, diff_min, out_dtype=out_dtype)
    _assert_same(out, want, np.dtype(out_dtype))


@given(
    st.sampled_from([np.int8, np.uint8]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 2**15 - 1),
    st.integers(-31, 31),
    st.integers(0, 2**15 - 1),
    st.integers(-31, 0),
    seeds,
)
def test_hard_swish_kernel_matches_oracle(dtype, zp_in, zp_out, m_relu, e_relu, m_out, e_out, seed):
    offset = -128 if dtype == np.int8 else 0
    x = _all_values(np.dtype(dtype), seed)
    args = (zp_in + offset, zp_out + offset, m_relu, e_relu, m_out, e_out)
    out = np.empty_like(x)
    K.hard_swish(x, *args, out)
    _assert_same(out, O.hard_swish(x, *args), np.dtype(dtype))


# ---- ops against oracles (derived integers), exhaustive over the 256 inputs ---------------------


def _oracle_unary(function: str, x: np.ndarray, params) -> np.ndarray:
    if isinstance(params, A.ActivationTable):
        return O.lookup_table(x, params.table)
    return getattr(O, function)(
        x,
        params.x_zero_point,
        params.input_range_radius,
        params.input_multiplier,
        params.input_left_shift,
    )


def _roundf(v: np.float32) -> float:
    # C roundf on a float32: half away from zero (|v| + 0.5 is exact in double).
    f = float(v)
    return math.copysign(math.floor(abs(f) + 0.5), f)


def _lut_populate_literal(function, x_qparams, out_qparams, expf=None, tanhf=None) -> np.ndarray:
    """LiteRT LUTPopulateInt8 transcribed one float32 scalar at a time (independent of the
    vectorized build in intq.ops); expf/tanhf default to the correctly rounded float32."""
    f32 = np.float32
    expf = expf or (lambda v: f32(math.exp(float(v))) if float(v) < 89 else f32(np.inf))
    tanhf = tanhf or (lambda v: f32(math.tanh(float(v))))
    info = np.iinfo(x_qparams.dtype)
    inverse_scale = f32(1) / f32(out_qparams.scale)
    table = []
    with np.errstate(over="ignore"):
        for val in range(int(info.min), int(info.max) + 1):
            dequantized = f32(x_qparams.scale) * f32(val - x_qparams.zero_point)
            if function == "logistic":
                transformed = f32(1) / (f32(1) + expf(-dequantized))
            else:
                transformed = tanhf(dequantized)
            rescaled = _roundf(f32(transformed * inverse_scale))
            quantized = int(rescaled + out_qparams.zero_point)
            table.append(max(min(quantized, int(info.max)), int(info.min)))
    return np.array(table, dtype=np.int64)


@given(
    function=st.sampled_from(["logistic", "tanh"]),
    method=st.sampled_from(["table", "fixed_point"]),
    signed=st.booleans(),
    scale=scales(-28, 5),
    zp=st.integers(-128, 127),
    shape=shapes_256,
    seed=seeds,
    profile=st.sampled_from(PROFILES),
)
def test_logistic_tanh_ops_match_oracle_on_all_256_inputs(
    function, method, signed, scale, zp, shape, seed, profile
):
    if method == "fixed_point":
        signed = True
    x_qparams = qparams_8bit(scale, zp, signed)
    x = _all_values(x_qparams.dtype, seed, shape)
    op = getattr(A, function)
    y = op(x, x_qparams=x_qparams, profile=profile, method=method)
    params = getattr(A, f"{function}_params")(x_qparams, profile=profile, method=method)
    _assert_same(y, _oracle_unary(function, x, params), params.out_qparams.dtype)
    if method == "table":
        np.testing.assert_array_equal(
            params.table.astype(np.int64),
            _lut_populate_literal(function, x_qparams, params.out_qparams),
        )
    _record(f"{function}-{method}", y, params.out_qparams.qmin, params.out_qparams.qmax)


def test_method_defaults_to_the_profile_field():
    x_qparams = QuantParams(0.1, 3)
    assert isinstance(A.logistic_params(x_qparams), A.ActivationTable)
    assert isinstance(A.tanh_params(x_qparams, profile=TFLM), A.FixedPointActivationParams)
    assert isinstance(A.tanh_params(x_qparams, profile=TFLM, method="table"), A.ActivationTable)
    x = _all_values(np.dtype(np.int8), 0)
    np.testing.assert_array_equal(
        A.logistic(x, x_qparams=x_qparams, profile=TFLM),
        A.logistic(x, x_qparams=x_qparams, method="fixed_point"),
    )


def test_fixed_point_params_pinned():
    # s = 0.1: frexp(float32(0.1) · 2^27) = (0.8000000119, 24); radius floor(15 · 2^27 / 2^24).
    p = A.logistic_params(QuantParams(0.1, -5), method="fixed_point")
    assert (p.x_zero_point, p.input_multiplier, p.input_left_shift) == (-5, 1717986944, 24)
    assert p.input_range_radius == 120
    assert p.input_multiplier == int(np.float32(0.1) * 2**27 / 2**24 * 2**31)


# Table (LiteRT) vs fixed point (TFLite Micro): how many of the 256 int8 entries differ, and by
# at most how many steps. Pinned: a change here changes what intq says about LiteRT vs TFLM.
# The differences come from TFLite Micro's input radius: inputs at or beyond it saturate, which
# matters once a few steps of input cover the whole range (scale >= 2); at scale >= 8 the radius
# is 0 and even x == zero_point saturates (logistic → 0.0, tanh → −1.0).
TABLE_VS_FIXED = [
    ("logistic", 0.01, 0, 0, 0),
    ("logistic", 0.1, 0, 0, 0),
    ("logistic", 0.5, 0, 0, 0),
    ("logistic", 2.0, 0, 1, 1),
    ("logistic", 4.0, 0, 2, 5),
    ("logistic", 6.0, -5, 1, 1),
    ("logistic", 8.0, 0, 1, 128),
    ("tanh", 0.01, 0, 0, 0),
    ("tanh", 0.1, 0, 0, 0),
    ("tanh", 0.5, 0, 0, 0),
    ("tanh", 4.0, 0, 0, 0),
    ("tanh", 8.0, 0, 1, 128),
]


@pytest.mark.parametrize(
    "function,scale,zp,differ,max_steps",
    TABLE_VS_FIXED,
    ids=[f"{f}-s{s}-zp{z}-differ{d}of256-max{m}steps" for f, s, z, d, m in TABLE_VS_FIXED],
)
def test_table_vs_fixed_point_entries_that_differ(function, scale, zp, differ, max_steps):
    x_qparams = QuantParams(scale, zp)
    x = _all_values(np.dtype(np.int8), 1)
    op = getattr(A, function)
    table = op(x, x_qparams=x_qparams, method="table").astype(np.int64)
    fixed = op(x, x_qparams=x_qparams, method="fixed_point").astype(np.int64)
    gap = np.abs(table - fixed)
    got = (int(np.sum(gap > 0)), int(gap.max()))
    assert got == (differ, max_steps), (
        f"{function} s={scale} zp={zp}: {got[0]}/256 differ, max {got[1]}"
    )


def test_large_scale_fixed_point_saturates_at_zero_point():
    # TFLite Micro at s >= 8: radius 0, so x == zero_point gives the lower rail.
    x = np.array([7, 6, 8], np.int8)
    x_qparams = QuantParams(8.0, 7)
    assert A.logistic_params(x_qparams, method="fixed_point").input_range_radius == 0
    assert A.logistic(x, x_qparams=x_qparams, method="fixed_point").tolist() == [-128, -128, 127]
    assert A.tanh(x, x_qparams=x_qparams, method="fixed_point").tolist() == [-128, -128, 127]
    assert A.logistic(x, x_qparams=x_qparams, method="table").tolist() == [0, -128, 127]


def _libm():
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    for fn in ("expf", "tanhf"):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float]
    return lib


LIBM = _libm()


@pytest.mark.skipif(LIBM is None, reason="no C math library to call through ctypes")
@given(st.sampled_from(["logistic", "tanh"]), scales(-12, 3), st.integers(-128, 127))
def test_tables_built_with_the_c_library_differ_only_in_uncertain_entries(function, scale, zp):
    # The table LiteRT would build on this machine (its libm's expf/tanhf) against intq's.
    x_qparams = QuantParams(scale, zp)
    params = A.logistic_params(x_qparams) if function == "logistic" else A.tanh_params(x_qparams)
    native = _lut_populate_literal(
        function,
        x_qparams,
        params.out_qparams,
        expf=lambda v: np.float32(LIBM.expf(float(v))),
        tanhf=lambda v: np.float32(LIBM.tanhf(float(v))),
    )
    differ = set((np.flatnonzero(native != params.table.astype(np.int64)) - 128).tolist())
    assert differ <= set(params.uncertain), (function, scale, zp, sorted(differ), params.uncertain)


# ---- softmax ----------------------------------------------------------------------------------

softmax_out = st.sampled_from(["int8", "uint8", "int16"])


def _softmax_scale_ok(beta: float, scale: float) -> bool:
    # PreprocessSoftmaxScaling's multiplier must exceed 1 (double product of the float32 values).
    return float(np.float32(beta)) * float(np.float32(scale)) * 2.0**26 > 1


def _softmax_case(kind: str, zp: int, scale: float):
    if kind == "uint8":
        return QuantParams(scale, zp + 128, signed=False), None
    out = QuantParams(1 / 65536, -32768, bits=16) if kind == "int16" else None
    return QuantParams(scale, zp), out


@given(
    kind=softmax_out,
    scale=scales(-22, 6),
    zp=st.integers(-128, 127),
    beta=st.sampled_from([1.0, 0.5, 2.0, 1e-3, 37.5]),
    shape=st.sampled_from([(1,), (7,), (1, 1), (3, 5), (2, 3, 13), (0, 4), (4, 1), (2, 31)]),
    seed=seeds,
    profile=st.sampled_from(PROFILES),
)
def test_softmax_op_matches_oracle(kind, scale, zp, beta, shape, seed, profile):
    x_qparams, out_qparams = _softmax_case(kind, zp, scale)
    assume(_softmax_scale_ok(beta, scale))
    info = np.iinfo(x_qparams.dtype)
    rng = np.random.default_rng(seed)
    x = rng.integers(int(info.min), int(info.max), shape, endpoint=True).astype(x_qparams.dtype)
    if x.size and seed % 4 == 0:
        x[..., 0] = info.max  # one huge value per row
        x[..., 1:] = info.min
    elif x.size and seed % 4 == 1:
        x[...] = x.flat[0]  # all-equal rows
    elif x.size and seed % 4 == 2:
        # A ramp down from the maximum in steps of about 0.7/β real units: mid-range outputs.
        step = int(min(max(round(0.7 / (beta * scale)), 1), 64))
        ramp = int(info.max) - step * np.arange(shape[-1])
        x[...] = np.clip(ramp, int(info.min), int(info.max)).astype(x.dtype)
    y = A.softmax(x, x_qparams=x_qparams, out_qparams=out_qparams, beta=beta, profile=profile)
    p = A.softmax_params(x_qparams, out_qparams, beta=beta, profile=profile)
    want = O.softmax(
        x, p.input_beta_multiplier, p.input_beta_left_shift, p.diff_min, p.out_qparams.dtype
    )
    _assert_same(y, want, p.out_qparams.dtype)
    assert 0 <= p.input_beta_left_shift <= 31 and p.diff_min <= 0
    _record(f"softmax-{kind}", y, p.out_qparams.qmin, p.out_qparams.qmax)


def test_softmax_inputs_below_diff_min_give_the_minimum():
    x_qparams = QuantParams(0.5, 0)
    p = A.softmax_params(x_qparams)
    assert p.diff_min == -((31 << 26) >> p.input_beta_left_shift)
    x = np.array([[100, 100 + p.diff_min, 100 + p.diff_min - 1, -128]], np.int8)
    y = A.softmax(x, x_qparams=x_qparams)
    assert y[0, 2] == -128 and y[0, 3] == -128
    np.testing.assert_array_equal(y, O.softmax(x, *_softmax_ints(p)))


def _softmax_ints(p: A.SoftmaxParams) -> tuple[int, int, int]:
    return p.input_beta_multiplier, p.input_beta_left_shift, p.diff_min


@pytest.mark.parametrize("profile,cap,shift,diff_min", [
    ("tflite", 2**31 - 1, 31, 0),
    ("tflite-single-rounding", 2**30 - 1, 30, -1),
])  # fmt: skip
def test_softmax_caps_a_large_multiplier(profile, cap, shift, diff_min):
    x_qparams = QuantParams(100.0, 0)
    p = A.softmax_params(x_qparams, profile=profile)
    assert p.capped and p.real_cap == cap
    assert (p.input_beta_left_shift, p.diff_min) == (shift, diff_min)
    x = np.array([[5, 5, 4, -3], [7, 0, 0, 0]], np.int8)
    y = A.softmax(x, x_qparams=x_qparams, profile=profile)
    np.testing.assert_array_equal(y, [[0, 0, -128, -128], [127, -128, -128, -128]])
    np.testing.assert_array_equal(y, O.softmax(x, *_softmax_ints(p)))


def test_softmax_rejects_what_litert_aborts_on():
    with pytest.raises(ValueError, match=r"beta \* scale \* 2\^26 > 1.*QuantizeMultiplierGreater"):
        A.softmax_params(QuantParams(2.0**-27, 0))
    x = np.zeros((1, 512), np.int8)
    with pytest.raises(ValueError, match="sum of 512 or more.*TFLITE_CHECK"):
        A.softmax(x, x_qparams=QuantParams(0.1, 0))
    with pytest.raises(ValueError, match="sum of 512 or more"):
        O.softmax(x, *_softmax_ints(A.softmax_params(QuantParams(0.1, 0))))
    y = A.softmax(x[:, :511], x_qparams=QuantParams(0.1, 0))
    assert set(y.ravel().tolist()) == {-127}
    wide = A.softmax(
        x, x_qparams=QuantParams(0.1, 0), out_qparams=QuantParams(2**-16, -32768, bits=16)
    )
    assert set(wide.ravel().tolist()) == {-32768 + 128}


def test_softmax_greater_than_one_multiply_is_the_same_in_both_builds():
    # Within [diff_min, 0], srdhm(d · 2^s, M) == (d·M + 2^(30−s)) >> (31−s) (single rounding).
    for scale in (2.0**-24, 1e-4, 0.01, 0.1, 0.37, 1.0, 3.0, 30.0, 1e3):
        for profile in PROFILES:
            p = A.softmax_params(QuantParams(scale, 0), profile=profile)
            m, s = p.input_beta_multiplier, p.input_beta_left_shift
            if s > 30:
                continue  # only the double-rounding build caps at 2^31 − 1 (then diff_min = 0)
            for d in range(max(p.diff_min, -300), 1):
                double = O.srdhm(O._wrap32(d * (1 << s)), m)
                single = (d * m + (1 << (30 - s))) >> (31 - s)
                assert double == single, (scale, profile, d)


def test_fixed_point_multiply_is_the_same_in_both_builds():
    # logistic.h/tanh.h call MultiplyByQuantizedMultiplier with shift >= 0 and |v| < radius.
    for exponent in range(-28, 4):
        scale = 1.37 * 2.0**exponent
        p = A.logistic_params(QuantParams(scale, 0), method="fixed_point")
        m, s = p.input_multiplier, p.input_left_shift
        for v in range(-min(p.input_range_radius - 1, 255), min(p.input_range_radius, 256)):
            double = O.multiply_by_quantized_multiplier_double_rounding(v, m, s)
            single = (v * m + (1 << (30 - s))) >> (31 - s)
            assert double == single, (scale, v)


# ---- hard-swish -------------------------------------------------------------------------------


@given(
    signed=st.booleans(),
    scale=scales(-20, 8),
    ratio=st.floats(1 / 64, 2.0**10),
    zp_in=st.integers(-128, 127),
    zp_out=st.integers(-128, 127),
    shape=shapes_256,
    seed=seeds,
    profile=st.sampled_from(PROFILES),
)
def test_hard_swish_op_matches_oracle_on_all_256_inputs(
    signed, scale, ratio, zp_in, zp_out, shape, seed, profile
):
    x_qparams = qparams_8bit(scale, zp_in, signed)
    out_qparams = qparams_8bit(scale * ratio, zp_out, signed)
    x = _all_values(x_qparams.dtype, seed, shape)
    y = A.hard_swish(x, x_qparams=x_qparams, out_qparams=out_qparams, profile=profile)
    p = A.hard_swish_params(x_qparams, out_qparams, profile=profile)
    want = O.hard_swish(
        x,
        p.x_zero_point,
        p.out_zero_point,
        p.reluish_multiplier_fixedpoint_int16,
        p.reluish_multiplier_exponent,
        p.output_multiplier_fixedpoint_int16,
        p.output_multiplier_exponent,
    )
    _assert_same(y, want, out_qparams.dtype)
    assert 0 <= p.output_multiplier_fixedpoint_int16 <= 32767
    assert 0 <= p.reluish_multiplier_fixedpoint_int16 <= 32767
    _record("hard_swish", y, out_qparams.qmin, out_qparams.qmax)


def test_hard_swish_params_pinned():
    # s_in = 0.05, s_out = 0.025: output multiplier 0.05/128/0.025 = 1/64 → Q0.31 2^30, shift −5
    # → int16 16384; reluish 0.05/128 / (3/32768) = 4.2666...: frexp 0.5333.. · 2^3.
    p = A.hard_swish_params(QuantParams(0.05, 3), QuantParams(0.025, -7))
    assert (p.output_multiplier_fixedpoint_int16, p.output_multiplier_exponent) == (16384, -5)
    real = float(np.float32(np.float32(0.05) / np.float32(128)) / np.float32(np.float32(3) / 32768))
    m32 = round(math.frexp(real)[0] * 2**31)
    assert p.reluish_multiplier_exponent == 3
    assert p.reluish_multiplier_fixedpoint_int16 == (m32 + 2**15) >> 16
    assert (p.x_zero_point, p.out_zero_point) == (3, -7)


# ---- float references -------------------------------------------------------------------------

GAPS: dict[str, float] = collections.defaultdict(float)


def _steps_from_clamped_reference(y, out_qparams, reference) -> np.ndarray:
    lo = (out_qparams.qmin - out_qparams.zero_point) * out_qparams.scale
    hi = (out_qparams.qmax - out_qparams.zero_point) * out_qparams.scale
    got = (y.astype(np.float64) - out_qparams.zero_point) * out_qparams.scale
    return np.abs(got - np.clip(reference, lo, hi)) / out_qparams.scale


@given(
    function=st.sampled_from(["logistic", "tanh"]),
    method=st.sampled_from(["table", "fixed_point"]),
    signed=st.booleans(),
    scale=scales(-28, 1),
    zp=st.integers(-128, 127),
)
def test_logistic_tanh_within_a_step_of_float(function, method, signed, scale, zp):
    # Table: one float32 rounding to the nearest step (0.5) plus float32 error (< 1e-3 step).
    # Fixed point (scale < 4): gemmlowp's error is below 3e-7 (< 1e-4 step), but inputs at
    # TFLite Micro's radius (real value >= 6 for scale in [2, 4)) saturate: at most 0.63 step.
    signed = signed or method == "fixed_point"
    x_qparams = qparams_8bit(scale, zp, signed)
    x = _all_values(x_qparams.dtype, 0)
    y = getattr(A, function)(x, x_qparams=x_qparams, method=method)
    params = getattr(A, f"{function}_params")(x_qparams, method=method)
    real_x = (x.astype(np.float64) - x_qparams.zero_point) * np.float32(x_qparams.scale)
    gap = _steps_from_clamped_reference(y, params.out_qparams, getattr(F, function)(real_x))
    key = f"{function}-{method}"
    GAPS[key] = max(GAPS[key], float(gap.max()))
    bound = 0.5 + 1e-3 if method == "table" else 0.64
    assert gap.max() <= bound, f"{key}: worst {gap.max():.4f} steps (scale {scale}, zp {zp})"


@given(
    kind=softmax_out,
    scale=scales(-20, 3),
    zp=st.integers(-128, 127),
    beta=st.sampled_from([1.0, 0.5, 2.0]),
    shape=st.sampled_from([(1,), (5,), (2, 17), (3, 64)]),
    seed=seeds,
)
def test_softmax_within_a_step_of_float(kind, scale, zp, beta, shape, seed):
    # output_i = e_i / S. One rounding (0.5 step), plus: each exp has an absolute error below
    # 4e-7 (test_exp_on_negative_values_is_accurate); each term is rounded to Q12.19 (2^-20) in
    # the sum S >= 1; terms below diff_min are dropped (each exp(-15.5) < 1.9e-7); the reciprocal
    # is good to 1e-8. So |error| <= 0.5 + steps_per_unit · ((n + 1)·4e-7 + n·(2^-20 + 1.9e-7)
    # + 1e-8) with n the row length: about 0.52 step for int8 and a few steps for int16 rows of
    # 64 (the Q12.19 sum, not the output type, limits int16 softmax).
    x_qparams, out_qparams = _softmax_case(kind, zp, scale)
    assume(_softmax_scale_ok(beta, scale))
    info = np.iinfo(x_qparams.dtype)
    x = np.random.default_rng(seed).integers(int(info.min), int(info.max), shape, endpoint=True)
    x = x.astype(x_qparams.dtype)
    y = A.softmax(x, x_qparams=x_qparams, out_qparams=out_qparams, beta=beta)
    p = A.softmax_params(x_qparams, out_qparams, beta=beta)
    real_x = (x.astype(np.float64) - x_qparams.zero_point) * np.float32(x_qparams.scale)
    gap = _steps_from_clamped_reference(y, p.out_qparams, F.softmax(real_x, beta=beta))
    n = shape[-1]
    bound = 0.5 + ((n + 1) * 4e-7 + n * (2.0**-20 + 1.9e-7) + 1e-8) / p.out_qparams.scale
    GAPS[f"softmax-{kind}"] = max(GAPS[f"softmax-{kind}"], float(gap.max()))
    assert gap.max() <= bound, f"softmax {kind}: worst {gap.max():.4f} steps (bound {bound:.3f})"


@given(
    signed=st.booleans(),
    scale=scales(-12, 3),
    ratio=st.floats(1 / 32, 64.0),
    zp_in=st.integers(-128, 127),
    zp_out=st.integers(-128, 127),
)
def test_hard_swish_within_a_step_of_float(signed, scale, ratio, zp_in, zp_out):
    # One rounding (0.5 step) plus the 16-bit intermediates: the input on a 2^-7 finer scale, the
    # relu6 factor in Q0.15 and SQDMULH's truncation (< 0.06 step measured). Output scales below
    # s_in/32 are left out: there the int16 arithmetic saturates or wraps (as in LiteRT).
    x_qparams = qparams_8bit(scale, zp_in, signed)
    out_qparams = qparams_8bit(scale * ratio, zp_out, signed)
    x = _all_values(x_qparams.dtype, 0)
    y = A.hard_swish(x, x_qparams=x_qparams, out_qparams=out_qparams)
    real_x = (x.astype(np.float64) - x_qparams.zero_point) * np.float32(x_qparams.scale)
    gap = _steps_from_clamped_reference(y, out_qparams, F.hard_swish(real_x))
    GAPS["hard_swish"] = max(GAPS["hard_swish"], float(gap.max()))
    assert gap.max() <= 0.6, f"hard_swish: worst {gap.max():.4f} steps"


# ---- layouts, JIT-free execution, bad input ---------------------------------------------------


@pytest.mark.parametrize("op", ["logistic-table", "logistic-fixed_point", "tanh-fixed_point",
                                "softmax", "hard_swish"])  # fmt: skip
def test_strided_and_fortran_inputs_give_the_same_bits(op):
    x_qparams = QuantParams(0.07, -9)
    base = _all_values(np.dtype(np.int8), 3, (16, 16))
    name, _, method = op.partition("-")

    def run(x):
        if name == "softmax":
            return A.softmax(x, x_qparams=x_qparams)
        if name == "hard_swish":
            return A.hard_swish(x, x_qparams=x_qparams, out_qparams=QuantParams(0.05, 4))
        return getattr(A, name)(x, x_qparams=x_qparams, method=method)

    for view in (base[::2, 1::3], base.T, np.asfortranarray(base), base[:, ::-1]):
        np.testing.assert_array_equal(run(view), run(np.ascontiguousarray(view)))


def test_kernels_agree_with_oracles_without_the_jit():
    script = textwrap.dedent(
        """
        import numpy as np
        from intq.kernels import activations as K
        from intq.reference.int_oracle import activations as O
        x = np.arange(-128, 128, dtype=np.int8)
        table = (np.arange(256)[::-1] - 128).astype(np.int8)
        out = np.empty_like(x)
        K.lookup_table(x, table, out)
        assert (out == O.lookup_table(x, table)).all()
        for name in ("logistic", "tanh"):
            out = np.empty_like(x)
            getattr(K, name)(x, 3, 120, 1717986944, 24, out)
            assert (out == getattr(O, name)(x, 3, 120, 1717986944, 24)).all(), name
        rows = x.reshape(4, 64)
        for dtype in (np.int8, np.int16):
            out = np.empty(rows.shape, dtype)
            K.softmax(rows, 1516375040, 25, -62, out)
            assert (out == O.softmax(rows, 1516375040, 25, -62, out_dtype=dtype)).all()
        out = np.empty_like(x)
        K.hard_swish(x, -3, 5, 22321, 6, 24326, -8, out)
        assert (out == O.hard_swish(x, -3, 5, 22321, 6, 24326, -8)).all()
        print("ok")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("module", [K, FPM], ids=["activations", "fixedpoint_math"])
def test_signatures_name_every_kernel_and_compile(module):
    from numba.core.registry import CPUDispatcher

    jitted = {n for n, f in vars(module).items() if isinstance(f, CPUDispatcher)}
    jitted = {n for n in jitted if getattr(module, n).py_func.__module__ == module.__name__}
    assert jitted == set(module.SIGNATURES)
    for name, signatures in module.SIGNATURES.items():
        for signature in signatures:
            getattr(module, name).compile(signature)


def test_bad_inputs_are_rejected_with_named_arguments():
    x = np.zeros(4, np.int8)
    q = QuantParams(0.1, 0)
    with pytest.raises(TypeError, match="x: dtype int16"):
        A.logistic(x.astype(np.int16), x_qparams=q)
    with pytest.raises(TypeError, match="x: expected a NumPy integer array"):
        A.tanh([0, 1], x_qparams=q)
    with pytest.raises(ValueError, match="x_qparams: logistic takes 8-bit inputs"):
        A.logistic(x.astype(np.int16), x_qparams=QuantParams(0.1, 0, bits=16))
    with pytest.raises(ValueError, match="x_qparams: must be per-tensor"):
        A.tanh(np.zeros((2, 2), np.int8), x_qparams=QuantParams([0.1, 0.2], 0, axis=1))
    with pytest.raises(ValueError, match="x: values span"):
        A.logistic(np.array([-128], np.int8), x_qparams=QuantParams(0.1, 0, narrow_range=True))
    with pytest.raises(ValueError, match="out_qparams: the logistic output is fixed"):
        A.logistic(x, x_qparams=q, out_qparams=QuantParams(1 / 255, -128))
    with pytest.raises(ValueError, match="out_qparams: the tanh output is fixed.*zero point 0"):
        A.tanh(x, x_qparams=q, out_qparams=QuantParams(1 / 128, -128))
    with pytest.raises(ValueError, match="method: expected one of"):
        A.logistic(x, x_qparams=q, method="polynomial")
    with pytest.raises(ValueError, match="method: TFLite Micro's fixed-point tanh takes int8 only"):
        A.tanh(
            x.astype(np.uint8), x_qparams=QuantParams(0.1, 128, signed=False), method="fixed_point"
        )
    with pytest.raises(ValueError, match="x_qparams: scale .* below 2\\^-28"):
        A.logistic(x, x_qparams=QuantParams(2.0**-29, 0), method="fixed_point")
    with pytest.raises(ValueError, match="x: softmax needs at least one dimension"):
        A.softmax(np.array(3, np.int8), x_qparams=q)
    with pytest.raises(ValueError, match="beta: must be finite and positive"):
        A.softmax(x, x_qparams=q, beta=-1.0)
    with pytest.raises(ValueError, match="beta: must be finite and positive"):
        A.softmax(x, x_qparams=q, beta=float("nan"))
    with pytest.raises(ValueError, match="out_qparams: the softmax output is fixed.*-32768"):
        A.softmax(x, x_qparams=q, out_qparams=QuantParams(2**-16, 0, bits=16))
    with pytest.raises(ValueError, match="out_qparams: the softmax output is fixed.*unsigned"):
        A.softmax(x.astype(np.uint8), x_qparams=QuantParams(0.1, 0, signed=False),
                  out_qparams=QuantParams(1 / 256, -128))  # fmt: skip
    with pytest.raises(TypeError, match="out_qparams: expected QuantParams"):
        A.hard_swish(x, x_qparams=q, out_qparams=None)
    with pytest.raises(ValueError, match="out_qparams: hard_swish outputs the input type"):
        A.hard_swish(x, x_qparams=q, out_qparams=QuantParams(0.1, 0, signed=False))
    with pytest.raises(ValueError, match="input scale / \\(128 \\* output scale\\) < 1"):
        A.hard_swish(x, x_qparams=q, out_qparams=QuantParams(0.1 / 200, 0))
    with pytest.raises(ValueError, match="x_qparams: hard_swish input scale .* too large"):
        A.hard_swish(x, x_qparams=QuantParams(2.0**30, 0), out_qparams=QuantParams(2.0**40, 0))


def test_empty_and_rank_zero_inputs():
    q = QuantParams(0.1, 0)
    assert A.logistic(np.zeros((0, 3), np.int8), x_qparams=q).shape == (0, 3)
    assert A.tanh(np.array(5, np.int8), x_qparams=q, method="fixed_point").shape == ()
    assert A.softmax(np.zeros((2, 0), np.int8), x_qparams=q).shape == (2, 0)
    out = A.hard_swish(np.zeros((0,), np.uint8), x_qparams=QuantParams(0.1, 7, signed=False),
                       out_qparams=QuantParams(0.1, 9, signed=False))  # fmt: skip
    assert out.dtype == np.uint8 and out.shape == (0,)


def test_randomized_suites_were_not_vacuous():
    # Runs after the randomized op tests above (file order): each op hit both rails and the middle.
    if not SEEN:
        pytest.skip("the randomized op tests did not run in this session")
    ops = sorted({op for op, _ in SEEN})
    for op in ops:
        assert SEEN[op, "min"] and SEEN[op, "max"] and SEEN[op, "mid"], (op, dict(SEEN))
    print("float gaps (worst, in output steps):", {k: round(v, 4) for k, v in GAPS.items()})
