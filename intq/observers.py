"""Calibration observers: a float range for a tensor from streamed batches, then its qparams.

Each observer sees batches through ``update``, can absorb another observer that saw other
batches (``merge``, so calibration can be split across workers), reports ``range()`` (always
containing 0.0) and turns it into ``QuantParams`` with ``choose_qparams`` (eq. (13)). Per-channel
observers (``axis=k``) keep one statistic per index along axis ``k``. See docs/observers.md.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np

from .qparams import QuantParams, choose_qparams

HistogramMethod = Literal["percentile", "entropy", "mse"]
HISTOGRAM_METHODS: tuple[str, ...] = ("percentile", "entropy", "mse")

# Histogram bin widths are 2^e with e ≥ this: 2^−1074 is the smallest positive float64.
_MIN_EXPONENT = -1074


class _Observer:
    """Shared machinery: batch validation, channel bookkeeping, range → qparams, state.

    Subclasses keep their state as arrays with one row per channel (one row per tensor when
    ``axis`` is None), named by ``_STATE`` (and ``_COUNTERS`` for scalar integers), and
    implement ``_observe``, ``_absorb`` and ``_raw_range``.
    """

    _STATE: tuple[str, ...] = ()
    _INTEGER_STATE: tuple[str, ...] = ()
    _COUNTERS: tuple[str, ...] = ()

    def __init__(self, axis: int | None) -> None:
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
            raise ValueError(f"axis: must be None or an int, got {axis!r}")
        self.axis = None if axis is None else int(axis)
        self._clear()

    def _clear(self) -> None:
        for name in self._STATE:
            setattr(self, "_" + name, None)
        for name in self._COUNTERS:
            setattr(self, "_" + name, 0)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _config(self) -> tuple:
        return (self.axis,)

    @property
    def num_channels(self) -> int | None:
        """Channels seen so far (1 per tensor), or None before the first non-empty batch."""
        first = getattr(self, "_" + self._STATE[0])
        return None if first is None else int(first.shape[0])

    def _batch(self, x: np.ndarray) -> np.ndarray:
        """``x`` as a float64 array of shape (channels, values per channel), validated."""
        arr = np.asarray(x)
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise TypeError(f"{self._name}.update: x must be a real array, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(
                f"{self._name}.update: x has {bad} non-finite value(s) (NaN or inf) out of "
                f"{arr.size}; observers accept finite values only"
            )
        if self.axis is None:
            return arr.reshape(1, -1)
        if not -arr.ndim <= self.axis < arr.ndim:
            raise ValueError(
                f"{self._name}.update: axis {self.axis} is out of range for a {arr.ndim}-D x"
            )
        channels = arr.shape[self.axis]
        if self.num_channels is not None and channels != self.num_channels:
            raise ValueError(
                f"{self._name}.update: x has {channels} channels along axis {self.axis}, "
                f"earlier batches had {self.num_channels}"
            )
        return np.moveaxis(arr, self.axis, 0).reshape(channels, -1)

    def update(self, x: np.ndarray) -> None:
        """Observe one batch ``x`` (any shape; per channel along ``axis``).

        Integer arrays are taken as floats. A batch without values is ignored (it does not
        count as an update). NaN or inf raise ``ValueError`` naming the observer and the
        number of bad values; a per-channel batch whose channel count differs from earlier
        batches raises ``ValueError``.
        """
        batch = self._batch(x)
        if batch.shape[1] == 0:
            return
        self._observe(batch)

    def merge(self, other: _Observer) -> None:
        """Absorb the state of ``other``, an observer of the same class and configuration.

        Afterwards this observer reads as if it had also seen ``other``'s batches (each kind
        states exactly what holds). ``other`` is not modified.
        """
        if type(other) is not type(self):
            raise TypeError(f"{self._name}.merge: other is a {type(other).__name__}")
        if other._config() != self._config():
            raise ValueError(
                f"{self._name}.merge: configurations differ: {self._config()} vs {other._config()}"
            )
        if other.num_channels is None:
            return
        if self.num_channels is None:
            self.load_state_dict(other.state_dict())
            return
        if other.num_channels != self.num_channels:
            raise ValueError(
                f"{self._name}.merge: other has {other.num_channels} channels, "
                f"this observer {self.num_channels}"
            )
        self._absorb(other)

    def range(self) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
        """``(min_val, max_val)``: floats per tensor, float64 arrays (one per channel) per channel.

        The range always contains 0.0 (``min_val ≤ 0 ≤ max_val``). ``ValueError`` if no value
        was observed yet.
        """
        if self.num_channels is None:
            raise ValueError(f"{self._name}.range: nothing observed yet; call update() first")
        lo, hi = self._raw_range()
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        if self.axis is None:
            return float(lo[0]), float(hi[0])
        return lo, hi

    def qparams(
        self,
        *,
        bits: int = 8,
        signed: bool = True,
        symmetric: bool = False,
        narrow_range: bool = False,
    ) -> QuantParams:
        """The grid for the observed range: ``choose_qparams(*self.range(), ..., axis=self.axis)``.

        ``ValueError`` if nothing was observed yet.
        """
        return choose_qparams(
            *self.range(),
            bits=bits,
            signed=signed,
            symmetric=symmetric,
            narrow_range=narrow_range,
            axis=self.axis,
        )

    def state_dict(self) -> dict[str, np.ndarray | int]:
        """The observed state as plain NumPy arrays and ints (copies); empty arrays if unused.

        The configuration (constructor arguments) is not included: load the state into an
        observer built with the same arguments.
        """
        state: dict[str, np.ndarray | int] = {}
        for name in self._STATE:
            value = getattr(self, "_" + name)
            state[name] = np.zeros(0) if value is None else value.copy()
        for name in self._COUNTERS:
            state[name] = int(getattr(self, "_" + name))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this observer's state by ``state`` (from ``state_dict``), validated first.

        ``ValueError`` naming the first missing, malformed or inconsistent entry.
        """
        missing = [k for k in (*self._STATE, *self._COUNTERS) if k not in state]
        if missing:
            raise ValueError(f"{self._name}.load_state_dict: missing entry {missing[0]!r}")
        arrays = {name: np.array(state[name]) for name in self._STATE}
        if all(a.size == 0 for a in arrays.values()):
            self._clear()
            return
        channels = arrays[self._STATE[0]].shape[0] if arrays[self._STATE[0]].ndim else 0
        if channels == 0 or (self.axis is None and channels != 1):
            raise ValueError(
                f"{self._name}.load_state_dict: {self._STATE[0]!r} must have "
                f"{'1 row' if self.axis is None else 'one row per channel'}, "
                f"got shape {arrays[self._STATE[0]].shape}"
            )
        for name, arr in arrays.items():
            self._check_state_array(name, arr, channels)
        counters = {name: state[name] for name in self._COUNTERS}
        for name, value in counters.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(
                    f"{self._name}.load_state_dict: {name!r} must be a non-negative int, "
                    f"got {value!r}"
                )
        self._check_state(arrays, counters)
        for name, arr in arrays.items():
            dtype = np.int64 if name in self._INTEGER_STATE else np.float64
            setattr(self, "_" + name, arr.astype(dtype))
        for name, value in counters.items():
            setattr(self, "_" + name, int(value))

    def _check_state_array(self, name: str, arr: np.ndarray, channels: int) -> None:
        shape = self._state_shape(name, channels)
        if arr.shape != shape:
            raise ValueError(
                f"{self._name}.load_state_dict: {name!r} must have shape {shape}, got {arr.shape}"
            )
        integer = name in self._INTEGER_STATE
        allowed = (np.integer,) if integer else (np.integer, np.floating)
        if arr.dtype == bool or not any(np.issubdtype(arr.dtype, t) for t in allowed):
            kind = "integers" if integer else "real numbers"
            raise ValueError(
                f"{self._name}.load_state_dict: {name!r} must be {kind}, got dtype {arr.dtype}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{self._name}.load_state_dict: {name!r} must be finite")

    def _state_shape(self, name: str, channels: int) -> tuple[int, ...]:
        return (channels,)

    def _check_state(self, arrays: dict[str, np.ndarray], counters: dict[str, int]) -> None:
        """Subclass hook: cross-entry consistency of a state about to be loaded."""

    def _observe(self, batch: np.ndarray) -> None:
        raise NotImplementedError

    def _absorb(self, other: _Observer) -> None:
        raise NotImplementedError

    def _raw_range(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def _check_ordered(name: str, lo: np.ndarray, hi: np.ndarray) -> None:
    if np.any(lo > hi):
        raise ValueError(f"{name}.load_state_dict: 'min_val' exceeds 'max_val'")


class MinMaxObserver(_Observer):
    """The running minimum and maximum of every observed value (per channel with ``axis``).

    ``range()`` is ``(min(min x, 0), max(max x, 0))``. ``merge`` is exact: merging observers
    that saw disjoint sets of batches gives the same state as one observer seeing them all,
    in any order.
    """

    _STATE = ("min_val", "max_val")

    def __init__(self, axis: int | None = None) -> None:
        """Observe per tensor (``axis=None``) or per index along ``axis`` (negative allowed)."""
        super().__init__(axis)

    def _observe(self, batch: np.ndarray) -> None:
        lo, hi = batch.min(axis=1), batch.max(axis=1)
        if self._min_val is not None:
            lo, hi = np.minimum(lo, self._min_val), np.maximum(hi, self._max_val)
        self._min_val, self._max_val = lo, hi

    def _absorb(self, other: MinMaxObserver) -> None:
        self._min_val = np.minimum(self._min_val, other._min_val)
        self._max_val = np.maximum(self._max_val, other._max_val)

    def _raw_range(self) -> tuple[np.ndarray, np.ndarray]:
        return self._min_val, self._max_val

    def _check_state(self, arrays: dict[str, np.ndarray], counters: dict[str, int]) -> None:
        _check_ordered(self._name, arrays["min_val"], arrays["max_val"])


class MovingAverageMinMaxObserver(_Observer):
    """TF's exponential moving average of the batch min and max (``MovingAvgQuantize``).

    Per batch, as TF: the batch minimum is clipped to ≤ 0 and the maximum to ≥ 0 ("TFLite
    requires that 0.0 is always in the [min; max] range"), then each is averaged with
    ``assign_moving_average(var, value, decay)``, i.e. ``var ← var − (var − value)·(1 − decay)``.
    Sources: tensorflow/tensorflow ``tensorflow/contrib/quantize/python/quant_ops.py``
    (commit 00f402b2) ``MovingAvgQuantize`` lines 155–219 (clipping at 207 and 214), and
    tensorflow/model-optimization ``tensorflow_model_optimization/python/core/quantization/
    keras/quant_ops.py`` (commit 2933f794) ``MovingAvgQuantize`` from line 144 (clipping at
    226–227, ``zero_debias=False`` at 229–232).

    The two differ in the first batch, and ``init_range`` chooses:

    * ``init_range=None`` (default), TF1 contrib: the variables start at −6/6, but
      ``assign_moving_average`` is called with its default ``zero_debias=True``
      (``tensorflow/python/training/moving_averages.py``, commit 0004ac98, line 35 and
      ``_zero_debias``): a zero-initialised biased average divided by ``1 − decay^t`` after
      ``t`` updates. The −6/6 initial values are never read, and the first batch's range is
      taken exactly: ``v₁ = b₁``, then ``v_t = S_t / (1 − decay^t)`` with
      ``S_t = decay·S_{t−1} + (1 − decay)·b_t``, ``S_0 = 0``.
    * ``init_range=(−6.0, 6.0)``, TFMOT (Keras QAT): variables created with
      ``Constant(−6.0)``/``Constant(6.0)`` (``quantizers.py``, commit 062500ab,
      ``_QuantizeHelper._add_range_weights``, lines 82–90) and no debiasing:
      ``v_t = decay^t·v_0 + S_t``. With decay 0.999 the range stays near ±6 for thousands of
      batches, as it does in TFMOT.

    TFMOT's ``symmetric=True`` batch-range widening is not reproduced; pass
    ``symmetric=True`` to ``qparams`` instead. Values equal TF's up to float rounding
    (intq averages in float64, TF in float32).

    ``merge(other)`` is exact for the concatenated sequence *this observer's batches, then
    other's*: ``S ← decay^t_other·S + S_other``, ``t ← t + t_other``. An EMA depends on batch
    order, so merge is not commutative; merge workers in the order their batches should count.
    """

    _STATE = ("biased_min", "biased_max")
    _COUNTERS = ("updates",)

    def __init__(
        self,
        decay: float = 0.999,
        axis: int | None = None,
        init_range: tuple[float, float] | None = None,
    ) -> None:
        """EMA with ``decay`` in [0, 1); ``init_range`` None (TF1 contrib) or ``(lo, hi)`` (TFMOT).

        ``ValueError`` naming the argument if ``decay`` or ``init_range`` is invalid.
        """
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real):
            raise ValueError(f"decay: must be a real number in [0, 1), got {decay!r}")
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay: must lie in [0, 1), got {decay!r}")
        if init_range is not None:
            lo, hi = (float(v) for v in init_range)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(
                    f"init_range: must be finite (lo, hi) with lo ≤ hi, got {init_range!r}"
                )
            init_range = (lo, hi)
        self.decay = float(decay)
        self.init_range = init_range
        super().__init__(axis)

    def _config(self) -> tuple:
        return (self.axis, self.decay, self.init_range)

    def _observe(self, batch: np.ndarray) -> None:
        value_min = np.minimum(batch.min(axis=1), 0.0)
        value_max = np.maximum(batch.max(axis=1), 0.0)
        if self._biased_min is None:
            self._biased_min = np.zeros_like(value_min)
            self._biased_max = np.zeros_like(value_max)
        step = 1.0 - self.decay
        self._biased_min = self._biased_min - (self._biased_min - value_min) * step
        self._biased_max = self._biased_max - (self._biased_max - value_max) * step
        self._updates += 1

    def _absorb(self, other: MovingAverageMinMaxObserver) -> None:
        carry = self.decay**other._updates
        self._biased_min = carry * self._biased_min + other._biased_min
        self._biased_max = carry * self._biased_max + other._biased_max
        self._updates += other._updates

    def _raw_range(self) -> tuple[np.ndarray, np.ndarray]:
        kept = self.decay**self._updates
        if self.init_range is None:
            return self._biased_min / (1.0 - kept), self._biased_max / (1.0 - kept)
        return (
            kept * self.init_range[0] + self._biased_min,
            kept * self.init_range[1] + self._biased_max,
        )

    def _check_state(self, arrays: dict[str, np.ndarray], counters: dict[str, int]) -> None:
        if counters["updates"] == 0:
            raise ValueError(f"{self._name}.load_state_dict: 'updates' is 0 but a state is given")
        if np.any(arrays["biased_min"] > 0) or np.any(arrays["biased_max"] < 0):
            raise ValueError(
                f"{self._name}.load_state_dict: 'biased_min' must be ≤ 0 and 'biased_max' ≥ 0"
            )


def _fit_exponent(lo: float, hi: float, bins: int) -> int:
    """Smallest ``e ≥ −1074`` such that the bins ``[k·2^e, (k+1)·2^e)`` touched by
    ``[lo, hi]`` (``lo ≤ 0 ≤ hi``) number at most ``bins``.

    The count of touched bins never grows with ``e``, so the search starts below the answer
    (at least ``max(−lo, hi) / 2^e ≤ bins`` must hold) and steps up.
    """
    extent = max(-lo, hi)
    if extent == 0.0:
        return _MIN_EXPONENT
    e = max(_MIN_EXPONENT, math.frexp(extent)[1] - bins.bit_length() - 2)
    while math.floor(math.ldexp(hi, -e)) - math.floor(math.ldexp(lo, -e)) + 1 > bins:
        e += 1
    return e


def _bin_index(values: np.ndarray, exponent: int) -> np.ndarray:
    """``floor(values / 2^exponent)`` as int64, exactly (scaling by a power of two is exact)."""
    return np.floor(np.ldexp(values, -exponent)).astype(np.int64)


def _rebin(
    counts: np.ndarray, offset: int, exponent: int, new_offset: int, new_exponent: int
) -> np.ndarray:
    """Counts of the bins ``[k·2^e, (k+1)·2^e)`` re-expressed on a coarser grid (``e`` grows).

    Each old bin lies inside exactly one new bin, ``k >> (new_e − e)``, so this is exact.
    """
    filled = np.flatnonzero(counts)
    # NumPy defines shifts of 64 or more (0 or −1), which occur when leaving an all-zero grid.
    target = ((filled + offset) >> (new_exponent - exponent)) - new_offset
    out = np.zeros_like(counts)
    np.add.at(out, target, counts[filled])
    return out


def _percentile_abs(counts: np.ndarray, width: float, percentile: float) -> float:
    """Right edge of the first |x| bin at which the cumulative mass reaches ``percentile`` %."""
    cumulative = np.cumsum(counts)
    idx = int(np.searchsorted(cumulative, cumulative[-1] * (percentile / 100.0)))
    return (idx + 1) * width


def _percentile_two_sided(
    counts: np.ndarray, offset: int, width: float, percentile: float
) -> tuple[float, float]:
    """Bin edges leaving at most (100 − percentile)/2 % of the mass below and above."""
    cumulative = np.cumsum(counts)
    tail = cumulative[-1] * ((100.0 - percentile) / 200.0)
    first = int(np.searchsorted(cumulative, tail, side="right"))
    last = int(np.searchsorted(cumulative, cumulative[-1] - tail))
    return (offset + first) * width, (offset + last + 1) * width


def _kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(P‖Q) of two non-negative weight vectors after normalising each (scipy's ``entropy``)."""
    p = p / p.sum()
    q = q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def _entropy_threshold(counts: np.ndarray, width: float, bits: int) -> float:
    """TensorRT's KL-divergence threshold on an |x| histogram (Migacz 2017).

    Follows NVIDIA/TensorRT ``tools/pytorch-quantization/pytorch_quantization/calib/
    histogram.py`` ``_compute_amax_entropy`` (commit 1637a26e): the first bin's count is
    replaced by the second's (the spike of exact zeros after ReLU); for each candidate
    ``i`` from ``2^(bits−1)`` bins to all of them, P = the first ``i`` bins with every count
    beyond folded into the last; Q = the first ``i`` bins (without the outliers) merged into
    ``2^(bits−1)`` groups (bin ``j`` → group ``⌊j·2^(bits−1)/i⌋``), each group's total spread
    evenly over its non-empty bins; the threshold is the right edge of bin ``i − 1`` for the
    last ``i`` minimising KL(P‖Q). Fewer bins than levels: the whole histogram.
    """
    levels = 1 << (bits - 1)
    hist = counts.astype(np.float64)
    if hist.size > 1:
        hist[0] = hist[1]
    if hist.size <= levels:
        return hist.size * width
    best_i, best_kl = hist.size, math.inf
    total = hist.sum()
    for i in range(levels, hist.size + 1):
        head = hist[:i]
        group = (np.arange(i) * levels) // i
        filled = head > 0
        group_sum = np.bincount(group, weights=head, minlength=levels)
        group_filled = np.bincount(group, weights=filled, minlength=levels)
        spread = np.divide(group_sum, group_filled, out=np.zeros(levels), where=group_filled > 0)
        q = np.where(filled, spread[group], 0.0)
        p = head.copy()
        p[-1] += total - head.sum()
        kl = _kl_divergence(p, q)
        if kl <= best_kl:  # "<=": the last minimiser, as TensorRT
            best_i, best_kl = i, kl
    return best_i * width


def _mse_symmetric(counts: np.ndarray, width: float, bits: int) -> float:
    """The threshold ``t`` (an |x| bin edge) minimising the expected squared error.

    Error model per value, at bin centre ``c``: ``scale²/12`` (uniform rounding error) inside
    ``[0, t]``, ``(c − t)²`` (clipping) beyond, with ``scale = t / (2^(bits−1) − 1)``.
    """
    centres = (np.arange(counts.size) + 0.5) * width
    thresholds = (np.arange(counts.size) + 1) * width
    error = _clip_error_above(counts, centres, thresholds)
    scale = thresholds / ((1 << (bits - 1)) - 1)
    error = error + np.cumsum(counts) * scale**2 / 12.0
    return float(thresholds[int(np.argmin(error))])


def _clip_error_above(counts: np.ndarray, centres: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``Σ_{j ≥ m+1} n_j (c_j − edges[m])²`` for every ``m``, from suffix sums."""
    n = np.cumsum(counts[::-1])[::-1].astype(np.float64)
    nc = np.cumsum((counts * centres)[::-1])[::-1]
    ncc = np.cumsum((counts * centres**2)[::-1])[::-1]
    n, nc, ncc = (np.append(a[1:], 0.0) for a in (n, nc, ncc))
    return np.maximum(ncc - 2.0 * edges * nc + edges**2 * n, 0.0)


def _mse_asymmetric(
    counts: np.ndarray, offset: int, width: float, bits: int
) -> tuple[float, float]:
    """The bin edges ``lo ≤ 0 ≤ hi`` minimising the expected squared error.

    As ``_mse_symmetric`` with ``scale = (hi − lo)/(2^bits − 1)``, clipping below ``lo``
    and above ``hi``; all pairs of edges are tried (prefix sums make each pair O(1)).
    """
    size = counts.size
    counts = counts.astype(np.float64)
    centres = (offset + np.arange(size) + 0.5) * width
    edges = (offset + np.arange(size + 1)) * width
    zero = -offset  # edges[zero] == 0.0
    before = [np.concatenate(([0.0], np.cumsum(a))) for a in (counts, counts * centres)]
    before.append(np.concatenate(([0.0], np.cumsum(counts * centres**2))))
    n, nc, ncc = before  # Σ over bins j < index
    lo_idx, hi_idx = np.arange(zero + 1), np.arange(zero, size + 1)
    lo, hi = edges[lo_idx], edges[hi_idx]
    below = np.maximum(ncc[lo_idx] - 2 * lo * nc[lo_idx] + lo**2 * n[lo_idx], 0.0)
    above = np.maximum(
        (ncc[-1] - ncc[hi_idx]) - 2 * hi * (nc[-1] - nc[hi_idx]) + hi**2 * (n[-1] - n[hi_idx]),
        0.0,
    )
    inside = n[hi_idx][None, :] - n[lo_idx][:, None]
    scale = (hi[None, :] - lo[:, None]) / ((1 << bits) - 1)
    error = below[:, None] + above[None, :] + inside * scale**2 / 12.0
    a, b = np.unravel_index(int(np.argmin(error)), error.shape)
    return float(lo[a]), float(hi[b])


class HistogramObserver(_Observer):
    """A histogram of the observed values, from which ``method`` picks the range.

    **Bins.** Bin ``k`` is ``[k·2^e, (k+1)·2^e)``: anchored at 0, width a power of two. ``e``
    is the smallest exponent (≥ −1074) for which the bins from the one holding
    ``min(x_min, 0)`` to the one holding ``max(x_max, 0)`` number at most ``bins``; those are
    the bins stored (``offset`` is the first one's ``k``). When a batch widens the range,
    ``e`` grows and each old bin is added into the coarser bin containing it, which is exact
    because power-of-two grids nest. ``e``, ``offset`` and every count therefore depend only
    on the multiset of observed values: ``merge`` gives exactly the histogram (and the range)
    of one observer that saw every batch, in any order. With ``symmetric`` the histogram is
    of ``|x|`` (``min`` taken as 0). Between ``bins/2`` and ``bins`` bins hold the data.

    **Methods** (the result is clipped to the observed extremes and widened to contain 0):

    * ``"percentile"``: symmetric, ``t`` = right edge of the first |x| bin at which the
      cumulative mass reaches ``percentile`` %, range ``(−t, t)``; asymmetric, the bin edges
      leaving at most ``(100 − percentile)/2`` % of the mass below and above the range.
    * ``"entropy"``: TensorRT's KL-divergence calibration (``_entropy_threshold``), symmetric
      only: range ``(−t, t)``; like every symmetric range here, clipped to the observed
      extremes, so non-negative data give ``(0, t)``.
    * ``"mse"``: the bin edges minimising the expected squared error (``scale²/12`` per
      value inside the range, squared distance to the range beyond) for a ``bits``-bit grid.

    ``bits`` is the width the range is chosen for (entropy, mse); ``qparams`` refuses others.
    One histogram per channel with ``axis``; channels are processed in a loop.
    """

    _STATE = ("min_val", "max_val", "exponent", "offset", "counts")
    _INTEGER_STATE = ("exponent", "offset", "counts")

    def __init__(
        self,
        bins: int = 2048,
        method: HistogramMethod = "percentile",
        percentile: float = 99.99,
        axis: int | None = None,
        symmetric: bool | None = None,
        bits: int = 8,
    ) -> None:
        """``symmetric=None`` means True for ``method="entropy"``, False otherwise."""
        if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 2:
            raise ValueError(f"bins: must be an int ≥ 2, got {bins!r}")
        if method not in HISTOGRAM_METHODS:
            raise ValueError(f"method: expected one of {HISTOGRAM_METHODS}, got {method!r}")
        if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real):
            raise ValueError(f"percentile: must be a number in (0, 100], got {percentile!r}")
        if not 0.0 < float(percentile) <= 100.0:
            raise ValueError(f"percentile: must lie in (0, 100], got {percentile!r}")
        if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 2 <= bits <= 16:
            raise ValueError(f"bits: must be 2..16, got {bits!r}")
        symmetric = method == "entropy" if symmetric is None else bool(symmetric)
        if method == "entropy" and not symmetric:
            raise ValueError("symmetric: entropy calibration is symmetric; pass symmetric=True")
        self.bins = int(bins)
        self.method = method
        self.percentile = float(percentile)
        self.symmetric = symmetric
        self.bits = int(bits)
        super().__init__(axis)

    def _config(self) -> tuple:
        return (self.axis, self.bins, self.method, self.percentile, self.symmetric, self.bits)

    def _state_shape(self, name: str, channels: int) -> tuple[int, ...]:
        return (channels, self.bins) if name == "counts" else (channels,)

    def _extent(self, lo: float, hi: float) -> tuple[float, float]:
        """The interval the histogram covers for observed extremes ``lo``, ``hi``."""
        if self.symmetric:
            return 0.0, max(-lo, hi, 0.0)
        return min(lo, 0.0), max(hi, 0.0)

    def _grid(self, lo: float, hi: float) -> tuple[int, int]:
        """``(exponent, offset)`` of the canonical grid for observed extremes ``lo``, ``hi``."""
        lo, hi = self._extent(lo, hi)
        exponent = _fit_exponent(lo, hi, self.bins)
        return exponent, int(_bin_index(np.array(lo), exponent))

    def _observe(self, batch: np.ndarray) -> None:
        lo, hi = batch.min(axis=1), batch.max(axis=1)
        if self._counts is None:
            channels = batch.shape[0]
            self._min_val, self._max_val = lo, hi
            self._exponent = np.zeros(channels, dtype=np.int64)
            self._offset = np.zeros(channels, dtype=np.int64)
            self._counts = np.zeros((channels, self.bins), dtype=np.int64)
        else:
            self._min_val = np.minimum(self._min_val, lo)
            self._max_val = np.maximum(self._max_val, hi)
        for c, values in enumerate(batch):
            self._regrid(c)
            values = np.abs(values) if self.symmetric else values
            k = _bin_index(values, int(self._exponent[c])) - self._offset[c]
            self._counts[c] += np.bincount(k, minlength=self.bins)

    def _regrid(self, c: int) -> None:
        """Move channel ``c``'s counts onto the grid its current extremes call for."""
        exponent, offset = self._grid(float(self._min_val[c]), float(self._max_val[c]))
        old_exponent, old_offset = int(self._exponent[c]), int(self._offset[c])
        if (exponent, offset) != (old_exponent, old_offset):
            self._counts[c] = _rebin(self._counts[c], old_offset, old_exponent, offset, exponent)
            self._exponent[c], self._offset[c] = exponent, offset

    def _absorb(self, other: HistogramObserver) -> None:
        self._min_val = np.minimum(self._min_val, other._min_val)
        self._max_val = np.maximum(self._max_val, other._max_val)
        for c in range(self._counts.shape[0]):
            self._regrid(c)
            self._counts[c] += _rebin(
                other._counts[c],
                int(other._offset[c]),
                int(other._exponent[c]),
                int(self._offset[c]),
                int(self._exponent[c]),
            )

    def histogram(self, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(counts, edges)`` of one channel's histogram, trimmed to the bins holding data.

        ``edges`` has one more entry than ``counts``; ``ValueError`` if nothing was observed.
        """
        if self._counts is None:
            raise ValueError(f"{self._name}.histogram: nothing observed yet; call update() first")
        exponent, offset = int(self._exponent[channel]), int(self._offset[channel])
        _, hi = self._extent(float(self._min_val[channel]), float(self._max_val[channel]))
        size = int(_bin_index(np.array(hi), exponent)) - offset + 1
        edges = np.ldexp(np.arange(offset, offset + size + 1, dtype=np.float64), exponent)
        return self._counts[channel, :size].copy(), edges

    def _raw_range(self) -> tuple[np.ndarray, np.ndarray]:
        channels = self._counts.shape[0]
        lo, hi = np.empty(channels), np.empty(channels)
        for c in range(channels):
            lo[c], hi[c] = self._channel_range(c)
        return lo, hi

    def _channel_range(self, c: int) -> tuple[float, float]:
        counts, edges = self.histogram(c)
        width, offset = float(edges[1] - edges[0]), int(self._offset[c])
        x_min, x_max = float(self._min_val[c]), float(self._max_val[c])
        if self.symmetric:
            if self.method == "percentile":
                t = _percentile_abs(counts, width, self.percentile)
            elif self.method == "entropy":
                t = _entropy_threshold(counts, width, self.bits)
            else:
                t = _mse_symmetric(counts, width, self.bits)
            # (−t, t) within the observed extremes: a symmetric grid reads max(|lo|, |hi|) = t;
            # an asymmetric one (TFLite activations, e.g. after ReLU) keeps only the used side.
            return max(-t, min(x_min, 0.0)), min(t, max(x_max, 0.0))
        if self.method == "percentile":
            lo, hi = _percentile_two_sided(counts, offset, width, self.percentile)
        else:
            lo, hi = _mse_asymmetric(counts, offset, width, self.bits)
        return max(lo, min(x_min, 0.0)), min(hi, max(x_max, 0.0))

    def qparams(
        self,
        *,
        bits: int = 8,
        signed: bool = True,
        symmetric: bool = False,
        narrow_range: bool = False,
    ) -> QuantParams:
        """As ``_Observer.qparams``; ``bits`` must equal the ``bits`` the range was chosen for."""
        if bits != self.bits:
            raise ValueError(
                f"bits: this HistogramObserver chose its range for bits={self.bits}, got {bits}"
            )
        return super().qparams(
            bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow_range
        )

    def _check_state(self, arrays: dict[str, np.ndarray], counters: dict[str, int]) -> None:
        _check_ordered(self._name, arrays["min_val"], arrays["max_val"])
        if np.any(arrays["counts"] < 0):
            raise ValueError(f"{self._name}.load_state_dict: 'counts' must be non-negative")
        for c in range(arrays["counts"].shape[0]):
            grid = self._grid(float(arrays["min_val"][c]), float(arrays["max_val"][c]))
            if grid != (int(arrays["exponent"][c]), int(arrays["offset"][c])):
                raise ValueError(
                    f"{self._name}.load_state_dict: 'exponent'/'offset' of channel {c} do not "
                    f"match its 'min_val'/'max_val' (expected {grid})"
                )
