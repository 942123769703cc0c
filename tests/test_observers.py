"""Calibration observers: hand-computed ranges, exact merges, histogram methods, qparams."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intq import choose_qparams, dequantize, fake_quantize, quantize
from intq.observers import (
    HISTOGRAM_METHODS,
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
)

RNG_SEED = 20261125


def _observe(observer, batches):
    for batch in batches:
        observer.update(batch)
    return observer


def _all_kinds(axis=None):
    return [
        MinMaxObserver(axis=axis),
        MovingAverageMinMaxObserver(decay=0.9, axis=axis),
        MovingAverageMinMaxObserver(decay=0.9, axis=axis, init_range=(-6.0, 6.0)),
        HistogramObserver(bins=256, method="percentile", percentile=99.0, axis=axis),
        HistogramObserver(bins=256, method="percentile", axis=axis, symmetric=True),
        HistogramObserver(bins=256, method="entropy", axis=axis),
        HistogramObserver(bins=256, method="mse", axis=axis),
        HistogramObserver(bins=256, method="mse", axis=axis, symmetric=True),
    ]


# ---------------------------------------------------------------- min-max


def test_minmax_over_batches_by_hand():
    obs = _observe(MinMaxObserver(), [np.array([0.5, 2.0]), np.array([[-1.5], [1.0]])])
    assert obs.range() == (-1.5, 2.0)
    positive = _observe(MinMaxObserver(), [np.array([1.0, 3.0]), np.array([2.5])])
    assert positive.range() == (0.0, 3.0)  # widened to contain 0.0
    negative = _observe(MinMaxObserver(), [np.array([-4.0, -1.0])])
    assert negative.range() == (-4.0, 0.0)


@pytest.mark.parametrize("axis", [1, -1])
def test_minmax_per_channel(axis):
    x = np.array([[[1.0, -2.0, 0.5], [3.0, 4.0, -0.5]], [[-7.0, 1.0, 2.0], [0.0, 0.5, 0.25]]])
    # axis 1 of this (2, 2, 3) array has 2 channels; axis -1 has 3.
    obs = _observe(MinMaxObserver(axis=axis), [x, 2 * x])
    lo, hi = obs.range()
    if axis == 1:
        np.testing.assert_array_equal(lo, [-14.0, -1.0])
        np.testing.assert_array_equal(hi, [4.0, 8.0])
    else:
        np.testing.assert_array_equal(lo, [-14.0, -4.0, -1.0])
        np.testing.assert_array_equal(hi, [6.0, 8.0, 4.0])
    qp = obs.qparams()
    assert qp.axis == axis and qp.num_channels == lo.size
    assert qp == choose_qparams(lo, hi, axis=axis)
    with pytest.raises(ValueError, match="earlier batches had"):
        obs.update(np.zeros((2, 5, 4)))


def test_minmax_merge_is_exact():
    rng = np.random.default_rng(RNG_SEED)
    batches = [rng.normal(size=(3, 4, 5)) * (i + 1) for i in range(6)]
    whole = _observe(MinMaxObserver(axis=2), batches)
    left = _observe(MinMaxObserver(axis=2), batches[:2])
    right = _observe(MinMaxObserver(axis=2), batches[2:])
    left.merge(right)
    for a, b in zip(left.range(), whole.range(), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- moving average


def test_ema_three_batches_by_hand_contrib():
    # TF1 contrib: zero-debiased EMA, so the first batch is taken exactly.
    # Clipped batch ranges: (-1, 2), (0, 4) (min 1 clipped to 0), (-3, 1); decay 0.5.
    obs = MovingAverageMinMaxObserver(decay=0.5)
    obs.update(np.array([-1.0, 2.0]))
    assert obs.range() == (-1.0, 2.0)
    obs.update(np.array([1.0, 4.0]))
    # biased: min 0.5·(−0.5) + 0.5·0 = −0.25, max 0.5·1 + 0.5·4 = 2.5; divided by 1 − 0.25
    assert obs.range() == pytest.approx((-0.25 / 0.75, 2.5 / 0.75), rel=1e-15)
    obs.update(np.array([-3.0, 1.0]))
    # biased: min 0.5·(−0.25) + 0.5·(−3) = −1.625, max 0.5·2.5 + 0.5·1 = 1.75; / (1 − 0.125)
    assert obs.range() == pytest.approx((-1.625 / 0.875, 1.75 / 0.875), rel=1e-15)


def test_ema_three_batches_by_hand_tfmot():
    # TFMOT: variables start at -6/6, no debiasing: v ← v − (v − b)·(1 − decay), decay 0.5.
    # Clipped batch ranges (-1, 2), (0, 4), (-3, 1):
    # min -6 → -3.5 → -1.75 → -2.375; max 6 → 4 → 4 → 2.5.
    obs = MovingAverageMinMaxObserver(decay=0.5, init_range=(-6.0, 6.0))
    for batch, expected in [
        (np.array([-1.0, 2.0]), (-3.5, 4.0)),
        (np.array([1.0, 4.0]), (-1.75, 4.0)),
        (np.array([-3.0, 1.0]), (-2.375, 2.5)),
    ]:
        obs.update(batch)
        assert obs.range() == pytest.approx(expected, rel=1e-15)


def test_ema_per_channel_axis_minus_one():
    obs = MovingAverageMinMaxObserver(decay=0.5, axis=-1)
    obs.update(np.array([[1.0, -2.0], [3.0, 5.0]]))
    obs.update(np.array([[-1.0, 0.0], [1.0, 1.0]]))
    lo, hi = obs.range()
    # channel 0: batch ranges (0, 3), (-1, 1); channel 1: (-2, 5), (0, 1); biased/(1 − 0.25)
    np.testing.assert_allclose(lo, [-0.5 / 0.75, -0.5 / 0.75], rtol=1e-15)
    np.testing.assert_allclose(hi, [1.25 / 0.75, 1.75 / 0.75], rtol=1e-15)


@pytest.mark.parametrize("init_range", [None, (-6.0, 6.0)])
def test_ema_merge_is_concatenation(init_range):
    rng = np.random.default_rng(RNG_SEED)
    batches = [rng.normal(size=(4, 3)) * (1 + i % 3) for i in range(7)]
    whole = _observe(MovingAverageMinMaxObserver(0.8, axis=1, init_range=init_range), batches)
    left = _observe(MovingAverageMinMaxObserver(0.8, axis=1, init_range=init_range), batches[:3])
    right = _observe(MovingAverageMinMaxObserver(0.8, axis=1, init_range=init_range), batches[3:])
    left.merge(right)
    for a, b in zip(left.range(), whole.range(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="configurations differ"):
        left.merge(MovingAverageMinMaxObserver(0.9, axis=1, init_range=init_range))


# ---------------------------------------------------------------- histograms


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("axis", [None, 0])
def test_histogram_merge_equals_sequential(symmetric, axis):
    rng = np.random.default_rng(RNG_SEED)
    # Growing ranges force several re-binnings, in different orders on each side.
    batches = [rng.normal(size=(2, 300)) * scale for scale in (0.01, 3.0, 0.5, 40.0, 1.0, 7.0)]
    whole = _observe(HistogramObserver(bins=512, symmetric=symmetric, axis=axis), batches)
    parts = [
        _observe(HistogramObserver(bins=512, symmetric=symmetric, axis=axis), group)
        for group in (batches[3:4], batches[:2], batches[4:], batches[2:3])
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    for key, value in whole.state_dict().items():
        np.testing.assert_array_equal(merged.state_dict()[key], value, err_msg=key)
    for channel in range(2 if axis == 0 else 1):
        counts, edges = merged.histogram(channel)
        assert counts.sum() == (300 if axis == 0 else 600) * len(batches)
        assert 0.0 in edges and edges.size == counts.size + 1
    for a, b in zip(merged.range(), whole.range(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_histogram_counts_equal_numpy_histogram():
    rng = np.random.default_rng(RNG_SEED)
    batches = [rng.uniform(-1, 1, size=500), rng.uniform(-9, 3, size=500)]
    obs = _observe(HistogramObserver(bins=128), batches)
    counts, edges = obs.histogram()
    data = np.concatenate(batches)
    # numpy closes the last bin on the right; intq's bins are half-open, and no value hits it.
    np.testing.assert_array_equal(counts, np.histogram(data, bins=edges)[0])
    assert edges[0] <= data.min() and data.max() < edges[-1] and counts.size <= 128
    width = edges[1] - edges[0]
    assert np.log2(width) == np.round(np.log2(width))  # a power of two
    assert counts.size > 64  # finer widths would not fit: the grid is the finest possible


def test_percentile_symmetric_uniform_integers():
    obs = HistogramObserver(method="percentile", percentile=90.0, symmetric=True)
    obs.update(np.arange(-999, 1000, dtype=np.int64))  # |x|: 0 once, 1..999 twice each
    edges = obs.histogram()[1]
    # 90 % of the 1999 values is 1799.1: |x| ≤ 899 holds 1799, |x| ≤ 900 holds 1801.
    lo, hi = obs.range()
    assert lo == -hi
    assert abs(hi - 900.0) <= edges[1] - edges[0]


def test_percentile_two_sided_uniform_integers():
    obs = HistogramObserver(method="percentile", percentile=90.0)
    obs.update(np.arange(-500, 500, dtype=np.float32))  # 1000 values, 50 in each 5 % tail
    width = obs.histogram()[1][1] - obs.histogram()[1][0]
    lo, hi = obs.range()
    assert abs(lo - -450.0) <= width and abs(hi - 450.0) <= width
    full = HistogramObserver(method="percentile", percentile=100.0)
    full.update(np.arange(-500, 500, dtype=np.float32))
    assert full.range() == (-500.0, 499.0)  # clipped to the observed extremes


def test_entropy_clips_outliers_keeps_uniform():
    rng = np.random.default_rng(RNG_SEED)
    gauss = rng.normal(size=50_000)
    gauss[:5] = [50.0, -48.0, 45.0, 49.5, -50.0]
    obs = _observe(HistogramObserver(method="entropy"), [gauss])
    lo, hi = obs.range()
    assert lo == -hi and 2.5 < hi < 10.0  # about the Gaussian's extent, far below 50

    uniform = rng.uniform(-1.0, 1.0, size=50_000)
    obs = _observe(HistogramObserver(method="entropy"), [uniform])
    assert obs.range()[1] >= 0.95 * np.abs(uniform).max()


def _trt_entropy_oracle(counts, edges, bits):
    """TensorRT's ``_compute_amax_entropy`` written out with Python loops (start bin 2^(bits−1))."""
    levels = 2 ** (bits - 1)
    bins = [float(c) for c in counts]
    bins[0] = bins[1]
    divergences = []
    for i in range(levels, len(bins) + 1):
        groups = [int(np.digitize(j, np.linspace(0, i, levels + 1))) - 1 for j in range(i)]
        groups = [g if bins[j] != 0 else -1 for j, g in enumerate(groups)]
        totals, members = [0.0] * levels, [0] * levels
        for j, g in enumerate(groups):
            if g != -1:
                totals[g] += bins[j]
                members[g] += 1
        q = [totals[g] / members[g] if g != -1 else 0.0 for g in groups]
        p = bins[:i]
        p[-1] += sum(bins[i:])
        p_sum, q_sum = sum(p), sum(q)
        kl = 0.0
        for pj, qj in zip(p, q, strict=True):
            if pj > 0:
                kl = (
                    float("inf") if qj == 0 else kl + pj / p_sum * np.log(pj / p_sum / (qj / q_sum))
                )
        divergences.append(kl)
    last_argmin = len(divergences) - 1 - int(np.argmin(divergences[::-1]))
    return float(edges[last_argmin + levels])


@pytest.mark.parametrize("bits", [8, 6])
def test_entropy_equals_tensorrt_oracle(bits):
    rng = np.random.default_rng(RNG_SEED + bits)
    x = np.concatenate([rng.normal(size=20_000), rng.normal(0, 6, size=30), [-20.0, 19.0]])
    obs = _observe(HistogramObserver(bins=256, method="entropy", bits=bits), [x])
    counts, edges = obs.histogram()
    assert 128 < counts.size <= 256
    expected = min(_trt_entropy_oracle(counts, edges, bits), np.abs(x).max())
    # (−t, t) within the observed extremes (here max(x) = 19 < t is possible)
    assert obs.range() == (max(-expected, x.min()), min(expected, x.max()))
    if bits == 6:  # 32 levels leave room below the outliers: the candidates reach 4.0
        assert expected < 0.5 * np.abs(x).max()


def _expected_squared_error(counts, edges, lo, hi, levels):
    """The mse method's error model, written out: scale²/12 inside, distance² outside."""
    scale = (hi - lo) / levels
    total = 0.0
    for n, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        centre = (left + right) / 2
        if centre < lo or centre > hi:
            total += n * min(abs(centre - lo), abs(centre - hi)) ** 2
        else:
            total += n * scale**2 / 12
    return total


@pytest.mark.parametrize("symmetric", [False, True])
def test_mse_minimises_its_error_model(symmetric):
    rng = np.random.default_rng(RNG_SEED)
    x = np.concatenate([rng.laplace(0.3, 1.0, size=3000), [9.0, -7.5, 12.0]])
    bits = 3
    obs = _observe(HistogramObserver(bins=48, method="mse", symmetric=symmetric, bits=bits), [x])
    counts, edges = obs.histogram()
    if symmetric:  # candidates (−t, t) on the |x| grid, 2^(bits−1) − 1 steps each side
        candidates = [(-t, t, 2 * (2 ** (bits - 1) - 1)) for t in edges[1:]]
    else:
        candidates = [(lo, hi, 2**bits - 1) for lo in edges if lo <= 0 for hi in edges if hi >= 0]
    errors = [_expected_squared_error(counts, edges, lo, hi, n) for lo, hi, n in candidates]
    best_lo, best_hi, _ = candidates[int(np.argmin(errors))]
    lo, hi = obs.range()
    assert (lo, hi) == (max(best_lo, x.min()), min(best_hi, x.max()))
    assert hi < 0.8 * x.max()


def _fake_quant_mse(x, qparams):
    return float(np.mean((fake_quantize(x, qparams) - x) ** 2))


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("bits,gain", [(8, 0.95), (4, 0.5)])
def test_mse_beats_minmax_on_heavy_tails(symmetric, bits, gain):
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_t(df=3, size=50_000).astype(np.float32)
    mse_obs = _observe(HistogramObserver(method="mse", symmetric=symmetric, bits=bits), [x])
    minmax_obs = _observe(MinMaxObserver(), [x])
    mse_error = _fake_quant_mse(x, mse_obs.qparams(bits=bits, symmetric=symmetric))
    minmax_error = _fake_quant_mse(x, minmax_obs.qparams(bits=bits, symmetric=symmetric))
    assert mse_error < gain * minmax_error
    lo, hi = mse_obs.range()
    assert hi < np.abs(x).max()  # it clips
    if not symmetric:
        assert x.min() < lo
    if bits == 4:
        # With 16 levels the rounding error is large, so the optimum clips hard.
        assert hi < 0.5 * x.max()


def test_histogram_per_channel_matches_per_tensor_on_each_channel():
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=(1000, 3)) * np.array([0.1, 1.0, 30.0])
    for method in ("percentile", "entropy", "mse"):
        per_channel = _observe(HistogramObserver(bins=256, method=method, axis=-1), [x])
        lo, hi = per_channel.range()
        for c in range(3):
            single = _observe(HistogramObserver(bins=256, method=method), [x[:, c]])
            assert single.range() == (lo[c], hi[c])
        assert hi[0] < hi[1] < hi[2]


def test_histogram_all_zero_data():
    obs = _observe(HistogramObserver(method="mse"), [np.zeros(10)])
    assert obs.range() == (0.0, 0.0)
    obs.update(np.array([1.0, -2.0]))  # regrids from the finest grid
    assert obs.histogram()[0].sum() == 12
    assert obs.qparams().scale > 0


def test_histogram_rejects_bad_configuration():
    with pytest.raises(ValueError, match="symmetric"):
        HistogramObserver(method="entropy", symmetric=False)
    with pytest.raises(ValueError, match="method"):
        HistogramObserver(method="kl")
    with pytest.raises(ValueError, match="percentile"):
        HistogramObserver(percentile=0.0)
    with pytest.raises(ValueError, match="bins"):
        HistogramObserver(bins=1)
    obs = _observe(HistogramObserver(bits=8), [np.ones(4)])
    with pytest.raises(ValueError, match="bits=8"):
        obs.qparams(bits=4)


# ------------------------------------------------------------ all observers


@pytest.mark.parametrize("kind", range(len(_all_kinds())))
@pytest.mark.parametrize(
    "grid", [{}, {"symmetric": True}, {"signed": False}, {"narrow_range": True}]
)
def test_qparams_zero_point_represents_zero(kind, grid):
    rng = np.random.default_rng(RNG_SEED + kind)
    obs = _observe(_all_kinds()[kind], [rng.normal(0.7, 2.0, size=2000) for _ in range(3)])
    qp = obs.qparams(**grid)
    assert qp == choose_qparams(*obs.range(), axis=None, **grid)
    assert qp.qmin <= qp.zero_point <= qp.qmax
    zero = quantize(np.zeros(3, dtype=np.float32), qp)
    assert np.all(zero == qp.zero_point)
    assert np.all(dequantize(zero, qp) == 0.0)
    assert np.all(fake_quantize(np.zeros(3, dtype=np.float32), qp) == 0.0)


@pytest.mark.parametrize("kind", range(len(_all_kinds())))
def test_per_channel_qparams_zero_point_represents_zero(kind):
    rng = np.random.default_rng(RNG_SEED + kind)
    obs = _observe(_all_kinds(axis=1)[kind], [rng.normal(size=(50, 4)) + np.array([0, 1, -1, 5])])
    qp = obs.qparams()
    assert qp.axis == 1 and qp.num_channels == 4
    zero = quantize(np.zeros((2, 4), dtype=np.float32), qp)
    assert np.all(dequantize(zero, qp) == 0.0)


@pytest.mark.parametrize("kind", range(len(_all_kinds())))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_rejected(kind, bad):
    obs = _all_kinds()[kind]
    x = np.ones(5)
    x[[1, 3]] = bad
    with pytest.raises(ValueError, match=f"{type(obs).__name__}.update: x has 2 non-finite"):
        obs.update(x)
    with pytest.raises(ValueError, match="nothing observed"):
        obs.range()  # the bad batch left no trace


@pytest.mark.parametrize("kind", range(len(_all_kinds())))
def test_empty_observer_raises_and_empty_batch_is_ignored(kind):
    obs = _all_kinds()[kind]
    obs.update(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=f"{type(obs).__name__}.range: nothing observed"):
        obs.range()
    with pytest.raises(ValueError, match="nothing observed"):
        obs.qparams()


@pytest.mark.parametrize("kind", range(len(_all_kinds())))
def test_state_dict_round_trip(kind):
    rng = np.random.default_rng(RNG_SEED)
    obs = _observe(_all_kinds(axis=0)[kind], [rng.normal(size=(3, 40)) for _ in range(2)])
    state = obs.state_dict()
    assert all(isinstance(v, np.ndarray | int) for v in state.values())
    fresh = _all_kinds(axis=0)[kind]
    fresh.load_state_dict(state)
    for a, b in zip(fresh.range(), obs.range(), strict=True):
        np.testing.assert_array_equal(a, b)
    fresh.update(np.ones((3, 2)))  # the loaded state keeps working
    empty = _all_kinds(axis=0)[kind]
    empty.load_state_dict(_all_kinds(axis=0)[kind].state_dict())
    assert empty.num_channels is None
    broken = dict(state)
    broken.pop(next(iter(state)))
    with pytest.raises(ValueError, match="missing entry"):
        fresh.load_state_dict(broken)
    name = [key for key, value in state.items() if isinstance(value, np.ndarray)][-1]
    wrong = dict(state, **{name: np.zeros(5)})
    with pytest.raises(ValueError, match=repr(name)):
        fresh.load_state_dict(wrong)
    strings = dict(state, **{name: np.full(np.shape(state[name]), "a")})
    with pytest.raises(ValueError, match=f"{name!r} must be"):
        fresh.load_state_dict(strings)


def test_merge_rejects_other_kinds_and_channel_counts():
    a = _observe(MinMaxObserver(axis=0), [np.ones((2, 3))])
    with pytest.raises(TypeError, match="HistogramObserver"):
        a.merge(HistogramObserver(axis=0))
    with pytest.raises(ValueError, match="configurations differ"):
        a.merge(MinMaxObserver(axis=1))
    with pytest.raises(ValueError, match="3 channels"):
        a.merge(_observe(MinMaxObserver(axis=0), [np.ones((3, 3))]))


def test_update_rejects_bad_input():
    with pytest.raises(TypeError, match="x must be a real array"):
        MinMaxObserver().update(np.array(["a"]))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        MinMaxObserver(axis=2).update(np.ones((2, 2)))
    with pytest.raises(ValueError, match="decay"):
        MovingAverageMinMaxObserver(decay=1.0)


# ---------------------------------------------------------------- properties

_values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
_batches = st.lists(st.lists(_values, min_size=1, max_size=20), min_size=1, max_size=6)


@given(_batches)
def test_minmax_range_contains_everything_and_zero(batches):
    obs = _observe(MinMaxObserver(), [np.array(b) for b in batches])
    lo, hi = obs.range()
    values = np.concatenate([np.array(b) for b in batches])
    assert lo <= 0.0 <= hi
    assert lo <= values.min() and values.max() <= hi
    assert lo in values or lo == 0.0
    assert hi in values or hi == 0.0


@given(_batches, st.randoms(use_true_random=False))
def test_merge_is_order_independent(batches, random):
    arrays = [np.array(b) for b in batches]
    order = list(range(len(arrays)))
    random.shuffle(order)
    for make in (MinMaxObserver, lambda: HistogramObserver(bins=64)):
        whole = _observe(make(), arrays)
        merged = make()
        for i in order:
            merged.merge(_observe(make(), [arrays[i]]))
        for key, value in whole.state_dict().items():
            np.testing.assert_array_equal(merged.state_dict()[key], value, err_msg=key)
        assert merged.range() == whole.range()


def test_symmetric_ranges_keep_to_the_observed_side_of_zero():
    """After a ReLU (no negative values) the entropy/percentile/MSE range starts at 0, so an
    asymmetric grid spends all its levels on the values that occur."""
    x = np.random.default_rng(RNG_SEED).exponential(size=5000)
    for method in HISTOGRAM_METHODS:
        obs = _observe(HistogramObserver(method=method, symmetric=True), [x])
        lo, hi = obs.range()
        assert lo == 0.0 and 0 < hi <= x.max(), method
        assert obs.qparams().zero_point == -128, method
