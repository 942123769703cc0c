"""GEMM / fully connected: intq.kernels.gemm against the oracle intq.reference.int_oracle.gemm (bit
for bit, integers drawn directly), intq.ops.linear against the same oracle fed the derived integers,
the dequantized results against the float64 reference, blocking, layouts, threads and bad input."""

from __future__ import annotations

import collections
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
from numba.core import sigutils

from intq import QuantParams
from intq.kernels import gemm as K
from intq.kernels.fixed_point import DOUBLE_ROUNDING, INT64_ACCUMULATOR, SINGLE_ROUNDING
from intq.ops import fully_connected as L
from intq.reference import int_oracle
from intq.reference.float_ops import gemm as F
from intq.reference.int_oracle import gemm as O

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
PROFILES = ("tflite", "tflite-single-rounding")
ACTIVATIONS = (None, "relu", "relu6", "relu_n1_to_1")

# Outputs seen by the randomized suites, per (suite, "min"/"max"/"mid"); checked by the last test.
COVERAGE = OutputCoverage()
SEEN = COVERAGE.seen
_record = COVERAGE.record
# Worst float gap (in output steps) per kind, printed by the last test.
GAPS: dict[str, float] = collections.defaultdict(float)


def _info(dtype) -> np.iinfo:
    return np.iinfo(np.dtype(dtype))


# ---- strategies -------------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
rows = st.one_of(st.integers(0, 6), st.sampled_from([1, 4, 5]))  # MR = 4: 5 crosses a tile
units = st.one_of(st.integers(1, 20), st.sampled_from([1, 7, 8, 9, 17]))  # NR = 8
depths = st.one_of(st.integers(1, 48), st.sampled_from([1, 2, 3, 4, 5, 7, 13, 31, 37, 61]))
multipliers = st.one_of(
    st.integers(0, INT32_MAX), st.sampled_from([0, 1, 2**30, 2**30 + 1, INT32_MAX])
)


def zero_points(dtype) -> st.SearchStrategy[int]:
    info = _info(dtype)
    return st.one_of(st.integers(int(info.min), int(info.max)), st.sampled_from([int(info.min),
                     int(info.max), 0]))  # fmt: skip


def _values(rng, dtype, shape, mode: int, zero_point: int = 0) -> np.ndarray:
    """Random values of ``dtype``; mode 1: only the rails; mode 2: near ``zero_point``."""
    info = _info(dtype)
    lo, hi = int(info.min), int(info.max)
    if mode == 1:
        return rng.choice(np.array([lo, hi], dtype=np.int64), size=shape).astype(dtype)
    if mode == 2:
        v = zero_point + rng.integers(-2, 3, size=shape)
        return np.clip(v, lo, hi).astype(dtype)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


@st.composite
def requantization(draw, units: int, rounding: int):
    """Per-channel (multiplier, shift) int32 arrays over their valid range for ``rounding``."""
    hi_shift = {DOUBLE_ROUNDING: 7, SINGLE_ROUNDING: 30, INT64_ACCUMULATOR: 7}[rounding]
    shifts = st.one_of(st.integers(-31, hi_shift), st.sampled_from([-31, -20, -1, 0, 1]))
    if draw(st.booleans()):  # per-tensor parameters broadcast by the wrapper
        m, s = draw(multipliers), draw(shifts)
        return np.full(units, m, np.int32), np.full(units, s, np.int32)
    m = draw(st.lists(multipliers, min_size=units, max_size=units))
    s = draw(st.lists(shifts, min_size=units, max_size=units))
    return np.array(m, np.int32), np.array(s, np.int32)


@st.composite
def clamp_range(draw, dtype):
    info = _info(dtype)
    if draw(st.booleans()):
        return int(info.min), int(info.max)
    values = st.integers(int(info.min), int(info.max))
    a, b = draw(values), draw(values)
    return min(a, b), max(a, b)


def _kernel(x, x_zp, w, w_zp, bias, mult, shift, rounding, out_zp, lo, hi):
    out = np.empty((x.shape[0], w.shape[0]), x.dtype)
    K.fully_connected(x, x_zp, w, w_zp, bias, mult, shift, rounding, out_zp, lo, hi, out)
    return out


# ---- kernels against the oracle -----------------------------------------------------------------


@given(st.sampled_from([np.int8, np.uint8]), rows, units, depths, st.sampled_from(
    [DOUBLE_ROUNDING, SINGLE_ROUNDING]), seeds, st.data())  # fmt: skip
def test_fully_connected_kernel_matches_oracle(dtype, m, n, k, rounding, seed, data):
    rng = np.random.default_rng(seed)
    x_zp = data.draw(zero_points(dtype), "x_zp")
    w_zp = data.draw(zero_points(np.int8), "w_zp")
    out_zp = data.draw(zero_points(dtype), "out_zp")
    lo, hi = data.draw(clamp_range(dtype), "clamp")
    mult, shift = data.draw(requantization(n, rounding), "requantization")
    x = _values(rng, dtype, (m, k), seed % 3, x_zp)
    w = _values(rng, np.int8, (n, k), (seed // 3) % 3, w_zp)
    bias_hi = data.draw(st.sampled_from([0, 2**10, 2**20, INT32_MAX]), "bias")
    bias = rng.integers(-bias_hi - 1, bias_hi, n, endpoint=True).astype(np.int32)
    got = _kernel(x, x_zp, w, w_zp, bias, mult, shift, rounding, out_zp, lo, hi)
    want = O.fully_connected(x, x_zp, w, w_zp, bias, mult, shift, rounding, out_zp, lo, hi)
    _assert_same(got, want, dtype)
    _record("kernel-8bit", got, lo, hi)


@given(rows, units, depths, st.sampled_from([INT64_ACCUMULATOR, DOUBLE_ROUNDING, SINGLE_ROUNDING]),
       seeds, st.data())  # fmt: skip
def test_fully_connected_16x8_kernel_matches_oracle(m, n, k, rounding, seed, data):
    # int16 × int8; INT64_ACCUMULATOR takes an int64 bias (|acc| stays below 2^47, the domain of
    # MultiplyByQuantizedMultiplier(int64)); the int32 roundings take an int32 bias.
    rng = np.random.default_rng(seed)
    x_zp = data.draw(st.one_of(st.just(0), zero_points(np.int16)), "x_zp")
    w_zp = data.draw(st.one_of(st.just(0), zero_points(np.int8)), "w_zp")
    lo, hi = data.draw(clamp_range(np.int16), "clamp")
    mult, shift = data.draw(requantization(n, rounding), "requantization")
    x = _values(rng, np.int16, (m, k), seed % 3, x_zp)
    w = _values(rng, np.int8, (n, k), (seed // 3) % 3, w_zp)
    if rounding == INT64_ACCUMULATOR:
        bias_hi = data.draw(st.sampled_from([0, 2**20, 2**40, 2**46]), "bias")
        bias = rng.integers(-bias_hi, bias_hi, n, endpoint=True).astype(np.int64)
    else:
        bias = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True).astype(np.int32)
    got = _kernel(x, x_zp, w, w_zp, bias, mult, shift, rounding, 0, lo, hi)
    want = O.fully_connected(x, x_zp, w, w_zp, bias, mult, shift, rounding, 0, lo, hi)
    _assert_same(got, want, np.int16)
    _record("kernel-16x8", got, lo, hi)


@given(st.sampled_from([np.int8, np.uint8, np.int16]), rows, units, depths, seeds, st.data())
def test_fully_connected_int32_kernel_matches_oracle(dtype, m, n, k, seed, data):
    rng = np.random.default_rng(seed)
    x_zp = data.draw(zero_points(dtype), "x_zp")
    w_zp = data.draw(zero_points(np.int8), "w_zp")
    x = _values(rng, dtype, (m, k), seed % 3, x_zp)
    w = _values(rng, np.int8, (n, k), (seed // 3) % 3, w_zp)
    bias = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True).astype(np.int32)
    out = np.empty((m, n), np.int32)
    K.fully_connected_int32(x, x_zp, w, w_zp, bias, out)
    _assert_same(out, O.fully_connected_int32(x, x_zp, w, w_zp, bias), np.int32)


@given(
    st.sampled_from([np.int8, np.uint8, np.int16]),
    rows,
    st.integers(1, 40),
    st.integers(1, 45),
    st.integers(1, 4),
    st.integers(1, 3),
    seeds,
)
def test_cache_blocking_does_not_change_results(dtype, m, n, k, kc_groups, nc_panels, seed):
    # Small K blocks (kc_groups · KU values) and N blocks (nc_panels · NR columns) cross every
    # block edge of these shapes; the requantizing and the int32 kernels must equal the oracle.
    rng = np.random.default_rng(seed)
    info = _info(dtype)
    x = _values(rng, dtype, (m, k), seed % 2)
    w = _values(rng, np.int8, (n, k), 0)
    x_zp = int(rng.integers(int(info.min), int(info.max), endpoint=True))
    w_zp = int(rng.integers(-128, 127, endpoint=True))
    bias = rng.integers(-(2**20), 2**20, n).astype(np.int32)
    mult = rng.integers(2**30, INT32_MAX, n).astype(np.int32)
    shift = rng.integers(-20, -8, n).astype(np.int32)
    packed = np.empty(K.packed_weights_shape(n, k), np.int8)
    col_sums = np.empty(n, np.int64)
    K.pack_panels(w, packed, col_sums)
    lo, hi = int(info.min), int(info.max)
    out = np.empty((m, n), dtype)
    K.fully_connected_packed(x, x_zp, packed, col_sums, w_zp, bias, mult, shift, DOUBLE_ROUNDING,
                             0, lo, hi, kc_groups, nc_panels, out)  # fmt: skip
    want = O.fully_connected(x, x_zp, w, w_zp, bias, mult, shift, DOUBLE_ROUNDING, 0, lo, hi)
    _assert_same(out, want, dtype)
    acc = np.empty((m, n), np.int32)
    K.fully_connected_int32_packed(x, x_zp, packed, col_sums, w_zp, bias, kc_groups, nc_panels,
                                   acc)  # fmt: skip
    _assert_same(acc, O.fully_connected_int32(x, x_zp, w, w_zp, bias), np.int32)


@pytest.mark.parametrize("k", [255, 256, 257, 300, 521])
def test_depth_crossing_the_default_k_block(k):
    # KC_MAX = 256 values per K block: these depths end inside, at and past a block edge.
    rng = np.random.default_rng(k)
    x = rng.integers(-128, 128, (5, k)).astype(np.int8)
    w = rng.integers(-128, 128, (9, k)).astype(np.int8)
    bias = rng.integers(-(2**20), 2**20, 9).astype(np.int32)
    mult = np.full(9, 1 << 30, np.int32)
    shift = np.full(9, -14, np.int32)
    got = _kernel(x, -128, w, 3, bias, mult, shift, SINGLE_ROUNDING, 5, -128, 127)
    want = O.fully_connected(x, -128, w, 3, bias, mult, shift, SINGLE_ROUNDING, 5, -128, 127)
    _assert_same(got, want, np.int8)
    assert len(set(got.ravel().tolist())) > 5


@given(units, st.integers(0, 30), seeds)
def test_pack_weights_layout_and_column_sums(n, k, seed):
    w = np.random.default_rng(seed).integers(-128, 128, (n, k)).astype(np.int8)
    packed = np.full(K.packed_weights_shape(n, k), 99, np.int8)
    col_sums = np.empty(n, np.int64)
    K.pack_panels(w, packed, col_sums)
    panels, groups, nr, ku = packed.shape
    assert (nr, ku) == (K.NR, K.KU) and panels * nr >= n and groups * ku >= k
    padded = np.zeros((panels * nr, groups * ku), np.int8)
    padded[:n, :k] = w
    # packed[p, g, j, u] = w[p·NR + j, g·KU + u], zero outside w.
    np.testing.assert_array_equal(
        packed, padded.reshape(panels, nr, groups, ku).transpose(0, 2, 1, 3)
    )
    np.testing.assert_array_equal(col_sums, w.astype(np.int64).sum(axis=1))


def test_empty_batch_and_zero_depth_kernels():
    for m, k in ((0, 5), (3, 0), (0, 0)):
        x = np.zeros((m, k), np.int8) + 3
        w = np.ones((4, k), np.int8)
        bias = np.array([-5, 0, 7, 2**20], np.int32)
        mult, shift = np.full(4, 2**30, np.int32), np.full(4, -2, np.int32)
        got = _kernel(x, 1, w, 0, bias, mult, shift, DOUBLE_ROUNDING, -3, -128, 127)
        _assert_same(got, O.fully_connected(x, 1, w, 0, bias, mult, shift, 0, -3, -128, 127),
                     np.int8)  # fmt: skip


# ---- eq. (7): intermediate terms beyond int32 --------------------------------------------------

WRAP_CASES = {
    # x == x_zp at the rail: every eq. (7) term is about ±2.3e9, the sum is exactly 0.
    "x_at_zero_point_rail": (np.int8, -128, -128, 127, -128, 140_000),
    # uint8 x_zp = 255 with x within one of it: Σ x·w ≈ 4.5e9, the true sum below 2^25.
    "uint8_rail_small_sum": (np.uint8, 255, None, 127, 0, 140_000),
    # int8 x_zp = 127, x = −128, w = −128: the true sum 255·128·70000 ≈ 2.3e9 leaves int32 and
    # wraps exactly as C's int32 accumulator (the ops layer would have refused this layer).
    "true_sum_wraps": (np.int8, 127, -128, -128, 0, 70_000),
}


@pytest.mark.parametrize("case", list(WRAP_CASES))
def test_zero_point_expansion_is_exact_beyond_int32(case):
    dtype, x_zp, x_value, w_value, w_zp, k = WRAP_CASES[case]
    rng = np.random.default_rng(7)
    if x_value is None:
        x = (x_zp - rng.integers(0, 2, (2, k))).astype(dtype)
    else:
        x = np.full((2, k), x_value, dtype)
    w = np.full((3, k), w_value, np.int8)
    w[1, ::3] = 0
    bias = np.array([0, 12345, -(2**31)], np.int32)
    raw = np.empty((2, 3), np.int32)
    K.fully_connected_int32(x, x_zp, w, w_zp, bias, raw)
    _assert_same(raw, O.fully_connected_int32(x, x_zp, w, w_zp, bias), np.int32)
    mult, shift = np.full(3, 1 << 30, np.int32), np.full(3, -24, np.int32)
    for rounding in (DOUBLE_ROUNDING, SINGLE_ROUNDING):
        got = _kernel(x, x_zp, w, w_zp, bias, mult, shift, rounding, 0, int(_info(dtype).min),
                      int(_info(dtype).max))  # fmt: skip
        want = O.fully_connected(x, x_zp, w, w_zp, bias, mult, shift, rounding, 0,
                                 int(_info(dtype).min), int(_info(dtype).max))  # fmt: skip
        _assert_same(got, want, dtype)
    x0, w0 = x[0].astype(np.int64).tolist(), w[0].astype(np.int64).tolist()
    raw_sum = sum(a * b for a, b in zip(x0, w0, strict=True))
    true_sum = sum((a - x_zp) * (b - w_zp) for a, b in zip(x0, w0, strict=True))
    terms = [raw_sum, x_zp * sum(w0), w_zp * sum(x0), k * x_zp * w_zp, true_sum]
    assert max(abs(t) for t in terms) > INT32_MAX  # the arithmetic really leaves int32


# ---- ops against the oracle (derived integers) -------------------------------------------------

KINDS = ["int8-per-tensor", "int8-per-channel", "uint8-legacy", "uint8-int8w", "int16-int64bias",
         "int16-int32bias", "int16-nobias", "int8-nobias"]  # fmt: skip


def scales(lo: int, hi: int) -> st.SearchStrategy[float]:
    """Positive scales ``m · 2^e``, ``m`` in [1, 2): tiny to large."""
    return st.builds(lambda m, e: m * 2.0**e, st.floats(1.0, 2.0, exclude_max=True),
                     st.integers(lo, hi))  # fmt: skip


@st.composite
def linear_case(draw):
    """A quantized FC layer of one of KINDS: inputs, weights, bias and QuantParams.

    The output scale is sized to this example's accumulators: ``2^e`` times the scale that maps
    the largest one onto half the output range (``e`` mostly in [−3, 3], so outputs spread over
    the grid and some saturate; sometimes anywhere in [−18, 3]). It is capped so that no
    requantized value can leave int32 (``linear`` refuses such layers; tested separately).
    """
    kind = draw(st.sampled_from(KINDS))
    lead = draw(st.sampled_from([(), (0,), (1,), (3,), (2, 3)]))
    n, k = draw(units), draw(depths)
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    s_in, s_w0 = draw(scales(-20, 4)), draw(scales(-12, 2))
    int16 = kind.startswith("int16")
    if int16:
        x_q = QuantParams(s_in, 0, bits=16)
    elif kind.startswith("uint8"):
        x_q = QuantParams(s_in, draw(zero_points(np.uint8)), signed=False)
    else:
        x_q = QuantParams(s_in, draw(zero_points(np.int8)))
    if kind == "int8-per-channel" or (int16 and seed % 2):
        w_q = QuantParams(s_w0 * rng.uniform(0.5, 2.0, n), 0, axis=0, narrow_range=True)
    elif kind == "uint8-legacy":
        w_q = QuantParams(s_w0, draw(zero_points(np.uint8)), signed=False)
    else:
        w_q = QuantParams(s_w0, draw(st.one_of(st.just(0), zero_points(np.int8))))
    x = _values(rng, x_q.dtype, (*lead, k), seed % 3, int(x_q.zero_point))
    w = np.clip(_values(rng, w_q.dtype, (n, k), (seed // 3) % 3), w_q.qmin, w_q.qmax)
    w = w.astype(w_q.dtype)
    if kind.endswith("nobias"):
        bias = None
    else:
        dtype = np.int64 if kind == "int16-int64bias" else np.int32
        bias_hi = draw(st.sampled_from([0, 2**8, 2**16, 2**20]))
        bias = rng.integers(-bias_hi, bias_hi, n, endpoint=True).astype(dtype)
    w_zp = 0 if w_q.per_channel else int(w_q.zero_point)
    x_off = x.reshape(-1, k).astype(np.int64) - int(x_q.zero_point)
    w_off = w.astype(np.int64) - w_zp
    acc = x_off @ w_off.T + (0 if bias is None else bias.astype(np.int64))
    largest = max(1, int(np.abs(acc).max()) if acc.size else 1)
    x_max = max(x_q.qmax - int(x_q.zero_point), int(x_q.zero_point) - x_q.qmin)
    bound = max(1, int(np.abs(w_off).sum(axis=1).max()) * x_max + (
        0 if bias is None else int(np.abs(bias.astype(np.int64)).max())))  # fmt: skip
    e = draw(st.one_of(st.integers(-3, 3), st.integers(-18, 3)))
    ratio = 2.0**e * draw(st.floats(1.0, 2.0)) * (x_q.qmax - x_q.qmin) / (2 * largest)
    ratio = min(ratio, 2.0**29 / bound, 64.0)
    s_out = float(np.float32(s_in)) * float(np.float32(s_w0)) / ratio
    out_zp = 0 if int16 else draw(zero_points(x_q.dtype))
    out_q = QuantParams(s_out, out_zp, bits=x_q.bits, signed=x_q.signed)
    return kind, x, w, bias, x_q, w_q, out_q


def _oracle_linear(x, w, bias, w_q, p: L.LinearParams) -> np.ndarray:
    """The oracle on the ops' derived integers; the weights as given (uint8 stays uint8, with its
    own zero point: w − zp is what both compute)."""
    k, n = w.shape[1], w.shape[0]
    w_zp = 0 if w_q.per_channel else int(w_q.zero_point)
    if w.dtype == np.uint8:
        assert p.w_zero_point == w_zp - 128
    else:
        assert p.w_zero_point == w_zp
    if bias is None:
        bias = np.zeros(n, np.int64)
    x2 = x.reshape(-1, k)
    want = O.fully_connected(x2, p.x_zero_point, w, w_zp, bias, p.multiplier, p.shift,
                             p.rounding, p.out_zero_point, p.act_min, p.act_max)  # fmt: skip
    return want.reshape((*x.shape[:-1], n))


@given(linear_case(), st.sampled_from(ACTIVATIONS), st.sampled_from(PROFILES))
def test_linear_matches_oracle(case, activation, profile):
    kind, x, w, bias, x_q, w_q, out_q = case
    y = L.linear(x, w, bias, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q,
                 activation=activation, profile=profile)  # fmt: skip
    p = L.linear_params(
        x_q, w_q, out_q, units=w.shape[0], activation=activation, profile=profile,
        bias_dtype=None if bias is None else bias.dtype,
    )  # fmt: skip
    _assert_same(y, _oracle_linear(x, w, bias, w_q, p), out_q.dtype)
    int64_path = kind in ("int16-int64bias", "int16-nobias")
    assert p.int64_accumulator == int64_path
    assert p.rounding == (INT64_ACCUMULATOR if int64_path else ("single" in profile))
    _record(f"linear-{x.dtype}", y, p.act_min, p.act_max)


def _quantize_multiplier(real: float, profile: str) -> tuple[int, int]:
    return int_oracle.quantize_multiplier(real, single_rounding=profile != "tflite")


# s_in, s_w, s_out: per-tensor FC rounds s_in·s_w to float32 first; at least one of these triples
# gives a different 31-bit multiplier than the double product (checked below).
PRECISION_TRIPLES = [(0.1, 0.3, 0.7), (0.0123, 0.0456, 0.0789), (1 / 3, 1 / 7, 1 / 11),
                     (0.5, 0.25, 0.125), (3e-5, 7e-3, 1e-4), (0.0375, 0.0027, 0.11)]  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_multiplier_precision_per_tensor_vs_per_channel(profile):
    f32 = np.float32
    differ = 0
    for s_in, s_w, s_out in PRECISION_TRIPLES:
        x_q, out_q = QuantParams(s_in, 0), QuantParams(s_out, 0)
        a, b, c = float(f32(s_in)), float(f32(s_w)), float(f32(s_out))
        per_tensor = _quantize_multiplier(float(f32(a) * f32(b)) / c, profile)
        per_channel = _quantize_multiplier(a * b / c, profile)
        differ += per_tensor != per_channel
        p = L.linear_params(x_q, QuantParams(s_w, 0), out_q, units=3, profile=profile)
        assert not p.per_channel
        assert (p.multiplier.tolist(), p.shift.tolist()) == ([per_tensor[0]] * 3,
                                                             [per_tensor[1]] * 3)  # fmt: skip
        w_q = QuantParams([s_w, s_w * 2], 0, axis=0)
        p = L.linear_params(x_q, w_q, out_q, units=2, profile=profile)
        assert p.per_channel
        assert (int(p.multiplier[0]), int(p.shift[0])) == per_channel
        assert (int(p.multiplier[1]), int(p.shift[1])) == _quantize_multiplier(a * (2 * b) / c,
                                                                               profile)  # fmt: skip
        # One per-channel scale is per-tensor to LiteRT (scale->size > 1 decides).
        p1 = L.linear_params(x_q, QuantParams([s_w], 0, axis=0), out_q, units=1, profile=profile)
        assert not p1.per_channel and (int(p1.multiplier[0]), int(p1.shift[0])) == per_tensor
    assert differ, "no triple distinguishes the float32 product from the double product"


def test_linear_params_pinned():
    # s_in = 0.5, s_w = 0.25, s_out = 0.125: M = 1.0 → (2^30, 1); relu6 upper bound 6/0.125 = 48.
    p = L.linear_params(QuantParams(0.5, -3), QuantParams(0.25, 0), QuantParams(0.125, 10),
                        units=2, activation="relu6")  # fmt: skip
    assert p.multiplier.tolist() == [2**30] * 2 and p.shift.tolist() == [1, 1]
    assert (p.act_min, p.act_max, p.x_zero_point, p.out_zero_point) == (10, 58, -3, 10)
    assert p.rounding == DOUBLE_ROUNDING and not p.int64_accumulator
    x16, out16 = QuantParams(2**-10, 0, bits=16), QuantParams(2**-12, 0, bits=16)
    p16 = L.linear_params(x16, QuantParams(2**-7, 0), out16, units=1, bias_dtype=np.int64)
    assert p16.rounding == INT64_ACCUMULATOR and p16.multiplier.tolist() == [2**30]
    assert p16.shift.tolist() == [-4]


@pytest.mark.parametrize("zp", [0, 255])
def test_uint8_rails_and_legacy_weights(zp):
    # uint8 activations with zero point at either rail, uint8 weights with an offset.
    rng = np.random.default_rng(zp)
    x = rng.integers(0, 256, (4, 37)).astype(np.uint8)
    w = rng.integers(0, 256, (11, 37)).astype(np.uint8)
    bias = rng.integers(-5000, 5000, 11).astype(np.int32)
    x_q, w_q = QuantParams(0.02, zp, signed=False), QuantParams(0.004, 131, signed=False)
    out_q = QuantParams(0.3, 97, signed=False)
    y = L.linear(x, w, bias, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q)
    p = L.linear_params(x_q, w_q, out_q, units=11, bias_dtype=np.int32)
    _assert_same(y, _oracle_linear(x, w, bias, w_q, p), np.uint8)
    assert len(set(y.ravel().tolist())) > 10
    acc = L.linear_accumulate(x, w, bias, x_qparams=x_q, w_qparams=w_q)
    _assert_same(acc, O.fully_connected_int32(x, zp, w, 131, bias), np.int32)


@pytest.mark.parametrize("zp", [-128, 127])
def test_int8_zero_point_rails(zp):
    rng = np.random.default_rng(zp + 128)
    x = rng.integers(-128, 128, (3, 53)).astype(np.int8)
    w = rng.integers(-127, 128, (6, 53)).astype(np.int8)
    x_q, w_q, out_q = QuantParams(0.05, zp), QuantParams(0.01, 0), QuantParams(0.9, -zp // 2)
    for activation in ACTIVATIONS:
        y = L.linear(x, w, None, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q,
                     activation=activation)  # fmt: skip
        p = L.linear_params(x_q, w_q, out_q, units=6, activation=activation)
        _assert_same(y, _oracle_linear(x, w, None, w_q, p), np.int8)


def test_linear_accumulate_matches_oracle_and_batch_dims():
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (2, 3, 19)).astype(np.int8)
    w = rng.integers(-127, 128, (5, 19)).astype(np.int8)
    bias = rng.integers(-(2**20), 2**20, 5).astype(np.int32)
    x_q, w_q = QuantParams(0.1, -7), QuantParams([0.1, 0.2, 0.3, 0.4, 0.5], 0, axis=0)
    acc = L.linear_accumulate(x, w, bias, x_qparams=x_q, w_qparams=w_q)
    want = O.fully_connected_int32(x.reshape(6, 19), -7, w, 0, bias).reshape(2, 3, 5)
    _assert_same(acc, want, np.int32)
    x16 = rng.integers(-32768, 32768, (4, 19)).astype(np.int16)
    acc16 = L.linear_accumulate(x16, w, None, x_qparams=QuantParams(1e-3, 0, bits=16),
                                w_qparams=QuantParams(0.1, 0))  # fmt: skip
    _assert_same(acc16, O.fully_connected_int32(x16, 0, w, 0, np.zeros(5, np.int32)), np.int32)


def test_zero_depth_gives_zeros_as_litert():
    # LiteRT Eval memsets the output when the weight matrix has K = 0 (whatever bias / zero point).
    x_q, w_q, out_q = QuantParams(0.1, 3), QuantParams(0.1, 0), QuantParams(0.1, -9)
    y = L.linear(np.zeros((2, 0), np.int8), np.zeros((4, 0), np.int8),
                 np.array([100, -100, 5, 0], np.int32), x_qparams=x_q, w_qparams=w_q,
                 out_qparams=out_q)  # fmt: skip
    assert y.dtype == np.int8 and y.shape == (2, 4) and not y.any()
    y = L.linear(np.zeros((0, 5), np.int8), np.zeros((4, 5), np.int8), None, x_qparams=x_q,
                 w_qparams=w_q, out_qparams=out_q)  # fmt: skip
    assert y.shape == (0, 4)
    y = L.linear(np.zeros(5, np.int8), np.ones((4, 5), np.int8), None, x_qparams=x_q,
                 w_qparams=w_q, out_qparams=out_q)  # fmt: skip
    assert y.shape == (4,)


# ---- float reference ----------------------------------------------------------------------------


def _dequantize(q: np.ndarray, qparams: QuantParams, axis: int | None = None) -> np.ndarray:
    scale = np.asarray(qparams.scale, np.float32).astype(np.float64)
    zp = np.asarray(qparams.zero_point, np.float64)
    if axis is not None and scale.ndim:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return (q.astype(np.float64) - zp) * scale


@given(linear_case(), st.sampled_from(ACTIVATIONS), st.sampled_from(PROFILES))
def test_linear_within_a_step_of_float(case, activation, profile):
    # Error budget, in output steps: the final rounding 0.5, plus (double rounding) the srdhm
    # rounding 2^-(right shift + 1) <= 0.25; plus |y| times the relative error of the multiplier:
    # its 31-bit quantization (2^-31), the float32 product s_in·s_w of per-tensor FC (2^-24), or
    # the 16-bit multiplier of the int64-accumulator path (2^-15). Clamping is 1-Lipschitz.
    kind, x, w, bias, x_q, w_q, out_q = case
    y = L.linear(x, w, bias, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q,
                 activation=activation, profile=profile)  # fmt: skip
    p = L.linear_params(
        x_q, w_q, out_q, units=w.shape[0], activation=activation, profile=profile,
        bias_dtype=None if bias is None else bias.dtype,
    )  # fmt: skip
    s_x = float(np.float32(x_q.scale))
    s_w = np.asarray(w_q.scale, np.float32).astype(np.float64)
    real_bias = None if bias is None else bias.astype(np.float64) * s_x * s_w
    ref = F.dense(_dequantize(x, x_q), _dequantize(w, w_q, axis=0), real_bias)
    steps = ref / float(np.float32(out_q.scale))
    clamped = np.clip(steps + p.out_zero_point, p.act_min, p.act_max)
    relative = 2.0**-14 if p.int64_accumulator else 2.0**-23 if not p.per_channel else 2.0**-30
    bound = 0.75 + relative * np.abs(steps) + 1e-6
    gap = np.abs(y.astype(np.float64) - clamped)
    if gap.size:
        GAPS[kind] = max(GAPS[kind], float(gap.max()))
        worst = int(np.argmax(gap - bound))
        assert np.all(gap <= bound), (
            f"{kind}: gap {gap.ravel()[worst]:.4f} steps > bound {bound.ravel()[worst]:.4f} "
            f"(worst gap overall {gap.max():.4f})"
        )


# ---- layouts, threads, JIT-free execution -------------------------------------------------------


def test_strided_and_fortran_inputs_give_the_same_bits():
    rng = np.random.default_rng(11)
    base_x = rng.integers(-128, 128, (12, 40)).astype(np.int8)
    base_w = rng.integers(-127, 128, (18, 40)).astype(np.int8)
    bias = rng.integers(-(2**16), 2**16, 18).astype(np.int32)
    x_q, w_q, out_q = QuantParams(0.03, 4), QuantParams(0.02, 0), QuantParams(0.2, -6)

    def run(x, w, b):
        return L.linear(x, w, b, x_qparams=x_q, w_qparams=w_q, out_qparams=out_q)

    want = run(base_x[::2, ::2], base_w[::2, ::2], bias[::2].copy())
    for x in (
        base_x[::2, ::2],
        np.asfortranarray(base_x[::2, ::2]),
        base_x[10::-2, 38::-2][::-1, ::-1],
    ):
        for w in (base_w[::2, ::2], np.asfortranarray(base_w[::2, ::2])):
            np.testing.assert_array_equal(run(x, w, bias[::2]), want)
    # Leading batch dimensions are the flattened rows.
    x3 = base_x.reshape(3, 4, 40)
    w2 = base_w[:, :40]
    np.testing.assert_array_equal(run(x3, w2, bias).reshape(12, 18), run(base_x, w2, bias))


def test_one_and_two_threads_give_the_same_bits():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread here")
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (7, 300)).astype(np.int8)
    w = rng.integers(-128, 128, (70, 300)).astype(np.int8)
    bias = rng.integers(-(2**20), 2**20, 70).astype(np.int32)
    mult = rng.integers(2**30, 2**31, 70).astype(np.int32)
    shift = np.full(70, -15, np.int32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append(_kernel(x, 9, w, -2, bias, mult, shift, DOUBLE_ROUNDING, 1, -128, 127))
            raw = np.empty((7, 70), np.int32)
            K.fully_connected_int32(x, 9, w, -2, bias, raw)
            results.append(raw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[1], results[3])


def test_kernels_agree_with_oracle_without_the_jit():
    script = textwrap.dedent(
        """
        import numpy as np
        from intq.kernels import gemm as K
        from intq.reference.int_oracle import gemm as O
        rng = np.random.default_rng(0)
        for dtype, bias_dtype, rounding in ((np.int8, np.int32, 0), (np.uint8, np.int32, 1),
                                            (np.int16, np.int64, 2)):
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, (5, 13), endpoint=True).astype(dtype)
            w = rng.integers(-128, 127, (9, 13), endpoint=True).astype(np.int8)
            x_zp = 0 if dtype == np.int16 else int(info.min)
            bias = rng.integers(-2**31, 2**31, 9).astype(bias_dtype)
            mult = rng.integers(0, 2**31, 9).astype(np.int32)
            shift = rng.integers(-31, 8, 9).astype(np.int32)
            want = O.fully_connected(x, x_zp, w, -3, bias, mult, shift, rounding, 0,
                                     int(info.min), int(info.max))
            out = np.empty((5, 9), dtype)
            K.fully_connected(x, x_zp, w, -3, bias, mult, shift, rounding, 0, int(info.min),
                              int(info.max), out)
            assert (out == want).all(), dtype
            packed = np.empty(K.packed_weights_shape(9, 13), np.int8)
            sums = np.empty(9, np.int64)
            K.pack_panels(w, packed, sums)
            out = np.empty((5, 9), dtype)
            K.fully_connected_packed(x, x_zp, packed, sums, -3, bias, mult, shift, rounding, 0,
                                     int(info.min), int(info.max), 1, 1, out)
            assert (out == want).all(), dtype
            if bias_dtype == np.int32:
                raw = np.empty((5, 9), np.int32)
                K.fully_connected_int32(x, x_zp, w, -3, bias, raw)
                assert (raw == O.fully_connected_int32(x, x_zp, w, -3, bias)).all()
        print("ok")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


# ---- bad input ----------------------------------------------------------------------------------


def test_bad_inputs_are_rejected_with_named_arguments():
    x = np.zeros((2, 4), np.int8)
    w = np.zeros((3, 4), np.int8)
    b = np.zeros(3, np.int32)
    xq, wq, oq = QuantParams(0.1, 0), QuantParams(0.1, 0), QuantParams(0.2, 0)

    def call(x=x, w=w, b=b, xq=xq, wq=wq, oq=oq, **kw):
        return L.linear(x, w, b, x_qparams=xq, w_qparams=wq, out_qparams=oq, **kw)

    with pytest.raises(TypeError, match="x: dtype int16 does not match"):
        call(x=x.astype(np.int16))
    with pytest.raises(TypeError, match="x: linear takes int8, uint8 or int16 inputs"):
        call(x=x.astype(np.int32), xq=QuantParams(0.1, 0, bits=32))
    with pytest.raises(TypeError, match="w: expected a NumPy integer array"):
        call(w=[[0, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"w: shape \(3, 5\) does not match x's last dimension 4"):
        call(w=np.zeros((3, 5), np.int8))
    with pytest.raises(ValueError, match="w: expected a 2-D"):
        call(w=np.zeros((3, 4, 1), np.int8))
    with pytest.raises(ValueError, match="x: expected an array of shape"):
        call(x=np.array(3, np.int8))
    with pytest.raises(TypeError, match="bias: expected dtype int32, got int64"):
        call(b=b.astype(np.int64))
    with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
        call(b=np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="bias: expected a NumPy integer array or None"):
        call(b=[0, 0, 0])
    with pytest.raises(ValueError, match="w_qparams: per-channel weights are quantized along axis"):
        call(wq=QuantParams([0.1] * 4, 0, axis=1))
    with pytest.raises(ValueError, match="w_qparams: 2 per-channel scales for 3 output channels"):
        call(wq=QuantParams([0.1, 0.2], 0, axis=0))
    with pytest.raises(ValueError, match="w_qparams: per-channel weights must be symmetric"):
        call(wq=QuantParams([0.1, 0.2, 0.3], [0, 1, 0], axis=0))
    with pytest.raises(ValueError, match="x_qparams: must be per-tensor"):
        call(xq=QuantParams([0.1, 0.1], 0, axis=0))
    with pytest.raises(ValueError, match="zero_point: 200 lies outside"):
        QuantParams(0.1, 200)
    with pytest.raises(ValueError, match="x: values span"):
        call(x=np.full((2, 4), -128, np.int8), xq=QuantParams(0.1, 0, narrow_range=True))
    with pytest.raises(TypeError, match="out_qparams: linear outputs the input type int8"):
        call(oq=QuantParams(0.1, 0, signed=False))
    with pytest.raises(TypeError, match="out_qparams: expected QuantParams"):
        call(oq=None)
    with pytest.raises(ValueError, match="out_qparams: must be per-tensor"):
        call(oq=QuantParams([0.1, 0.2, 0.3], 0, axis=0))
    with pytest.raises(ValueError, match="activation: expected one of"):
        call(activation="tanh")
    with pytest.raises(ValueError, match="profile: unknown profile"):
        call(profile="no-such-profile")
    with pytest.raises(ValueError, match="w: uint8 weights are the legacy per-tensor"):
        call(w=w.astype(np.uint8), wq=QuantParams(0.1, 128, signed=False))
    with pytest.raises(ValueError, match="w_qparams: per-channel weights need int8 or int16"):
        L.linear(x.astype(np.uint8), w, b, x_qparams=QuantParams(0.1, 0, signed=False),
                 w_qparams=QuantParams([0.1] * 3, 0, axis=0),
                 out_qparams=QuantParams(0.1, 0, signed=False))  # fmt: skip
    with pytest.raises(TypeError, match="w: linear takes int8"):
        call(w=w.astype(np.int16), wq=QuantParams(0.1, 0, bits=16))
    # 16x8
    x16, q16 = x.astype(np.int16), QuantParams(0.1, 0, bits=16)
    with pytest.raises(ValueError, match="x_qparams: int16 .* need zero point 0"):
        call(x=x16, xq=QuantParams(0.1, 3, bits=16), oq=q16)
    with pytest.raises(ValueError, match="out_qparams: int16 .* need zero point 0"):
        call(x=x16, xq=q16, oq=QuantParams(0.1, 5, bits=16))
    with pytest.raises(ValueError, match="output channel 0 needs shift <= 7"):
        call(x=x16, xq=q16, oq=QuantParams(1e-5, 0, bits=16), b=None)
    call(x=x16, xq=q16, oq=QuantParams(1e-5, 0, bits=16))  # int32 bias: int32 accumulator
    with pytest.raises(TypeError, match="bias: expected dtype int32, got int64"):
        L.linear_accumulate(x16, w, b.astype(np.int64), x_qparams=q16, w_qparams=wq)
    # bias_qparams: LiteRT's scale check (and a zero point of 0)
    call(bias_qparams=QuantParams(0.01, 0, bits=32))
    with pytest.raises(ValueError, match="bias_qparams: the bias scale must be x scale · w scale"):
        call(bias_qparams=QuantParams(0.02, 0, bits=32))
    with pytest.raises(ValueError, match="bias_qparams: zero_point must be 0"):
        call(bias_qparams=QuantParams(0.01, 1, bits=32))
    with pytest.raises(ValueError, match="bias_qparams: given without a bias"):
        call(b=None, bias_qparams=QuantParams(0.01, 0, bits=32))


def test_accumulator_overflow_is_rejected():
    # K = 140,000 int8 weights of 127 against inputs up to 128 away from the zero point:
    # 140000 · 127 · 128 ≈ 2.28e9 > 2^31 − 1.
    k = 140_000
    x = np.zeros((1, k), np.int8)
    w = np.zeros((2, k), np.int8)
    w[1] = 127
    xq, wq, oq = QuantParams(0.1, 0), QuantParams(0.1, 0), QuantParams(1.0, 0)
    with pytest.raises(ValueError, match="linear: the int32 accumulator of output channel 1"):
        L.linear(x, w, None, x_qparams=xq, w_qparams=wq, out_qparams=oq)
    with pytest.raises(ValueError, match="linear: the int32 accumulator of output channel 1"):
        L.linear_accumulate(x, w, None, x_qparams=xq, w_qparams=wq)
    # The bias counts too: a layer just inside the bound is accepted, its bias pushes it out.
    w[1, : k // 2] = 0
    bias = np.array([0, 2**31 - 1 - 128 * 127 * (k - k // 2)], np.int32)
    L.linear(x, w, bias, x_qparams=xq, w_qparams=wq, out_qparams=oq)
    bias[1] += 1
    with pytest.raises(ValueError, match="output channel 1 can reach 2147483648"):
        L.linear(x, w, bias, x_qparams=xq, w_qparams=wq, out_qparams=oq)


def test_requantized_overflow_is_rejected():
    # A real multiplier of about 2^10 on accumulators up to 1000·127·128 ≈ 1.6e7: LiteRT's
    # double-rounding left shift (and the rescaled value) would leave int32 and wrap.
    x = np.zeros((1, 1000), np.int8)
    w = np.full((2, 1000), 127, np.int8)
    xq, wq = QuantParams(0.5, 0), QuantParams(0.5, 0)
    for profile in PROFILES:
        with pytest.raises(ValueError, match="linear: the accumulator of output channel 0 .* "
                           "leaves int32 in MultiplyByQuantizedMultiplier"):  # fmt: skip
            L.linear(x, w, None, x_qparams=xq, w_qparams=wq, out_qparams=QuantParams(2**-12, 0),
                     profile=profile)  # fmt: skip
    # The same weights with a real multiplier of 2^-10 are fine.
    y = L.linear(x, w, None, x_qparams=xq, w_qparams=wq, out_qparams=QuantParams(2**8, 0))
    assert y.tolist() == [[0, 0]]


# ---- signatures and non-vacuity (last) ----------------------------------------------------------


def test_entry_points_ran_with_listed_signatures():
    # Every @njit function of the module is listed, and the entry points were compiled (by the
    # tests above) only for signatures that SIGNATURES names.
    from numba.core.registry import CPUDispatcher

    defined = {n for n, f in vars(K).items() if isinstance(f, CPUDispatcher)
               and f.py_func.__module__ == K.__name__}  # fmt: skip
    assert defined == set(K.SIGNATURES)
    for name in ("fully_connected", "fully_connected_int32", "fully_connected_packed",
                 "fully_connected_int32_packed", "pack_panels"):  # fmt: skip
        listed = {sigutils.normalize_signature(s)[0] for s in K.SIGNATURES[name]}
        for sig in getattr(K, name).signatures:
            assert tuple(sig) in listed, (name, sig)


def test_randomized_suites_were_not_vacuous():
    if not SEEN:
        pytest.skip("the randomized suites did not run in this session")
    suites = sorted({suite for suite, _ in SEEN})
    for suite in suites:
        assert SEEN[suite, "min"] and SEEN[suite, "max"] and SEEN[suite, "mid"], (
            suite, {k: v for k, v in SEEN.items() if k[0] == suite})  # fmt: skip
    print("saturated share:", {s: round((SEEN[s, "min"] + SEEN[s, "max"]) / max(
        1, SEEN[s, "min"] + SEEN[s, "max"] + SEEN[s, "mid"]), 3) for s in suites})  # fmt: skip
    print("float gaps (worst, in output steps):", {k: round(v, 4) for k, v in GAPS.items()})
