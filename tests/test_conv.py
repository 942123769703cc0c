"""Convolutions: intq.kernels.conv against the integer oracles of intq.reference.int_oracle.conv
(bit for bit, integers drawn directly), intq.ops.conv against the same oracles fed the derived
integers, and the dequantized results against the float64 references of
intq.reference.float_ops.conv."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_checks import OutputCoverage
from kernel_checks import assert_same as _assert_same

from intq import QuantParams
from intq.kernels import conv as K
from intq.kernels import fixed_point as KFP
from intq.ops import conv as P
from intq.reference.float_ops import conv as F
from intq.reference.int_oracle import conv as O
from intq.reference.int_oracle import fixed_point as OFP

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
ACTIVATIONS = (None, "relu", "relu6", "relu_n1_to_1")
PROFILES = ("tflite", "tflite-single-rounding")
OPS = ("conv2d", "depthwise_conv2d")
# (input dtype, bias dtype, requantization codes the pair runs with)
KINDS = {
    "int8": (np.int8, np.int32, (KFP.DOUBLE_ROUNDING, KFP.SINGLE_ROUNDING)),
    "uint8": (np.uint8, np.int32, (KFP.DOUBLE_ROUNDING, KFP.SINGLE_ROUNDING)),
    "16x8-int64": (np.int16, np.int64, (KFP.INT64_ACCUMULATOR,)),
    "16x8-int32": (np.int16, np.int32, (KFP.DOUBLE_ROUNDING, KFP.SINGLE_ROUNDING)),
}
KINDS_OF = {"conv2d": tuple(KINDS), "depthwise_conv2d": ("int8", "uint8", "16x8-int64")}

# Outputs seen by the randomized tests, per (test, "min"/"max"/"mid"), distinct values, and the
# worst integer-vs-float gap; checked and printed by the last test of the module.
COVERAGE = OutputCoverage()
SEEN, DISTINCT, WORST_FLOAT_GAP = COVERAGE.seen, COVERAGE.distinct, COVERAGE.worst_float_gap
_record = COVERAGE.record


def _run_kernel(op: str, x, zp, w, bias, ints, mult, shift, rounding, out_zp, amin, amax, hw):
    """Call kernel ``op``; ``ints`` = (stride_h, stride_w, dilation_h, dilation_w, pad_top,
    pad_left, groups or depth_multiplier); ``hw`` = (out_h, out_w)."""
    c_out = w.shape[0] if op == "conv2d" else w.shape[3]
    out = np.empty((x.shape[0], hw[0], hw[1], c_out), dtype=x.dtype)
    i64 = np.int64
    getattr(K, op)(
        x, i64(zp), w, bias, *[i64(v) for v in ints], mult, shift, i64(rounding), i64(out_zp),
        i64(amin), i64(amax), out,
    )  # fmt: skip
    return out


def _run_oracle(op: str, x, zp, w, bias, ints, mult, shift, rounding, out_zp, amin, amax, hw):
    return getattr(O, op)(
        x, int(zp), w, bias, *[int(v) for v in ints], mult, shift, int(rounding), int(out_zp),
        int(amin), int(amax), hw[0], hw[1],
    )  # fmt: skip


def _param_args(op: str, x: np.ndarray, w: np.ndarray, bias, p: P.ConvParams):
    """The kernel/oracle arguments (without ``out``) of the derived ``ConvParams``."""
    c_out = w.shape[0] if op == "conv2d" else w.shape[3]
    if bias is None:
        bias = np.zeros(c_out, dtype=np.int64 if p.int64_accumulator else np.int32)
    channel = p.groups if op == "conv2d" else p.depth_multiplier
    ints = (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, channel)
    return (
        np.ascontiguousarray(x), p.x_zero_point, np.ascontiguousarray(w),
        np.ascontiguousarray(bias), ints, p.multiplier, p.shift, p.rounding, p.out_zero_point,
        p.act_min, p.act_max, (p.out_h, p.out_w),
    )  # fmt: skip


# ---- strategies -------------------------------------------------------------------------------

MULTIPLIER_EDGES = (0, 1, 2**30, 2**30 + 1, 2**31 - 2, 2**31 - 1, 0x7FFF0000, 0x7FFEFFFF)


def zero_points(dtype) -> st.SearchStrategy[int]:
    if np.dtype(dtype) == np.int16:
        return st.just(0)
    info = np.iinfo(dtype)
    return st.one_of(
        st.sampled_from([int(info.min), int(info.max)]), st.integers(int(info.min), int(info.max))
    )


@st.composite
def geometry(draw, in_max: int = 7, k_max: int = 4):
    """Spatial sizes, filter, stride, dilation, padding and output size along one axis: the
    window may run into the padding (and, with a stride beyond the filter, skip input)."""
    size = draw(st.integers(1, in_max))
    k = draw(st.integers(1, k_max))
    stride = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 3))
    eff = (k - 1) * dilation + 1
    before, after = draw(st.integers(0, eff)), draw(st.integers(0, eff - 1))
    out = (size + before + after - eff) // stride + 1
    if out < 1:  # filter wider than the padded input: SAME-like padding instead
        before = (eff - size + 1) // 2
        out = 1
    return size, k, stride, dilation, before, min(out, 5)


@st.composite
def kernel_cases(draw, op: str):
    """Integers for a kernel call drawn directly (shapes, zero points over the whole range,
    multipliers in [0, 2^31) with the edges, shifts over the overload's valid range, clamp
    bounds anywhere, biases that may wrap int32)."""
    kind = draw(st.sampled_from(KINDS_OF[op]))
    dtype, bias_dtype, roundings = KINDS[kind]
    rounding = draw(st.sampled_from(roundings))
    info = np.iinfo(dtype)
    n = draw(st.one_of(st.just(1), st.integers(0, 2)))
    h, kh, sh, dh, pt, out_h = draw(geometry())
    w_, kw, sw, dw, pl, out_w = draw(geometry())
    if op == "conv2d":
        groups = draw(st.integers(1, 3))
        c_in = groups * draw(st.integers(1, 2))
        c_out = groups * draw(st.integers(1, 2))
        channel = groups
        w_shape = (c_out, kh, kw, c_in // groups)
    else:
        c_in = draw(st.integers(1, 3))
        channel = draw(st.integers(1, 3))
        c_out = c_in * channel
        w_shape = (1, kh, kw, c_out)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = int(info.min), int(info.max)
    if draw(st.booleans()):  # a narrow band of inputs, e.g. all at a rail
        lo, hi = sorted((draw(st.integers(lo, hi)), draw(st.integers(lo, hi))))
    x = rng.integers(lo, hi, size=(n, h, w_, c_in), dtype=dtype, endpoint=True)
    w = rng.integers(-128, 127, size=w_shape, dtype=np.int8, endpoint=True)
    if bias_dtype == np.int64:
        bias = rng.integers(-(2**40), 2**40, size=c_out, dtype=np.int64)
    elif draw(st.integers(0, 4)) == 0:  # anywhere in int32: the sum may wrap, as in C
        bias = rng.integers(INT32_MIN, INT32_MAX, size=c_out, dtype=np.int32, endpoint=True)
    else:
        bias = rng.integers(-(2**15), 2**15, size=c_out, dtype=np.int32)
    multipliers = st.one_of(st.sampled_from(MULTIPLIER_EDGES), st.integers(0, 2**31 - 1))
    mult = np.array(draw(st.lists(multipliers, min_size=c_out, max_size=c_out)), dtype=np.int32)
    top_shift = 7 if rounding == KFP.INT64_ACCUMULATOR else 30
    # A typical |acc| is about 2^12.4·sqrt(K) (8-bit) or 2^21·sqrt(K) (int16) for K taps; the
    # shift that maps it onto the output grid is about −6 − log2(K)/2 in both cases.
    taps = kh * kw * (w_shape[3] if op == "conv2d" else 1)
    centre = -6 - int(np.log2(taps)) // 2
    shifts = st.one_of(st.integers(-3, 3).map(lambda d: centre + d), st.integers(-31, top_shift))
    shift = np.array(draw(st.lists(shifts, min_size=c_out, max_size=c_out)), dtype=np.int32)
    x_zp = draw(zero_points(dtype))
    out_zp = draw(zero_points(dtype))
    if draw(st.booleans()):
        amin, amax = int(info.min), int(info.max)
    else:
        a, b = (
            draw(st.integers(int(info.min), int(info.max))),
            draw(st.integers(int(info.min), int(info.max))),
        )
        amin, amax = min(a, b), max(a, b)
    ints = (sh, sw, dh, dw, pt, pl, channel)
    return x, x_zp, w, bias, ints, mult, shift, rounding, out_zp, amin, amax, (out_h, out_w)


def scales(lo_exponent: int, hi_exponent: int) -> st.SearchStrategy[float]:
    return st.builds(
        lambda m, e: m * 2.0**e,
        st.floats(1.0, 2.0, exclude_max=True),
        st.integers(lo_exponent, hi_exponent),
    )


def _padding_strategy():
    explicit = st.tuples(
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
    )
    return st.one_of(st.sampled_from(["same", "valid"]), explicit)


def _fit(size: int, k: int, dilation: int, padding, axis: int) -> tuple[int, int]:
    """Shrink the filter (and dilation) so that VALID/explicit padding leaves an output."""
    room = size if padding == "valid" else size + (0 if padding == "same" else sum(padding[axis]))
    if padding != "same" and (k - 1) * dilation + 1 > room:
        return min(k, room), 1
    return k, dilation


@st.composite
def op_cases(draw, op: str):
    """Quantized tensors and op arguments, scales from tiny to large; the output scale is drawn
    relative to the accumulator scale so that outputs land inside and outside the grid."""
    kind = draw(st.sampled_from(KINDS_OF[op]))
    dtype, bias_dtype, _ = KINDS[kind]
    info = np.iinfo(dtype)
    bits = 8 * np.dtype(dtype).itemsize
    signed = info.min < 0
    s_x = draw(scales(-20, 10))
    x_q = QuantParams(s_x, draw(zero_points(dtype)), bits=bits, signed=signed)
    n = draw(st.one_of(st.just(1), st.integers(0, 2)))
    h, w_ = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    dilation = draw(st.one_of(st.just(1), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(_padding_strategy())
    dil = (dilation, dilation) if isinstance(dilation, int) else dilation
    kh, dh = _fit(h, kh, dil[0], padding, 0)
    kw, dw = _fit(w_, kw, dil[1], padding, 1)
    dilation = (dh, dw)
    if op == "conv2d":
        groups = draw(st.sampled_from([1, 2, 3]))
        c_in = groups * draw(st.integers(1, 2))
        c_out = groups * draw(st.integers(1, 2))
        extra = {"groups": draw(st.sampled_from([groups, c_in])) if c_in == c_out else groups}
        groups = extra["groups"]
        w_shape = (c_out, kh, kw, c_in // groups)
        axis = 0
    else:
        c_in, dm = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        c_out = c_in * dm
        extra = {"depth_multiplier": dm}
        w_shape = (1, kh, kw, c_out)
        axis = 3
    base = draw(scales(-12, -4))
    if draw(st.booleans()):
        factors = draw(st.lists(st.floats(0.5, 2.0), min_size=c_out, max_size=c_out))
        w_q = QuantParams(np.array(factors) * base, 0, axis=axis, narrow_range=True)
    else:
        w_q = QuantParams(base, 0, narrow_range=True)
    # real multiplier s_x·s_w/s_out ≈ 2^e. A typical |acc| is about 2^12.4·sqrt(K) for 8-bit
    # inputs and 2^21·sqrt(K) for int16 (K taps), the output grids span 2^8 and 2^16 steps: e
    # near −6 − log2(K)/2 lands on the grid in both cases; the others saturate or flush.
    taps = kh * kw * (w_shape[3] if op == "conv2d" else 1)
    centre = -6 - int(np.log2(taps)) // 2
    e = draw(
        st.one_of(st.integers(-4, 4).map(lambda d: centre + d), st.integers(-20, 2), st.just(-45))
    )
    s_out = s_x * base / (draw(st.floats(1.0, 2.0)) * 2.0**e)
    out_q = QuantParams(s_out, draw(zero_points(dtype)), bits=bits, signed=signed)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(
        int(info.min), int(info.max), size=(n, h, w_, c_in), dtype=dtype, endpoint=True
    )
    w = rng.integers(-127, 127, size=w_shape, dtype=np.int8, endpoint=True)
    if draw(st.integers(0, 5)) == 0:
        bias = None
    elif bias_dtype == np.int64:
        bias = rng.integers(-(2**24), 2**24, size=c_out, dtype=np.int64)
    else:
        bias = rng.integers(-(2**14), 2**14, size=c_out, dtype=np.int32)
    kwargs = dict(
        x_qparams=x_q, w_qparams=w_q, out_qparams=out_q, stride=stride, padding=padding,
        dilation=dilation, activation=draw(st.sampled_from(ACTIVATIONS)),
        profile=draw(st.sampled_from(PROFILES)), **extra,
    )  # fmt: skip
    return x, w, bias, kwargs


# ---- kernel == oracle -------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_kernel_equals_oracle(op, data):
    args = data.draw(kernel_cases(op))
    got = _run_kernel(op, *args)
    want = _run_oracle(op, *args)
    _assert_same(got, want, args[0].dtype)
    amin, amax = args[9], args[10]
    assert got.size == 0 or (got.min() >= amin and got.max() <= amax)
    _record("kernel_" + op, got, amin, amax)


@pytest.mark.parametrize("op", OPS)
def test_one_and_two_threads_agree(op):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread here")
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, size=(3, 13, 11, 4), dtype=np.int8)
    if op == "conv2d":
        w = rng.integers(-127, 128, size=(6, 3, 3, 2), dtype=np.int8)
        channel = 2
    else:
        w = rng.integers(-127, 128, size=(1, 3, 3, 8), dtype=np.int8)
        channel = 2
    c_out = w.shape[0] if op == "conv2d" else w.shape[3]
    bias = rng.integers(-5000, 5000, size=c_out).astype(np.int32)
    mult = rng.integers(2**30, 2**31, size=c_out).astype(np.int32)
    shift = np.full(c_out, -9, dtype=np.int32)
    args = (x, -3, w, bias, (2, 1, 1, 2, 1, 2, channel), mult, shift, 0, 5, -100, 90, (7, 9))
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append(_run_kernel(op, *args))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    assert len(np.unique(results[0])) > 20


def test_kernels_without_jit_equal_the_oracle():
    code = textwrap.dedent(
        """
        import numpy as np
        from intq.kernels import conv as K
        from intq.reference.int_oracle import conv as O
        rng = np.random.default_rng(11)
        cases = [(np.int8, np.int32, 0), (np.uint8, np.int32, 1), (np.int16, np.int64, 2),
                 (np.int16, np.int32, 0)]
        for dtype, bias_dtype, rounding in cases:
            info = np.iinfo(dtype)
            zp = {np.int8: -20, np.uint8: 121, np.int16: 0}[dtype]
            x = rng.integers(info.min, int(info.max) + 1, size=(2, 5, 4, 4), dtype=dtype)
            b = rng.integers(-40000, 40000, size=4).astype(bias_dtype)
            m = rng.integers(2**30, 2**31, size=4).astype(np.int32)
            s = np.array([-12, -14, -16, -3], dtype=np.int32)
            ints = [np.int64(v) for v in (2, 1, 1, 2, 1, 1)]
            out_zp = 128 if dtype == np.uint8 else 0
            tail = [np.int64(v) for v in (rounding, out_zp, int(info.min) + 3, int(info.max) - 5)]
            for name, w, ch in (
                ("conv2d", rng.integers(-128, 128, size=(4, 3, 2, 2), dtype=np.int8), 2),
                ("depthwise_conv2d", rng.integers(-128, 128, size=(1, 3, 2, 4), dtype=np.int8), 1),
            ):
                if name == "depthwise_conv2d" and (dtype, bias_dtype) == (np.int16, np.int32):
                    continue
                out = np.empty((2, 3, 4, 4), dtype=dtype)
                getattr(K, name)(x, np.int64(zp), w, b, *ints, np.int64(ch), m, s, *tail, out)
                want = getattr(O, name)(x, zp, w, b, *[int(v) for v in ints], ch, m, s,
                                        *[int(v) for v in tail], 3, 4)
                assert out.dtype == dtype and (out.astype(np.int64) == want).all(), name
                assert len(np.unique(out)) > 5, name
        print("OK")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


def test_int32_accumulator_wraps_and_int64_accumulator_does_not():
    # One tap: acc = 127·(127 − (−128)) + bias. Near INT32_MAX the int32 paths wrap (C's int32
    # arithmetic), the int64 path keeps the exact sum.
    x = np.full((1, 1, 1, 1), 127, dtype=np.int8)
    w = np.full((1, 1, 1, 1), 127, dtype=np.int8)
    bias = np.array([INT32_MAX - 100], dtype=np.int32)
    ints = (1, 1, 1, 1, 0, 0, 1)
    mult, shift = np.array([2**30], np.int32), np.array([-30], np.int32)  # ×2^-31
    got = _run_kernel("conv2d", x, -128, w, bias, ints, mult, shift, 0, 0, -128, 127, (1, 1))
    wrapped = OFP.wrap_int32(127 * 255 + INT32_MAX - 100)
    assert wrapped < 0
    assert int(got[0, 0, 0, 0]) == OFP.multiply_by_quantized_multiplier(wrapped, 2**30, -30) == -1
    x16 = np.full((1, 1, 1, 1), 32767, dtype=np.int16)
    bias64 = np.array([INT32_MAX], dtype=np.int64)
    got = _run_kernel(
        "conv2d", x16, 0, w, bias64, ints, mult, np.array([-16], np.int32), 2, 0, -32768, 32767,
        (1, 1),
    )  # fmt: skip
    exact = 127 * 32767 + INT32_MAX  # beyond int32: wrapped, it would be negative
    assert int(got[0, 0, 0, 0]) == OFP.multiply_by_quantized_multiplier_int64(exact, 2**30, -16)
    assert int(got[0, 0, 0, 0]) == 16416  # round(exact / 2^17)


# ---- pinned cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size,k,stride,dilation,expected",
    [
        (3, 5, 1, 1, (2, 2, 3)),  # kernel larger than the input: out = 3, total 4
        (6, 2, 1, 1, (0, 1, 6)),  # even kernel: the odd padding element goes to the bottom
        (7, 3, 1, 2, (2, 2, 7)),  # dilation 2: effective kernel 5
        (7, 2, 3, 1, (0, 1, 3)),  # stride beyond the kernel: out = ceil(7/3) = 3, total 1
        (5, 1, 2, 1, (0, 0, 3)),  # 1x1: no padding
        (1, 7, 1, 1, (3, 3, 1)),
        (4, 3, 4, 3, (1, 2, 1)),  # effective 7, out 1, total 3
    ],
)
def test_same_padding_follows_litert(size, k, stride, dilation, expected):
    x = np.zeros((1, size, size, 1), dtype=np.int8)
    w = np.ones((1, k, k, 1), dtype=np.int8)
    q = QuantParams(0.5, 0)
    p = P.conv2d_params(
        x, w, None, x_qparams=q, w_qparams=q, out_qparams=q, stride=stride, padding="same",
        dilation=dilation,
    )  # fmt: skip
    assert (p.pad_top, p.pad_bottom, p.out_h) == expected
    assert (p.pad_left, p.pad_right, p.out_w) == expected


def test_valid_and_explicit_output_sizes():
    x = np.zeros((1, 7, 6, 1), dtype=np.int8)
    w = np.ones((1, 3, 2, 1), dtype=np.int8)
    q = QuantParams(0.5, 0)
    kw = dict(x_qparams=q, w_qparams=q, out_qparams=q)
    p = P.conv2d_params(x, w, None, stride=(2, 3), dilation=(2, 1), **kw)
    # rows: (7 − 5) // 2 + 1 = 2; columns: (6 − 2) // 3 + 1 = 2
    assert (p.out_h, p.out_w, p.pad_top, p.pad_left) == (2, 2, 0, 0)
    p = P.conv2d_params(x, w, None, padding=((1, 2), (0, 3)), stride=2, **kw)
    # rows: (7 + 3 − 3) // 2 + 1 = 4; columns: (6 + 3 − 2) // 2 + 1 = 4
    assert (p.out_h, p.out_w, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right) == (
        4, 4, 1, 2, 0, 3,
    )  # fmt: skip


def test_multipliers_are_derived_in_double_from_float32_scales():
    s_x, s_out = 0.0123456789, 0.987654321
    s_w = np.array([0.00321, 1e-7, 0.5, 3.3e-5])
    x = np.zeros((1, 1, 1, 2), dtype=np.int8)
    w = np.ones((4, 1, 1, 2), dtype=np.int8)
    for profile, single in (("tflite", False), ("tflite-single-rounding", True)):
        p = P.conv2d_params(
            x, w, None, x_qparams=QuantParams(s_x, 3), w_qparams=QuantParams(s_w, 0, axis=0),
            out_qparams=QuantParams(s_out, -1), profile=profile,
        )  # fmt: skip
        f32 = lambda v: float(np.float32(v))  # noqa: E731
        for c in range(4):
            real = f32(s_x) * f32(s_w[c]) / f32(s_out)
            assert (int(p.multiplier[c]), int(p.shift[c])) == OFP.quantize_multiplier(real, single)
        assert p.rounding == (KFP.SINGLE_ROUNDING if single else KFP.DOUBLE_ROUNDING)
    # per-tensor weights broadcast the one scale to every channel
    p = P.conv2d_params(
        x, w, None, x_qparams=QuantParams(s_x, 3), w_qparams=QuantParams(0.00321, 0),
        out_qparams=QuantParams(s_out, -1),
    )  # fmt: skip
    assert p.multiplier.shape == (4,) and len(set(p.multiplier.tolist())) == 1


def test_activation_bounds_follow_the_output_grid():
    x = np.zeros((1, 1, 1, 1), dtype=np.int8)
    w = np.ones((1, 1, 1, 1), dtype=np.int8)
    q = QuantParams(0.1, 0)
    out_q = QuantParams(0.05, -20)
    bounds = {
        None: (-128, 127),
        "relu": (-20, 127),
        "relu6": (-20, 100),  # −20 + round(6 / 0.05)
        "relu_n1_to_1": (-40, 0),
    }
    for activation, want in bounds.items():
        p = P.conv2d_params(
            x, w, None, x_qparams=q, w_qparams=q, out_qparams=out_q, activation=activation
        )
        assert (p.act_min, p.act_max) == want


def test_1x1_conv_is_a_per_pixel_matrix_product():
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(2, 3, 5, 6), dtype=np.int8)
    w = rng.integers(-127, 128, size=(4, 1, 1, 6), dtype=np.int8)
    bias = rng.integers(-3000, 3000, size=4).astype(np.int32)
    x_q, w_q = QuantParams(0.02, -7), QuantParams([0.01, 0.02, 0.005, 0.03], 0, axis=0)
    out_q = QuantParams(0.15, 4)
    y = P.conv2d(x, w, bias, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q)
    p = P.conv2d_params(x, w, bias, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q)
    acc = (x.astype(np.int64) + 7) @ w[:, 0, 0, :].astype(np.int64).T + bias
    want = np.empty_like(acc)
    for idx, a in np.ndenumerate(acc):
        c = idx[-1]
        r = OFP.multiply_by_quantized_multiplier(int(a), int(p.multiplier[c]), int(p.shift[c]))
        want[idx] = min(max(r + 4, -128), 127)
    _assert_same(y, want, np.int8)


def test_depthwise_equals_grouped_conv_with_one_group_per_channel():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 256, size=(2, 6, 5, 3), dtype=np.uint8)
    wd = rng.integers(-127, 128, size=(1, 3, 2, 6), dtype=np.int8)  # depth_multiplier 2
    bias = rng.integers(-2000, 2000, size=6).astype(np.int32)
    scales_ = np.array([0.01, 0.02, 0.03, 0.015, 0.025, 0.012])
    kw = dict(
        x_qparams=QuantParams(0.05, 131, signed=False),
        out_qparams=QuantParams(0.2, 7, signed=False),
        stride=(2, 1), padding="same", dilation=(1, 2), activation="relu6",
    )  # fmt: skip
    yd = P.depthwise_conv2d(
        x, wd, bias, w_qparams=QuantParams(scales_, 0, axis=3), depth_multiplier=2, **kw
    )
    wc = np.ascontiguousarray(wd.transpose(3, 1, 2, 0))  # 1HWO → OHWI with one input channel
    yc = P.conv2d(x, wc, bias, w_qparams=QuantParams(scales_, 0, axis=0), groups=3, **kw)
    _assert_same(yd, yc.astype(np.int64), np.uint8)
    assert len(np.unique(yd)) > 10


@pytest.mark.parametrize("op", OPS)
def test_padding_equals_padding_with_the_input_zero_point(op):
    rng = np.random.default_rng(13)
    zp = -37
    x = rng.integers(-128, 128, size=(1, 5, 4, 2), dtype=np.int8)
    w_shape = (3, 3, 3, 2) if op == "conv2d" else (1, 3, 3, 4)
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    kw = dict(x_qparams=QuantParams(0.1, zp), w_qparams=QuantParams(0.02, 0),
              out_qparams=QuantParams(0.3, 0))  # fmt: skip
    if op == "depthwise_conv2d":
        kw["depth_multiplier"] = 2
    fn = getattr(P, op)
    padded = np.pad(x, ((0, 0), (2, 1), (1, 3), (0, 0)), constant_values=zp)
    want = fn(padded, w, None, padding="valid", **kw)
    got = fn(x, w, None, padding=((2, 1), (1, 3)), **kw)
    _assert_same(got, want.astype(np.int64), np.int8)


@pytest.mark.parametrize(
    "x_zp,dtype", [(-128, np.int8), (127, np.int8), (0, np.uint8), (255, np.uint8)]
)
def test_zero_points_at_the_rails(x_zp, dtype):
    rng = np.random.default_rng(abs(x_zp) + 1)
    info = np.iinfo(dtype)
    x = rng.integers(int(info.min), int(info.max) + 1, size=(1, 4, 4, 3), dtype=dtype)
    w = rng.integers(-127, 128, size=(2, 2, 2, 3), dtype=np.int8)
    signed = info.min < 0
    x_q = QuantParams(0.03, x_zp, signed=signed)
    out_q = QuantParams(0.25, int(info.max) if x_zp == info.min else int(info.min), signed=signed)
    w_q = QuantParams(0.01, 0)
    y = P.conv2d(x, w, None, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q, padding="same")
    p = P.conv2d_params(x, w, None, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q,
                        padding="same")  # fmt: skip
    _assert_same(y, _run_oracle("conv2d", *_param_args("conv2d", x, w, None, p)), dtype)


@pytest.mark.parametrize("bias_dtype", [np.int64, np.int32, None])
def test_16x8_accumulator_follows_the_bias_type(bias_dtype):
    rng = np.random.default_rng(21)
    x = rng.integers(-32768, 32768, size=(1, 4, 5, 2), dtype=np.int16)
    w = rng.integers(-127, 128, size=(3, 2, 2, 2), dtype=np.int8)
    bias = None if bias_dtype is None else rng.integers(-(10**6), 10**6, size=3).astype(bias_dtype)
    kw = dict(
        x_qparams=QuantParams(1e-3, 0, bits=16),
        w_qparams=QuantParams([0.01, 0.02, 0.03], 0, axis=0),
        out_qparams=QuantParams(2e-2, 0, bits=16), padding="same",
    )  # fmt: skip
    for profile in PROFILES:
        p = P.conv2d_params(x, w, bias, profile=profile, **kw)
        want_code = (
            KFP.INT64_ACCUMULATOR
            if bias_dtype is np.int64
            else P.get_profile(profile).rounding_code
        )
        assert p.rounding == want_code
        y = P.conv2d(x, w, bias, profile=profile, **kw)
        _assert_same(y, _run_oracle("conv2d", *_param_args("conv2d", x, w, bias, p)), np.int16)
        assert len(np.unique(y)) > 10
    # depthwise int16 always accumulates in int64 (LiteRT has no other overload)
    wd = rng.integers(-127, 128, size=(1, 2, 2, 2), dtype=np.int8)
    kw["w_qparams"] = QuantParams(0.01, 0)
    bias64 = None if bias_dtype is None else np.arange(2, dtype=np.int64)
    p = P.depthwise_conv2d_params(x, wd, bias64, **kw)
    assert p.rounding == KFP.INT64_ACCUMULATOR


STRUCTURED = [
    # (H, W, KH, KW, stride, dilation, padding, channels: conv (C_in, C_out, groups) or
    #  depthwise (C_in, depth_multiplier))
    (5, 7, 1, 1, 1, 1, "valid", (3, 4, 1), (3, 2)),  # 1x1, prime sizes
    (3, 2, 5, 5, 1, 1, "same", (2, 2, 2), (2, 1)),  # kernel larger than the input, SAME
    (7, 7, 2, 2, 3, 1, "same", (4, 6, 2), (2, 3)),  # stride beyond the kernel
    (7, 5, 3, 3, 1, (2, 3), "same", (6, 6, 6), (3, 2)),  # dilation, groups = C_in
    (7, 7, 3, 2, (2, 3), (3, 1), "valid", (4, 4, 2), (4, 1)),
    (6, 5, 3, 3, 2, 1, ((0, 3), (2, 1)), (2, 6, 1), (1, 6)),  # explicit, asymmetric
    (1, 1, 3, 3, 1, 2, "same", (5, 5, 5), (5, 1)),  # a single pixel: only the centre tap
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", STRUCTURED)
@pytest.mark.parametrize("profile", PROFILES)
def test_structured_shapes_equal_oracle_and_float(op, case, profile):
    h, w_, kh, kw, stride, dilation, padding, conv_ch, dw_ch = case
    rng = np.random.default_rng(hash((h, w_, kh, kw)) % 2**32)
    if op == "conv2d":
        c_in, c_out, groups = conv_ch
        w = rng.integers(-127, 128, size=(c_out, kh, kw, c_in // groups), dtype=np.int8)
        extra, axis = {"groups": groups}, 0
    else:
        c_in, dm = dw_ch
        c_out = c_in * dm
        w = rng.integers(-127, 128, size=(1, kh, kw, c_out), dtype=np.int8)
        extra, axis = {"depth_multiplier": dm}, 3
    x = rng.integers(-128, 128, size=(2, h, w_, c_in), dtype=np.int8)
    bias = rng.integers(-4000, 4000, size=c_out).astype(np.int32)
    taps = kh * kw * (w.shape[3] if op == "conv2d" else 1)
    kwargs = dict(
        x_qparams=QuantParams(0.05, -9), w_qparams=QuantParams(
            np.linspace(0.004, 0.012, c_out), 0, axis=axis, narrow_range=True),
        out_qparams=QuantParams(0.05 * 0.008 * 2.0 ** (6 + np.log2(taps) / 2), 11),
        stride=stride, dilation=dilation, padding=padding, activation="relu6", profile=profile,
        **extra,
    )  # fmt: skip
    got = getattr(P, op)(x, w, bias, **kwargs)
    p = getattr(P, op + "_params")(x, w, bias, **kwargs)
    _assert_same(got, _run_oracle(op, *_param_args(op, x, w, bias, p)), np.int8)
    _float_check(op, x, w, bias, kwargs, p, got)
    assert len(np.unique(got)) > min(5, got.size // 4)


def test_float_reference_on_hand_examples():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    w = np.ones((1, 2, 2, 1))
    np.testing.assert_array_equal(F.conv2d(x, w, None)[0, :, :, 0], [[12, 16], [24, 28]])
    # SAME for a 2x2 filter pads the bottom/right only; bias; relu6 clamps
    y = F.conv2d(x, w, np.array([-20.0]), padding=((0, 1), (0, 1)), activation_name="relu6")
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0, 0], [4, 6, 0], [0, 0, 0]])
    # stride 2 and dilation 2 over a 5x5 ramp
    x5 = np.arange(25.0).reshape(1, 5, 5, 1)
    y = F.conv2d(x5, w, None, stride=(2, 2), dilation=(2, 2))
    # taps (0, 0), (0, 2), (2, 0), (2, 2) of each window; value = 5·row + column
    want = [[0 + 2 + 10 + 12, 2 + 4 + 12 + 14], [10 + 12 + 20 + 22, 12 + 14 + 22 + 24]]
    np.testing.assert_array_equal(y[0, :, :, 0], want)
    # groups: two channels, each filtered by its own group
    x2 = np.stack([x[..., 0], 10 * x[..., 0]], axis=-1)
    w2 = np.ones((2, 1, 1, 1)) * np.array([1.0, -1.0]).reshape(2, 1, 1, 1)
    y = F.conv2d(x2, w2, None, groups=2)
    np.testing.assert_array_equal(y[..., 0], x[..., 0])
    np.testing.assert_array_equal(y[..., 1], -10 * x[..., 0])
    # depthwise with depth_multiplier 2: output 2i + m filters input channel i with w[..., 2i+m]
    wd = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
    y = F.depthwise_conv2d(x2, wd, np.array([0.0, 0.0, 0.0, 0.5]), depth_multiplier=2)
    np.testing.assert_array_equal(y[..., 0], x[..., 0])
    np.testing.assert_array_equal(y[..., 1], 2 * x[..., 0])
    np.testing.assert_array_equal(y[..., 2], 30 * x[..., 0])
    np.testing.assert_array_equal(y[..., 3], 40 * x[..., 0] + 0.5)


# ---- ops == oracle fed the derived integers, and the float check --------------------------------


def _float_check(op, x, w, bias, kwargs, p: P.ConvParams, got: np.ndarray) -> None:
    """The dequantized output is within one output step of the float64 convolution of the
    dequantized operands, clamped to the same bounds. Double rounding errs by < 1 step (srdhm
    ties up, then the rounding shift), single rounding by ≤ 1/2; the 31-bit multiplier adds a
    relative 2^-30 and the 16-bit multiplier of the int64 path a relative 2^-15."""
    f32 = lambda q: np.asarray(q.scale, dtype=np.float32).astype(np.float64)  # noqa: E731
    x_q, w_q, out_q = kwargs["x_qparams"], kwargs["w_qparams"], kwargs["out_qparams"]
    s_x, s_w, s_o = f32(x_q), f32(w_q), f32(out_q)
    c_out = got.shape[3]
    s_w = np.broadcast_to(s_w, (c_out,))
    x_real = s_x * (x.astype(np.float64) - x_q.zero_point)
    shape = (-1, 1, 1, 1) if op == "conv2d" else (1, 1, 1, -1)
    w_real = w.astype(np.float64) * s_w.reshape(shape)
    b_real = None if bias is None else bias.astype(np.float64) * s_x * s_w
    padding = ((p.pad_top, p.pad_bottom), (p.pad_left, p.pad_right))
    strides, dilations = (p.stride_h, p.stride_w), (p.dilation_h, p.dilation_w)
    if op == "conv2d":
        ref = F.conv2d(x_real, w_real, b_real, strides, dilations, padding, p.groups)
    else:
        ref = F.depthwise_conv2d(x_real, w_real, b_real, strides, dilations, padding,
                                 p.depth_multiplier)  # fmt: skip
    assert ref.shape == got.shape
    steps = ref / s_o  # unclamped value in output steps (relative to the zero point)
    clamped = np.clip(steps, p.act_min - out_q.zero_point, p.act_max - out_q.zero_point)
    gap = np.abs((got.astype(np.float64) - out_q.zero_point) - clamped)
    relative = 2.0**-14 if p.int64_accumulator else 2.0**-29
    allowed = 1.0 + np.abs(steps) * relative + 1e-9
    if not gap.size:
        return
    WORST_FLOAT_GAP[op] = max(WORST_FLOAT_GAP[op], float(gap.max()))
    i = np.unravel_index(int(np.argmax(gap - allowed)), gap.shape)
    assert np.all(gap <= allowed), (
        f"{op}: worst gap {float(gap[i])} output steps at {i} exceeds the bound "
        f"{float(allowed[i])} (1 step + multiplier slack); the overall worst gap is "
        f"{float(gap.max())}"
    )


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_op_equals_oracle_and_float_reference(op, data):
    x, w, bias, kwargs = data.draw(op_cases(op))
    fn = getattr(P, op)
    got = fn(x, w, bias, **kwargs)
    p = getattr(P, op + "_params")(x, w, bias, **kwargs)
    want = _run_oracle(op, *_param_args(op, x, w, bias, p))
    _assert_same(got, want, kwargs["out_qparams"].dtype)
    assert got.size == 0 or (got.min() >= p.act_min and got.max() <= p.act_max)
    _record("op_" + op, got, p.act_min, p.act_max)
    _float_check(op, x, w, bias, kwargs, p, got)


@pytest.mark.parametrize("op", OPS)
def test_strided_and_fortran_inputs_give_the_same_bits(op):
    rng = np.random.default_rng(3)
    base = rng.integers(-128, 128, size=(2, 9, 11, 6), dtype=np.int8)
    if op == "conv2d":
        w_base = rng.integers(-127, 128, size=(8, 3, 2, 3), dtype=np.int8)
        extra = {"groups": 1}
        w_q = QuantParams(np.linspace(0.01, 0.02, 4), 0, axis=0)
        w_view = w_base[::2]  # (4, 3, 2, 3), strided along O
    else:
        w_base = rng.integers(-127, 128, size=(1, 3, 2, 12), dtype=np.int8)
        extra = {"depth_multiplier": 2}
        w_q = QuantParams(np.linspace(0.01, 0.02, 6), 0, axis=3)
        w_view = w_base[..., ::2]  # (1, 3, 2, 6), strided along O
    bias_base = rng.integers(-3000, 3000, size=12).astype(np.int32)
    bias_view = bias_base[: 2 * w_q.num_channels : 2]
    kw = dict(x_qparams=QuantParams(0.02, 17), w_qparams=w_q, out_qparams=QuantParams(0.1, -3),
              stride=(2, 1), padding="same", **extra)  # fmt: skip
    fn = getattr(P, op)
    x_view = base[:, ::2, 1::2, ::2]  # (2, 5, 5, 3)
    want = fn(np.ascontiguousarray(x_view), np.ascontiguousarray(w_view),
              np.ascontiguousarray(bias_view), **kw)  # fmt: skip
    _assert_same(fn(x_view, w_view, bias_view, **kw), want.astype(np.int64), np.int8)
    x_f, w_f = np.asfortranarray(x_view), np.asfortranarray(w_view)
    _assert_same(fn(x_f, w_f, bias_view, **kw), want.astype(np.int64), np.int8)
    assert len(np.unique(want)) > 10


# ---- bad input --------------------------------------------------------------------------------

Q = QuantParams(0.1, 0)
X = np.zeros((1, 4, 4, 4), dtype=np.int8)
W = np.zeros((4, 2, 2, 4), dtype=np.int8)
Q16 = QuantParams(0.001, 0, bits=16)
X16 = np.zeros((1, 4, 4, 4), dtype=np.int16)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(x=X.astype(np.float32)), TypeError, "x: dtype float32 does not match"),
        (dict(x=X.astype(np.int32), x_qparams=QuantParams(0.1, 0, bits=32),
              out_qparams=QuantParams(0.1, 0, bits=32)), TypeError,
         "x: conv2d supports int8, uint8 and int16 inputs"),
        (dict(x=X[0]), ValueError, r"x: expected a 4-D NHWC tensor, got shape \(4, 4, 4\)"),
        (dict(x_qparams=QuantParams([0.1, 0.2], 0, axis=3)), ValueError,
         "x_qparams: must be per-tensor"),
        (dict(x=X + 9, x_qparams=QuantParams(0.1, 0, bits=4)), ValueError,
         r"x: values span \[9, 9\], outside the grid \[-8, 7\]"),
        (dict(out_qparams=QuantParams(0.1, 0, signed=False)), TypeError,
         "out_qparams: conv2d outputs the input type int8, but out_qparams describe uint8"),
        (dict(out_qparams=QuantParams([0.1] * 4, 0, axis=3)), ValueError,
         "out_qparams: must be per-tensor"),
        (dict(out_qparams=None), TypeError, "out_qparams: expected QuantParams"),
        (dict(x=X16, x_qparams=QuantParams(0.001, 3, bits=16), out_qparams=Q16), ValueError,
         "x_qparams: 16x8 conv2d needs zero point 0"),
        (dict(x=X16, x_qparams=Q16, out_qparams=QuantParams(0.001, -2, bits=16)), ValueError,
         "out_qparams: 16x8 conv2d needs zero point 0"),
        (dict(w_qparams=QuantParams(0.1, 0, bits=16)), TypeError,
         "w_qparams: conv2d weights must be int8"),
        (dict(w=W.astype(np.int16)), TypeError, "w: dtype int16 does not match"),
        (dict(w=W[0]), ValueError, "w: expected a 4-D filter"),
        (dict(w_qparams=QuantParams(0.1, 3)), ValueError, "w_qparams: weights must be symmetric"),
        (dict(w_qparams=QuantParams([0.1] * 4, 0, axis=3)), ValueError,
         r"w_qparams: per-channel weights of conv2d \(OHWI\) are quantized along axis 0, got "
         "axis=3"),
        (dict(w_qparams=QuantParams([0.1] * 3, 0, axis=0)), ValueError,
         "w_qparams: 3 channel scales for 4 output channels"),
        (dict(w=np.zeros((4, 2, 2, 3), np.int8)), ValueError,
         r"w: expected C_in / groups = 4 input channels per filter"),
        (dict(groups=2), ValueError, r"w: expected C_in / groups = 2 input channels"),
        (dict(groups=3), ValueError, "groups: 3 does not divide the 4 input channels"),
        (dict(groups=2, w=np.zeros((3, 2, 2, 2), np.int8), bias=None), ValueError,
         "groups: 2 does not divide the 3 output channels"),
        (dict(groups=0), ValueError, "groups: must be a positive int"),
        (dict(x=np.zeros((1, 4, 4, 0), np.int8), w=np.zeros((4, 2, 2, 0), np.int8)), ValueError,
         "x, w: conv2d needs input and output channels"),
        (dict(bias=np.zeros(4, np.int64)), TypeError,
         "bias: conv2d needs a bias of dtype int32 here, got int64"),
        (dict(bias=np.zeros(4, np.float32)), TypeError, "bias: conv2d needs a bias of dtype"),
        (dict(bias=np.zeros(3, np.int32)), ValueError, r"bias: expected shape \(4,\)"),
        (dict(bias=[0, 0, 0, 0]), TypeError, "bias: expected a NumPy integer array or None"),
        (dict(x=X16, x_qparams=Q16, out_qparams=Q16, bias=np.zeros(4, np.int16)), TypeError,
         "bias: conv2d needs a bias of dtype int32 or int64 here, got int16"),
        (dict(stride=0), ValueError, "stride: must be positive"),
        (dict(stride=(1, -2)), ValueError, "stride: must be positive"),
        (dict(stride=(1, 2, 3)), ValueError, "stride: expected a positive int or a pair"),
        (dict(stride=1.5), ValueError, "stride: expected a positive int or a pair"),
        (dict(dilation=0), ValueError, "dilation: must be positive"),
        (dict(padding="full"), ValueError, "padding: expected 'valid', 'same'"),
        (dict(padding=((1, -1), (0, 0))), ValueError, "padding: explicit padding must be"),
        (dict(padding=((1, 1),)), ValueError, r"padding: expected 'valid', 'same' or \(\(top"),
        (dict(w=np.zeros((4, 5, 2, 4), np.int8)), ValueError,
         "padding: a 5-tap filter with dilation 1 spans 5 input rows; with 'valid' padding the "
         "input row of 4 leaves an empty output"),
        (dict(dilation=4), ValueError, "padding: a 2-tap filter with dilation 4 spans 5"),
        (dict(w=np.zeros((4, 2, 9, 4), np.int8), padding=((0, 0), (2, 2))), ValueError,
         "padding: a 9-tap filter .* input column of 4 leaves an empty output"),
        (dict(x=np.zeros((1, 0, 4, 4), np.int8), padding="same"), ValueError,
         "leaves an empty output"),
        (dict(activation="gelu"), ValueError, "activation: expected one of"),
        (dict(profile="nope"), ValueError, "profile: unknown profile 'nope'"),
        (dict(out_qparams=QuantParams(1e-12, 0)), ValueError,
         "out_qparams: the real multiplier s_x·s_w/s_out = .* of output channel 0 needs shift"),
    ],
)  # fmt: skip
def test_conv2d_rejects_bad_input_with_a_named_error(kwargs, error, match):
    args = dict(x=X, w=W, bias=np.zeros(4, np.int32), x_qparams=Q, w_qparams=Q, out_qparams=Q)
    args.update(kwargs)
    x, w, bias = args.pop("x"), args.pop("w"), args.pop("bias")
    with pytest.raises(error, match=match):
        P.conv2d(x, w, bias, **args)


WD = np.zeros((1, 2, 2, 8), dtype=np.int8)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(w=np.zeros((2, 2, 2, 8), np.int8)), ValueError, r"w: expected a 1HWO filter"),
        (dict(depth_multiplier=3), ValueError,
         r"w: expected a 1HWO filter \(1, KH, KW, C_in · depth_multiplier = 12\)"),
        (dict(depth_multiplier=0), ValueError, "depth_multiplier: must be a positive int"),
        (dict(w_qparams=QuantParams([0.1] * 8, 0, axis=0)), ValueError,
         r"w_qparams: per-channel weights of depthwise_conv2d \(1HWO\) are quantized along axis "
         "3, got axis=0"),
        (dict(bias=np.zeros(4, np.int32)), ValueError, r"bias: expected shape \(8,\)"),
        (dict(x=X16, x_qparams=Q16, out_qparams=Q16), TypeError,
         "bias: depthwise_conv2d needs a bias of dtype int64 here, got int32"),
        (dict(stride=(0, 1)), ValueError, "stride: must be positive"),
        (dict(padding="full"), ValueError, "padding: expected 'valid', 'same'"),
    ],
)  # fmt: skip
def test_depthwise_rejects_bad_input_with_a_named_error(kwargs, error, match):
    args = dict(x=X, w=WD, bias=np.zeros(8, np.int32), x_qparams=Q, w_qparams=Q, out_qparams=Q,
                depth_multiplier=2)  # fmt: skip
    args.update(kwargs)
    x, w, bias = args.pop("x"), args.pop("w"), args.pop("bias")
    with pytest.raises(error, match=match):
        P.depthwise_conv2d(x, w, bias, **args)


def test_zero_point_outside_the_grid_is_rejected_by_quantparams():
    with pytest.raises(ValueError, match=r"zero_point: 200 lies outside \[qmin, qmax\]"):
        QuantParams(0.1, 200)


def test_accumulator_overflow_risk_is_rejected():
    x = np.zeros((1, 1, 1, 2), dtype=np.int8)
    w = np.full((1, 1, 1, 2), 127, dtype=np.int8)
    bias = np.array([INT32_MAX - 1000], dtype=np.int32)
    with pytest.raises(ValueError, match="conv2d: the int32 accumulator of output channel 0 can "):
        P.conv2d(x, w, bias, x_qparams=QuantParams(0.1, -128), w_qparams=Q, out_qparams=Q)
    # 16x8 with an int32 bias (or none): int32 accumulation of 600 taps · 127 · 32768 > 2^31 ...
    x16 = np.zeros((1, 1, 1, 600), dtype=np.int16)
    w16 = np.full((1, 1, 1, 600), 127, dtype=np.int8)
    kw = dict(x_qparams=Q16, w_qparams=Q, out_qparams=Q16)
    for bias16 in (None, np.zeros(1, np.int32)):
        with pytest.raises(ValueError, match="conv2d: the int32 accumulator of output channel 0"):
            P.conv2d(x16, w16, bias16, **kw)
    # ... which the int64 accumulator of an int64 bias holds, up to its 2^47 bound
    assert P.conv2d(x16, w16, np.zeros(1, np.int64), **kw).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="the int64 accumulator of output channel 0 can reach"):
        P.conv2d(x16, w16, np.array([2**47], np.int64), **kw)
    wd = np.full((1, 1, 1, 1), 127, dtype=np.int8)
    with pytest.raises(ValueError, match="depthwise_conv2d: the int32 accumulator"):
        P.depthwise_conv2d(x[..., :1], wd, np.array([INT32_MAX - 100], np.int32),
                           x_qparams=QuantParams(0.1, 127), w_qparams=Q, out_qparams=Q)  # fmt: skip


def test_non_array_inputs_are_rejected():
    with pytest.raises(TypeError, match="x: expected a NumPy integer array, got list"):
        P.conv2d([[1]], W, None, x_qparams=Q, w_qparams=Q, out_qparams=Q)
    with pytest.raises(TypeError, match="w: expected a NumPy integer array, got list"):
        P.depthwise_conv2d(X, [[1]], None, x_qparams=Q, w_qparams=Q, out_qparams=Q)


def test_kernels_ran_only_with_listed_signatures():
    # Every @njit function of the module is listed, and the tests above (ops included) compiled
    # the kernels only for signatures that SIGNATURES names.
    from numba.core import sigutils
    from numba.core.registry import CPUDispatcher

    defined = {n for n, f in vars(K).items() if isinstance(f, CPUDispatcher)
               and f.py_func.__module__ == K.__name__}  # fmt: skip
    assert defined == set(K.SIGNATURES)
    for name in defined:
        listed = {sigutils.normalize_signature(s)[0] for s in K.SIGNATURES[name]}
        for sig in getattr(K, name).signatures:
            assert tuple(sig) in listed, (name, sig)


# ---- non-vacuity (runs last) ------------------------------------------------------------------


def test_zz_randomized_tests_were_not_vacuous():
    if not SEEN:
        pytest.skip("run together with the randomized tests")
    for name in ("kernel_conv2d", "kernel_depthwise_conv2d", "op_conv2d", "op_depthwise_conv2d"):
        assert SEEN[name, "min"] > 0, f"{name}: no output hit act_min"
        assert SEEN[name, "max"] > 0, f"{name}: no output hit act_max"
        assert SEEN[name, "mid"] > 0, f"{name}: no output strictly inside the clamp"
        assert len(DISTINCT[name]) > 20, f"{name}: outputs take too few values"
    total = sum(SEEN.values())
    saturated = sum(v for (_, kind), v in SEEN.items() if kind != "mid")
    print(
        f"\nconv: {total} outputs checked, {saturated / total:.1%} at a clamp bound; "
        f"worst float gap in steps: {dict(WORST_FLOAT_GAP)}"
    )
