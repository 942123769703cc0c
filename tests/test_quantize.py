"""quantize / dequantize / fake_quantize: round trips, clipping, rounding modes, bad input."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import intq
from intq import QuantParams, choose_qparams, dequantize, fake_quantize, quantize
from intq.quantize import nudged_range


@st.composite
def qparams_strategy(draw, per_channel=None):
    bits = draw(st.integers(2, 16))
    signed = draw(st.booleans())
    narrow = draw(st.booleans()) if bits > 2 else False
    channels = (
        draw(st.integers(1, 4))
        if (per_channel or (per_channel is None and draw(st.booleans())))
        else None
    )
    n = channels or 1
    scale = draw(hnp.arrays(np.float64, n, elements=st.floats(2.0**-20, 1024.0, width=32)))
    qmin, qmax = intq.qparams.integer_range(bits, signed, narrow)
    zp = draw(hnp.arrays(np.int64, n, elements=st.integers(qmin, qmax)))
    if channels is None:
        return QuantParams(float(scale[0]), int(zp[0]), None, bits, signed, narrow)
    return QuantParams(scale, zp, 0, bits, signed, narrow)


def _grid(qp, rows):
    # Every integer of the grid (capped) along the last axis, one row per channel.
    count = min(qp.qmax - qp.qmin + 1, 4096)
    levels = np.linspace(qp.qmin, qp.qmax, count).round().astype(np.int64)
    return np.broadcast_to(levels, (rows, count)).astype(qp.dtype)


@given(qparams_strategy())
def test_quantize_inverts_dequantize_on_the_whole_grid(qp):
    q = _grid(qp, qp.num_channels)
    for dtype in (np.float32, np.float64):
        x = dequantize(q, qp, dtype=dtype)
        assert x.dtype == dtype
        for mode in intq.ROUNDING_MODES:
            back = quantize(x, qp, rounding=mode)
            assert back.dtype == qp.dtype
            np.testing.assert_array_equal(back, q)


@given(qparams_strategy(), st.data())
def test_round_trip_error_is_at_most_half_a_step_inside_and_clipped_outside(qp, data):
    scale, zp = qp.broadcast_to((qp.num_channels, 1))
    lo, hi = (qp.qmin - zp) * scale, (qp.qmax - zp) * scale
    u = data.draw(hnp.arrays(np.float64, (qp.num_channels, 16), elements=st.floats(-0.25, 1.25)))
    x = lo + u * (hi - lo)
    for mode in intq.ROUNDING_MODES:
        q = quantize(x, qp, rounding=mode)
        assert q.min() >= qp.qmin and q.max() <= qp.qmax
        err = dequantize(q, qp, dtype=np.float64) - x
        inside = (x >= lo) & (x <= hi)
        assert np.all(np.abs(err[inside]) <= (scale * 0.5 * (1 + 1e-9) * np.ones_like(x))[inside])
        np.testing.assert_array_equal(q[x > hi], np.broadcast_to(qp.qmax, q.shape)[x > hi])
        np.testing.assert_array_equal(q[x < lo], np.broadcast_to(qp.qmin, q.shape)[x < lo])


def test_rounding_modes_on_ties_and_float32_division():
    qp = QuantParams(1.0, 0)
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32)
    assert quantize(x, qp).tolist() == [1, 2, 3, -1, -2, -3]
    assert quantize(x, qp, rounding="half_to_even").tolist() == [0, 2, 2, 0, -2, -2]
    assert quantize(x, qp, rounding="half_up").tolist() == [1, 2, 3, 0, -1, -2]
    # float32 input divides by float32(scale) (TFLite Quantize); float64 input in double.
    qp = QuantParams(0.1, 0)
    x32 = np.float32(0.35)
    assert quantize(np.array([x32]), qp)[0] == np.round(np.float32(x32) / np.float32(0.1))
    assert quantize(np.array([0.35]), qp)[0] == 3  # 0.35 / 0.1 = 3.4999999999999996 in double
    assert quantize(np.array([x32]), qp)[0] == 4  # 0.35f / 0.1f = 3.5f, a tie: away from zero


def test_per_channel_along_any_axis():
    qp = QuantParams([0.5, 2.0], [0, 10], axis=1)
    x = np.array([[1.0, 4.0], [-1.0, -4.0]])
    assert quantize(x, qp).tolist() == [[2, 12], [-2, 8]]
    qp_last = QuantParams([0.5, 2.0], [0, 10], axis=-1)
    np.testing.assert_array_equal(quantize(x, qp_last), quantize(x, qp))
    with pytest.raises(ValueError, match="x: dimension 1 has 3 entries but .* 2 channels"):
        quantize(np.zeros((2, 3)), qp)
    np.testing.assert_array_equal(dequantize(quantize(x, qp), qp), x.astype(np.float32))


def test_non_finite_inputs_raise_unless_saturating():
    qp = QuantParams(0.1, 3)
    x = np.array([1.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    with pytest.raises(
        ValueError, match=r"x: 3 non-finite value\(s\) \(first inf at index \(1,\)\)"
    ):
        quantize(x, qp)
    assert quantize(x, qp, nonfinite="saturate").tolist() == [13, 127, -128, 3]
    with pytest.raises(ValueError, match="x: 1 non-finite"):
        fake_quantize(np.array([np.nan], dtype=np.float32), qp)
    out = fake_quantize(x, qp, nonfinite="saturate")
    assert out[3] == 0.0 and out[1] == np.float32(124 * np.float32(0.1))
    with pytest.raises(ValueError, match="nonfinite: expected 'raise' or 'saturate'"):
        quantize(x, qp, nonfinite="ignore")


def test_huge_values_saturate_without_wrapping():
    qp = QuantParams(1e-30, 0, bits=16)
    x = np.array([3e38, -3e38, 1e-25], dtype=np.float32)
    assert quantize(x, qp).tolist() == [32767, -32768, 32767]


def test_bad_types_and_ranges_name_the_argument():
    qp = QuantParams(0.1, 0)
    with pytest.raises(TypeError, match="x: expected a float array, got dtype int8"):
        quantize(np.zeros(3, np.int8), qp)
    with pytest.raises(TypeError, match="q: expected an integer array, got dtype float32"):
        dequantize(np.zeros(3, np.float32), qp)
    with pytest.raises(
        ValueError, match=r"q: values span \[0, 300\], outside the grid \[-128, 127\]"
    ):
        dequantize(np.array([0, 300]), qp)
    with pytest.raises(ValueError, match="rounding: unknown mode"):
        quantize(np.zeros(3), qp, rounding="nearest")
    with pytest.raises(TypeError, match="dtype: expected a float dtype"):
        dequantize(np.zeros(3, np.int8), qp, dtype=np.int32)
    assert quantize([0.1, 0.2], qp).tolist() == [1, 2]  # plain lists are accepted as float64


def _tf_fake_quant_vars(x, lo, hi, bits, narrow):
    """TF 2.21 fake_quant_with_min_max_vars (SEMANTICS.md §5), written literally in float32."""
    f32 = np.float32
    quant_min, quant_max = (1 if narrow else 0), 2**bits - 1
    scale = (f32(hi) - f32(lo)) / f32(quant_max - quant_min)
    zp_from_min = f32(quant_min) - f32(lo) / scale
    nzp = min(max(np.floor(zp_from_min + f32(0.5)), quant_min), quant_max)
    nmin = (f32(quant_min) - f32(nzp)) * scale
    nmax = (f32(quant_max) - f32(nzp)) * scale
    qz = np.floor(-nmin / scale + f32(0.5))
    clamped = np.minimum(np.maximum(x, nmin), nmax)
    return np.floor((clamped - nmin) / scale - qz + f32(0.5)) * scale


@given(
    st.floats(-100, 0, width=32),
    st.floats(2.0**-10, 100, width=32),
    st.integers(2, 16),
    st.booleans(),
    st.data(),
)
def test_fake_quantize_equals_tf_fake_quant_vars(lo, hi, bits, narrow, data):
    assume(bits > 1 + narrow)
    x = data.draw(hnp.arrays(np.float32, 64, elements=st.floats(-200, 200, width=32)))
    qp = choose_qparams(lo, hi, bits=bits, signed=False, narrow_range=narrow)
    got = fake_quantize(x, qp)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _tf_fake_quant_vars(x, lo, hi, bits, narrow))
    # A signed grid is the unsigned one shifted by 2^(bits-1): the same float grid points.
    signed = choose_qparams(lo, hi, bits=bits, signed=True, narrow_range=narrow)
    np.testing.assert_array_equal(fake_quantize(x, signed), got)


@given(qparams_strategy(per_channel=False), st.data())
def test_fake_quantize_is_dequantize_of_quantize_away_from_ties(qp, data):
    scale = np.float32(qp.scale)
    assume(float(scale) == qp.scale)  # fake quantization works on float32 scales, as TF
    nmin, nmax = nudged_range(qp)
    x = data.draw(hnp.arrays(np.float32, 64, elements=st.floats(-1e4, 1e4, width=32)))
    t = x.astype(np.float64) / qp.scale
    # TF's float32 formula computes t as ((c − nmin) / scale − qz): each step rounds relative to
    # its operands, up to ~2^−23·((|x| + |nmin|)/scale + |qz|) in t; stay that far from ties.
    slack = 2.0**-21 * ((np.abs(x) + abs(float(nmin))) / qp.scale + 2.0**qp.bits) + 1e-6
    assume(np.all(np.abs(t - np.floor(t) - 0.5) > slack))
    for mode in intq.ROUNDING_MODES:
        fq = fake_quantize(x, qp, rounding=mode)
        np.testing.assert_array_equal(fq, dequantize(quantize(x, qp, rounding=mode), qp))
        np.testing.assert_array_equal(fake_quantize(fq, qp, rounding=mode), fq)  # idempotent
        assert np.all((fq >= nmin) & (fq <= nmax))


def test_fake_quantize_keeps_zero_exact_and_rounds_ties_as_named():
    qp = choose_qparams(-1.0, 2.0)  # scale 3/255, zero point -43
    x = np.array([0.0, -0.0, -0.5, 0.5], dtype=np.float32)  # ±0.5 are ties: 42.5 steps
    half_up = fake_quantize(x, qp)
    assert half_up[0] == 0.0 and half_up[1] == 0.0
    steps = np.rint(half_up / np.float32(qp.scale)).astype(int).tolist()
    assert steps[2:] == [-42, 43]
    away = fake_quantize(x, qp, rounding="half_away_from_zero")
    assert np.rint(away / np.float32(qp.scale)).astype(int).tolist()[2:] == [-43, 43]
    even = fake_quantize(x, qp, rounding="half_to_even")
    assert np.rint(even / np.float32(qp.scale)).astype(int).tolist()[2:] == [-42, 42]


def test_fake_quantize_per_channel_multiplies_by_the_reciprocal():
    qp = choose_qparams(np.array([-1.0, -0.5]), np.array([1.0, 3.0]), axis=1, signed=False)
    x = np.linspace(-2, 4, 40, dtype=np.float32).reshape(20, 2)
    out = fake_quantize(x, qp)
    for c in range(2):
        one = QuantParams(qp.scale[c], qp.zero_point[c], signed=False)
        lo, hi = nudged_range(one)
        f32 = np.float32
        s = f32(one.scale)
        inv = f32(1) / s
        qz = np.floor(-lo * inv + f32(0.5))
        want = np.floor((np.clip(x[:, c], lo, hi) - lo) * inv - qz + f32(0.5)) * s
        np.testing.assert_array_equal(out[:, c], want)
