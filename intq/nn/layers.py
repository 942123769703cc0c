"""The layers of ``intq.nn``, each with its forward and backward side by side.

Layouts are TFLite's, so conversion is direct: activations NHWC, ``Conv2d`` weights OHWI
``(out, kh, kw, in)``, ``DepthwiseConv2d`` weights 1HWO ``(1, kh, kw, channels·multiplier)``,
``Linear`` weights ``(out, in)``. Computation happens in the input's float dtype (parameters are
cast to it); the gradients are added to the parameters' ``.grad`` in the parameters' dtype.

``forward`` reads ``weight.value`` at call time and caches the array it used, so a wrapper may
substitute a transformed array (a fake-quantized weight) for the duration of the call; the next
``backward`` then adds the gradient with respect to that array to ``weight.grad``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from intq.ops._geometry import int_pair

from ._common import checked_grad, checked_input, checked_padding, positive_int, uniform_init
from .im2col import Window, extract_windows, scatter_windows, window
from .module import Module, Parameter


def _bias(channels: int, bias: bool, dtype: DTypeLike) -> Parameter | None:
    return Parameter(np.zeros(channels, dtype=dtype), "bias") if bias else None


class Conv2d(Module):
    """2-D cross-correlation, TFLite CONV_2D without the fused activation:
    ``y[n, oy, ox, o] = Σ_{ky, kx, i} x_pad[n, oy·sh + ky·dh, ox·sw + kx·dw, i] ·
    weight[o, ky, kx, i] + bias[o]``, computed as im2col + one matrix product.

    ``padding`` is ``"valid"``, ``"same"`` (TFLite SAME) or ``((top, bottom), (left, right))``;
    ``kernel_size``, ``stride``, ``dilation`` are stored as ``(h, w)`` pairs. Weights are drawn
    by ``init`` (``"he_uniform"`` or ``"glorot_uniform"``, fan_in = kh·kw·in) from ``rng``
    (``default_rng(0)`` when None); the bias starts at zero.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str | tuple[tuple[int, int], tuple[int, int]] = "valid",
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        *,
        init: str = "he_uniform",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.stride = int_pair(stride, "stride")
        self.padding = checked_padding(padding)
        self.dilation = int_pair(dilation, "dilation")
        kh, kw = self.kernel_size
        shape = (self.out_channels, kh, kw, self.in_channels)
        fan_in, fan_out = kh * kw * self.in_channels, kh * kw * self.out_channels
        self.weight = Parameter(uniform_init(rng, shape, fan_in, fan_out, init, dtype), "weight")
        self.bias = _bias(self.out_channels, bias, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` NHWC ``(N, H, W, in_channels)`` → ``(N, out_h, out_w, out_channels)``."""
        x = checked_input(x, 4, "Conv2d", self.in_channels)
        win = window(x.shape, self.kernel_size, self.stride, self.dilation, self.padding)
        # Rows (n, oy, ox), columns (ky, kx, i): the order of a flattened OHWI filter.
        cols = extract_windows(x, win).reshape(-1, self.weight.value[0].size)
        w = self.weight.value.astype(x.dtype, copy=False).reshape(self.out_channels, -1)
        y = cols @ w.T
        if self.bias is not None:
            y += self.bias.value.astype(x.dtype, copy=False)
        y = y.reshape(x.shape[0], win.out_h, win.out_w, self.out_channels)
        self._cache = (win, cols, w, y.shape)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """Weight/bias gradients from the cached columns; input gradient by col2im."""
        win, cols, w, y_shape = self._saved()
        g = checked_grad(grad_y, y_shape, "Conv2d").reshape(-1, self.out_channels)
        self.weight.grad += (g.T @ cols).reshape(self.weight.value.shape)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        grad_cols = (g @ w).reshape(*y_shape[:3], *self.kernel_size, self.in_channels)
        return scatter_windows(grad_cols, win)


class DepthwiseConv2d(Module):
    """Depthwise 2-D cross-correlation, TFLite DEPTHWISE_CONV_2D without the fused activation:
    output channel ``c = i·depth_multiplier + m`` filters input channel ``i`` with
    ``weight[0, :, :, c]`` (weight 1HWO ``(1, kh, kw, channels·depth_multiplier)``), plus
    ``bias[c]``. Geometry arguments as ``Conv2d``; fan_in = kh·kw, fan_out = kh·kw·multiplier.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int | tuple[int, int],
        depth_multiplier: int = 1,
        stride: int | tuple[int, int] = 1,
        padding: str | tuple[tuple[int, int], tuple[int, int]] = "valid",
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        *,
        init: str = "he_uniform",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")
        self.stride = int_pair(stride, "stride")
        self.padding = checked_padding(padding)
        self.dilation = int_pair(dilation, "dilation")
        kh, kw = self.kernel_size
        out_channels = self.channels * self.depth_multiplier
        fan_in, fan_out = kh * kw, kh * kw * self.depth_multiplier
        init_w = uniform_init(rng, (1, kh, kw, out_channels), fan_in, fan_out, init, dtype)
        self.weight = Parameter(init_w, "weight")
        self.bias = _bias(out_channels, bias, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` ``(N, H, W, channels)`` → ``(N, out_h, out_w, channels·depth_multiplier)``."""
        x = checked_input(x, 4, "DepthwiseConv2d", self.channels)
        win = window(x.shape, self.kernel_size, self.stride, self.dilation, self.padding)
        patches = extract_windows(x, win)  # (N, out_h, out_w, kh, kw, C)
        w = self.weight.value.astype(x.dtype, copy=False)
        w = w.reshape(*self.kernel_size, self.channels, self.depth_multiplier)
        y = np.einsum("nhwijc,ijcm->nhwcm", patches, w)
        y = y.reshape(x.shape[0], win.out_h, win.out_w, -1)
        if self.bias is not None:
            y += self.bias.value.astype(x.dtype, copy=False)
        self._cache = (win, patches, w, y.shape)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """Weight/bias gradients by einsum over the cached windows; input gradient by col2im."""
        win, patches, w, y_shape = self._saved()
        grad_y = checked_grad(grad_y, y_shape, "DepthwiseConv2d")
        g = grad_y.reshape(*y_shape[:3], self.channels, self.depth_multiplier)
        grad_w = np.einsum("nhwijc,nhwcm->ijcm", patches, g)
        self.weight.grad += grad_w.reshape(self.weight.value.shape)
        if self.bias is not None:
            self.bias.grad += grad_y.sum(axis=(0, 1, 2))
        return scatter_windows(np.einsum("nhwcm,ijcm->nhwijc", g, w), win)


class Linear(Module):
    """Fully connected, TFLite FULLY_CONNECTED: ``y = x @ weight.T + bias`` with ``x``
    ``(N, in_features)`` and weight ``(out_features, in_features)``. Weights drawn by ``init``
    (default ``"glorot_uniform"``) from ``rng`` (``default_rng(0)`` when None)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str = "glorot_uniform",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        shape = (self.out_features, self.in_features)
        init_w = uniform_init(rng, shape, self.in_features, self.out_features, init, dtype)
        self.weight = Parameter(init_w, "weight")
        self.bias = _bias(self.out_features, bias, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, in_features)`` → ``(N, out_features)``."""
        x = checked_input(x, 2, "Linear", self.in_features)
        w = self.weight.value.astype(x.dtype, copy=False)
        y = x @ w.T
        if self.bias is not None:
            y += self.bias.value.astype(x.dtype, copy=False)
        self._cache = (x, w, y.shape)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_x = grad_y @ weight``; ``weight.grad += grad_yᵀ @ x``."""
        x, w, y_shape = self._saved()
        grad_y = checked_grad(grad_y, y_shape, "Linear")
        self.weight.grad += grad_y.T @ x
        if self.bias is not None:
            self.bias.grad += grad_y.sum(axis=0)
        return grad_y @ w


class Flatten(Module):
    """``(N, ...)`` → ``(N, prod(...))`` in C order: for NHWC, channels fastest, exactly TFLite's
    RESHAPE of an NHWC tensor."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x.reshape(N, -1)``."""
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten: input must have a batch axis and more, got {x.shape}")
        self._cache = (x.shape,)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` reshaped back to the input's shape."""
        (x_shape,) = self._saved()
        y_shape = (x_shape[0], int(np.prod(x_shape[1:])))
        return checked_grad(grad_y, y_shape, "Flatten").reshape(x_shape)


class _Clamp(Module):
    """``clip(x, low, high)``; the gradient passes where ``low < x < high`` (0 at the bounds)."""

    low = 0.0
    high = np.inf

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``clip(x, low, high)`` elementwise."""
        x = np.asarray(x)
        self._cache = ((x > self.low) & (x < self.high),)
        return np.clip(x, self.low, self.high)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` where the input was strictly inside ``(low, high)``, else 0."""
        (inside,) = self._saved()
        return checked_grad(grad_y, inside.shape, type(self).__name__) * inside


class ReLU(_Clamp):
    """``max(x, 0)``; gradient 1 where ``x > 0``."""


class ReLU6(_Clamp):
    """``min(max(x, 0), 6)``; gradient 1 where ``0 < x < 6``."""

    high = 6.0


class _Pool2d(Module):
    """Shared constructor and geometry of the 2-D pools (TFLite pools: no dilation)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: str | tuple[tuple[int, int], tuple[int, int]] = "valid",
    ) -> None:
        super().__init__()
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else int_pair(stride, "stride")
        self.padding = checked_padding(padding)

    def _window(self, x: np.ndarray) -> tuple[Window, np.ndarray]:
        """The window of ``x`` and ``count`` ``(1, out_h, out_w, 1)``, the number of input
        elements (not padding) in each window; a ``ValueError`` if one has none."""
        name = type(self).__name__
        x = checked_input(x, 4, name, None)
        win = window(x.shape, self.kernel_size, self.stride, (1, 1), self.padding)
        ones = np.ones((1, x.shape[1], x.shape[2], 1), dtype=x.dtype)
        count = extract_windows(ones, win).sum(axis=(3, 4))
        if not count.all():
            raise ValueError(f"{name}: padding {self.padding!r} leaves a window with no input")
        return win, count


class MaxPool2d(_Pool2d):
    """Maximum over each window, padding excluded (TFLite MAX_POOL_2D); ``stride`` defaults to
    ``kernel_size``. The gradient goes to the first maximal element of each window."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C)`` → ``(N, out_h, out_w, C)``."""
        win, _ = self._window(x)
        n, channels = x.shape[0], x.shape[3]
        patches = extract_windows(x, win, fill=-np.inf)
        patches = patches.reshape(n, win.out_h, win.out_w, -1, channels)
        argmax = patches.argmax(axis=3)[:, :, :, None, :]
        self._cache = (win, argmax, patches.shape)
        return np.take_along_axis(patches, argmax, axis=3)[:, :, :, 0, :]

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` routed to each window's argmax, then scattered to the input."""
        win, argmax, patches_shape = self._saved()
        n, out_h, out_w, _, channels = patches_shape
        grad_y = checked_grad(grad_y, (n, out_h, out_w, channels), "MaxPool2d")
        grad_patches = np.zeros(patches_shape, dtype=grad_y.dtype)
        np.put_along_axis(grad_patches, argmax, grad_y[:, :, :, None, :], axis=3)
        grad_patches = grad_patches.reshape(n, out_h, out_w, *self.kernel_size, channels)
        return scatter_windows(grad_patches, win)


class AvgPool2d(_Pool2d):
    """Mean over each window, padded positions excluded from the count (TFLite
    AVERAGE_POOL_2D); ``stride`` defaults to ``kernel_size``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C)`` → ``(N, out_h, out_w, C)``."""
        win, count = self._window(x)
        y = extract_windows(x, win).sum(axis=(3, 4)) / count
        self._cache = (win, count, y.shape)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y / count`` spread over every input element of each window."""
        win, count, y_shape = self._saved()
        share = checked_grad(grad_y, y_shape, "AvgPool2d") / count
        shape = (*y_shape[:3], *self.kernel_size, y_shape[3])
        return scatter_windows(np.broadcast_to(share[:, :, :, None, None, :], shape), win)


class GlobalAvgPool2d(Module):
    """Mean over the spatial axes: NHWC ``(N, H, W, C)`` → ``(N, C)`` (TFLite MEAN over axes
    1 and 2 without keep_dims)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x.mean(axis=(1, 2))``."""
        x = checked_input(x, 4, "GlobalAvgPool2d", None)
        self._cache = (x.shape,)
        return x.mean(axis=(1, 2))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y / (H·W)`` at every spatial position."""
        (x_shape,) = self._saved()
        n, h, w, c = x_shape
        share = checked_grad(grad_y, (n, c), "GlobalAvgPool2d") / (h * w)
        return np.broadcast_to(share[:, None, None, :], x_shape).copy()
