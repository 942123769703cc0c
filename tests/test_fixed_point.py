"""intq.fixed_point: quantize_multiplier (pinned, exact) and the validated array wrappers."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from intq import fixed_point as fp
from intq.reference import int_oracle as oracle

# LiteRT quantization_util_test.cc and SEMANTICS.md §1: (real, multiplier, shift).
PINNED = [
    (0.0, 0, 0),
    (1.0, 2**30, 1),
    (0.5, 2**30, 0),
    (0.25, 2**30, -1),
    (0.5 - 5e-9, 2147483627, -1),
    (1 - 1e-9, 2147483646, 0),
    (2.0**-32, 1073741824, -31),
    (0.99 * 2.0**-32, 0, 0),  # shift would be -32: flushed to zero
    (1 - 2.0**-33, 2**30, 1),  # the mantissa rounds up to 2^31: halved, shift + 1
    (2.0**40, 2**30, 41),
]


@pytest.mark.parametrize("real,multiplier,shift", PINNED)
def test_pinned_multipliers(real, multiplier, shift):
    assert fp.quantize_multiplier(real) == (multiplier, shift)
    assert oracle.quantize_multiplier(real) == (multiplier, shift)


def test_single_rounding_saturates_large_shifts():
    assert fp.quantize_multiplier(2.0**40, single_rounding=True) == (2**31 - 1, 30)
    assert fp.quantize_multiplier(2.0**29, single_rounding=True) == (2**30, 30)
    assert fp.quantize_multiplier(2.0**30, single_rounding=True) == (2**31 - 1, 30)


reals = st.one_of(
    st.floats(0, 2.0**40, allow_nan=False),
    st.floats(0, 1e-8, allow_nan=False),
    st.integers(2**30, 2**31).map(
        lambda m: m / 2.0**31 * 2.0 ** np.random.default_rng(m).integers(-40, 30)
    ),
)


@given(reals, st.booleans())
def test_equals_the_exact_rational_oracle(real, single):
    assert fp.quantize_multiplier(real, single_rounding=single) == oracle.quantize_multiplier(
        real, single_rounding=single
    )


@given(st.floats(2.0**-31, 2.0**30, allow_nan=False))
def test_multiplier_reconstructs_the_real_to_31_bits(real):
    multiplier, shift = fp.quantize_multiplier(real)
    assert 2**30 <= multiplier < 2**31
    assert abs(math.ldexp(multiplier, shift - 31) - real) <= math.ldexp(1, shift - 32)


@given(hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(0, 1e6)))
def test_vectorised_equals_scalar(reals):
    multiplier, shift = fp.quantize_multiplier(reals)
    assert multiplier.dtype == np.int32 and shift.dtype == np.int32
    assert multiplier.shape == shift.shape == reals.shape
    for r, m, s in zip(reals, multiplier, shift, strict=True):
        assert fp.quantize_multiplier(float(r)) == (m, s)


def test_smaller_and_greater_than_one_variants():
    assert fp.quantize_multiplier_smaller_than_one(0.3) == fp.quantize_multiplier(0.3)
    assert fp.quantize_multiplier_smaller_than_one(0.3)[1] <= 0
    assert fp.quantize_multiplier_greater_than_one(3.5)[1] >= 0
    with pytest.raises(ValueError, match=r"real: must lie in \(0, 1\), got 1.0"):
        fp.quantize_multiplier_smaller_than_one(1.0)
    with pytest.raises(ValueError, match="real: rounds up to 1.0 in 31 bits"):
        fp.quantize_multiplier_smaller_than_one(1 - 2.0**-40)
    with pytest.raises(ValueError, match="real: must be greater than 1, got 0.5"):
        fp.quantize_multiplier_greater_than_one(np.array([2.0, 0.5]))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), -float("inf")])
def test_bad_reals_are_refused(bad):
    with pytest.raises(ValueError, match="real: must be finite and non-negative"):
        fp.quantize_multiplier(bad)


int32s = st.integers(-(2**31), 2**31 - 1)


@given(
    hnp.arrays(np.int32, st.integers(1, 50), elements=int32s),
    st.integers(0, 2**31 - 1),
    st.integers(-31, 0),
    st.sampled_from(["double", "single"]),
)
def test_requantization_equals_the_oracle(x, multiplier, shift, rounding):
    got = fp.multiply_by_quantized_multiplier(x, multiplier, shift, rounding=rounding)
    fn = (
        oracle.multiply_by_quantized_multiplier
        if rounding == "double"
        else oracle.multiply_by_quantized_multiplier_single_rounding
    )
    assert got.dtype == np.int32 and got.shape == x.shape
    assert got.tolist() == [fn(int(v), multiplier, shift) for v in x]


def test_wrappers_broadcast_and_check_their_arguments():
    x = np.array([[100], [-100]], dtype=np.int32)
    shifts = np.array([0, 1, 2, 3])
    out = fp.rounding_divide_by_pot(x, shifts)
    assert out.shape == (2, 4) and out.tolist() == [[100, 50, 25, 13], [-100, -50, -25, -13]]
    assert fp.saturating_rounding_multiply_by_pot(2**30, [0, 1, 2]).tolist() == [
        2**30,
        2**31 - 1,
        2**31 - 1,
    ]
    assert fp.srdhm(np.int32(-(2**31)), -(2**31)) == 2**31 - 1
    with pytest.raises(ValueError, match=r"exponent: values must lie in \[0, 31\]"):
        fp.rounding_divide_by_pot(1, 32)
    with pytest.raises(TypeError, match="x: expected integers, got dtype float64"):
        fp.multiply_by_quantized_multiplier(np.array([1.0]), 2**30, 0)
    with pytest.raises(ValueError, match=r"shift: values must lie in \[-31, 30\]"):
        fp.multiply_by_quantized_multiplier(1, 2**30, 31)
    with pytest.raises(ValueError, match=r"multiplier: values must lie in \[0, 2147483647\]"):
        fp.multiply_by_quantized_multiplier(1, -1, 0)
    with pytest.raises(ValueError, match=r"rounding: expected 'double' or 'single'"):
        fp.multiply_by_quantized_multiplier(1, 2**30, 0, rounding="triple")


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_requantization_refuses_inputs_that_would_wrap(rounding):
    # 2^29 · 2^2 = 2^31 leaves int32: TFLite's double rounding would wrap it negative.
    with pytest.raises(ValueError, match=r"x: 536870912 · 2\^2 leaves int32"):
        fp.multiply_by_quantized_multiplier([1, 2**29], 2**30, 2, rounding=rounding)
    # INT32_MIN itself is fine without a left shift.
    assert fp.multiply_by_quantized_multiplier(-(2**31), 2**30, 0, rounding=rounding) == -(2**30)


def test_int64_variant():
    x = np.array([-(2**47), 2**47 - 1, 12345, -12345], dtype=np.int64)
    got = fp.multiply_by_quantized_multiplier_int64(x, 2**30, -20)
    assert got.tolist() == [
        oracle.multiply_by_quantized_multiplier_int64(int(v), 2**30, -20) for v in x
    ]
    with pytest.raises(ValueError, match=r"x: values must lie in \[-140737488355328"):
        fp.multiply_by_quantized_multiplier_int64(np.array([2**47]), 2**30, 0)
    with pytest.raises(ValueError, match=r"shift: values must lie in \[-31, 7\]"):
        fp.multiply_by_quantized_multiplier_int64(1, 2**30, 8)
    with pytest.raises(ValueError, match="leaves int32"):
        fp.multiply_by_quantized_multiplier_int64(2**40, 2**30, 0)
