"""Float64 references of the activation ops: logistic, tanh, softmax, hard-swish.

The quantized results of ``intq.ops.activations`` are compared, after dequantization, with these
functions applied to the dequantized inputs. Plain NumPy float64, written for clarity.
"""

from __future__ import annotations

import numpy as np


def logistic(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(−x))``, evaluated without overflow for large ``|x|``."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(np.asarray(x, dtype=np.float64))


def softmax(x: np.ndarray, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    """``exp(β·(x − max)) / Σ exp(β·(x − max))`` along ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    z = beta * (x - np.max(x, axis=axis, keepdims=True))
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def hard_swish(x: np.ndarray) -> np.ndarray:
    """``x · relu6(x + 3) / 6`` (MobileNetV3's h-swish, TFLite HARD_SWISH)."""
    x = np.asarray(x, dtype=np.float64)
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
