"""intq.kernels.fixed_point against the Python-int oracle intq.reference.int_oracle, bit for bit.

Inputs are gemmlowp's edge set (``edge_values.py``: every ±2^i + {−2..2}, the ends of int32 and
gemmlowp's 1,000 pseudo-random values), taken in all pairs and with every exponent or shift, and
hypothesis draws. The oracle's ``quantize_multiplier`` is pinned to LiteRT's
``tensorflow/lite/kernels/internal/quantization_util_test.cc``.
"""

import math
import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
from edge_values import INT32_MAX, INT32_MIN, int32_edge_values, int64_edge_values
from hypothesis import given
from hypothesis import strategies as st

from intq.kernels import fixed_point as K
from intq.reference import int_oracle as O

EDGES = int32_edge_values()
EXPONENTS = np.arange(32, dtype=np.int32)
SHIFTS = np.arange(-31, 31, dtype=np.int32)  # MultiplyByQuantizedMultiplier(int32 x, ...)
SHIFTS_INT64 = np.arange(-31, 8, dtype=np.int32)  # MultiplyByQuantizedMultiplier(int64 x, ...)
RANDOM_MULTIPLIERS = np.random.default_rng(7).integers(2**30, 2**31, 5).tolist()
MULTIPLIERS = np.array([0, 1, 2**30, 2**30 + 1, 2**31 - 1, *RANDOM_MULTIPLIERS], dtype=np.int32)
# The int64 overload reduces M to 16 bits; M >= 0x7FFF0000 takes the 0x7FFF branch, and from
# 0x7FFF8000 on the unguarded (M + 2^15) >> 16 would overflow int32.
MULTIPLIERS_INT64 = np.array(
    [*MULTIPLIERS.tolist(), 0x7FFEFFFF, 0x7FFF0000, 0x7FFF7FFF, 0x7FFF8000], dtype=np.int32
)
# The oracle of each requantization code of intq.kernels.fixed_point (MultiplyByQuantizedMultiplier
# of the default build, of TFLITE_SINGLE_ROUNDING, and its int64 overload).
ORACLE_OF = {
    K.DOUBLE_ROUNDING: O.multiply_by_quantized_multiplier,
    K.SINGLE_ROUNDING: O.multiply_by_quantized_multiplier_single_rounding,
    K.INT64_ACCUMULATOR: O.multiply_by_quantized_multiplier_int64,
}


def grid(*axes: np.ndarray) -> list[np.ndarray]:
    """Every combination of the axes' values, as contiguous 1-D arrays of the axes' dtypes."""
    return [np.ascontiguousarray(a.ravel()) for a in np.meshgrid(*axes, indexing="ij")]


def oracle_map(function, *columns: np.ndarray) -> np.ndarray:
    """``function`` on each row of equal-length integer columns, called with Python ints."""
    rows = zip(*(c.tolist() for c in columns), strict=True)
    return np.array([function(*row) for row in rows], dtype=np.int64)


def assert_bit_exact(name: str, got: np.ndarray, want: np.ndarray, *columns: np.ndarray) -> None:
    assert got.dtype == np.int32 and got.shape == want.shape, name
    bad = np.flatnonzero(got.astype(np.int64) != want)
    if bad.size:
        rows = [(*(int(c[i]) for c in columns), int(got[i]), int(want[i])) for i in bad[:5]]
        pytest.fail(f"{name}: {bad.size} of {want.size} differ; (inputs, kernel, oracle): {rows}")


# ---- all pairs / every exponent of the edge set ------------------------------------------------


def test_edge_set_is_gemmlowps():
    assert EDGES.dtype == np.int32 and 1200 <= EDGES.size <= 1400
    assert (np.diff(EDGES.astype(np.int64)) > 0).all()
    for v in (INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, -1, 0, 1, INT32_MAX - 2, INT32_MAX):
        assert v in EDGES
    assert {2**i + d for i in range(31) for d in range(-2, 3)} <= set(EDGES.tolist())
    assert 1015568748 in EDGES  # the first value of gemmlowp's generator from 1


def test_srdhm_all_pairs_of_the_edge_set():
    a, b = grid(EDGES, EDGES)
    out = np.empty_like(a)
    K.srdhm_array(a, b, out)
    want = oracle_map(O.srdhm, a, b)
    assert_bit_exact("srdhm", out, want, a, b)

    # Not vacuous: the saturating pair is there, and products that are exact ties (ab = k·2^31
    # + 2^30) of both signs.
    saturated = (a == INT32_MIN) & (b == INT32_MIN)
    assert saturated.sum() == 1 and want[saturated][0] == INT32_MAX
    ab = a.astype(np.int64) * b.astype(np.int64)
    ties = ab % 2**31 == 2**30
    assert (ties & (ab > 0)).sum() > 100 and (ties & (ab < 0)).sum() > 100
    # The oracle (trunc((ab + nudge) / 2^31), as gemmlowp) is SQRDMULH's floor((ab + 2^30) / 2^31):
    # ties round up, also for negative products.
    np.testing.assert_array_equal(want[~saturated], (ab[~saturated] + 2**30) >> 31)


def test_rounding_divide_by_pot_every_exponent():
    x, e = grid(EDGES, EXPONENTS)
    out = np.empty_like(x)
    K.rounding_divide_by_pot_array(x, e, out)
    want = oracle_map(O.rounding_divide_by_pot, x, e)
    assert_bit_exact("rounding_divide_by_pot", out, want, x, e)

    # Not vacuous: exact ties of both signs, which round away from zero.
    x64, e64 = x.astype(np.int64), e.astype(np.int64)
    half = np.where(e64 > 0, np.left_shift(1, np.maximum(e64 - 1, 0)), 0)
    ties = (e64 > 0) & (np.abs(x64) % np.left_shift(1, e64) == half)
    assert (ties & (x64 > 0)).sum() > 100 and (ties & (x64 < 0)).sum() > 100
    away = np.sign(x64) * ((np.abs(x64) + half) >> e64)
    np.testing.assert_array_equal(want, away)


def test_saturating_rounding_multiply_by_pot_every_exponent():
    x, e = grid(EDGES, EXPONENTS)
    out = np.empty_like(x)
    K.saturating_rounding_multiply_by_pot_array(x, e, out)
    want = oracle_map(O.saturating_rounding_multiply_by_pot, x, e)
    assert_bit_exact("saturating_rounding_multiply_by_pot", out, want, x, e)

    exact = x.astype(np.int64) << e.astype(np.int64)  # |x·2^31| <= 2^62
    np.testing.assert_array_equal(want, np.clip(exact, INT32_MIN, INT32_MAX))
    inside = (exact > INT32_MIN) & (exact < INT32_MAX) & (exact != 0)
    assert (exact > INT32_MAX).sum() > 100 and (exact < INT32_MIN).sum() > 100
    assert (inside & (e > 0)).sum() > 100


def test_multiply_by_quantized_multiplier_double_and_single_rounding():
    x, m, s = grid(EDGES, MULTIPLIERS, SHIFTS)
    got = {}
    for rounding in (K.DOUBLE_ROUNDING, K.SINGLE_ROUNDING):
        out = np.empty_like(x)
        K.multiply_by_quantized_multiplier_array(x, m, s, rounding, out)
        want = oracle_map(ORACLE_OF[rounding], x, m, s)
        assert_bit_exact(f"multiply_by_quantized_multiplier[{rounding}]", out, want, x, m, s)
        got[rounding] = out

    x64, m64, s64 = x.astype(np.int64), m.astype(np.int64), s.astype(np.int64)
    # Not vacuous: the int32 left shift x·2^shift of the double-rounding form wraps for some
    # inputs (TFLITE_NO_SANITIZE_INTEGER_OVERFLOW) ...
    shifted = x64 << np.maximum(s64, 0)
    wraps = (shifted < INT32_MIN) | (shifted > INT32_MAX)
    assert (wraps & (m > 0)).sum() > 1000 and (~wraps & (s > 0) & (x != 0)).sum() > 1000
    # ... the single-rounding result leaves int32 (and is cast back) for some ...
    single = (x64 * m64 + (np.int64(1) << (30 - s64))) >> (31 - s64)
    assert ((single < INT32_MIN) | (single > INT32_MAX)).sum() > 1000
    # ... and, where neither happens, the two conventions still differ by one on some inputs.
    fits = ~wraps & (single >= INT32_MIN) & (single <= INT32_MAX)
    diff = got[K.DOUBLE_ROUNDING].astype(np.int64) - got[K.SINGLE_ROUNDING]
    assert 0 < (diff[fits] != 0).sum() < fits.sum() // 10 and np.abs(diff[fits]).max() == 1


def test_int64_accumulator_requantization_of_int32_inputs():
    x, m, s = grid(EDGES, MULTIPLIERS_INT64, SHIFTS_INT64)
    out = np.empty_like(x)
    K.multiply_by_quantized_multiplier_array(x, m, s, K.INT64_ACCUMULATOR, out)
    want = oracle_map(ORACLE_OF[K.INT64_ACCUMULATOR], x, m, s)
    assert_bit_exact("multiply_by_quantized_multiplier[INT64_ACCUMULATOR]", out, want, x, m, s)


def test_multiply_by_quantized_multiplier_int64_edge_set():
    xs = int64_edge_values(bits=47)
    x, m, s = grid(xs, MULTIPLIERS_INT64, SHIFTS_INT64)
    out = np.empty(x.shape, np.int32)
    K.multiply_by_quantized_multiplier_int64_array(x, m, s, out)
    want = oracle_map(O.multiply_by_quantized_multiplier_int64, x, m, s)
    assert_bit_exact("multiply_by_quantized_multiplier_int64", out, want, x, m, s)

    # Not vacuous: both branches of the 16-bit reduction, and results cast back into int32.
    assert (m < 0x7FFF0000).any() and (m >= 0x7FFF8000).any()
    reduced = np.minimum((m.astype(np.int64) + 2**15) >> 16, 0x7FFF)
    s64 = s.astype(np.int64)
    exact = (x * reduced + (np.int64(1) << (14 - s64))) >> (15 - s64)  # |x·Mr| < 2^62
    assert ((exact < INT32_MIN) | (exact > INT32_MAX)).sum() > 1000
    assert (x.min(), x.max()) == (-(2**47), 2**47 - 1)


# ---- the scalar entry points --------------------------------------------------------------------

SCALAR_X = [INT32_MIN, INT32_MIN + 1, -(2**30) - 1, -65537, -3, -1, 0, 1, 2, 2**15, 2**30 + 7,
            INT32_MAX - 1, INT32_MAX]  # fmt: skip


@pytest.mark.parametrize("as_int32", [False, True], ids=["python-int", "np.int32"])
def test_scalar_functions_match_the_oracle(as_int32):
    cast = np.int32 if as_int32 else int
    for a in SCALAR_X:
        assert K.wrap_int32(a + 2**32) == O.wrap_int32(a + 2**32) == a
        for b in SCALAR_X:
            assert K.srdhm(cast(a), cast(b)) == O.srdhm(a, b), (a, b)
        for e in (0, 1, 2, 15, 30, 31):
            assert K.rounding_divide_by_pot(cast(a), e) == O.rounding_divide_by_pot(a, e), (a, e)
            got = K.saturating_rounding_multiply_by_pot(cast(a), e)
            assert got == O.saturating_rounding_multiply_by_pot(a, e), (a, e)
        for m in (0, 2**30, 1518500250, INT32_MAX):
            for s in (-31, -17, -1, 0, 1, 12, 30):
                want = O.multiply_by_quantized_multiplier(a, m, s)
                assert K.multiply_by_quantized_multiplier(cast(a), cast(m), s) == want, (a, m, s)
                assert K.requantize(cast(a), cast(m), s, K.DOUBLE_ROUNDING) == want
                want = O.multiply_by_quantized_multiplier_single_rounding(a, m, s)
                got = K.multiply_by_quantized_multiplier_single_rounding(cast(a), cast(m), s)
                assert got == want, (a, m, s)
                assert K.requantize(cast(a), cast(m), s, K.SINGLE_ROUNDING) == want
                if s < 8:
                    for x in (a, a * 2**16 + 12345):
                        want = O.multiply_by_quantized_multiplier_int64(x, m, s)
                        got = K.multiply_by_quantized_multiplier_int64(x, cast(m), s)
                        assert got == want, (x, m, s)
                    want = O.multiply_by_quantized_multiplier_int64(a, m, s)
                    assert K.requantize(cast(a), cast(m), s, K.INT64_ACCUMULATOR) == want


def test_requantization_codes_mean_the_same_in_kernel_and_oracle():
    # Op oracles call O.requantize with the codes the kernels take.
    codes = (K.DOUBLE_ROUNDING, K.SINGLE_ROUNDING, K.INT64_ACCUMULATOR)
    assert codes == (O.DOUBLE_ROUNDING, O.SINGLE_ROUNDING, O.INT64_ACCUMULATOR)
    assert len(set(codes)) == 3
    for code, oracle in ORACLE_OF.items():
        for x, m, s in [
            (INT32_MAX, 1518500250, -5),
            (-123456789, 2**30 + 1, 3),
            (7, INT32_MAX, -1),
        ]:
            assert O.requantize(x, m, s, code) == oracle(x, m, s) == K.requantize(x, m, s, code)


# LiteRT quantization_util_test.cc, MultiplyByQuantizedMultiplierInt32 / Int64 (the non-negative
# multipliers, which both builds test): (x, real multiplier, expected).
PINNED_REQUANTIZATION_INT32 = [
    (0, 0.1, 0),
    (1, 0.0, 0),
    (10000, 0.00097656, 10),
    (-10000, 0.00097656, -10),
    (INT32_MIN, 0.00001, -21475),
    (INT32_MAX, 0.00001, 21475),
]
PINNED_REQUANTIZATION_INT64 = [
    (0, 0.1, 0),
    (1, 0.0, 0),
    (10000, 0.00097656, 10),
    (-10000, 0.00097656, -10),
    (-(2**47), 0.00001, -1407385600),
    (2**47 - 1, 0.00001, 1407385600),
]


@pytest.mark.parametrize("rounding", [K.DOUBLE_ROUNDING, K.SINGLE_ROUNDING])
def test_requantization_pinned_by_litert(rounding):
    single = rounding == K.SINGLE_ROUNDING
    oracle = ORACLE_OF[rounding]
    for x, real, expected in PINNED_REQUANTIZATION_INT32:
        m, s = O.quantize_multiplier(real, single_rounding=single)
        assert K.requantize(np.int32(x), np.int32(m), s, rounding) == expected, (x, real)
        assert oracle(x, m, s) == expected, (x, real)
    for x, real, expected in PINNED_REQUANTIZATION_INT64:
        m, s = O.quantize_multiplier(real, single_rounding=single)
        assert K.multiply_by_quantized_multiplier_int64(x, np.int32(m), s) == expected, (x, real)
        assert O.multiply_by_quantized_multiplier_int64(x, m, s) == expected, (x, real)
    # "maximum possible x and quantized_multiplier": round(x·M / 2^34) computed in double.
    expected = round(float(INT32_MAX * INT32_MAX) / 2**34)
    assert expected == 268435456
    for x, sign in [(INT32_MAX, 1), (-INT32_MAX, -1)]:
        assert K.requantize(np.int32(x), np.int32(INT32_MAX), -3, rounding) == sign * expected
        assert oracle(x, INT32_MAX, -3) == sign * expected
    # The int64 overload at x = 2^47 − 1, M = INT32_MAX, shift −31: 65534 (the test's comment:
    # "as there is some rounding error, expected is a bit smaller" than 65536).
    for x, expected in [(2**47 - 1, 65534), (-(2**47) + 1, -65534)]:
        assert K.multiply_by_quantized_multiplier_int64(x, np.int32(INT32_MAX), -31) == expected
        assert O.multiply_by_quantized_multiplier_int64(x, INT32_MAX, -31) == expected


# ---- hypothesis ---------------------------------------------------------------------------------

int32s = st.one_of(st.integers(INT32_MIN, INT32_MAX), st.sampled_from(EDGES.tolist()))
int47s = st.integers(-(2**47), 2**47 - 1)
multipliers = st.one_of(st.integers(0, INT32_MAX), st.integers(2**30, INT32_MAX))


def _columns(rows, *dtypes):
    """The columns of a list of equal-length tuples, as arrays of the given dtypes."""
    columns = zip(*rows, strict=True)
    return [np.array(column, dtype) for column, dtype in zip(columns, dtypes, strict=True)]


@given(st.lists(st.tuples(int32s, int32s), min_size=1, max_size=64))
def test_srdhm_random(rows):
    a, b = _columns(rows, np.int32, np.int32)
    out = np.empty_like(a)
    K.srdhm_array(a, b, out)
    assert_bit_exact("srdhm", out, oracle_map(O.srdhm, a, b), a, b)


@given(st.lists(st.tuples(int32s, st.integers(0, 31)), min_size=1, max_size=64))
def test_powers_of_two_random(rows):
    x, e = _columns(rows, np.int32, np.int32)
    for kernel, oracle in [
        (K.rounding_divide_by_pot_array, O.rounding_divide_by_pot),
        (K.saturating_rounding_multiply_by_pot_array, O.saturating_rounding_multiply_by_pot),
    ]:
        out = np.empty_like(x)
        kernel(x, e, out)
        assert_bit_exact(oracle.__name__, out, oracle_map(oracle, x, e), x, e)


@st.composite
def requantization_cases(draw):
    rounding = draw(st.sampled_from([K.DOUBLE_ROUNDING, K.SINGLE_ROUNDING, K.INT64_ACCUMULATOR]))
    shifts = st.integers(-31, 7 if rounding == K.INT64_ACCUMULATOR else 30)
    rows = draw(st.lists(st.tuples(int32s, multipliers, shifts), min_size=1, max_size=64))
    return rounding, rows


@given(requantization_cases())
def test_multiply_by_quantized_multiplier_random(case):
    rounding, rows = case
    x, m, s = _columns(rows, np.int32, np.int32, np.int32)
    out = np.empty_like(x)
    K.multiply_by_quantized_multiplier_array(x, m, s, rounding, out)
    want = oracle_map(ORACLE_OF[rounding], x, m, s)
    assert_bit_exact(f"multiply_by_quantized_multiplier[{rounding}]", out, want, x, m, s)


@given(st.lists(st.tuples(int47s, multipliers, st.integers(-31, 7)), min_size=1, max_size=64))
def test_multiply_by_quantized_multiplier_int64_random(rows):
    x, m, s = _columns(rows, np.int64, np.int32, np.int32)
    out = np.empty(x.shape, np.int32)
    K.multiply_by_quantized_multiplier_int64_array(x, m, s, out)
    want = oracle_map(O.multiply_by_quantized_multiplier_int64, x, m, s)
    assert_bit_exact("multiply_by_quantized_multiplier_int64", out, want, x, m, s)


# ---- the oracle's quantize_multiplier -----------------------------------------------------------

# LiteRT quantization_util_test.cc: (real, multiplier, shift) of QuantizeMultiplier, default build.
PINNED_MULTIPLIERS = [
    (0.0, 0, 0),
    # QuantizeMultiplierSmallerThanOneExp
    (0.25, 1073741824, -1),
    (0.50 - 5e-9, 2147483627, -1),
    (0.50 - 1e-10, 1073741824, 0),
    (0.50, 1073741824, 0),
    (0.75, 1610612736, 0),
    (1 - 1e-9, 2147483646, 0),
    (1 - 1e-15, 1073741824, 1),  # the mantissa rounds up to 2^31: (2^30, shift + 1) (a death test
    (1.0, 1073741824, 1),  # there, since the shift is no longer <= 0)
    # QuantizeMultiplierGreaterThanOne
    (1 + 1e-11, 1073741824, 1),
    (1.25, 1342177280, 1),
    (1.50, 1610612736, 1),
    (1.75, 1879048192, 1),
    (2 - 1e-9, 2147483647, 1),
    (2 - 1e-11, 1073741824, 2),  # rounds up to 2^31 as well
    (2.0, 1073741824, 2),
    # QuantizeMultiplierUnderflow: std::ldexp of a float (0.99f is float32(0.99))
    (2.0**-31, 1073741824, -30),
    (2.0**-32, 1073741824, -31),
    (float(np.float32(0.99)) * 2.0**-32, 0, 0),  # shift −32 < −31: flushed to zero
    (0.99 * 2.0**-32, 0, 0),
    (2.0**-33, 0, 0),
    # QuantizeMultiplierArray (the non-negative scales)
    (0.125, 1073741824, -2),
    (4.0, 1073741824, 3),
    # PreprocessSoftmaxScaling, default build: min(β·s·2^(31 − bits), 2^31 − 1)
    (min(1.0 * 16.0 * 2**27, 2.0**31 - 1), 2147483647, 31),
    (min(1.0 * 8.0 * 2**27, 2.0**31 - 1), 1073741824, 31),
]
# The same file under TFLITE_SINGLE_ROUNDING (PreprocessSoftmaxScaling caps at 2^30 − 1), and
# QuantizeMultiplier's saturation of shifts above 30 in that build.
PINNED_MULTIPLIERS_SINGLE_ROUNDING = [
    (min(1.0 * 8.0 * 2**27, 2.0**30 - 1), 2147483646, 30),
    (min(1.0 * 4.0 * 2**27, 2.0**30 - 1), 1073741824, 30),
    (2.0**30, 2147483647, 30),
    (2.0**40, 2147483647, 30),
    (0.75, 1610612736, 0),
    (2.0**-32, 1073741824, -31),
]


@pytest.mark.parametrize("real,multiplier,shift", PINNED_MULTIPLIERS)
def test_quantize_multiplier_pinned_by_litert(real, multiplier, shift):
    assert O.quantize_multiplier(real) == (multiplier, shift)


@pytest.mark.parametrize("real,multiplier,shift", PINNED_MULTIPLIERS_SINGLE_ROUNDING)
def test_quantize_multiplier_single_rounding_pinned(real, multiplier, shift):
    assert O.quantize_multiplier(real, single_rounding=True) == (multiplier, shift)


@pytest.mark.parametrize("real", [-1e-30, -0.5, math.nan, math.inf, -math.inf])
def test_quantize_multiplier_rejects_negative_and_non_finite(real):
    with pytest.raises(ValueError, match="real"):
        O.quantize_multiplier(real)


def quantize_multiplier_as_litert_in_double(real: float, single_rounding: bool) -> tuple[int, int]:
    """QuantizeMultiplier as the C++ spells it: frexp, then std::round(q · 2^31) in double.

    q·2^31 is exact in double and q > 0, so std::round (half away from zero) is floor(q·2^31 + 0.5)
    (the sum is exact below 2^31; at or above it the floor is 2^31 either way).
    """
    if real == 0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = math.floor(q * 2.0**31 + 0.5)
    if q_fixed == 2**31:
        q_fixed, shift = q_fixed // 2, shift + 1
    if shift < -31:
        q_fixed, shift = 0, 0
    if single_rounding and shift > 30:
        q_fixed, shift = 2**31 - 1, 30
    return q_fixed, shift


reals = st.one_of(
    st.floats(0, allow_nan=False, allow_infinity=False),
    st.floats(0, 1e-8),
    st.floats(2.0**-34, 2.0**-30),
    # mantissas just below 1: those that round up to 2^31
    st.tuples(st.integers(1, 2**22), st.integers(-40, 40)).map(
        lambda t: math.ldexp(1 - t[0] * 2.0**-53, t[1])
    ),
)


@given(reals, st.booleans())
def test_quantize_multiplier_equals_the_double_computation(real, single_rounding):
    want = quantize_multiplier_as_litert_in_double(real, single_rounding)
    assert O.quantize_multiplier(real, single_rounding=single_rounding) == want


@given(st.floats(2.0**-31, 2.0**30))
def test_quantize_multiplier_is_within_half_a_unit(real):
    multiplier, shift = O.quantize_multiplier(real)
    assert 2**30 <= multiplier < 2**31 and -30 <= shift <= 31
    error = Fraction(multiplier) * Fraction(2) ** (shift - 31) - Fraction(real)
    assert abs(error) <= Fraction(2) ** (shift - 32)


# ---- NUMBA_DISABLE_JIT=1 ------------------------------------------------------------------------


def test_same_bits_without_the_jit():
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import numba
        import numpy as np
        from edge_values import int32_edge_values, int64_edge_values
        from intq.kernels import fixed_point as K
        from intq.reference import int_oracle as O

        assert numba.config.DISABLE_JIT

        def grid(*axes):
            return [np.ascontiguousarray(a.ravel()) for a in np.meshgrid(*axes, indexing="ij")]

        def check(name, got, oracle, *columns):
            rows = zip(*(c.tolist() for c in columns))
            want = np.array([oracle(*row) for row in rows], dtype=np.int64)
            assert got.dtype == np.int32 and (got == want).all(), name

        v = int32_edge_values(n_random=80)[::2]
        assert 180 <= v.size <= 220
        a, b = grid(v, v)
        out = np.empty_like(a)
        K.srdhm_array(a, b, out)
        check("srdhm", out, O.srdhm, a, b)
        x, e = grid(v, np.arange(32, dtype=np.int32))
        out = np.empty_like(x)
        K.rounding_divide_by_pot_array(x, e, out)
        check("rounding_divide_by_pot", out, O.rounding_divide_by_pot, x, e)
        K.saturating_rounding_multiply_by_pot_array(x, e, out)
        check("saturating_rounding_multiply_by_pot", out,
              O.saturating_rounding_multiply_by_pot, x, e)
        m = np.array([0, 2**30, 1518500250, 2**31 - 1], np.int32)
        for rounding, last_shift, oracle in [
            (K.DOUBLE_ROUNDING, 30, O.multiply_by_quantized_multiplier),
            (K.SINGLE_ROUNDING, 30, O.multiply_by_quantized_multiplier_single_rounding),
            (K.INT64_ACCUMULATOR, 7, O.multiply_by_quantized_multiplier_int64),
        ]:
            x, mm, s = grid(v, m, np.arange(-31, last_shift + 1, dtype=np.int32))
            out = np.empty_like(x)
            K.multiply_by_quantized_multiplier_array(x, mm, s, rounding, out)
            check("multiply_by_quantized_multiplier", out, oracle, x, mm, s)
        x64 = int64_edge_values(n_random=20)[::3]
        x, mm, s = grid(x64, m, np.arange(-31, 8, dtype=np.int32))
        out = np.empty(x.shape, np.int32)
        K.multiply_by_quantized_multiplier_int64_array(x, mm, s, out)
        check("multiply_by_quantized_multiplier_int64", out,
              O.multiply_by_quantized_multiplier_int64, x, mm, s)
        print("OK")
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "OK"
