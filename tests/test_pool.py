"""Pooling: intq.kernels.pool against the integer oracles of intq.reference.int_oracle.pool (bit
for bit, integers drawn directly), intq.ops.pool against the same oracles fed the derived
integers, and the dequantized results against the float64 references."""

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
from kernel_checks import i64 as _i64

from intq import QuantParams
from intq.kernels import pool as K
from intq.ops import pool as P
from intq.reference.float_ops import pool as F
from intq.reference.int_oracle import pool as O

DTYPES = (np.int8, np.uint8, np.int16)
ACTIVATIONS = (None, "relu", "relu6", "relu_n1_to_1")
KERNELS = {"avg_pool2d": K.avg_pool2d, "max_pool2d": K.max_pool2d}
OPS = {"avg_pool2d": P.avg_pool2d, "max_pool2d": P.max_pool2d}
ORACLES = {"avg_pool2d": O.avg_pool2d, "max_pool2d": O.max_pool2d}

# Output values seen by the randomized tests, per (op, "min"/"max"/"mid") and distinct values;
# checked by the last test of the module.
COVERAGE = OutputCoverage()
SEEN, DISTINCT, WORST_FLOAT_GAP = COVERAGE.seen, COVERAGE.distinct, COVERAGE.worst_float_gap
_record = COVERAGE.record


def _run_kernel(op, x, fh, fw, sh, sw, pt, pl, amin, amax, out_h, out_w):
    out = np.empty((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    KERNELS[op](x, *_i64(fh, fw, sh, sw, pt, pl, amin, amax), out)
    return out


# ---- strategies -------------------------------------------------------------------------------


@st.composite
def kernel_cases(draw):
    """Integers for a kernel call drawn directly: every window holds an input element (explicit
    padding below the filter size), strides up to beyond the filter, clamp bounds anywhere."""
    dtype = draw(st.sampled_from(DTYPES))
    info = np.iinfo(dtype)
    n = draw(st.integers(0, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    c = draw(st.integers(1, 3))
    fh, fw = draw(st.integers(1, min(h + 2, 4))), draw(st.integers(1, min(w + 2, 4)))
    sh, sw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pt, pb = draw(st.integers(0, fh - 1)), draw(st.integers(0, fh - 1))
    pl, pr = draw(st.integers(0, fw - 1)), draw(st.integers(0, fw - 1))
    out_h = (h + pt + pb - fh) // sh + 1
    out_w = (w + pl + pr - fw) // sw + 1
    if out_h < 1 or out_w < 1:  # window larger than the padded input: shrink it to fit
        fh, fw, pt, pl, out_h, out_w = 1, 1, 0, 0, (h - 1) // sh + 1, (w - 1) // sw + 1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = int(info.min), int(info.max)
    if draw(st.booleans()):  # a narrow band, so the rails get hit
        lo, hi = sorted((draw(st.integers(lo, hi)), draw(st.integers(lo, hi))))
    x = rng.integers(lo, hi, size=(n, h, w, c), dtype=dtype, endpoint=True)
    a = draw(st.integers(int(info.min), int(info.max)))
    b = draw(st.integers(int(info.min), int(info.max)))
    return x, fh, fw, sh, sw, pt, pl, min(a, b), max(a, b), out_h, out_w


def scales(lo_exponent: int, hi_exponent: int) -> st.SearchStrategy[float]:
    return st.builds(
        lambda m, e: m * 2.0**e,
        st.floats(1.0, 2.0, exclude_max=True),
        st.integers(lo_exponent, hi_exponent),
    )


@st.composite
def op_cases(draw):
    """Quantized tensors and op arguments for intq.ops.pool, scales from tiny to large."""
    dtype = draw(st.sampled_from(DTYPES))
    info = np.iinfo(dtype)
    zp = 0 if dtype == np.int16 else draw(st.integers(int(info.min), int(info.max)))
    q = QuantParams(
        draw(scales(-20, 10)), zp, bits=8 * np.dtype(dtype).itemsize, signed=info.min < 0
    )
    n, h, w, c = (draw(st.integers(lo, hi)) for lo, hi in ((0, 2), (1, 6), (1, 6), (1, 3)))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    padding = draw(
        st.one_of(
            st.sampled_from(["same", "valid"]),
            st.tuples(
                st.tuples(st.integers(0, fh - 1), st.integers(0, fh - 1)),
                st.tuples(st.integers(0, fw - 1), st.integers(0, fw - 1)),
            ),
        )
    )
    if padding == "valid":
        fh, fw = min(fh, h), min(fw, w)
    elif not isinstance(padding, str):
        fh = min(fh, h + sum(padding[0]))
        fw = min(fw, w + sum(padding[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(int(info.min), int(info.max) + 1, size=(n, h, w, c), dtype=dtype)
    activation = draw(st.sampled_from(ACTIVATIONS))
    return x, q, (fh, fw), stride, padding, activation


# ---- kernel == oracle -------------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(KERNELS))
@given(case=kernel_cases())
def test_kernel_equals_oracle(op, case):
    x, fh, fw, sh, sw, pt, pl, amin, amax, out_h, out_w = case
    got = _run_kernel(op, x, fh, fw, sh, sw, pt, pl, amin, amax, out_h, out_w)
    want = ORACLES[op](x, fh, fw, sh, sw, pt, pl, amin, amax, out_h, out_w)
    _assert_same(got, want, x.dtype)
    assert got.size == 0 or (got.min() >= amin and got.max() <= amax)
    _record("kernel_" + op, got, amin, amax)


@pytest.mark.parametrize("op", sorted(KERNELS))
def test_one_and_two_threads_agree(op):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread here")
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, size=(3, 17, 13, 5), dtype=np.int8)
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append(_run_kernel(op, x, 3, 2, 2, 3, 1, 1, -100, 90, 9, 5))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


# ---- pinned cases -----------------------------------------------------------------------------

# (window values, expected average): C's truncating division with ±count/2, ties away from zero.
AVERAGES = [
    ([-5, 0, 0, 0], -1),  # −1.25 → −1 (floor division would give −2)
    ([-6, 0, 0, 0], -2),  # −1.5 → −2 (away from zero)
    ([-2, 0, 0, 0], -1),  # −0.5 → −1
    ([-1, 0, 0, 0], 0),  # −0.25 → 0
    ([6, 0, 0, 0], 2),  # 1.5 → 2
    ([5, 0, 0, 0], 1),  # 1.25 → 1
    ([2, 0, 0, 0], 1),  # 0.5 → 1
    ([0, 0, 0, 0], 0),
    ([-128, -128, -128, -127], -128),  # −127.75 → −128
    ([127, 127, 127, 126], 127),  # 126.75 → 127
    ([-3, 0, 0, 0], -1),  # −0.75 → −1
]


@pytest.mark.parametrize("values,expected", AVERAGES)
def test_average_rounds_half_away_from_zero_with_truncating_division(values, expected):
    x = np.array(values, dtype=np.int8).reshape(1, 2, 2, 1)
    got = _run_kernel("avg_pool2d", x, 2, 2, 2, 2, 0, 0, -128, 127, 1, 1)
    assert int(got[0, 0, 0, 0]) == expected
    assert int(O.avg_pool2d(x, 2, 2, 2, 2, 0, 0, -128, 127, 1, 1)[0, 0, 0, 0]) == expected


def test_average_counts_only_taps_inside_the_image():
    # 3x3 image, 3x3 window, SAME padding: the corner windows see 4 taps, edges 6, the centre 9.
    x = np.full((1, 3, 3, 1), 9, dtype=np.int8)
    x[0, 0, 0, 0] = -27  # corner window: (−27 + 9 + 9 + 9) / 4 = 0; centre: (−27 + 72) / 9 = 5
    q = QuantParams(0.5, 0)
    y = P.avg_pool2d(x, x_qparams=q, filter_size=3, stride=1, padding="same")
    assert y[0, 0, 0, 0] == 0  # (0 − 2)/4 = −0.5 → trunc 0
    assert y[0, 1, 1, 0] == 5
    assert y[0, 2, 2, 0] == 9  # corner far from the −27: (9·4)/4
    assert y[0, 0, 1, 0] == 3  # edge: (−27 + 5·9)/6 = 3
    p = P.pool_params(x.shape, q, filter_size=3, stride=1, padding="same")
    assert (p.pad_top, p.pad_bottom, p.pad_left, p.pad_right) == (1, 1, 1, 1)


def test_max_pool_at_the_corners_and_stride_beyond_the_filter():
    x = np.arange(-128, -128 + 7 * 7, dtype=np.int8).reshape(1, 7, 7, 1)
    q = QuantParams(1.0, -128)
    y = P.max_pool2d(x, x_qparams=q, filter_size=2, stride=3, padding="same")
    # SAME: out = ceil(7/3) = 3, total padding (3−1)·3 + 2 − 7 = 1 → top 0, bottom 1.
    p = P.pool_params(x.shape, q, filter_size=2, stride=3, padding="same")
    assert (p.out_h, p.pad_top, p.pad_bottom) == (3, 0, 1)
    want = O.max_pool2d(x, 2, 2, 3, 3, 0, 0, -128, 127, 3, 3)
    _assert_same(y, want, np.int8)
    assert y[0, 0, 0, 0] == x[0, 1, 1, 0]
    assert y[0, 2, 2, 0] == x[0, 6, 6, 0]  # bottom-right window clipped to one tap


@pytest.mark.parametrize("op", sorted(OPS))
def test_1x1_pool_is_the_clamped_identity(op):
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 4, 8, 8)
    q = QuantParams(0.1, -5)
    y = OPS[op](x, x_qparams=q, filter_size=1, activation="relu6")
    lo, hi = -5, -5 + 60  # relu6: [zp, zp + round(6 / 0.1)]
    np.testing.assert_array_equal(y, np.clip(x, lo, hi))


# ---- ops == oracle fed the derived integers ---------------------------------------------------


@pytest.mark.parametrize("op", sorted(OPS))
@given(case=op_cases(), profile=st.sampled_from(["tflite", "tflite-single-rounding"]))
def test_op_equals_oracle(op, case, profile):
    x, q, filter_size, stride, padding, activation = case
    got = OPS[op](
        x, x_qparams=q, filter_size=filter_size, stride=stride, padding=padding,
        activation=activation, profile=profile,
    )  # fmt: skip
    p = P.pool_params(
        x.shape, q, filter_size=filter_size, stride=stride, padding=padding, activation=activation
    )
    want = ORACLES[op](
        x, p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.act_min,
        p.act_max, p.out_h, p.out_w,
    )  # fmt: skip
    _assert_same(got, want, x.dtype)
    assert got.size == 0 or (got.min() >= p.act_min and got.max() <= p.act_max)
    _record("op_" + op, got, p.act_min, p.act_max)

    # Float check: the dequantized result is within half a step of the float64 pool of the
    # dequantized input (max pooling: exact), after the same clamp: the activation's bounds as
    # quantized onto the grid (SEMANTICS.md §4.1; a bound like 6.0 itself moves by < 1/2 step).
    real = q.scale * (x.astype(np.float64) - q.zero_point)
    ref = getattr(F, op)(
        real, p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.out_h,
        p.out_w, None,
    )  # fmt: skip
    ref = np.clip(ref, q.scale * (p.act_min - q.zero_point), q.scale * (p.act_max - q.zero_point))
    gap = np.abs(q.scale * (got.astype(np.float64) - q.zero_point) - ref) / q.scale
    worst = float(gap.max()) if gap.size else 0.0
    WORST_FLOAT_GAP[op] = max(WORST_FLOAT_GAP[op], worst)
    bound = 0.5 + 1e-9 if op == "avg_pool2d" else 1e-9
    assert worst <= bound, f"{op}: worst gap {worst} steps exceeds {bound}"


@pytest.mark.parametrize("op", sorted(OPS))
def test_strided_and_fortran_inputs_give_the_same_bits(op):
    rng = np.random.default_rng(3)
    base = rng.integers(-128, 128, size=(2, 9, 11, 6), dtype=np.int8)
    q = QuantParams(0.02, 17)
    kwargs = dict(x_qparams=q, filter_size=(3, 2), stride=(2, 1), padding="same")
    want = OPS[op](np.ascontiguousarray(base[:, ::2, 1::2, ::3]), **kwargs)
    _assert_same(OPS[op](base[:, ::2, 1::2, ::3], **kwargs), want.astype(np.int64), np.int8)
    fortran = np.asfortranarray(base)
    _assert_same(OPS[op](fortran, **kwargs), OPS[op](base, **kwargs).astype(np.int64), np.int8)


def test_kernels_without_jit_equal_the_oracle():
    code = textwrap.dedent(
        """
        import numpy as np
        from intq.kernels import pool as K
        from intq.reference.int_oracle import pool as O
        rng = np.random.default_rng(11)
        for dtype in (np.int8, np.uint8, np.int16):
            info = np.iinfo(dtype)
            x = rng.integers(info.min, int(info.max) + 1, size=(2, 5, 4, 3), dtype=dtype)
            args = [np.int64(v) for v in (3, 2, 2, 1, 1, 0, int(info.min) + 3, int(info.max) - 5)]
            for name in ("avg_pool2d", "max_pool2d"):
                out = np.empty((2, 3, 3, 3), dtype=dtype)
                getattr(K, name)(x, *args, out)
                want = getattr(O, name)(x, *[int(a) for a in args], 3, 3)
                assert out.dtype == dtype and (out.astype(np.int64) == want).all(), name
        print("OK")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


# ---- bad input --------------------------------------------------------------------------------

Q = QuantParams(0.1, 0)
X = np.zeros((1, 4, 4, 2), dtype=np.int8)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(x=X.astype(np.float32)), TypeError, "x: dtype float32 does not match"),
        (dict(x=X.astype(np.int32), x_qparams=QuantParams(0.1, 0, bits=32)), TypeError,
         "x: avg_pool2d supports int8, uint8 and int16 inputs"),
        (dict(x=X[0]), ValueError, r"x: expected a 4-D NHWC tensor, got shape \(4, 4, 2\)"),
        (dict(x_qparams=QuantParams([0.1, 0.2], 0, axis=3)), ValueError,
         "x_qparams: must be per-tensor"),
        (dict(x=X + 9, x_qparams=QuantParams(0.1, 0, bits=4)), ValueError,
         r"x: values span \[9, 9\], outside the grid \[-8, 7\]"),
        (dict(out_qparams=QuantParams(0.2, 0)), ValueError,
         "out_qparams: avg_pool2d keeps the input's quantization"),
        (dict(filter_size=0), ValueError, "filter_size: must be positive"),
        (dict(filter_size=(2, 2, 2)), ValueError, "filter_size: expected a positive int or a pair"),
        (dict(stride=(1, 0)), ValueError, "stride: must be positive"),
        (dict(padding="full"), ValueError, "padding: expected 'valid', 'same'"),
        (dict(padding=((1, -1), (0, 0))), ValueError, "padding: explicit padding must be"),
        (dict(padding=((1, 1),)), ValueError, r"padding: expected 'valid', 'same' or \(\(top"),
        (dict(filter_size=5), ValueError, "padding: a 5-tap filter .* leaves an empty output"),
        (dict(filter_size=2, stride=1, padding=((2, 0), (0, 0))), ValueError,
         "padding: the window of output row 0 lies entirely in the padding"),
        (dict(activation="gelu"), ValueError, "activation: expected one of"),
        (dict(profile="nope"), ValueError, "profile: unknown profile 'nope'"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_with_a_named_error(kwargs, error, match):
    args = dict(x=X, x_qparams=Q, filter_size=2)
    args.update(kwargs)
    x = args.pop("x")
    with pytest.raises(error, match=match):
        P.avg_pool2d(x, **args)


def test_accumulator_overflow_risk_is_rejected():
    x = np.zeros((1, 1, 1, 1), dtype=np.int16)
    q = QuantParams(0.001, 0, bits=16)
    with pytest.raises(ValueError, match="filter_size: a 300x300 window of values up to 32768"):
        P.avg_pool2d(x, x_qparams=q, filter_size=300, padding="same")
    # max pooling sums nothing
    assert P.max_pool2d(x, x_qparams=q, filter_size=300, padding="same").shape == (1, 1, 1, 1)


def test_non_array_input_is_rejected():
    with pytest.raises(TypeError, match="x: expected a NumPy integer array, got list"):
        P.max_pool2d([[1]], x_qparams=Q, filter_size=1)


# ---- non-vacuity (after the randomized tests) ---------------------------------------------


def test_zz_randomized_tests_were_not_vacuous():
    if not SEEN:
        pytest.skip("run together with the randomized tests")
    for op in ("kernel_avg_pool2d", "kernel_max_pool2d", "op_avg_pool2d", "op_max_pool2d"):
        assert SEEN[op, "min"] > 0, f"{op}: no output hit act_min"
        assert SEEN[op, "max"] > 0, f"{op}: no output hit act_max"
        assert SEEN[op, "mid"] > 0, f"{op}: no output strictly inside the clamp"
        assert len(DISTINCT[op]) > 10, f"{op}: outputs take too few values"
    print(f"\nworst float gap in steps: {dict(WORST_FLOAT_GAP)}")


# ---- pinned against LiteRT ---------------------------------------------------------------------

# LiteRT 2.3 (ai-edge-litert 2.3.0, OpResolverType.BUILTIN_REF) AVERAGE_POOL_2D: 3x3 filter,
# stride 2, SAME padding, RELU6, scale 0.05, zero point −3.
LITERT_AVG_POOL = (
    [[[[-115, 91], [-64, -88], [-86, -25], [-92, -57], [23, 23]],
      [[-24, -91], [21, 118], [112, -71], [90, -9], [18, 90]],
      [[65, 110], [27, 6], [-10, -94], [-13, -105], [56, -64]],
      [[-48, -18], [-102, -77], [-46, -59], [4, -76], [70, 41]]]],
    [[[[-3, 24], [-2, -3], [14, -3]], [[-3, 5], [-3, -3], [29, -3]]]],
)  # fmt: skip


def test_pinned_against_litert_reference_kernels():
    x, want = LITERT_AVG_POOL
    got = P.avg_pool2d(
        np.array(x, np.int8), x_qparams=QuantParams(0.05, -3), filter_size=3, stride=2,
        padding="same", activation="relu6",
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
