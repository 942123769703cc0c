"""Sliding windows over NHWC images (im2col) and their adjoint (col2im), shared by the
convolutions and pools of ``intq.nn``.

The geometry (strides, dilations, TFLite SAME/VALID/explicit padding, output size) comes from
``intq.ops._geometry.window_geometry``, the function the integer kernels use, so a float layer
and its converted integer op see exactly the same windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intq.ops._geometry import Padding, int_pair, window_geometry


@dataclass(frozen=True)
class Window:
    """Where a ``kernel_h × kernel_w`` window reads an NHWC input of ``in_h × in_w``: strides,
    dilations, zero padding (top, bottom, left, right) and the output size."""

    in_h: int
    in_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    top: int
    bottom: int
    left: int
    right: int
    out_h: int
    out_w: int


def window(
    x_shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    padding: Padding,
) -> Window:
    """The ``Window`` of a ``kernel_size`` filter over an NHWC input of ``x_shape``; a
    ``ValueError`` for a bad geometry or an empty output."""
    kernel_h, kernel_w = int_pair(kernel_size, "kernel_size")
    # (stride_h, stride_w, dilation_h, dilation_w, top, bottom, left, right, out_h, out_w)
    geometry = window_geometry(x_shape, (kernel_h, kernel_w), stride, dilation, padding)
    return Window(x_shape[1], x_shape[2], kernel_h, kernel_w, *geometry)


def extract_windows(x: np.ndarray, win: Window, fill: float = 0.0) -> np.ndarray:
    """A read-only view ``(N, out_h, out_w, kernel_h, kernel_w, C)``: element
    ``[n, oy, ox, ky, kx, c]`` is ``x[n, oy·stride_h + ky·dilation_h − top, ox·stride_w +
    kx·dilation_w − left, c]``, or ``fill`` where that lies in the padding."""
    pads = ((0, 0), (win.top, win.bottom), (win.left, win.right), (0, 0))
    if win.top or win.bottom or win.left or win.right:
        x = np.pad(x, pads, constant_values=fill)
    span_h = (win.kernel_h - 1) * win.dilation_h + 1
    span_w = (win.kernel_w - 1) * win.dilation_w + 1
    # (N, positions_h, positions_w, C, span_h, span_w); keep strided positions, dilated taps.
    view = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(1, 2))
    view = view[:, :: win.stride_h, :: win.stride_w, :, :: win.dilation_h, :: win.dilation_w]
    return view[:, : win.out_h, : win.out_w].transpose(0, 1, 2, 4, 5, 3)


def scatter_windows(grad_windows: np.ndarray, win: Window) -> np.ndarray:
    """The adjoint of ``extract_windows``: the gradient ``(N, in_h, in_w, C)`` of the input from
    the gradient ``(N, out_h, out_w, kernel_h, kernel_w, C)`` of its windows, summing where
    windows overlap and dropping the padding."""
    n, out_h, out_w, _, _, channels = grad_windows.shape
    padded_h = win.in_h + win.top + win.bottom
    padded_w = win.in_w + win.left + win.right
    grad = np.zeros((n, padded_h, padded_w, channels), dtype=grad_windows.dtype)
    # One strided slice per tap: within a tap the positions are distinct, so += is a scatter-add.
    for ky in range(win.kernel_h):
        y0 = ky * win.dilation_h
        rows = slice(y0, y0 + (out_h - 1) * win.stride_h + 1, win.stride_h)
        for kx in range(win.kernel_w):
            x0 = kx * win.dilation_w
            cols = slice(x0, x0 + (out_w - 1) * win.stride_w + 1, win.stride_w)
            grad[:, rows, cols, :] += grad_windows[:, :, :, ky, kx, :]
    return grad[:, win.top : win.top + win.in_h, win.left : win.left + win.in_w, :]
