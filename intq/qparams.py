"""Quantization parameters: the affine map ``real = scale · (q − zero_point)`` (eq. (1)).

``QuantParams`` describes one tensor's integer grid, per tensor or per channel along ``axis``;
``choose_qparams`` picks it from an observed float range so that 0.0 is exactly representable
(TF's FakeQuant nudge, SEMANTICS.md §5).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .rounding import round_half_away_from_zero

# Quantized activations and weights use 2..16 bits; bias and accumulator tensors 32 or 64.
SUPPORTED_BITS: tuple[int, ...] = (*range(2, 17), 32, 64)

_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def integer_range(bits: int, signed: bool, narrow_range: bool) -> tuple[int, int]:
    """``(qmin, qmax)`` of a ``bits``-wide integer grid.

    Signed: ``[−2^(bits−1), 2^(bits−1) − 1]``, unsigned: ``[0, 2^bits − 1]``; ``narrow_range``
    drops the lowest value (int8 weights: [−127, 127]).
    """
    if signed:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        qmin, qmax = 0, 2**bits - 1
    return qmin + int(narrow_range), qmax


def storage_dtype(bits: int, signed: bool) -> np.dtype:
    """The smallest NumPy integer dtype that holds every value of a ``bits``-wide grid."""
    for width in (8, 16, 32, 64):
        if bits <= width:
            return np.dtype(f"{'' if signed else 'u'}int{width}")
    raise ValueError(f"bits: {bits} is wider than 64")


def _as_scale(scale: Any, per_channel: bool) -> float | np.ndarray:
    arr = np.asarray(scale)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"scale: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if per_channel:
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"scale: per-channel parameters need a non-empty 1-D array, got shape {arr.shape}"
            )
    elif arr.ndim != 0:
        raise ValueError(
            f"scale: per-tensor parameters (axis=None) need a scalar, got shape {arr.shape}; "
            "pass axis=... for per-channel scales"
        )
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        where = "" if arr.ndim == 0 else f" at channel {int(np.argmax(bad))}"
        value = float(arr.flat[int(np.argmax(bad))])
        raise ValueError(f"scale: must be finite and positive, got {value!r}{where}")
    if per_channel:
        arr.setflags(write=False)
        return arr
    return float(arr)


def _as_zero_point(zero_point: Any, scale: float | np.ndarray) -> int | np.ndarray:
    arr = np.asarray(zero_point)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(
            np.isfinite(arr) & (arr == np.trunc(arr))
        ):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"zero_point: must be integers, got {zero_point!r}")
    arr = arr.astype(np.int64)
    if isinstance(scale, np.ndarray):
        if arr.ndim == 0:
            arr = np.full(scale.shape, int(arr), dtype=np.int64)
        if arr.shape != scale.shape:
            raise ValueError(
                f"zero_point: shape {arr.shape} does not match scale shape {scale.shape}"
            )
        arr.setflags(write=False)
        return arr
    if arr.ndim != 0:
        raise ValueError(f"zero_point: per-tensor parameters need a scalar, got shape {arr.shape}")
    return int(arr)


@dataclass(frozen=True, eq=False)
class QuantParams:
    """Immutable parameters of the affine map ``real = scale · (q − zero_point)`` (eq. (1)).

    ``scale`` is a positive finite float (per tensor, ``axis=None``) or a 1-D array of them
    (per channel along ``axis``); ``zero_point`` an int or int array of the same shape, inside
    ``[qmin, qmax]``. ``bits`` is 2..16 for quantized tensors (32 or 64 for bias and
    accumulator tensors); ``signed`` and ``narrow_range`` fix the grid (see ``integer_range``).
    Construction validates every field and raises ``ValueError`` naming the first bad one.
    """

    scale: float | np.ndarray
    zero_point: int | np.ndarray
    axis: int | None = None
    bits: int = 8
    signed: bool = True
    narrow_range: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bits, numbers.Integral) or int(self.bits) not in SUPPORTED_BITS:
            raise ValueError(f"bits: must be 2..16, 32 or 64, got {self.bits!r}")
        bits = int(self.bits)
        if not self.signed and bits > 16:
            raise ValueError(f"bits: unsigned grids are at most 16 bits wide, got {bits}")
        if self.axis is not None and (
            isinstance(self.axis, bool) or not isinstance(self.axis, numbers.Integral)
        ):
            raise ValueError(f"axis: must be None or an int, got {self.axis!r}")
        per_channel = self.axis is not None
        scale = _as_scale(self.scale, per_channel)
        zero_point = _as_zero_point(self.zero_point, scale)
        qmin, qmax = integer_range(bits, bool(self.signed), bool(self.narrow_range))
        zp = np.asarray(zero_point)
        if zp.size and (zp.min() < qmin or zp.max() > qmax):
            bad = int(zp.flat[int(np.argmax((zp < qmin) | (zp > qmax)))])
            raise ValueError(f"zero_point: {bad} lies outside [qmin, qmax] = [{qmin}, {qmax}]")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "zero_point", zero_point)
        object.__setattr__(self, "axis", None if self.axis is None else int(self.axis))
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "narrow_range", bool(self.narrow_range))

    @property
    def qmin(self) -> int:
        """Smallest integer of the grid."""
        return integer_range(self.bits, self.signed, self.narrow_range)[0]

    @property
    def qmax(self) -> int:
        """Largest integer of the grid."""
        return integer_range(self.bits, self.signed, self.narrow_range)[1]

    @property
    def dtype(self) -> np.dtype:
        """Smallest NumPy integer dtype holding ``[qmin, qmax]``."""
        return storage_dtype(self.bits, self.signed)

    @property
    def per_channel(self) -> bool:
        """True when scale and zero point vary along ``axis``."""
        return self.axis is not None

    @property
    def num_channels(self) -> int:
        """Number of channels (1 for per-tensor parameters)."""
        return int(np.size(self.scale))

    def broadcast_to(
        self, shape: tuple[int, ...], name: str = "x"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scale, zero_point)`` as float64 / int64 arrays that broadcast against ``shape``.

        For per-channel parameters, ``axis`` (negative counts from the end) must index
        ``shape`` and that dimension must equal the number of channels; otherwise
        ``ValueError`` naming ``name``.
        """
        if not self.per_channel:
            return np.float64(self.scale), np.int64(self.zero_point)
        ndim = len(shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"{name}: axis {self.axis} is out of range for a {ndim}-D tensor")
        axis = self.axis % ndim
        if shape[axis] != self.num_channels:
            raise ValueError(
                f"{name}: dimension {axis} has {shape[axis]} entries but the quantization "
                f"parameters have {self.num_channels} channels"
            )
        view = [1] * ndim
        view[axis] = self.num_channels
        return (
            np.asarray(self.scale, dtype=np.float64).reshape(view),
            np.asarray(self.zero_point, dtype=np.int64).reshape(view),
        )

    def _key(self) -> tuple:
        return (
            tuple(np.atleast_1d(self.scale).tolist()),
            tuple(np.atleast_1d(self.zero_point).tolist()),
            self.axis,
            self.bits,
            self.signed,
            self.narrow_range,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantParams):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        def fmt(v: float | np.ndarray) -> str:
            return repr(v) if not isinstance(v, np.ndarray) else np.array2string(v, threshold=8)

        return (
            f"QuantParams(scale={fmt(self.scale)}, zero_point={fmt(self.zero_point)}, "
            f"axis={self.axis}, bits={self.bits}, signed={self.signed}, "
            f"narrow_range={self.narrow_range})"
        )


def _as_range(value: Any, name: str, per_channel: bool) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if per_channel and (arr.ndim != 1 or arr.size == 0):
        raise ValueError(f"{name}: per-channel ranges need a non-empty 1-D array, got {arr.shape}")
    if not per_channel and arr.ndim != 0:
        raise ValueError(
            f"{name}: per-tensor ranges (axis=None) need a scalar, got shape {arr.shape}; "
            "pass axis=... for per-channel ranges"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return arr


def choose_qparams(
    min_val: float | np.ndarray,
    max_val: float | np.ndarray,
    *,
    bits: int = 8,
    signed: bool = True,
    symmetric: bool = False,
    narrow_range: bool = False,
    axis: int | None = None,
) -> QuantParams:
    """Quantization parameters covering the float range ``[min_val, max_val]``.

    The range is first widened to contain 0.0 and taken to float32, as TF does. Then, all in
    float32:

    * asymmetric (TF FakeQuant's ``Nudge``, SEMANTICS.md §5): in the unsigned domain
      ``[qmin_u, qmax_u]`` (``qmin_u`` = 1 with ``narrow_range``), ``scale = (max − min) /
      (qmax_u − qmin_u)``, ``zero_point = clamp(round_half_away_from_zero(qmin_u − min/scale))``,
      shifted by ``−2^(bits−1)`` for a signed grid; the represented range becomes
      ``[(qmin − zp)·scale, (qmax − zp)·scale]``, which holds 0.0 exactly;
    * symmetric: ``zero_point`` 0 (signed) or ``2^(bits−1)`` (unsigned), and
      ``scale = max(|min|, |max|) / (qmax − zero_point)`` (int8: ``max|x| / 127``, TFLite's
      weight rule), so +max|x| maps exactly to qmax.

    An all-zero range gives ``scale = 1.0``; a range so small that the float32 scale
    underflows gets the smallest normal float32 instead. ``min_val`` and ``max_val`` are
    scalars, or 1-D arrays with ``axis`` set for per-channel parameters.
    """
    per_channel = axis is not None
    lo = _as_range(min_val, "min_val", per_channel)
    hi = _as_range(max_val, "max_val", per_channel)
    if lo.shape != hi.shape:
        raise ValueError(f"max_val: shape {hi.shape} does not match min_val shape {lo.shape}")
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise ValueError(
            f"min_val: {float(lo.flat[i])!r} is greater than max_val {float(hi.flat[i])!r}"
            + (f" at channel {i}" if per_channel else "")
        )
    if not isinstance(bits, numbers.Integral) or not 2 <= bits <= 16:
        raise ValueError(f"bits: choose_qparams supports 2..16 bits, got {bits!r}")
    qmin, qmax = integer_range(bits, signed, narrow_range)
    offset = -(2 ** (bits - 1)) if signed else 0  # signed grid = unsigned grid + offset
    f32 = np.float32
    with np.errstate(over="ignore"):
        lo32 = np.minimum(lo, 0.0).astype(f32)
        hi32 = np.maximum(hi, 0.0).astype(f32)
    with np.errstate(over="ignore"):
        span = np.maximum(np.abs(lo32), np.abs(hi32)) if symmetric else hi32 - lo32
    if not np.all(np.isfinite(span)):
        raise ValueError("max_val: the range max_val − min_val overflows float32")
    if symmetric:
        zero_point = np.full(lo.shape, 0 if signed else 2 ** (bits - 1), dtype=np.int64)
        steps = (qmax - zero_point).astype(f32)
    else:
        steps = f32(qmax - qmin)
    # An all-zero range gets scale 1; an underflowing one the smallest normal float32.
    scale = np.where(span == 0, f32(1), np.maximum(span / steps, f32(_FLOAT32_TINY)))
    if not symmetric:
        qmin_u, qmax_u = f32(qmin - offset), f32(qmax - offset)
        zp_from_min = np.clip(qmin_u - lo32 / scale, qmin_u, qmax_u)
        zero_point = round_half_away_from_zero(zp_from_min).astype(np.int64) + offset
    scale = scale.astype(np.float64)
    if per_channel:
        return QuantParams(scale, zero_point, axis, bits, signed, narrow_range)
    return QuantParams(float(scale), int(zero_point), None, bits, signed, narrow_range)
