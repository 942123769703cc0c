"""Fake quantization for quantization-aware training (eq. (12)–(13); docs/qat.md).

``FakeQuant`` is TF's ``fake_quant_with_min_max_vars`` as an ``intq.nn`` module: an observed (or
learned) float range, nudged by ``choose_qparams``, applied by ``fake_quantize``, with TF's
clipped straight-through gradient. ``LSQFakeQuant`` learns the step size instead (Esser et al.
2020). ``weight_fake_quant`` and ``activation_fake_quant`` configure ``FakeQuant`` as TFLite's
int8 weights and activations. Each module's ``qparams`` is what the int8 converter reads.
"""

from __future__ import annotations

import numbers

import numpy as np

from .nn.module import Module, Parameter
from .observers import MinMaxObserver, MovingAverageMinMaxObserver
from .qparams import QuantParams, choose_qparams, integer_range
from .quantize import dequantize, fake_quantize, nudged_range, quantize


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 2 <= bits <= 16:
        raise ValueError(f"bits: fake quantization supports 2..16 bits, got {bits!r}")
    return int(bits)


def _check_axis(axis: object) -> int | None:
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
        raise ValueError(f"axis: must be None (per tensor) or an int (per channel), got {axis!r}")
    return None if axis is None else int(axis)


def _float_input(x: object) -> np.ndarray:
    """``x`` as a float array; float16 works in float32 (as ``fake_quantize`` does)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x: expected a float array, got dtype {x.dtype}")
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


def _channel_shape(ndim: int, axis: int | None, channels: int) -> tuple[int, ...]:
    """The shape that broadcasts a per-channel vector along ``axis`` of an ``ndim``-D array."""
    if axis is None:
        return ()
    view = [1] * ndim
    view[axis % ndim] = channels
    return tuple(view)


def _sum_per_channel(a: np.ndarray, axis: int | None) -> np.ndarray:
    """Sum of ``a`` over every axis but ``axis`` (over all axes when ``axis`` is None)."""
    if axis is None:
        return a.sum()
    keep = axis % a.ndim
    return a.sum(axis=tuple(d for d in range(a.ndim) if d != keep))


def _check_channels(x: np.ndarray, axis: int | None, param: Parameter | None) -> None:
    """``ValueError`` naming ``x`` unless ``axis`` indexes ``x`` and, when ``param`` (a
    per-channel parameter) is given, ``x`` has as many channels as it."""
    if axis is None:
        return
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"x: axis {axis} is out of range for a {x.ndim}-D input")
    if param is not None and x.shape[axis] != param.value.size:
        raise ValueError(
            f"x: dimension {axis % x.ndim} has {x.shape[axis]} entries but {param.name!r} has "
            f"{param.value.size} channels"
        )


def _range_parameter(axis: int | None, channels: int | None, name: str) -> Parameter:
    """A float32 ``Parameter`` of shape () (per tensor) or ``(channels,)`` (per channel), set by
    the first forward. Its shape is final, so optimizers may be built before that forward."""
    if axis is None:
        if channels is not None:
            raise ValueError(f"channels: only per-channel {name} (axis set) takes it")
        return Parameter(np.zeros((), np.float32), name)
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ValueError(
            f"channels: a per-channel learned {name} needs the channel count (an int ≥ 1), "
            f"got {channels!r}"
        )
    return Parameter(np.zeros(int(channels), np.float32), name)


class FakeQuant(Module):
    """TF's FakeQuant node: ``fake_quantize(x, qparams)``, ``qparams`` nudged from a float range.

    Training forward: while ``observer_enabled``, the ``observer`` (default
    ``MovingAverageMinMaxObserver(decay=0.999)``, TF's EMA) is updated from ``x``; then, while
    ``fake_quant_enabled`` and once ``quant_delay`` training forwards have passed (TF's
    ``quant_delay``: the first N steps pass ``x`` through unquantized, while the range is
    already observed), the output is ``intq.fake_quantize(x, self.qparams)`` (eq. (12)).
    ``qparams`` is ``choose_qparams`` (TF's nudge, eq. (13)) of the current range. Eval forward:
    the observer is not updated and ``x`` is always fake-quantized with the current ``qparams``
    (``step``, the training-forward count that ``quant_delay`` compares with, does not move).
    With ``current_range=True`` (weights) the observer is emptied and updated at every forward,
    in eval mode too, so the range is that of the current input alone.

    Backward: TF's clipped straight-through estimator, ``grad · 1[nudged_min ≤ x ≤ nudged_max]``
    (bounds included, as TF's ``FakeQuantWithMinMaxVarsGradientFunctor``); the identity when the
    forward passed ``x`` through. With ``learn_range=True`` the range is two parameters,
    ``min`` and ``max``, set from the observer's range by the first training forward and then
    trained with TF's gradients ``Σ grad[x < nudged_min]`` and ``Σ grad[x > nudged_max]``; the
    observer is not used again. A per-channel learned range needs ``channels`` (the size of
    ``axis``) so that the parameters have their final shape before an optimizer is built.

    ``bits`` is 2..16; ``signed``, ``symmetric`` and ``narrow_range`` are passed to
    ``choose_qparams``; ``axis`` makes the range per channel (the observer must observe along
    the same axis). Bad arguments raise ``ValueError`` naming them.
    """

    def __init__(
        self,
        bits: int = 8,
        signed: bool = True,
        symmetric: bool = False,
        narrow_range: bool = False,
        axis: int | None = None,
        observer: object | None = None,
        quant_delay: int = 0,
        learn_range: bool = False,
        current_range: bool = False,
        channels: int | None = None,
    ) -> None:
        super().__init__()
        self.bits = _check_bits(bits)
        self.signed = bool(signed)
        self.symmetric = bool(symmetric)
        self.narrow_range = bool(narrow_range)
        self.axis = _check_axis(axis)
        if (
            isinstance(quant_delay, bool)
            or not isinstance(quant_delay, numbers.Integral)
            or quant_delay < 0
        ):
            raise ValueError(f"quant_delay: must be an int ≥ 0, got {quant_delay!r}")
        self.quant_delay = int(quant_delay)
        if observer is None:
            observer = MovingAverageMinMaxObserver(decay=0.999, axis=self.axis)
        if getattr(observer, "axis", self.axis) != self.axis:
            raise ValueError(
                f"observer: observes along axis {observer.axis}, this FakeQuant along {self.axis}"
            )
        self.observer = observer
        self.observer_enabled = True
        self.current_range = bool(current_range)
        self.fake_quant_enabled = True
        self.step = 0
        self.learn_range = bool(learn_range)
        if self.learn_range:
            self.min = _range_parameter(self.axis, channels, "min")
            self.max = _range_parameter(self.axis, channels, "max")
        elif channels is not None:
            raise ValueError("channels: only a learned per-channel range takes it")
        self._range_learned = False  # True once min/max hold the initial range
        self._frozen: QuantParams | None = None

    def _observing(self) -> bool:
        if not self.observer_enabled or self._frozen is not None or self._range_learned:
            return False
        return self.training or self.current_range

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` fake-quantized with the current range (after observing ``x`` when enabled),
        or ``x`` itself during the ``quant_delay`` training steps or when disabled."""
        x = _float_input(x)
        _check_channels(x, self.axis, self.min if self.learn_range else None)
        if self._observing():
            if self.current_range:  # empty the observer: the range is this input's alone
                self.observer.load_state_dict({k: np.zeros(0) for k in self.observer.state_dict()})
            self.observer.update(x)
            if self.learn_range:
                self._init_learned_range()
        quantizing = self.fake_quant_enabled and (
            not self.training or self.step >= self.quant_delay
        )
        if self.training:
            self.step += 1
        if not quantizing:
            self._cache = (x, None)
            return x
        qparams = self.qparams
        self._cache = (x, qparams)
        return fake_quantize(x, qparams)

    def _init_learned_range(self) -> None:
        lo, hi = self.observer.range()
        self.min.value[...] = lo
        self.max.value[...] = hi
        self._range_learned = True

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y · 1[nudged_min ≤ x ≤ nudged_max]``; with a learned range (not frozen), adds
        ``Σ grad_y[x < nudged_min]`` to ``min.grad`` and ``Σ grad_y[x > nudged_max]`` to
        ``max.grad`` (per channel when ``axis`` is set)."""
        x, qparams = self._saved()
        if qparams is None:
            return grad_y
        view = _channel_shape(x.ndim, self.axis, qparams.num_channels)
        nmin, nmax = (b.reshape(view) for b in nudged_range(qparams, x.dtype.type))
        below, above = x < nmin, x > nmax
        if self.learn_range and self._frozen is None:
            self.min.grad += _sum_per_channel(grad_y * below, self.axis).astype(self.min.grad.dtype)
            self.max.grad += _sum_per_channel(grad_y * above, self.axis).astype(self.max.grad.dtype)
        # Multiplied by the 0/1 mask, as TF does (so a NaN gradient stays NaN).
        return grad_y * ~(below | above)

    def range(self) -> tuple[np.ndarray, np.ndarray]:
        """The current float range ``(min, max)`` before nudging: the learned parameters or the
        observer's range. ``RuntimeError`` when nothing has been observed yet."""
        if self._range_learned:
            return self.min.value, self.max.value
        if self.observer.num_channels is None:
            raise RuntimeError(
                "FakeQuant: no range yet; run a training forward (or pass an observer that has "
                "seen calibration data) first"
            )
        return self.observer.range()

    @property
    def qparams(self) -> QuantParams:
        """The ``QuantParams`` the forward uses: frozen ones after ``freeze()``, else
        ``choose_qparams`` of ``range()`` with this node's bits, signedness, symmetry, narrow
        range and axis. This is what the int8 converter reads."""
        if self._frozen is not None:
            return self._frozen
        lo, hi = self.range()
        config = {"bits": self.bits, "signed": self.signed, "symmetric": self.symmetric}
        if self._range_learned:
            return choose_qparams(lo, hi, narrow_range=self.narrow_range, axis=self.axis, **config)
        return self.observer.qparams(narrow_range=self.narrow_range, **config)

    def freeze_observer(self) -> None:
        """Stop updating the observer; a learned range keeps training."""
        self.observer_enabled = False

    def freeze(self) -> None:
        """Fix ``qparams`` at their current value: no more observer updates, no gradients to a
        learned range. ``RuntimeError`` when there is no range yet."""
        self.freeze_observer()
        self._frozen = self.qparams

    def __repr__(self) -> str:
        return (
            f"FakeQuant(bits={self.bits}, signed={self.signed}, symmetric={self.symmetric}, "
            f"narrow_range={self.narrow_range}, axis={self.axis}, quant_delay={self.quant_delay}, "
            f"learn_range={self.learn_range})"
        )


class LSQFakeQuant(Module):
    """Learned Step Size Quantization (Esser et al. 2020): ``round(clip(x/s, qmin, qmax)) · s``.

    ``s`` is the ``Parameter`` ``scale``, initialised by the first forward to
    ``2·mean|x| / sqrt(qmax)`` (1.0 if ``x`` is all zero); the zero point is 0 and
    ``[qmin, qmax]`` is the full ``bits``-wide grid. Per channel along ``axis``, ``channels``
    (the size of that axis) gives ``s`` its shape before an optimizer is built. The forward is
    exactly TFLite's Quantize then Dequantize with ``QuantParams(s, 0)``: ``x / s`` in the
    input's precision, rounded **half away from zero** (TFLite's ``round``; the paper does not
    say how ties go), clamped, times ``s``.

    Backward, with ``t = x / s`` and ``q = round(clip(t))``: ``grad_x = grad · 1[qmin ≤ t ≤ qmax]``
    (straight through, bounds included as in ``FakeQuant``) and the paper's eq. (3) times its
    gradient scale ``g = 1 / sqrt(N · qmax)`` (``N`` elements share each step size):
    ``grad_s += g · Σ grad · (q − t·1[qmin < t < qmax])``, i.e. ``round(t) − t`` strictly
    inside and ``qmin`` or ``qmax`` from the bounds outward.
    """

    def __init__(
        self,
        bits: int = 8,
        signed: bool = True,
        axis: int | None = None,
        channels: int | None = None,
    ) -> None:
        super().__init__()
        self.bits = _check_bits(bits)
        self.signed = bool(signed)
        self.axis = _check_axis(axis)
        self.scale = _range_parameter(self.axis, channels, "scale")
        self._initialised = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``round_half_away(clip(x / s, qmin, qmax)) · s``; the first call sets ``s``."""
        x = _float_input(x)
        _check_channels(x, self.axis, self.scale)
        if not self._initialised:
            self._init_scale(x)
        qparams = self.qparams
        q = quantize(x, qparams, rounding="half_away_from_zero")
        self._cache = (x, q, qparams)
        return dequantize(q, qparams, dtype=x.dtype.type)

    def _init_scale(self, x: np.ndarray) -> None:
        _, qmax = integer_range(self.bits, self.signed, False)
        mean_abs = _sum_per_channel(np.abs(x.astype(np.float64)), self.axis) * (
            self.scale.value.size / x.size
        )
        self.scale.value[...] = np.where(mean_abs > 0, 2 * mean_abs / np.sqrt(qmax), 1.0)
        self._initialised = True

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """The straight-through ``grad_x``; adds LSQ's scaled step-size gradient to
        ``scale.grad``."""
        x, q, qparams = self._saved()
        view = _channel_shape(x.ndim, self.axis, qparams.num_channels)
        t = x / np.asarray(qparams.scale, dtype=x.dtype).reshape(view)  # as quantize divides
        qmin, qmax = qparams.qmin, qparams.qmax
        inside = (t > qmin) & (t < qmax)
        dq_ds = q.astype(np.float64) - np.where(inside, t, 0)
        g = 1 / np.sqrt(x.size // qparams.num_channels * qmax)
        grad_s = g * _sum_per_channel(grad_y.astype(np.float64) * dq_ds, self.axis)
        self.scale.grad += grad_s.astype(self.scale.grad.dtype)
        return grad_y * ((t >= qmin) & (t <= qmax))

    @property
    def qparams(self) -> QuantParams:
        """``QuantParams(s, 0, axis, bits, signed)``: what the int8 converter reads.
        ``RuntimeError`` before the first forward; ``ValueError`` naming ``scale`` when training
        drove ``s`` to a value ≤ 0."""
        if not self._initialised:
            raise RuntimeError("LSQFakeQuant: the step size is set by the first forward")
        scale = self.scale.value.astype(np.float64)
        zero = np.zeros(scale.shape, np.int64) if self.axis is not None else 0
        return QuantParams(
            scale if self.axis is not None else float(scale),
            zero,
            self.axis,
            self.bits,
            self.signed,
        )

    def __repr__(self) -> str:
        return f"LSQFakeQuant(bits={self.bits}, signed={self.signed}, axis={self.axis})"


def weight_fake_quant(bits: int = 8, axis: int = 0) -> FakeQuant:
    """A ``FakeQuant`` for weights as TFLite's int8 spec has them: symmetric, narrow range
    (``[−127, 127]`` for 8 bits), per channel along ``axis`` (0 for OHWI conv and (out, in)
    Linear weights, 3 for 1HWO depthwise), with the range the min/max of the current weights at
    every forward, in eval mode too (no EMA), and no ``quant_delay``."""
    return FakeQuant(
        bits=bits,
        signed=True,
        symmetric=True,
        narrow_range=True,
        axis=axis,
        observer=MinMaxObserver(axis=axis),
        current_range=True,
    )


def activation_fake_quant(bits: int = 8, decay: float = 0.999, quant_delay: int = 0) -> FakeQuant:
    """A ``FakeQuant`` for activations as TFLite's int8 spec has them: per tensor, asymmetric,
    full range (``[−128, 127]``), the range an EMA with ``decay`` of the observed batch ranges,
    unquantized for the first ``quant_delay`` training steps."""
    return FakeQuant(
        bits=bits,
        signed=True,
        observer=MovingAverageMinMaxObserver(decay=decay),
        quant_delay=quant_delay,
    )
