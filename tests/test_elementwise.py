"""Elementwise ops: intq.kernels.elementwise against the integer oracles of
intq.reference.int_oracle.elementwise (bit for bit, integers drawn directly), intq.ops.elementwise
against the same oracles fed the derived integers, and the dequantized results against the
float64 references."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from kernel_checks import OutputCoverage
from kernel_checks import assert_same as _assert_same
from kernel_checks import i64 as _i64

from intq import QuantParams
from intq.kernels import elementwise as K
from intq.kernels import fixed_point as KFP
from intq.ops import elementwise as E
from intq.reference.float_ops import elementwise as F
from intq.reference.int_oracle import elementwise as O

INT32_MAX = 2**31 - 1
PROFILES = ("tflite", "tflite-single-rounding")
ROUNDINGS = (KFP.DOUBLE_ROUNDING, KFP.SINGLE_ROUNDING)
DTYPES = (np.int8, np.uint8, np.int16)
ACTIVATIONS = (None, "relu", "relu6", "relu_n1_to_1")

# Output values seen by the randomized tests: per (test, "min"/"max"/"mid"), and distinct values.
COVERAGE = OutputCoverage()
SEEN, DISTINCT, WORST_FLOAT_GAP = COVERAGE.seen, COVERAGE.distinct, COVERAGE.worst_float_gap
_record = COVERAGE.record


def _real(q: QuantParams, x: np.ndarray) -> np.ndarray:
    return q.scale * (x.astype(np.float64) - q.zero_point)


def _float_gap(name: str, q_out: QuantParams, got, ref, act_min, act_max, slack: float) -> None:
    """Assert the dequantized ``got`` lies within ``slack`` output steps of the float reference
    clamped to the dequantized clamp bounds, and keep the worst gap for the summary."""
    lo, hi = _real(q_out, np.array(act_min)), _real(q_out, np.array(act_max))
    ref = np.clip(ref, lo, hi)
    gap = np.abs(_real(q_out, got) - ref) / q_out.scale
    worst = float(gap.max()) if gap.size else 0.0
    WORST_FLOAT_GAP[name] = max(WORST_FLOAT_GAP[name], worst)
    assert worst <= slack, f"{name}: worst gap {worst:.6f} output steps exceeds {slack:.6f}"


# ---- strategies -------------------------------------------------------------------------------

multipliers = st.one_of(
    st.integers(0, INT32_MAX), st.sampled_from([0, 1, 2**30, 2**30 + 1, INT32_MAX])
)
seeds = st.integers(0, 2**32 - 1)


def scales(lo_exponent: int, hi_exponent: int) -> st.SearchStrategy[float]:
    """Positive scales ``m · 2^e`` with ``m`` in [1, 2): tiny to large."""
    return st.builds(
        lambda m, e: m * 2.0**e,
        st.floats(1.0, 2.0, exclude_max=True),
        st.integers(lo_exponent, hi_exponent),
    )


def _qparams(dtype, scale: float, zero_point: int) -> QuantParams:
    info = np.iinfo(dtype)
    return QuantParams(scale, zero_point, bits=8 * np.dtype(dtype).itemsize, signed=info.min < 0)


@st.composite
def zero_points(draw, dtype, symmetric_int16: bool = True):
    info = np.iinfo(dtype)
    if dtype == np.int16 and symmetric_int16:
        return 0
    return draw(
        st.one_of(
            st.integers(int(info.min), int(info.max)),
            st.sampled_from([int(info.min), int(info.max)]),  # the rails
        )
    )


@st.composite
def clamp_bounds(draw, dtype):
    info = np.iinfo(dtype)
    a = draw(st.integers(int(info.min), int(info.max)))
    b = draw(st.integers(int(info.min), int(info.max)))
    if draw(st.booleans()):
        return int(info.min), int(info.max)
    return min(a, b), max(a, b)


def _data(draw, dtype, shape, seed=None) -> np.ndarray:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(draw(seeds) if seed is None else seed)
    return rng.integers(int(info.min), int(info.max), size=shape, dtype=dtype, endpoint=True)


# ---- kernels == oracles (integers drawn directly) ---------------------------------------------


@st.composite
def add_sub_kernel_cases(draw, op):
    dtype = draw(st.sampled_from(DTYPES))
    rounding = draw(st.sampled_from(ROUNDINGS))
    n = draw(st.integers(0, 40))
    x1, x2 = _data(draw, dtype, (n,)), _data(draw, dtype, (n,))
    left_shift = 15 if dtype == np.int16 else 20
    zp1, zp2, zpo = (draw(zero_points(dtype, symmetric_int16=False)) for _ in range(3))
    input_shifts = st.integers(-31, 0)
    if op == "sub" and rounding == KFP.SINGLE_ROUNDING:
        out_shifts = st.integers(-31, 30)  # sub.cc's greater-than-one output multiplier
    else:
        out_shifts = st.integers(-31, 0)
    params = (
        zp1, zp2, left_shift, draw(multipliers), draw(input_shifts), draw(multipliers),
        draw(input_shifts), draw(multipliers), draw(out_shifts), rounding, zpo,
        *draw(clamp_bounds(dtype)),
    )  # fmt: skip
    return x1, x2, params


@pytest.mark.parametrize("op", ["add", "sub"])
@given(data=st.data())
def test_add_sub_kernel_equals_oracle(op, data):
    x1, x2, params = data.draw(add_sub_kernel_cases(op))
    out = np.empty(x1.shape, dtype=x1.dtype)
    getattr(K, op)(x1, x2, *_i64(*params), out)
    want = getattr(O, op)(x1, x2, *params)
    _assert_same(out, want, x1.dtype)
    act_min, act_max = params[-2:]
    assert out.size == 0 or (out.min() >= act_min and out.max() <= act_max)
    _record("kernel_" + op, out, act_min, act_max)


@given(data=st.data())
def test_mul_kernel_equals_oracle(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    n = data.draw(st.integers(0, 40))
    x1, x2 = _data(data.draw, dtype, (n,)), _data(data.draw, dtype, (n,))
    params = (
        data.draw(zero_points(dtype, symmetric_int16=False)),
        data.draw(zero_points(dtype, symmetric_int16=False)),
        data.draw(multipliers), data.draw(st.integers(-31, 30)),
        data.draw(st.sampled_from(ROUNDINGS)), data.draw(zero_points(dtype)),
        *data.draw(clamp_bounds(dtype)),
    )  # fmt: skip
    out = np.empty(x1.shape, dtype=dtype)
    K.mul(x1, x2, *_i64(*params), out)
    _assert_same(out, O.mul(x1, x2, *params), dtype)
    _record("kernel_mul", out, *params[-2:])


@given(data=st.data())
def test_requantize_kernel_equals_oracle(data):
    src, dst = (np.dtype(t) for t in data.draw(st.sampled_from(K.REQUANTIZE_TYPES)))
    n = data.draw(st.integers(0, 40))
    x = _data(data.draw, src, (n,))
    zp_in = data.draw(zero_points(src, symmetric_int16=False))
    zp_out = data.draw(zero_points(dst, symmetric_int16=False))
    if data.draw(st.booleans()):  # LiteRT's sign-bit-flip shortcut: ratio 1, zp 128 apart
        multiplier, shift = 2**30, 1
        if src.itemsize == dst.itemsize == 1 and src != dst:
            zp_out = zp_in + 128 if dst == np.uint8 else zp_in - 128
            assume(np.iinfo(dst).min <= zp_out <= np.iinfo(dst).max)
    else:
        multiplier, shift = data.draw(multipliers), data.draw(st.integers(-31, 30))
    info = np.iinfo(dst)
    params = (
        zp_in, multiplier, shift, data.draw(st.sampled_from(ROUNDINGS)), zp_out, int(info.min),
        int(info.max),
    )  # fmt: skip
    out = np.empty(x.shape, dtype=dst)
    K.requantize(x, *_i64(*params), out)
    _assert_same(out, O.requantize(x, *params), dst)
    _record("kernel_requantize", out, int(info.min), int(info.max))


@given(data=st.data())
def test_pad_kernel_equals_oracle(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    shape = tuple(data.draw(st.lists(st.integers(0, 3), min_size=5, max_size=5)))
    x = _data(data.draw, dtype, shape)
    before = np.array(data.draw(st.lists(st.integers(0, 2), min_size=5, max_size=5)), np.int64)
    after = np.array(data.draw(st.lists(st.integers(0, 2), min_size=5, max_size=5)), np.int64)
    value = data.draw(zero_points(dtype, symmetric_int16=False))
    out = np.empty(tuple(int(v) for v in np.array(shape) + before + after), dtype=dtype)
    K.pad(x, before, after, np.int64(value), out)
    _assert_same(out, O.pad(x, before, after, value), dtype)


@given(data=st.data())
def test_mean_kernel_equals_oracle(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    outer = data.draw(st.integers(0, 4))
    n = data.draw(st.one_of(st.integers(0, 70), st.sampled_from([1, 2, 4, 8, 16, 32, 64, 3, 7])))
    x = _data(data.draw, dtype, (outer, n))
    info = np.iinfo(dtype)
    params = (
        data.draw(zero_points(dtype, symmetric_int16=False)), data.draw(multipliers),
        data.draw(st.integers(-31, 30)), data.draw(st.sampled_from(ROUNDINGS)),
        data.draw(zero_points(dtype, symmetric_int16=False)), int(info.min), int(info.max),
    )  # fmt: skip
    out = np.empty(outer, dtype=dtype)
    K.mean(x, *_i64(*params), out)
    _assert_same(out, O.mean(x, *params), dtype)
    _record("kernel_mean", out, int(info.min), int(info.max))


def test_smaller_than_one_exp_matches_the_two_builds():
    for x in (-(2**31), -12345678, -1, 0, 1, 2**27 + 3, 2**31 - 1):
        for m in (0, 1, 2**30, 2**31 - 1, 1518500250):
            for s in range(-31, 1):
                got = K.multiply_by_quantized_multiplier_smaller_than_one_exp(x, m, s, 0)
                assert got == O._mbqm_smaller_than_one_exp(x, m, s, 0)
                assert got == KFP.multiply_by_quantized_multiplier(x, m, s)  # equal for s <= 0
                got = K.multiply_by_quantized_multiplier_smaller_than_one_exp(x, m, s, 1)
                assert got == KFP.multiply_by_quantized_multiplier_single_rounding(x, m, s)


def test_kernels_without_jit_equal_the_oracle():
    code = textwrap.dedent(
        """
        import numpy as np
        from intq.kernels import elementwise as K
        from intq.reference.int_oracle import elementwise as O
        i64 = np.int64
        rng = np.random.default_rng(5)
        for dtype, ls in ((np.int8, 20), (np.uint8, 20), (np.int16, 15)):
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, size=33, dtype=dtype, endpoint=True)
            b = rng.integers(info.min, info.max, size=33, dtype=dtype, endpoint=True)
            zp = 0 if dtype == np.int16 else int(info.min) + 9
            for rounding in (0, 1):
                p = (zp, zp + 3, ls, 1518500250, -1, 1073741824, -3, 1717986918, -18, rounding,
                     zp + 1, int(info.min) + 2, int(info.max) - 2)
                for name in ("add", "sub"):
                    out = np.empty(33, dtype)
                    getattr(K, name)(a, b, *map(i64, p), out)
                    assert (out == getattr(O, name)(a, b, *p)).all(), name
                p = (zp, zp - 2, 1288490189, -9, rounding, zp, int(info.min), int(info.max))
                out = np.empty(33, dtype)
                K.mul(a, b, *map(i64, p[:6]), i64(p[6]), i64(p[7]), out)
                assert (out == O.mul(a, b, *p)).all(), "mul"
                p = (zp, 1288490189, -2, rounding, zp, int(info.min), int(info.max))
                out = np.empty(33, dtype)
                K.requantize(a, *map(i64, p), out)
                assert (out == O.requantize(a, *p)).all(), "requantize"
                x = a.reshape(3, 11)
                out = np.empty(3, dtype)
                K.mean(x, *map(i64, p), out)
                assert (out == O.mean(x, *p)).all(), "mean"
            x = a[:30].reshape(1, 2, 3, 5, 1)
            before, after = np.array([0, 1, 0, 2, 1]), np.array([1, 0, 2, 0, 1])
            out = np.empty((2, 3, 5, 7, 3), dtype)
            K.pad(x, before, after, i64(zp), out)
            assert (out == O.pad(x, before, after, zp)).all(), "pad"
        print("OK")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


# ---- ops == oracle fed the derived integers, and the float references --------------------------


@st.composite
def add_sub_op_cases(draw, dtype=None, same_scale=False):
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=4))  # fmt: skip
    s1 = draw(scales(-20, 10))  # about 1e-6 to 1e3
    s2 = s1 if same_scale else draw(st.one_of(scales(-20, 10), st.just(s1)))
    # The output scale must keep 2·max(s1, s2) / (2^20 · s_out) below 1 (LiteRT aborts otherwise).
    lo = -13 if dtype == np.int16 else -18
    so = max(s1, s2) * 2.0 ** draw(st.floats(lo, 4))
    q1 = _qparams(dtype, s1, draw(zero_points(dtype)))
    q2 = _qparams(dtype, s2, draw(zero_points(dtype)))
    qo = _qparams(dtype, so, draw(zero_points(dtype)))
    x1 = _data(draw, dtype, shapes.input_shapes[0])
    x2 = _data(draw, dtype, shapes.input_shapes[1])
    return x1, x2, q1, q2, qo, draw(st.sampled_from(ACTIVATIONS)), draw(st.sampled_from(PROFILES))


def _check_add_sub(op, x1, x2, q1, q2, qo, activation, profile):
    got = getattr(E, op)(
        x1, x2, x1_qparams=q1, x2_qparams=q2, out_qparams=qo, activation=activation,
        profile=profile,
    )  # fmt: skip
    p = E.add_params(q1, q2, qo, activation=activation, profile=profile, op=op)
    want = getattr(O, op)(
        x1, x2, p.x1_zero_point, p.x2_zero_point, p.left_shift, p.x1_multiplier, p.x1_shift,
        p.x2_multiplier, p.x2_shift, p.out_multiplier, p.out_shift, p.rounding,
        p.out_zero_point, p.act_min, p.act_max,
    )  # fmt: skip
    _assert_same(got, want, qo.dtype)
    assert got.size == 0 or (got.min() >= p.act_min and got.max() <= p.act_max)
    _record("op_" + op, got, p.act_min, p.act_max)
    # Float check. Error budget in output steps: the final requantization (≤ 1/2, double
    # rounding ≤ 1/2 + 2^(s_o)/2), each input's rescaling (≤ 1 unit of 2^-left_shift·twice_max,
    # i.e. ≤ real_out steps each), and an input whose multiplier flushed to 0 (< 2^-32).
    ref = getattr(F, op)(_real(q1, x1), _real(q2, x2), None)
    slack = 0.5 + 0.5 * 2.0**p.out_shift + 2 * p.real_out_multiplier + 1e-6
    for q, m in ((q1, p.x1_multiplier), (q2, p.x2_multiplier)):
        if m == 0:
            slack += E._max_abs_offset(q) * q.scale / qo.scale
    _float_gap(op, qo, got, ref, p.act_min, p.act_max, slack)


@pytest.mark.parametrize("op", ["add", "sub"])
@given(case=add_sub_op_cases())
def test_add_sub_op_equals_oracle(op, case):
    _check_add_sub(op, *case)


@pytest.mark.parametrize("op", ["add", "sub"])
@given(case=add_sub_op_cases(same_scale=True))
def test_add_sub_same_scale_inputs(op, case):
    _check_add_sub(op, *case)


@pytest.mark.parametrize("op", ["add", "sub"])
@given(case=add_sub_op_cases(dtype=np.int16))
def test_add_sub_16x8(op, case):
    _, _, q1, q2, qo, _, _ = case
    assert q1.zero_point == q2.zero_point == qo.zero_point == 0
    assert E.add_params(q1, q2, qo, op=op).left_shift == 15
    _check_add_sub(op, *case)


@pytest.mark.parametrize(
    "s1,s2", [(1e-6, 1e3), (1e3, 1e-6), (1.0, 1.0), (3e-3, 2e-3), (0.5, 2.0**-30)]
)
@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("profile", PROFILES)
def test_add_sub_extreme_scale_ratios_and_rail_zero_points(op, s1, s2, profile):
    rng = np.random.default_rng(1)
    for zp1, zp2, zpo in ((-128, 127, 0), (127, -128, -128), (0, 0, 127)):
        q1, q2 = QuantParams(s1, zp1), QuantParams(s2, zp2)
        qo = QuantParams(max(s1, s2) * 1.7, zpo)
        x1 = rng.integers(-128, 128, size=(3, 5), dtype=np.int8)
        x2 = rng.integers(-128, 128, size=(5,), dtype=np.int8)
        _check_add_sub(op, x1, x2, q1, q2, qo, None, profile)


def test_sub_greater_than_one_output_multiplier_needs_single_rounding():
    q1, q2, qo = QuantParams(1.0, 3), QuantParams(0.5, -2), QuantParams(1e-6, 0)
    with pytest.raises(ValueError, match="sub: the real output multiplier .* exceeds 1"):
        E.add_params(q1, q2, qo, op="sub")
    p = E.add_params(q1, q2, qo, op="sub", profile="tflite-single-rounding")
    assert p.out_shift > 0 and p.real_out_multiplier > 1
    x1 = np.array([3, 4, 2, 3], np.int8)
    x2 = np.array([-2, -2, -2, -1], np.int8)
    _check_add_sub("sub", x1, x2, q1, q2, qo, None, "tflite-single-rounding")
    with pytest.raises(ValueError, match="add: the real output multiplier .* must be below 1"):
        E.add_params(q1, q2, qo, op="add", profile="tflite-single-rounding")


def test_add_params_follow_add_cc():
    q1, q2, qo = QuantParams(0.02, 5), QuantParams(0.05, -7), QuantParams(0.1, 3)
    p = E.add_params(q1, q2, qo, activation="relu")
    s1, s2, so = (float(np.float32(s)) for s in (0.02, 0.05, 0.1))
    assert p.left_shift == 20
    assert p.real_x1_multiplier == s1 / (2 * s2)
    assert p.real_x2_multiplier == 0.5 and (p.x2_multiplier, p.x2_shift) == (2**30, 0)
    assert p.real_out_multiplier == 2 * s2 / (2**20 * so)
    assert (p.act_min, p.act_max) == (3, 127)


@st.composite
def mul_op_cases(draw, dtype=None):
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=4))  # fmt: skip
    s1, s2 = draw(scales(-20, 10)), draw(scales(-20, 10))
    # Keep product · 2^shift inside int32: |v1·v2| <= 2^30 (int16) or 255² (8-bit).
    lo = 1 if dtype == np.int16 else -13
    so = s1 * s2 * 2.0 ** draw(st.floats(lo, 16))
    q1 = _qparams(dtype, s1, draw(zero_points(dtype)))
    q2 = _qparams(dtype, s2, draw(zero_points(dtype)))
    qo = _qparams(dtype, so, draw(zero_points(dtype)))
    x1 = _data(draw, dtype, shapes.input_shapes[0])
    x2 = _data(draw, dtype, shapes.input_shapes[1])
    return x1, x2, q1, q2, qo, draw(st.sampled_from(ACTIVATIONS)), draw(st.sampled_from(PROFILES))


@given(case=mul_op_cases())
def test_mul_op_equals_oracle(case):
    x1, x2, q1, q2, qo, activation, profile = case
    got = E.mul(
        x1, x2, x1_qparams=q1, x2_qparams=q2, out_qparams=qo, activation=activation,
        profile=profile,
    )  # fmt: skip
    p = E.mul_params(q1, q2, qo, activation=activation, profile=profile)
    want = O.mul(
        x1, x2, p.x1_zero_point, p.x2_zero_point, p.multiplier, p.shift, p.rounding,
        p.out_zero_point, p.act_min, p.act_max,
    )  # fmt: skip
    _assert_same(got, want, qo.dtype)
    _record("op_mul", got, p.act_min, p.act_max)
    # The float32 multiplier is off by at most 2 float32 roundings (2^-23 relative) and the
    # 31-bit one by 2^-31; in-range outputs are below 2^16 steps; double rounding ≤ 1 step.
    ref = F.mul(_real(q1, x1), _real(q2, x2), None)
    _float_gap("mul", qo, got, ref, p.act_min, p.act_max, 0.5 + 0.5 + 2**16 * 2.0**-22)


def test_mul_multiplier_is_computed_in_float32():
    s1, s2, so = 0.1, 0.3, 0.7
    p = E.mul_params(QuantParams(s1, 0), QuantParams(s2, 0), QuantParams(so, 0))
    f32 = np.float32
    assert p.real_multiplier == float(f32(f32(s1) * f32(s2)) / f32(so))
    assert p.real_multiplier != float(f32(s1)) * float(f32(s2)) / float(f32(so))


@given(data=st.data())
def test_requantize_op_int8_uint8_and_back(data):
    src = data.draw(st.sampled_from([np.int8, np.uint8]))
    dst = data.draw(st.sampled_from([np.int8, np.uint8]))
    s_in = data.draw(scales(-20, 10))
    s_out = s_in * 2.0 ** data.draw(st.one_of(st.floats(-20, 6), st.just(0.0)))
    zp_in = data.draw(zero_points(src))
    zp_out = data.draw(
        st.one_of(
            zero_points(dst), st.just(zp_in + (128 if dst == np.uint8 else -128) * (src != dst))
        )
    )
    assume(np.iinfo(dst).min <= zp_out <= np.iinfo(dst).max)
    q_in, q_out = _qparams(src, s_in, zp_in), _qparams(dst, s_out, zp_out)
    profile = data.draw(st.sampled_from(PROFILES))
    x = _data(data.draw, src, data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)))
    got = E.requantize(x, x_qparams=q_in, out_qparams=q_out, profile=profile)
    p = E.requantize_params(q_in, q_out, profile=profile)
    want = O.requantize(
        x, p.x_zero_point, p.multiplier, p.shift, p.rounding, p.out_zero_point, p.act_min,
        p.act_max,
    )  # fmt: skip
    _assert_same(got, want, dst)
    _record("op_requantize", got, p.act_min, p.act_max)
    _float_gap("requantize", q_out, got, F.requantize(_real(q_in, x)), p.act_min, p.act_max, 1.0)
    if s_out == s_in and zp_out - zp_in == (128 if dst == np.uint8 else -128) and src != dst:
        # LiteRT's shortcut: the same bits with the sign bit flipped.
        np.testing.assert_array_equal(got.view(np.uint8), x.view(np.uint8) ^ 0x80)


def test_requantize_16_bit():
    x = np.array([-32768, -5, 0, 7, 32767], np.int16)
    q16, q16b, q8 = (
        QuantParams(1e-3, 0, bits=16),
        QuantParams(3e-3, 0, bits=16),
        QuantParams(0.3, -4),
    )
    for q_out, dtype in ((q16b, np.int16), (q8, np.int8)):
        p = E.requantize_params(q16, q_out)
        want = O.requantize(
            x, 0, p.multiplier, p.shift, p.rounding, p.out_zero_point, p.act_min, p.act_max
        )
        _assert_same(E.requantize(x, x_qparams=q16, out_qparams=q_out), want, dtype)


@st.composite
def concat_cases(draw):
    dtype = draw(st.sampled_from([np.int8, np.uint8]))
    ndim = draw(st.integers(1, 4))
    shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=4))
    axis = draw(st.integers(-ndim, ndim - 1))
    qo = _qparams(dtype, draw(scales(-20, 10)), draw(zero_points(dtype)))
    inputs, qparams = [], []
    for _ in range(draw(st.integers(1, 4))):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        inputs.append(_data(draw, dtype, tuple(s)))
        if draw(st.booleans()):
            qparams.append(qo)
        else:
            scale = qo.scale * 2.0 ** draw(st.floats(-3, 3))
            qparams.append(_qparams(dtype, scale, draw(zero_points(dtype))))
    return inputs, axis, qparams, qo, draw(st.sampled_from(PROFILES))


@given(case=concat_cases())
def test_concat_op_equals_oracle(case):
    inputs, axis, qparams, qo, profile = case
    got = E.concat(inputs, axis, input_qparams=qparams, out_qparams=qo, profile=profile)
    zps, ms, ss, rescale = [], [], [], []
    for q in qparams:
        p = E.requantize_params(q, qo, profile=profile)
        zps.append(p.x_zero_point)
        ms.append(p.multiplier)
        ss.append(p.shift)
        rescale.append(q != qo)
    rounding = E.requantize_params(qo, qo, profile=profile).rounding
    want = O.concat(inputs, axis, zps, ms, ss, rescale, rounding, qo.zero_point, qo.qmin, qo.qmax)
    _assert_same(got, want, qo.dtype)
    for x, r in zip(inputs, rescale, strict=True):
        if not r:  # equal quantization: a plain copy
            assert np.isin(x, got).all()
    ref = F.concat([_real(q, x) for q, x in zip(qparams, inputs, strict=True)], axis)
    _float_gap("concat", qo, got, ref, qo.qmin, qo.qmax, 1.0)


def test_concat_copies_inputs_with_equal_quantization_along_every_axis():
    rng = np.random.default_rng(2)
    q = QuantParams(0.1, 4)
    for axis in range(-3, 3):
        parts = []
        for k in range(3):
            shape = [2, 3, 4]
            shape[axis] = k + 1
            parts.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
        got = E.concat(parts, axis, input_qparams=[q] * 3, out_qparams=q)
        _assert_same(got, np.concatenate(parts, axis).astype(np.int64), np.int8)


@given(data=st.data())
def test_pad_op_equals_oracle(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=3))
    x = _data(data.draw, dtype, shape)
    q = _qparams(dtype, data.draw(scales(-20, 10)), data.draw(zero_points(dtype)))
    paddings = [tuple(data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2)))
                for _ in shape]  # fmt: skip
    constant = data.draw(st.one_of(st.none(), zero_points(dtype, symmetric_int16=False)))
    got = E.pad(x, paddings, x_qparams=q, constant=constant)
    before = np.array([p[0] for p in paddings], np.int64)
    after = np.array([p[1] for p in paddings], np.int64)
    value = q.zero_point if constant is None else constant
    _assert_same(got, O.pad(x, before, after, value), dtype)
    ref = F.pad(_real(q, x), np.array(paddings).reshape(-1, 2), 0.0 if constant is None else
                float(_real(q, np.array(constant))))  # fmt: skip
    _float_gap("pad", q, got, ref, q.qmin, q.qmax, 1e-9)


def test_pad_with_zero_point_and_with_a_constant():
    x = np.array([[1, 2], [3, 4]], np.int8)
    q = QuantParams(0.5, -3)
    np.testing.assert_array_equal(
        E.pad(x, [(1, 0), (0, 1)], x_qparams=q), [[-3, -3, -3], [1, 2, -3], [3, 4, -3]]
    )
    np.testing.assert_array_equal(
        E.pad(x, [(0, 1), (1, 0)], x_qparams=q, constant=7), [[7, 1, 2], [7, 3, 4], [7, 7, 7]]
    )


@st.composite
def mean_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["spatial", "one", "all", "any"]))
    if kind == "spatial":
        shape = draw(hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=5))
        axes = draw(st.sampled_from([[1, 2], [2, 1], [-3, -2], [1, 2, 1]]))
    else:
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
        ndim = len(shape)
        if kind == "one":
            axes = [draw(st.integers(-ndim, ndim - 1))]
        elif kind == "all":
            axes = list(range(ndim))
        else:
            axes = draw(st.lists(st.integers(-ndim, ndim - 1), max_size=ndim + 1))
    x = _data(draw, dtype, shape)
    s_in = draw(scales(-20, 10))
    q_in = _qparams(dtype, s_in, draw(zero_points(dtype)))
    q_out = _qparams(dtype, s_in * 2.0 ** draw(st.floats(-4, 4)), draw(zero_points(dtype)))
    return x, axes, q_in, q_out, draw(st.booleans()), draw(st.sampled_from(PROFILES))


def _check_mean(x, axes, q_in, q_out, keepdims, profile):
    got = E.mean(x, axes, x_qparams=q_in, out_qparams=q_out, keepdims=keepdims, profile=profile)
    resolved = {a % x.ndim for a in axes} if x.ndim else set()
    count = math.prod(x.shape[a] for a in resolved)
    p = E.mean_params(q_in, q_out, count, profile=profile)
    want = O.mean_reduce(
        x, list(axes), keepdims, p.x_zero_point, p.multiplier, p.shift, p.rounding,
        p.out_zero_point, p.act_min, p.act_max,
    )  # fmt: skip
    _assert_same(got, want, q_out.dtype)
    _record("op_mean", got, p.act_min, p.act_max)
    # M' = floor((M << sh) / n) loses < 2^-29 relatively; in-range outputs are < 2^16 steps.
    ref = F.mean(_real(q_in, x), axes, keepdims)
    _float_gap("mean", q_out, got, ref, p.act_min, p.act_max, 1.0 + 2**16 * 2.0**-28)
    return p


@given(case=mean_cases())
def test_mean_op_equals_oracle(case):
    _check_mean(*case)


@pytest.mark.parametrize(
    "shape,axes,count",
    [
        ((2, 3, 5, 4), (1, 2), 15),  # spatial, n not a power of two
        ((1, 4, 4, 3), (1, 2), 16),  # n = 2^k
        ((2, 8, 8, 1), (1, 2), 64),
        ((3, 1, 1, 2), (1, 2), 1),  # n = 1: a requantization
        ((5, 7), (1,), 7),  # one axis
        ((5, 7), (0,), 5),
        ((2, 3, 4), (0, 1, 2), 24),  # all axes
        ((2, 3, 4), (), 1),  # no axis: n = 1
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("profile", PROFILES)
def test_mean_cases(shape, axes, count, keepdims, profile):
    rng = np.random.default_rng(count)
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    q_in, q_out = QuantParams(0.05, -7), QuantParams(0.03, 9)
    p = _check_mean(x, list(axes), q_in, q_out, keepdims, profile)
    assert p.count == count
    sh = min(count.bit_length() - 1, 32, 31 + p.shift)
    assert (p.effective_multiplier, p.effective_shift) == (
        (p.multiplier << sh) // count,
        p.shift - sh,
    )


def test_mean_of_an_empty_input_is_zero():
    q = QuantParams(0.1, 5)
    got = E.mean(np.zeros((0, 3), np.int8), [0], x_qparams=q, out_qparams=q)
    _assert_same(got, np.zeros(3, np.int64), np.int8)  # LiteRT writes quiet_NaN → 0, not zp


# ---- broadcasting, layouts ---------------------------------------------------------------------


def test_strided_and_fortran_inputs_give_the_same_bits():
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, size=(4, 6, 8), dtype=np.int8)
    b = rng.integers(-128, 128, size=(6, 1), dtype=np.int8)
    q1, q2, qo = QuantParams(0.1, 3), QuantParams(0.07, -9), QuantParams(0.15, 1)
    for fn in (E.add, E.sub, E.mul):
        kwargs = dict(x1_qparams=q1, x2_qparams=q2, out_qparams=qo)
        base = fn(np.ascontiguousarray(a[:, ::2, 1::3]), b[::2], **kwargs)
        np.testing.assert_array_equal(fn(a[:, ::2, 1::3], b[::2], **kwargs), base)
        full = fn(a, b, **kwargs)
        np.testing.assert_array_equal(
            fn(np.asfortranarray(a), np.asfortranarray(b), **kwargs), full
        )
    x = np.asfortranarray(a)
    np.testing.assert_array_equal(
        E.mean(x, [0, 2], x_qparams=q1, out_qparams=qo),
        E.mean(a, [0, 2], x_qparams=q1, out_qparams=qo),
    )
    np.testing.assert_array_equal(
        E.pad(x[:, ::-1], [(1, 0), (0, 2), (1, 1)], x_qparams=q1),
        E.pad(np.ascontiguousarray(a[:, ::-1]), [(1, 0), (0, 2), (1, 1)], x_qparams=q1),
    )
    np.testing.assert_array_equal(
        E.requantize(x[::2], x_qparams=q1, out_qparams=qo),
        E.requantize(np.ascontiguousarray(a[::2]), x_qparams=q1, out_qparams=qo),
    )


# ---- bad input ---------------------------------------------------------------------------------

Q8 = QuantParams(0.1, 0)
A8 = np.zeros((2, 3), np.int8)


@pytest.mark.parametrize(
    "fn,args,kwargs,error,match",
    [
        (E.add, (A8.astype(np.float32), A8), {}, TypeError, "x1: dtype float32 does not match"),
        (E.add, (A8, A8.astype(np.uint8)), {}, TypeError, "x2: dtype uint8 does not match"),
        (E.add, (A8, A8.astype(np.uint8)), dict(x2_qparams=QuantParams(0.1, 128, signed=False)),
         TypeError,
         "x2_qparams: add needs inputs and output of one type"),
        (E.add, (A8, np.zeros((4,), np.int8)), {}, ValueError,
         r"x2: shape \(4,\) does not broadcast"),
        (E.add, (A8, A8), dict(x1_qparams=QuantParams([0.1, 0.2], 0, axis=0)), ValueError,
         "x1_qparams: must be per-tensor"),
        (E.add, (A8 + 9, A8), dict(x1_qparams=QuantParams(0.1, 0, bits=4)), ValueError,
         r"x1: values span \[9, 9\], outside the grid \[-8, 7\]"),
        (E.add, (A8, A8), dict(out_qparams=QuantParams(1e-9, 0)), ValueError,
         "add: the real output multiplier .* must be below 1"),
        (E.add, (A8, A8), dict(activation="swish"), ValueError, "activation: expected one of"),
        (E.add, (A8, A8), dict(profile="none"), ValueError, "profile: unknown profile"),
        (E.add, (A8.astype(np.int16),) * 2,
         dict(x1_qparams=QuantParams(0.1, 3, bits=16), x2_qparams=QuantParams(0.1, 0, bits=16),
              out_qparams=QuantParams(0.1, 0, bits=16)), ValueError,
         "x1_qparams: int16 add needs zero point 0"),
        (E.add, (A8.astype(np.int16),) * 2,
         dict(x1_qparams=QuantParams(0.1, 0, bits=16), x2_qparams=QuantParams(0.1, 0, bits=16),
              out_qparams=QuantParams(0.1, 0, bits=16), pot_scale_int16=True), ValueError,
         "pot_scale_int16: intq implements LiteRT's general-scale int16 add"),
        (E.add, (A8.astype(np.int32),) * 2,
         dict(x1_qparams=QuantParams(0.1, 0, bits=32), x2_qparams=QuantParams(0.1, 0, bits=32),
              out_qparams=QuantParams(0.1, 0, bits=32)), TypeError,
         "x1: add supports int8, uint8 and int16 tensors"),
        (E.sub, ([1, 2], A8), {}, TypeError, "x1: expected a NumPy integer array, got list"),
        (E.mul, (A8, A8), dict(out_qparams=QuantParams(1e-9, 0)), ValueError,
         "mul: the product up to 16384 .* leaves int32"),
        (E.mul, (A8, A8), dict(out_qparams=QuantParams(1e-45, 0)), ValueError,
         "mul: the float32 multiplier s1·s2/s_out overflows"),
    ],
)  # fmt: skip
def test_binary_bad_input_is_rejected_with_a_named_error(fn, args, kwargs, error, match):
    all_kwargs = dict(x1_qparams=Q8, x2_qparams=Q8, out_qparams=Q8)
    all_kwargs.update(kwargs)
    with pytest.raises(error, match=match):
        fn(*args, **all_kwargs)


def test_other_bad_input_is_rejected_with_a_named_error():
    with pytest.raises(TypeError, match="out_qparams: LiteRT's QUANTIZE does not turn int8 into"):
        E.requantize(A8, x_qparams=Q8, out_qparams=QuantParams(0.1, 0, bits=16))
    with pytest.raises(ValueError, match=r"requantize: \|q − zero_point\| up to 128 .* leaves"):
        E.requantize(A8, x_qparams=QuantParams(1e3, 0), out_qparams=QuantParams(1e-6, 0))
    with pytest.raises(ValueError, match="inputs: expected a non-empty sequence"):
        E.concat([], 0, input_qparams=[], out_qparams=Q8)
    with pytest.raises(ValueError, match="input_qparams: expected one QuantParams per input"):
        E.concat([A8, A8], 0, input_qparams=[Q8], out_qparams=Q8)
    with pytest.raises(ValueError, match="axis: 2 is out of range for 2-D inputs"):
        E.concat([A8, A8], 2, input_qparams=[Q8, Q8], out_qparams=Q8)
    with pytest.raises(ValueError, match=r"inputs\[1\]: shape \(2, 4\) does not match"):
        E.concat([A8, np.zeros((2, 4), np.int8)], 0, input_qparams=[Q8, Q8], out_qparams=Q8)
    with pytest.raises(TypeError, match=r"inputs\[1\]: dtype uint8 does not match"):
        E.concat([A8, A8.astype(np.uint8)], 0, input_qparams=[Q8, Q8], out_qparams=Q8)
    with pytest.raises(TypeError, match="out_qparams: concat outputs the input type int8"):
        E.concat([A8], 0, input_qparams=[Q8], out_qparams=QuantParams(0.1, 0, signed=False))
    with pytest.raises(ValueError, match="paddings: must be non-negative"):
        E.pad(A8, [(0, 1), (-1, 0)], x_qparams=Q8)
    with pytest.raises(ValueError, match=r"paddings: expected 2 \(before, after\) pairs"):
        E.pad(A8, [(0, 1)], x_qparams=Q8)
    with pytest.raises(ValueError, match=r"constant: 300 lies outside the grid \[-128, 127\]"):
        E.pad(A8, [(0, 1), (1, 0)], x_qparams=Q8, constant=300)
    with pytest.raises(ValueError, match="x: LiteRT pads tensors of at most 5 dimensions"):
        E.pad(np.zeros((1,) * 6, np.int8), [(0, 0)] * 6, x_qparams=Q8)
    with pytest.raises(ValueError, match="axes: 2 is out of range for a 2-D input"):
        E.mean(A8, [2], x_qparams=Q8, out_qparams=Q8)
    with pytest.raises(TypeError, match="out_qparams: mean supports int8, uint8 and int16"):
        E.mean(A8, [0], x_qparams=Q8, out_qparams=QuantParams(0.1, 0, signed=False))
    q16 = QuantParams(0.1, 0, bits=16)
    with pytest.raises(ValueError, match="mean: 65536 elements .* overflow LiteRT's int32 sum"):
        E.mean(np.zeros(65536, np.int16), [0], x_qparams=q16, out_qparams=q16)


# ---- non-vacuity (after the randomized tests) ---------------------------------------------


def test_zz_randomized_tests_were_not_vacuous():
    if not SEEN:
        pytest.skip("run together with the randomized tests")
    for name in (
        "kernel_add", "kernel_sub", "kernel_mul", "kernel_requantize", "kernel_mean", "op_add",
        "op_sub", "op_mul", "op_requantize", "op_mean",
    ):  # fmt: skip
        assert SEEN[name, "min"] > 0, f"{name}: no output hit act_min"
        assert SEEN[name, "max"] > 0, f"{name}: no output hit act_max"
        assert SEEN[name, "mid"] > 0, f"{name}: no output strictly inside the clamp"
        assert len(DISTINCT[name]) > 10, f"{name}: outputs take too few values"
    print(f"\nworst float gap in output steps: {dict(WORST_FLOAT_GAP)}")


# ---- pinned against LiteRT ---------------------------------------------------------------------

# Outputs of LiteRT 2.3 (ai-edge-litert 2.3.0, OpResolverType.BUILTIN_REF, i.e. the reference
# kernels) on single-op models with these inputs and quantization parameters.
LITERT_ADD = (
    [[42, 121, -110, 90, -124], [44, 78, -83, 63, -52]],
    [-25, -39, 81, 35, 106],
    [[37, 94, 12, 78, 12], [39, 63, 12, 58, 12]],
)
LITERT_SUB_UINT8 = (
    [[229, 230, 158, 119, 115], [156, 111, 20, 95, 31]],
    [[26, 54, 185, 164, 199], [220, 219, 90, 40, 107]],
    [[157, 136, 0, 0, 0], [0, 0, 3, 79, 0]],
)
LITERT_ADD_INT16 = (
    [-6308, 19039, -9380, 13397, 424, 26551],
    [-24553, 14497, -31538, -21145, 13135, 23491],
    [-8695, 14323, -11936, 3809, 2881, 20629],
)
LITERT_MUL = (
    [[34, 103, -100, 39, -115], [-99, -75, -103, 118, 17]],
    [-79, 20, -23, -86, 50],
    [[-79, 127, 12, -103, -128], [127, -128, 13, -128, 41]],
)
LITERT_MEAN_SPATIAL = (
    [[[[-15, 22], [-37, 58], [84, -52], [-5, 107], [-104, 93]],
      [[-47, -56], [84, -19], [72, 34], [-128, -87], [43, 26]],
      [[123, -116], [51, 64], [-31, -48], [-74, -98], [86, -100]]]],
    [[[[32, 1]]]],
)  # fmt: skip
LITERT_MEAN_UINT8 = (
    [[53, 201, 0, 165, 36, 223, 109], [211, 20, 73, 245, 167, 66, 17],
     [201, 114, 27, 94, 203, 117, 182]],
    [97, 104, 195],
)  # fmt: skip
LITERT_QUANTIZE = (
    [-13, -1, 14, 84, 11, 3, -55, -125, -63],
    [133, 141, 152, 202, 150, 144, 103, 53, 97],
)


def test_pinned_against_litert_reference_kernels():
    a, b, want = LITERT_ADD
    got = E.add(
        np.array(a, np.int8), np.array(b, np.int8), x1_qparams=QuantParams(0.0371, -7),
        x2_qparams=QuantParams(0.0045, 100), out_qparams=QuantParams(0.05, 12), activation="relu",
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    a, b, want = LITERT_SUB_UINT8
    u8 = dict(signed=False)
    got = E.sub(
        np.array(a, np.uint8), np.array(b, np.uint8), x1_qparams=QuantParams(0.02, 130, **u8),
        x2_qparams=QuantParams(0.031, 0, **u8), out_qparams=QuantParams(0.04, 128, **u8),
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    a, b, want = LITERT_ADD_INT16
    got = E.add(
        np.array(a, np.int16), np.array(b, np.int16), x1_qparams=QuantParams(3e-4, 0, bits=16),
        x2_qparams=QuantParams(1e-4, 0, bits=16), out_qparams=QuantParams(5e-4, 0, bits=16),
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    a, b, want = LITERT_MUL
    got = E.mul(
        np.array(a, np.int8), np.array(b, np.int8), x1_qparams=QuantParams(0.1, 3),
        x2_qparams=QuantParams(0.3, -20), out_qparams=QuantParams(0.7, -1),
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    x, want = LITERT_MEAN_SPATIAL
    got = E.mean(
        np.array(x, np.int8), [1, 2], x_qparams=QuantParams(0.05, -7),
        out_qparams=QuantParams(0.03, 9), keepdims=True,
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    x, want = LITERT_MEAN_UINT8
    got = E.mean(
        np.array(x, np.uint8), -1, x_qparams=QuantParams(0.05, 120, signed=False),
        out_qparams=QuantParams(0.011, 131, signed=False),
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    x, want = LITERT_QUANTIZE
    got = E.requantize(
        np.array(x, np.int8), x_qparams=QuantParams(0.05, -3),
        out_qparams=QuantParams(0.07, 140, signed=False),
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
