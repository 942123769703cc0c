"""Fake quantization for QAT (intq/qat.py): forward == intq.fake_quantize, TF's STE and range
gradients, quant_delay, freezing, eval mode, LSQ, and the TFLite weight/activation factories."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import intq
from intq.nn import SGD
from intq.observers import MinMaxObserver, MovingAverageMinMaxObserver
from intq.qat import FakeQuant, LSQFakeQuant, activation_fake_quant, weight_fake_quant
from intq.quantize import nudged_range

F32 = np.float32


def _data(seed: int, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    """Values spread over [lo, hi] and a little beyond, float32."""
    rng = np.random.default_rng(seed)
    span = hi - lo
    return rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=shape).astype(F32)


def _minmax_fake_quant(**kwargs: object) -> FakeQuant:
    return FakeQuant(observer=MinMaxObserver(axis=kwargs.get("axis")), **kwargs)


# ---------------------------------------------------------------- forward == intq.fake_quantize

grid_config = st.fixed_dictionaries(
    {
        "bits": st.integers(2, 16),
        "signed": st.booleans(),
        "symmetric": st.booleans(),
        "narrow_range": st.booleans(),
    }
)


@given(
    config=grid_config,
    lo=st.floats(-1e3, 0.0, width=32),
    hi=st.floats(0.0, 1e3, width=32),
    seed=st.integers(0, 2**16),
)
def test_forward_per_tensor_equals_fake_quantize(config, lo, hi, seed):
    x = _data(seed, (3, 40), lo, hi)
    fq = _minmax_fake_quant(**config)
    y = fq(x)
    expected_qparams = intq.choose_qparams(float(x.min()), float(x.max()), **config)
    assert fq.qparams == expected_qparams
    assert fq.qparams == fq.observer.qparams(**config)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, intq.fake_quantize(x, expected_qparams))


@given(
    config=grid_config,
    scales=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=4),
    axis=st.integers(-3, 2),
    seed=st.integers(0, 2**16),
)
def test_forward_per_channel_equals_fake_quantize(config, scales, axis, seed):
    shape = [3, 5, 2]
    shape[axis] = len(scales)
    view = [1, 1, 1]
    view[axis] = len(scales)
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * np.reshape(scales, view)).astype(F32)
    fq = _minmax_fake_quant(axis=axis, **config)
    y = fq(x)
    moved = np.moveaxis(x, axis, 0).reshape(len(scales), -1)
    expected = intq.choose_qparams(moved.min(axis=1), moved.max(axis=1), axis=axis, **config)
    assert fq.qparams == expected
    np.testing.assert_array_equal(y, intq.fake_quantize(x, expected))


def _quarter_grid() -> FakeQuant:
    """8-bit FakeQuant whose observed range [−2, 127/64] nudges to scale 1/64, zero point 0."""
    fq = _minmax_fake_quant()
    fq.observer.update(np.array([-2.0, 127 / 64], dtype=F32))
    assert fq.qparams == intq.QuantParams(1 / 64, 0)
    return fq


def test_ties_round_half_up_and_bounds_map_to_themselves():
    fq = _quarter_grid().eval()
    k = np.arange(-128, 127, dtype=F32)
    ties = (k + F32(0.5)) / F32(64)  # exact in float32
    np.testing.assert_array_equal(fq(ties), (k + 1) / F32(64))  # TF: floor(t + 0.5)
    nmin, nmax = nudged_range(fq.qparams)
    bounds = np.array([nmin, nmax], dtype=F32)
    np.testing.assert_array_equal(fq(bounds), bounds)
    outside = np.array([np.nextafter(nmin, F32(-1e9)), np.nextafter(nmax, F32(1e9)), -1e9, 1e9])
    np.testing.assert_array_equal(fq(outside.astype(F32)), [nmin, nmax, nmin, nmax])


@given(lo=st.floats(-100.0, -0.0009765625, width=32), hi=st.floats(0.0009765625, 100.0, width=32))
def test_values_at_nudged_bounds_and_half_steps_match_fake_quantize(lo, hi):
    fq = _minmax_fake_quant()
    fq.observer.update(np.array([lo, hi], dtype=F32))
    qparams = fq.eval().qparams
    nmin, nmax = nudged_range(qparams)
    scale = F32(qparams.scale)
    grid = (np.arange(qparams.qmin, qparams.qmax + 1) - qparams.zero_point).astype(F32) * scale
    half = scale / F32(2)
    x = np.concatenate([[nmin, nmax], grid, grid + half, grid - half]).astype(F32)
    y = fq(x)
    np.testing.assert_array_equal(y, intq.fake_quantize(x, qparams))
    assert y[0] == nmin and y[1] == nmax
    assert y.min() >= nmin and y.max() <= nmax


# ---------------------------------------------------------------- straight-through estimator


@pytest.mark.parametrize("axis", [None, 1])
def test_ste_passes_inside_and_at_the_bounds_blocks_outside(axis):
    x = _data(0, (4, 3), -1.0, 2.0)
    fq = _minmax_fake_quant(axis=axis)
    fq(x)
    nmin, nmax = nudged_range(fq.qparams)
    if axis is not None:
        nmin, nmax = nmin[None, :], nmax[None, :]
    x = np.broadcast_to(x, (5, 4, 3)).copy()
    x[0] = np.broadcast_to(nmin, (4, 3))  # exactly at the bounds: passes (TF: >= and <=)
    x[1] = np.broadcast_to(nmax, (4, 3))
    x[2] = np.nextafter(np.broadcast_to(nmin, (4, 3)), F32(-np.inf))  # one ulp outside
    x[3] = np.nextafter(np.broadcast_to(nmax, (4, 3)), F32(np.inf))
    x[4] = (np.broadcast_to(nmin, (4, 3)) + np.broadcast_to(nmax, (4, 3))) / 2
    fq.eval()
    grads = []
    for row in x:
        fq(row)
        grads.append(fq.backward(np.full((4, 3), 3.0, F32)))
    grads = np.stack(grads)
    np.testing.assert_array_equal(grads[[0, 1, 4]], 3.0)
    np.testing.assert_array_equal(grads[[2, 3]], 0.0)


def test_ste_mask_is_tf_inclusive_on_random_data():
    x = _data(1, (6, 50), -3.0, 5.0)
    fq = _minmax_fake_quant()
    fq.observer.update(np.array([-2.0, 4.0]))
    fq(x)
    grad = np.random.default_rng(2).normal(size=x.shape).astype(F32)
    nmin, nmax = nudged_range(fq.qparams)
    inside = (x >= nmin) & (x <= nmax)
    assert inside.any() and not inside.all()
    np.testing.assert_array_equal(fq.backward(grad), np.where(inside, grad, 0))


# ---------------------------------------------------------------- learned range (TF's gradients)


def test_learned_range_gradients_on_a_hand_example():
    fq = FakeQuant(observer=MinMaxObserver(), learn_range=True)
    assert fq.parameters() == [fq.min, fq.max]
    fq(np.array([-1.0, 1.0], dtype=F32))  # the first training forward sets the range
    assert (fq.min.value, fq.max.value) == (-1.0, 1.0)
    # scale = float32(2/255); zp_f = 1/scale is 127.49999 in float32, not the tie 127.5, so
    # the unsigned zero point is 127 and the nudged range [−127·scale, 128·scale].
    scale = F32(2) / F32(255)
    nmin, nmax = nudged_range(fq.qparams)
    assert nmin == F32(-127) * scale and nmax == F32(128) * scale
    x = np.array([-3.0, -1.5, nmin, 0.2, 0.7, nmax, 2.0, 5.0], dtype=F32)
    g = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=F32)
    fq.zero_grad()
    fq(x)
    dx = fq.backward(g)
    np.testing.assert_array_equal(dx, [0, 0, 3, 4, 5, 6, 0, 0])
    assert fq.min.grad == 1 + 2  # x < nudged_min
    assert fq.max.grad == 7 + 8  # x > nudged_max


def _loss(fq: FakeQuant, x: np.ndarray, g: np.ndarray) -> float:
    return float(np.sum(g.astype(np.float64) * fq(x)))


@pytest.mark.parametrize("bound", ["min", "max"])
def test_learned_range_gradient_equals_finite_differences(bound):
    # With 0 at the other end of the range, the nudge keeps the moving bound where it is
    # (nudged_min = min for [min, 0], nudged_max = max for [0, max]), and with every x outside
    # the range the output is that bound or 0: there TF's gradient is the exact derivative.
    rng = np.random.default_rng(3)
    if bound == "min":
        calibration = [-2.0, 0.0]
        x = np.concatenate([rng.uniform(-5, -2.2, 30), rng.uniform(0.1, 3, 10)])
    else:
        calibration = [0.0, 2.0]
        x = np.concatenate([rng.uniform(2.2, 5, 30), rng.uniform(-3, -0.1, 10)])
    x = x.astype(F32)
    g = rng.normal(size=x.shape).astype(F32)
    fq = FakeQuant(observer=MinMaxObserver(), learn_range=True)
    fq(np.array(calibration, dtype=F32))
    fq.eval()
    param = getattr(fq, bound)
    fq(x)
    fq.backward(g)
    h = 1e-3
    base = float(param.value)
    param.value[...] = base + h
    plus = _loss(fq, x, g)
    param.value[...] = base - h
    minus = _loss(fq, x, g)
    tf_formula = g[x < -2.0].sum() if bound == "min" else g[x > 2.0].sum()
    assert float(param.grad) == pytest.approx(tf_formula, rel=1e-6)
    assert (plus - minus) / (2 * h) == pytest.approx(float(param.grad), rel=1e-3)


def test_learned_range_per_channel_sums_per_channel():
    fq = FakeQuant(axis=1, observer=MinMaxObserver(axis=1), learn_range=True, channels=2)
    assert fq.min.value.shape == (2,)
    fq(np.array([[-1.0, -2.0], [1.0, 2.0]], dtype=F32))
    np.testing.assert_array_equal(fq.min.value, [-1, -2])
    x = np.array([[-5.0, -5.0], [5.0, 0.0], [-5.0, 5.0]], dtype=F32)
    g = np.array([[1, 2], [3, 4], [5, 6]], dtype=F32)
    fq(x)
    np.testing.assert_array_equal(fq.backward(g), [[0, 0], [0, 4], [0, 0]])
    np.testing.assert_array_equal(fq.min.grad, [1 + 5, 2])
    np.testing.assert_array_equal(fq.max.grad, [3, 6])


def test_learned_range_trains_with_sgd():
    fq = FakeQuant(observer=MinMaxObserver(), learn_range=True)
    opt = SGD(fq.parameters(), lr=0.01)
    fq(np.array([-1.0, 1.0], dtype=F32))
    x = np.array([-3.0, 3.0], dtype=F32)
    for _ in range(5):
        opt.zero_grad()
        y = fq(x)
        fq.backward(y - x)  # d/dy of ½‖y − x‖²: the range should widen
        opt.step()
    assert fq.min.value < -1.0 and fq.max.value > 1.0


# ---------------------------------------------------------------- delay, freeze, eval


def test_quant_delay_passes_through_for_the_first_training_steps():
    x = _data(4, (8,), -1.0, 1.0)
    fq = _minmax_fake_quant(quant_delay=3)
    for step in range(3):
        y = fq(x)
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(fq.backward(np.full_like(x, 2.0)), 2.0)
        assert fq.step == step + 1
    assert fq.observer.num_channels == 1  # the range was observed during the delay
    y = fq(x)
    assert not np.array_equal(y, x)
    np.testing.assert_array_equal(y, intq.fake_quantize(x, fq.qparams))


def test_eval_mode_does_not_update_the_observer_and_always_quantizes():
    fq = _minmax_fake_quant(quant_delay=100)
    fq(np.array([-1.0, 1.0], dtype=F32))
    before = fq.qparams
    fq.eval()
    x = np.array([-10.0, 0.3, 10.0], dtype=F32)
    y = fq(x)
    assert fq.qparams == before and fq.observer.range() == (-1.0, 1.0)
    assert fq.step == 1
    np.testing.assert_array_equal(y, intq.fake_quantize(x, before))


def test_freeze_fixes_the_range():
    fq = activation_fake_quant()
    fq(np.array([-1.0, 1.0], dtype=F32))
    fq.freeze()
    frozen = fq.qparams
    state = fq.observer.state_dict()
    x = np.array([-8.0, 8.0], dtype=F32)
    y = fq(x)
    assert fq.qparams == frozen
    assert all(np.array_equal(state[k], v) for k, v in fq.observer.state_dict().items())
    np.testing.assert_array_equal(y, intq.fake_quantize(x, frozen))


def test_freeze_observer_only_stops_observing():
    fq = _minmax_fake_quant()
    fq(np.array([-1.0, 1.0], dtype=F32))
    fq.freeze_observer()
    fq(np.array([-8.0, 8.0], dtype=F32))
    assert fq.observer.range() == (-1.0, 1.0)


def test_freeze_stops_learned_range_gradients():
    fq = FakeQuant(observer=MinMaxObserver(), learn_range=True)
    fq(np.array([-1.0, 1.0], dtype=F32))
    fq.freeze()
    frozen = fq.qparams
    fq.min.value[...] = -5.0  # e.g. weight decay: the frozen grid must not move
    fq(np.array([-3.0, 3.0], dtype=F32))
    fq.backward(np.ones(2, F32))
    assert fq.min.grad == 0 and fq.max.grad == 0
    assert fq.qparams == frozen


def test_fake_quant_enabled_false_is_the_identity():
    fq = _minmax_fake_quant()
    fq.fake_quant_enabled = False
    x = _data(5, (10,), -1.0, 1.0)
    np.testing.assert_array_equal(fq(x), x)
    assert fq.observer.num_channels == 1


# ---------------------------------------------------------------- LSQ


def test_lsq_forward_and_gradients_on_a_hand_example():
    lsq = LSQFakeQuant(bits=3)  # grid [−4, 3]
    x = np.array([-3.0, -2.0, -1.1, -0.2, 0.3, 0.74, 1.5, 1.6, 2.0], dtype=F32)
    lsq(x)
    # init: 2·mean|x| / sqrt(qmax)
    assert lsq.scale.value == F32(2 * np.mean(np.abs(x.astype(np.float64))) / np.sqrt(3))
    lsq.scale.value[...] = 0.5
    lsq.zero_grad()
    y = lsq(x)
    # t = x/s = [−6, −4, −2.2, −0.4, 0.6, 1.48, 3, 3.2, 4]; q = [−4, −4, −2, 0, 1, 1, 3, 3, 3]
    np.testing.assert_array_equal(y, [-2.0, -2.0, -1.0, 0.0, 0.5, 0.5, 1.5, 1.5, 1.5])
    dx = lsq.backward(np.ones(9, F32))
    np.testing.assert_array_equal(dx, [0, 1, 1, 1, 1, 1, 1, 0, 0])  # t on the bounds passes
    # Esser et al. eq. (3): −QN for t ≤ −QN, QP for t ≥ QP, round(t) − t between; times g.
    dv_ds = [-4, -4, -2 + 2.2, 0 + 0.4, 1 - 0.6, 1 - 1.48, 3, 3, 3]
    g = 1 / np.sqrt(9 * 3)
    assert float(lsq.scale.grad) == pytest.approx(g * sum(dv_ds), rel=1e-5)
    assert lsq.qparams == intq.QuantParams(0.5, 0, bits=3)


def test_lsq_rounds_ties_half_away_from_zero():
    lsq = LSQFakeQuant(bits=8)
    lsq(np.ones(1, F32))
    lsq.scale.value[...] = 0.25
    x = np.array([-0.375, -0.125, 0.125, 0.375], dtype=F32)  # t = −1.5, −0.5, 0.5, 1.5
    np.testing.assert_array_equal(lsq(x), [-0.5, -0.25, 0.25, 0.5])


def test_lsq_per_channel_matches_quantize_dequantize():
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(4, 3)) * [0.1, 1.0, 10.0]).astype(F32)
    lsq = LSQFakeQuant(bits=4, axis=1, channels=3)
    y = lsq(x)
    qparams = lsq.qparams
    assert qparams.axis == 1 and qparams.num_channels == 3
    mean_abs = np.abs(x.astype(np.float64)).mean(axis=0)
    np.testing.assert_array_equal(lsq.scale.value, (2 * mean_abs / np.sqrt(7)).astype(F32))
    q = intq.quantize(x, qparams, rounding="half_away_from_zero")
    np.testing.assert_array_equal(y, intq.dequantize(q, qparams))
    grad = rng.normal(size=x.shape).astype(F32)
    lsq.backward(grad)
    for c in range(3):  # each channel is a per-tensor LSQ with N = 4 elements
        column = LSQFakeQuant(bits=4)
        column(x[:, c])
        column.scale.value[...] = lsq.scale.value[c]
        column.zero_grad()
        np.testing.assert_array_equal(column(x[:, c]), y[:, c])
        column.backward(grad[:, c])
        assert lsq.scale.grad[c] == pytest.approx(float(column.scale.grad), rel=1e-6)


@pytest.mark.parametrize("start", [4.0, 0.1])
def test_lsq_step_size_moves_to_reduce_the_loss(start):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(64, 16)).astype(F32)
    lsq = LSQFakeQuant(bits=3)
    opt = SGD(lsq.parameters(), lr=0.05)
    lsq(x)
    lsq.scale.value *= F32(start)  # start far too coarse or far too fine
    first_scale = float(lsq.scale.value)

    def loss() -> float:
        return float(np.mean((lsq(x).astype(np.float64) - x) ** 2))

    first_loss = loss()
    for _ in range(30):
        opt.zero_grad()
        y = lsq(x)
        lsq.backward(y - x)  # d/dy of ½‖y − x‖²
        opt.step()
    moved = float(lsq.scale.value) - first_scale
    assert moved < 0 if start > 1 else moved > 0
    assert loss() < first_loss / 4


# ---------------------------------------------------------------- TFLite factories


@pytest.mark.parametrize(("shape", "axis"), [((6, 3, 3, 2), 0), ((1, 3, 3, 5), 3), ((4, 7), 0)])
def test_weight_fake_quant_is_per_channel_narrow_symmetric(shape, axis):
    rng = np.random.default_rng(8)
    channels = shape[axis]
    view = [1] * len(shape)
    view[axis] = channels
    w = (rng.normal(size=shape) * np.geomspace(0.01, 3, channels).reshape(view)).astype(F32)
    wfq = weight_fake_quant(axis=axis)
    y = wfq(w)
    qparams = wfq.qparams
    assert qparams.axis == axis and qparams.narrow_range and qparams.signed
    np.testing.assert_array_equal(qparams.zero_point, 0)
    np.testing.assert_array_equal(y, intq.fake_quantize(w, qparams))
    codes = np.moveaxis(intq.quantize(y, qparams), axis, 0).reshape(channels, -1)
    assert codes.min() >= -127 and codes.max() <= 127
    flat = np.moveaxis(w, axis, 0).reshape(channels, -1)
    at_max = np.argmax(np.abs(flat), axis=1)
    peak = codes[np.arange(channels), at_max]
    np.testing.assert_array_equal(peak, 127 * np.sign(flat[np.arange(channels), at_max]))


def test_weight_fake_quant_follows_the_current_weights_in_eval_too():
    w = _data(9, (3, 4), -1.0, 1.0)
    wfq = weight_fake_quant()
    wfq(w)
    wide = wfq.qparams
    wfq.eval()
    wfq(w / 4)  # no running min/max and no EMA: the range shrinks with the weights
    np.testing.assert_allclose(wfq.qparams.scale, np.asarray(wide.scale) / 4, rtol=1e-6)


def test_activation_fake_quant_is_per_tensor_asymmetric_ema():
    fq = activation_fake_quant(bits=8, decay=0.5, quant_delay=2)
    assert isinstance(fq.observer, MovingAverageMinMaxObserver) and fq.observer.decay == 0.5
    assert fq.quant_delay == 2
    fq(np.array([-1.0, 1.0], dtype=F32))
    fq(np.array([-3.0, 3.0], dtype=F32))
    lo, hi = fq.range()
    assert -3.0 < lo < -1.0 and 1.0 < hi < 3.0  # an average, not the union
    qparams = fq.qparams
    assert qparams.axis is None and not qparams.narrow_range and qparams.qmin == -128


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("bits", [1, 17, True, 8.0])
def test_bits_are_validated(bits):
    with pytest.raises(ValueError, match="bits"):
        FakeQuant(bits=bits)
    with pytest.raises(ValueError, match="bits"):
        LSQFakeQuant(bits=bits)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="quant_delay"):
        FakeQuant(quant_delay=-1)
    with pytest.raises(ValueError, match="axis"):
        FakeQuant(axis="0")
    with pytest.raises(ValueError, match="observer"):
        FakeQuant(axis=0, observer=MinMaxObserver())
    with pytest.raises(ValueError, match="channels"):
        FakeQuant(axis=0, observer=MinMaxObserver(axis=0), learn_range=True)
    with pytest.raises(ValueError, match="channels"):
        LSQFakeQuant(channels=3)
    with pytest.raises(TypeError, match="x"):
        FakeQuant()(np.arange(3))
    with pytest.raises(ValueError, match="x: dimension 1 has 4 entries"):
        LSQFakeQuant(axis=1, channels=3)(np.ones((2, 4), F32))


def test_using_a_range_before_any_is_known_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no range yet"):
        FakeQuant().eval()(np.ones(3, F32))
    with pytest.raises(RuntimeError, match="first forward"):
        _ = LSQFakeQuant().qparams
    with pytest.raises(RuntimeError, match="before forward"):
        FakeQuant().backward(np.ones(3, F32))


def test_lsq_step_size_driven_non_positive_is_named():
    lsq = LSQFakeQuant()
    lsq(np.ones(3, F32))
    lsq.scale.value[...] = -1.0
    with pytest.raises(ValueError, match="scale"):
        lsq(np.ones(3, F32))
