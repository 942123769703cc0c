"""Float64 references of the convolutions, on real (dequantized) NHWC values.

What the quantized ops approximate: the input is padded with real zeros (the quantized kernels
skip those taps, which is the same), every filter tap is applied as a strided slice of the padded
input, the bias is added and the fused activation is a float clamp. Written independently of the
integer kernels (whole-array slices and ``einsum`` instead of per-element loops); clear, not
fast, and independent of ``intq.kernels``.
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

Pair = tuple[int, int]


def activation(x: np.ndarray, name: str | None) -> np.ndarray:
    """The fused activation ``name`` (None, "relu", "relu6", "relu_n1_to_1") as a clamp."""
    lo, hi = _ACTIVATIONS[name]
    return np.clip(x, lo, hi)


def _taps(
    x: np.ndarray,
    filter_hw: Pair,
    stride: Pair,
    dilation: Pair,
    padding: Sequence[Sequence[int]],
):
    """Yield ``(ky, kx, patch)``: ``patch[b, oy, ox, c]`` is the zero-padded input under tap
    ``(ky, kx)`` of output ``(oy, ox)``, for every tap of the filter."""
    (top, bottom), (left, right) = padding
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h = (xp.shape[1] - (filter_hw[0] - 1) * dilation[0] - 1) // stride[0] + 1
    out_w = (xp.shape[2] - (filter_hw[1] - 1) * dilation[1] - 1) // stride[1] + 1
    for ky in range(filter_hw[0]):
        y0 = ky * dilation[0]
        rows = slice(y0, y0 + (out_h - 1) * stride[0] + 1, stride[0])
        for kx in range(filter_hw[1]):
            x0 = kx * dilation[1]
            cols = slice(x0, x0 + (out_w - 1) * stride[1] + 1, stride[1])
            yield ky, kx, xp[:, rows, cols, :]


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    stride: Pair = (1, 1),
    dilation: Pair = (1, 1),
    padding: Sequence[Sequence[int]] = ((0, 0), (0, 0)),
    groups: int = 1,
    activation_name: str | None = None,
) -> np.ndarray:
    """Grouped 2-D cross-correlation: ``x`` NHWC, ``w`` OHWI ``(C_out, KH, KW, C_in / groups)``,
    ``padding`` ``((top, bottom), (left, right))`` of zeros; output channel ``o`` of group ``g``
    sees input channels ``g·C_in/groups ...``; ``+ bias``; activation clamp."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    c_out, kh, kw, cg = w.shape
    n = x.shape[0]
    # (G, C_out/G, KH, KW, C_g): filters of one group side by side.
    wg = w.reshape(groups, c_out // groups, kh, kw, cg)
    total = None
    for ky, kx, patch in _taps(x, (kh, kw), stride, dilation, padding):
        pg = patch.reshape(n, patch.shape[1], patch.shape[2], groups, cg)
        term = np.einsum("nhwgc,goc->nhwgo", pg, wg[:, :, ky, kx, :])
        total = term if total is None else total + term
    y = total.reshape(n, total.shape[1], total.shape[2], c_out)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activation(y, activation_name)


def depthwise_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    stride: Pair = (1, 1),
    dilation: Pair = (1, 1),
    padding: Sequence[Sequence[int]] = ((0, 0), (0, 0)),
    depth_multiplier: int = 1,
    activation_name: str | None = None,
) -> np.ndarray:
    """Depthwise 2-D cross-correlation: ``w`` 1HWO ``(1, KH, KW, C_in·depth_multiplier)``;
    output channel ``i·depth_multiplier + m`` filters input channel ``i`` with ``w[0, :, :,
    i·depth_multiplier + m]``; zero padding; ``+ bias``; activation clamp."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    _, kh, kw, c_out = w.shape
    c_in = x.shape[3]
    wd = w.reshape(kh, kw, c_in, depth_multiplier)
    total = None
    for ky, kx, patch in _taps(x, (kh, kw), stride, dilation, padding):
        term = patch[..., :, None] * wd[ky, kx]  # (N, H', W', C_in, depth_multiplier)
        total = term if total is None else total + term
    y = total.reshape(total.shape[0], total.shape[1], total.shape[2], c_out)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activation(y, activation_name)
