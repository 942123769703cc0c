"""Profiles: the registry, the two TFLite builds, and adding a convention without new code."""

import numpy as np
import pytest

import intq
from intq.kernels import fixed_point as K
from intq.profiles import Profile, available_profiles, get_profile, register_profile


def test_builtin_profiles():
    assert {"tflite", "tflite-single-rounding"} <= set(available_profiles())
    tflite = get_profile("tflite")
    single = get_profile("tflite-single-rounding")
    assert tflite.requantization == "double" and tflite.rounding_code == K.DOUBLE_ROUNDING
    assert single.requantization == "single" and single.rounding_code == K.SINGLE_ROUNDING
    assert tflite.quantize_rounding == single.quantize_rounding == "half_away_from_zero"
    assert get_profile(tflite) is tflite
    assert "double rounding" in tflite.description


def test_the_two_builds_differ_by_one_lsb_on_some_inputs():
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**24), 2**24, 20000, dtype=np.int32)
    multiplier, shift = intq.fixed_point.quantize_multiplier(0.0123)
    double = get_profile("tflite").multiply_by_quantized_multiplier(x, multiplier, shift)
    single = get_profile("tflite-single-rounding").multiply_by_quantized_multiplier(
        x, multiplier, shift
    )
    diff = double.astype(np.int64) - single
    assert set(np.unique(diff)) <= {-1, 0, 1}
    assert 0 < np.count_nonzero(diff) < len(x) // 10  # rare, but real (SEMANTICS.md §7)


def test_multiplier_derivation_follows_the_build():
    assert get_profile("tflite").quantize_multiplier(2.0**40) == (2**30, 41)
    assert get_profile("tflite-single-rounding").quantize_multiplier(2.0**40) == (2**31 - 1, 30)


def test_unknown_profile_lists_the_registered_ones():
    with pytest.raises(ValueError, match="profile: unknown profile 'tflm2'; registered: tflite, "):
        get_profile("tflm2")
    with pytest.raises(ValueError, match="profile: unknown profile 3"):
        get_profile(3)


def test_a_new_convention_is_registered_not_coded_into_callers():
    custom = Profile(
        "test-single", "single rounding, ties to even at quantization", "single", "half_to_even"
    )
    try:
        assert register_profile(custom) is custom
        assert get_profile("test-single") is custom
        assert "test-single" in available_profiles()
        with pytest.raises(ValueError, match="'test-single' is already registered"):
            register_profile(custom)
        register_profile(custom, replace=True)
        out = get_profile("test-single").multiply_by_quantized_multiplier(np.array([7]), 2**30, -1)
        assert out.tolist() == [2]  # 7/4 = 1.75 -> 2
    finally:
        intq.profiles._REGISTRY.pop("test-single", None)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"name": ""}, "name: a profile needs a non-empty name"),
        (
            {"name": "x", "requantization": "triple"},
            "requantization: expected 'double' or 'single'",
        ),
        ({"name": "x", "quantize_rounding": "nearest"}, "rounding: unknown mode 'nearest'"),
    ],
)
def test_profile_fields_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Profile(description="d", **kwargs)
    with pytest.raises(TypeError, match="profile: expected a Profile"):
        register_profile("tflite")
