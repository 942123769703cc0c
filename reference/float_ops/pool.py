"""Float64 references of the pooling ops, on real (dequantized) NHWC values.

What the quantized ops approximate: the average or maximum over each window clipped to the image
(padding never counts), then the fused activation as a float clamp. Clear, not fast; independent
of ``intq.kernels``.
"""

from __future__ import annotations

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


def _pool(x, reduce, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, out_h, out_w):
    x = np.asarray(x, dtype=np.float64)
    batches, in_h, in_w, depth = x.shape
    out = np.empty((batches, out_h, out_w, depth))
    for oy in range(out_h):
        y0 = oy * stride_h - pad_top
        ys = slice(max(y0, 0), min(y0 + filter_h, in_h))
        for ox in range(out_w):
            x0 = ox * stride_w - pad_left
            xs = slice(max(x0, 0), min(x0 + filter_w, in_w))
            out[:, oy, ox, :] = reduce(x[:, ys, xs, :], axis=(1, 2))
    return out


def avg_pool2d(
    x: np.ndarray,
    filter_h: int,
    filter_w: int,
    stride_h: int,
    stride_w: int,
    pad_top: int,
    pad_left: int,
    out_h: int,
    out_w: int,
    activation_name: str | None = None,
) -> np.ndarray:
    """Mean over each window clipped to the image (padding excluded from the count)."""
    y = _pool(x, np.mean, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, out_h, out_w)
    return activation(y, activation_name)


def max_pool2d(
    x: np.ndarray,
    filter_h: int,
    filter_w: int,
    stride_h: int,
    stride_w: int,
    pad_top: int,
    pad_left: int,
    out_h: int,
    out_w: int,
    activation_name: str | None = None,
) -> np.ndarray:
    """Maximum over each window clipped to the image."""
    y = _pool(x, np.max, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, out_h, out_w)
    return activation(y, activation_name)
