"""Rounding rules: the ties that tell them apart, and exactness on every finite float."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intq.rounding import (
    ROUNDING_MODES,
    check_rounding,
    round_half_away_from_zero,
    round_half_to_even,
    round_half_up,
    round_with,
)

TIES = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994]
EXPECTED = {
    "half_away_from_zero": [1, 2, 3, -1, -2, -3, 0, 0],
    "half_to_even": [0, 2, 2, 0, -2, -2, 0, 0],
    "half_up": [1, 2, 3, 0, -1, -2, 0, 0],
}


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_ties_tell_the_rules_apart(mode):
    got = round_with(np.array(TIES), mode)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, EXPECTED[mode])
    got32 = round_with(np.array(TIES[:6], dtype=np.float32), mode)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, EXPECTED[mode][:6])


def test_largest_float32_below_one_half_rounds_to_zero():
    # floor(x + 0.5) would give 1 here: 0.49999997f + 0.5f rounds to 1.0f.
    x = np.nextafter(np.float32(0.5), np.float32(0))
    for mode in ROUNDING_MODES:
        assert round_with(np.array([x]), mode)[0] == 0


@pytest.mark.parametrize("dtype,bits", [(np.float64, 53), (np.float32, 24)])
def test_large_odd_integers_are_left_alone(dtype, bits):
    x = np.array([2.0 ** (bits - 1) + 1, -(2.0 ** (bits - 1)) - 1, 2.0**bits - 1], dtype=dtype)
    for mode in ROUNDING_MODES:
        np.testing.assert_array_equal(round_with(x, mode), x)


def _exact(x: float, mode: str) -> int:
    f = Fraction(x)
    low = math.floor(f)
    diff = f - low
    if diff != Fraction(1, 2):
        return low + (diff > Fraction(1, 2))
    if mode == "half_up":
        return low + 1
    if mode == "half_to_even":
        return low + (low % 2)
    return low + 1 if f > 0 else low


finite = st.floats(allow_nan=False, allow_infinity=False)
halves = st.integers(-(2**40), 2**40).map(lambda k: k + 0.5)


@given(st.one_of(finite, halves))
def test_every_rule_is_exact(x):
    for mode, fn in [
        ("half_away_from_zero", round_half_away_from_zero),
        ("half_to_even", round_half_to_even),
        ("half_up", round_half_up),
    ]:
        assert fn(np.float64(x)) == _exact(x, mode), mode


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_float32_rules_are_exact(x):
    for mode in ROUNDING_MODES:
        got = round_with(np.array([x], dtype=np.float32), mode)
        assert got.dtype == np.float32
        assert got[0] == _exact(float(np.float32(x)), mode)


def test_unknown_mode_names_the_argument():
    with pytest.raises(ValueError, match="rounding: unknown mode 'nearest'"):
        check_rounding("nearest")
