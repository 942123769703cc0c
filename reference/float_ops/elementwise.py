"""Float64 references of the elementwise ops, on real (dequantized) values.

What the quantized ops approximate: add, sub and mul with NumPy broadcasting followed by the
fused activation (a float clamp), the identity for requantize and concat (which only change the
quantization grid), pad with a real constant, and the arithmetic mean. Clear, not fast;
independent of ``intq.kernels``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ACTIVATIONS = {
    None: (-np.inf, np.inf),
    "relu": (0.0, np.inf),
    "relu6": (0.0, 6.0),
    "relu_n1_to_1": (-1.0, 1.0),
}


def activation(x: np.ndarray, name: str | None) -> np.ndarray:
    """The fused activation ``name`` (None, "relu", "relu6", "relu_n1_to_1") as a clamp."""
    lo, hi = _ACTIVATIONS[name]
    return np.clip(x, lo, hi)


def add(x1: np.ndarray, x2: np.ndarray, activation_name: str | None = None) -> np.ndarray:
    """``x1 + x2`` (broadcast), then the fused activation."""
    return activation(np.add(x1, x2, dtype=np.float64), activation_name)


def sub(x1: np.ndarray, x2: np.ndarray, activation_name: str | None = None) -> np.ndarray:
    """``x1 − x2`` (broadcast), then the fused activation."""
    return activation(np.subtract(x1, x2, dtype=np.float64), activation_name)


def mul(x1: np.ndarray, x2: np.ndarray, activation_name: str | None = None) -> np.ndarray:
    """``x1 · x2`` (broadcast), then the fused activation."""
    return activation(np.multiply(x1, x2, dtype=np.float64), activation_name)


def requantize(x: np.ndarray) -> np.ndarray:
    """The identity: requantization only moves a value onto another grid."""
    return np.asarray(x, dtype=np.float64).copy()


def concat(inputs: Sequence[np.ndarray], axis: int) -> np.ndarray:
    """``np.concatenate`` of the real values."""
    return np.concatenate([np.asarray(x, dtype=np.float64) for x in inputs], axis=axis)


def pad(x: np.ndarray, paddings: Sequence[Sequence[int]], value: float = 0.0) -> np.ndarray:
    """Constant padding with the real ``value`` (0.0 for PAD)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return x.copy()
    widths = np.asarray(paddings, dtype=np.int64).reshape(x.ndim, 2)
    return np.pad(x, widths, constant_values=value)


def mean(x: np.ndarray, axes: int | Sequence[int], keepdims: bool = False) -> np.ndarray:
    """Arithmetic mean over ``axes`` (duplicates ignored, negative axes from the end)."""
    x = np.asarray(x, dtype=np.float64)
    axes = [axes] if isinstance(axes, int) else list(axes)
    resolved = tuple(sorted({a % x.ndim for a in axes})) if x.ndim else ()
    return np.mean(x, axis=resolved, keepdims=keepdims)
