"""QuantParams validation and choose_qparams (TF FakeQuant's nudge, SEMANTICS.md §5)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import intq
from intq import QuantParams, choose_qparams
from intq.qparams import integer_range, storage_dtype


@pytest.mark.parametrize(
    "bits,signed,narrow,qmin,qmax,dtype",
    [
        (8, True, False, -128, 127, np.int8),
        (8, True, True, -127, 127, np.int8),
        (8, False, False, 0, 255, np.uint8),
        (8, False, True, 1, 255, np.uint8),
        (4, True, False, -8, 7, np.int8),
        (2, False, False, 0, 3, np.uint8),
        (12, True, False, -2048, 2047, np.int16),
        (16, True, True, -32767, 32767, np.int16),
        (16, False, False, 0, 65535, np.uint16),
        (32, True, False, -(2**31), 2**31 - 1, np.int32),
        (64, True, False, -(2**63), 2**63 - 1, np.int64),
    ],
)
def test_grid_and_dtype(bits, signed, narrow, qmin, qmax, dtype):
    qp = QuantParams(0.5, 0 if signed else qmin, bits=bits, signed=signed, narrow_range=narrow)
    assert (qp.qmin, qp.qmax) == (qmin, qmax) == integer_range(bits, signed, narrow)
    assert qp.dtype == np.dtype(dtype) == storage_dtype(bits, signed)
    info = np.iinfo(qp.dtype)
    assert info.min <= qp.qmin and qp.qmax <= info.max


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"scale": 0.0, "zero_point": 0}, "scale: must be finite and positive, got 0.0"),
        ({"scale": -1.0, "zero_point": 0}, "scale: must be finite and positive"),
        ({"scale": float("nan"), "zero_point": 0}, "scale: must be finite and positive, got nan"),
        ({"scale": float("inf"), "zero_point": 0}, "scale: must be finite and positive, got inf"),
        ({"scale": "big", "zero_point": 0}, "scale: expected real numbers"),
        (
            {"scale": 0.1, "zero_point": 128},
            r"zero_point: 128 lies outside \[qmin, qmax\] = \[-128, 127\]",
        ),
        ({"scale": 0.1, "zero_point": -128, "narrow_range": True}, "zero_point: -128 lies outside"),
        ({"scale": 0.1, "zero_point": 0.5}, "zero_point: must be integers"),
        ({"scale": 0.1, "zero_point": 0, "bits": 1}, "bits: must be 2..16, 32 or 64, got 1"),
        ({"scale": 0.1, "zero_point": 0, "bits": 17}, "bits: must be 2..16, 32 or 64, got 17"),
        ({"scale": 0.1, "zero_point": 0, "bits": 32, "signed": False}, "bits: unsigned grids"),
        ({"scale": [0.1, 0.2], "zero_point": 0}, "scale: per-tensor parameters .* need a scalar"),
        ({"scale": 0.1, "zero_point": 0, "axis": 0}, "scale: per-channel parameters need"),
        ({"scale": [0.1, 0.2], "zero_point": [0, 0, 0], "axis": 0}, "zero_point: shape"),
        ({"scale": [0.1, -0.2], "zero_point": 0, "axis": 0}, "at channel 1"),
        ({"scale": [0.1, 0.2], "zero_point": 0, "axis": 1.5}, "axis: must be None or an int"),
    ],
)
def test_construction_names_the_bad_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantParams(**kwargs)


def test_immutable_and_hashable():
    qp = QuantParams([0.1, 0.2], [1, -3], axis=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        qp.bits = 4
    with pytest.raises(ValueError):
        qp.scale[0] = 1.0  # per-channel arrays are read-only
    same = QuantParams(np.array([0.1, 0.2]), np.array([1, -3]), axis=0)
    assert qp == same and hash(qp) == hash(same)
    assert qp != QuantParams([0.1, 0.2], [1, -3], axis=1)
    assert QuantParams(0.5, 3) == QuantParams(np.float32(0.5), np.int8(3))
    assert len({qp, same, QuantParams(0.5, 3)}) == 2
    assert "axis=0" in repr(qp)


def test_broadcast_to_checks_axis_and_channels():
    qp = QuantParams([0.1, 0.2, 0.3], 0, axis=-1)
    scale, zp = qp.broadcast_to((2, 5, 3))
    assert scale.shape == (1, 1, 3) and zp.shape == (1, 1, 3)
    with pytest.raises(ValueError, match="w: dimension 2 has 4 entries but .* 3 channels"):
        qp.broadcast_to((2, 5, 4), "w")
    with pytest.raises(ValueError, match="w: axis -1 is out of range for a 0-D tensor"):
        qp.broadcast_to((), "w")


def _tf_nudge(lo, hi, bits, narrow):
    """TF's Nudge (fake_quant_ops_functor.h) written literally in float32, unsigned domain."""
    f32 = np.float32
    quant_min, quant_max = (1 if narrow else 0), 2**bits - 1
    qmin_f, qmax_f = f32(quant_min), f32(quant_max)
    scale = (f32(hi) - f32(lo)) / (qmax_f - qmin_f)
    zp_from_min = qmin_f - f32(lo) / scale
    if zp_from_min < qmin_f:
        nudged_zp = quant_min
    elif zp_from_min > qmax_f:
        nudged_zp = quant_max
    else:
        nudged_zp = int(np.floor(abs(zp_from_min) + 0.5))  # std::round of a non-negative value
    return scale, nudged_zp


ranges = st.tuples(
    st.floats(-1e6, 0, allow_nan=False, width=32), st.floats(0, 1e6, allow_nan=False, width=32)
).filter(lambda r: r[1] - r[0] > 1e-30)


@given(ranges, st.integers(2, 16), st.booleans(), st.booleans())
def test_asymmetric_equals_tf_nudge_and_keeps_zero_exact(r, bits, narrow, signed):
    lo, hi = r
    assume(bits > 1 + narrow)
    qp = choose_qparams(lo, hi, bits=bits, signed=signed, narrow_range=narrow)
    scale, nudged_zp = _tf_nudge(lo, hi, bits, narrow)
    assert qp.scale == float(scale)
    assert qp.zero_point == nudged_zp - (2 ** (bits - 1) if signed else 0)
    assert qp.qmin <= qp.zero_point <= qp.qmax
    # 0.0 is exactly representable: the zero point dequantizes to 0.0.
    assert intq.dequantize(np.array([qp.zero_point]), qp)[0] == 0.0
    # The nudged range moves by at most half a step from [lo, hi].
    nmin, nmax = intq.quantize.__globals__["nudged_range"](qp)
    assert nmin <= 0 <= nmax
    assert nmin <= lo + qp.scale * 0.5 * (1 + 1e-5) and nmax >= hi - qp.scale * 0.5 * (1 + 1e-5)


def test_positive_range_is_widened_to_include_zero():
    qp = choose_qparams(2.0, 6.0)
    assert qp.zero_point == -128 and qp.scale == float(np.float32(6.0) / np.float32(255))


@given(
    st.floats(-1e4, 1e4, allow_nan=False, width=32),
    st.floats(-1e4, 1e4, allow_nan=False, width=32),
    st.integers(2, 16),
)
def test_symmetric_maps_the_extreme_to_qmax(a, b, bits):
    lo, hi = min(a, b), max(a, b)
    amax = max(abs(lo), abs(hi))
    assume(amax > 1e-30)
    qp = choose_qparams(lo, hi, bits=bits, symmetric=True, narrow_range=True)
    assert qp.zero_point == 0
    assert qp.scale == float(np.float32(amax) / np.float32(2 ** (bits - 1) - 1))
    q = intq.quantize(np.array([amax, -amax], dtype=np.float32), qp)
    assert q.tolist() == [qp.qmax, -qp.qmax]
    unsigned = choose_qparams(lo, hi, bits=bits, symmetric=True, signed=False)
    assert unsigned.zero_point == 2 ** (bits - 1)


def test_degenerate_ranges():
    zero = choose_qparams(0.0, 0.0)
    assert zero.scale == 1.0 and zero.zero_point == -128
    assert choose_qparams(0.0, 0.0, symmetric=True) == QuantParams(1.0, 0)
    tiny = choose_qparams(0.0, 1e-45)  # the float32 scale underflows: use the smallest normal
    assert tiny.scale == float(np.finfo(np.float32).tiny)


def test_per_channel_equals_per_tensor_channel_by_channel():
    lo = np.array([-1.0, -0.25, 0.0, -3.0])
    hi = np.array([1.0, 2.0, 0.5, 0.0])
    for symmetric in (False, True):
        qp = choose_qparams(lo, hi, axis=0, symmetric=symmetric)
        assert qp.per_channel and qp.num_channels == 4
        for c in range(4):
            one = choose_qparams(lo[c], hi[c], symmetric=symmetric)
            assert qp.scale[c] == one.scale and qp.zero_point[c] == one.zero_point


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        ((1.0, -1.0), {}, "min_val: 1.0 is greater than max_val -1.0"),
        ((float("nan"), 1.0), {}, "min_val: must be finite"),
        ((0.0, float("inf")), {}, "max_val: must be finite"),
        ((-3e38, 3e38), {}, "max_val: the range .* overflows float32"),
        ((-1.0, 1.0), {"bits": 1}, "bits: choose_qparams supports 2..16 bits"),
        ((-1.0, 1.0), {"bits": 32}, "bits: choose_qparams supports 2..16 bits"),
        (([-1.0, 0.0], [1.0, 1.0]), {}, "min_val: per-tensor ranges"),
        ((-1.0, 1.0), {"axis": 0}, "min_val: per-channel ranges"),
        (([-1.0, 0.0], [1.0, 1.0, 2.0]), {"axis": 0}, "max_val: shape"),
        (([-1.0, 2.0], [1.0, 1.0]), {"axis": 0}, "at channel 1"),
    ],
)
def test_choose_qparams_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_qparams(*args, **kwargs)
