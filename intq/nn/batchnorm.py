"""Batch normalisation over the channels of NHWC activations, with TF/Keras conventions."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ._common import checked_grad, checked_input, positive_int
from .module import Module, Parameter


class BatchNorm2d(Module):
    """``y = gamma · (x − mean) / √(variance + eps) + beta`` per channel (last axis of NHWC).

    Training mode normalises with the batch statistics over (N, H, W) — mean and *biased*
    variance (divided by N·H·W) — and updates ``moving = momentum · moving + (1 − momentum) ·
    batch`` for both; like Keras (``ops.moments``), ``moving_variance`` accumulates the biased
    batch variance. Eval mode normalises with ``moving_mean`` and ``moving_variance``. Backward in
    training mode is the full gradient through the batch statistics; in eval mode the statistics
    are constants. ``gamma`` starts at 1, ``beta`` at 0, the moving mean at 0, the moving
    variance at 1 (Keras's defaults).
    """

    def __init__(
        self,
        channels: int,
        momentum: float = 0.99,
        eps: float = 1e-3,
        *,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.channels = positive_int(channels, "channels")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1], got {momentum!r}")
        if not eps > 0.0:
            raise ValueError(f"eps: expected a positive value, got {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.gamma = Parameter(np.ones(self.channels, dtype=dtype), "gamma")
        self.beta = Parameter(np.zeros(self.channels, dtype=dtype), "beta")
        self.moving_mean = np.zeros(self.channels, dtype=dtype)
        self.moving_variance = np.ones(self.channels, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``x`` ``(N, H, W, channels)``; in training mode also update the moving
        statistics."""
        x = checked_input(x, 4, "BatchNorm2d", self.channels)
        if self.training:
            mean = x.mean(axis=(0, 1, 2))
            variance = np.square(x - mean).mean(axis=(0, 1, 2))
            self.moving_mean *= self.momentum
            self.moving_mean += (1.0 - self.momentum) * mean
            self.moving_variance *= self.momentum
            self.moving_variance += (1.0 - self.momentum) * variance
        else:
            mean = self.moving_mean.astype(x.dtype, copy=False)
            variance = self.moving_variance.astype(x.dtype, copy=False)
        inv_std = 1.0 / np.sqrt(variance + x.dtype.type(self.eps))
        x_hat = (x - mean) * inv_std
        gamma = self.gamma.value.astype(x.dtype, copy=False)
        self._cache = (self.training, x_hat, inv_std, gamma)
        return gamma * x_hat + self.beta.value.astype(x.dtype, copy=False)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_x``; ``gamma.grad += Σ grad_y · x_hat``, ``beta.grad += Σ grad_y``."""
        batch_statistics, x_hat, inv_std, gamma = self._saved()
        grad_y = checked_grad(grad_y, x_hat.shape, "BatchNorm2d")
        self.gamma.grad += (grad_y * x_hat).sum(axis=(0, 1, 2))
        self.beta.grad += grad_y.sum(axis=(0, 1, 2))
        grad_x_hat = grad_y * gamma
        if not batch_statistics:
            return grad_x_hat * inv_std
        # x_hat depends on every element of the batch through the mean and the variance.
        mean_grad = grad_x_hat.mean(axis=(0, 1, 2))
        mean_grad_x_hat = (grad_x_hat * x_hat).mean(axis=(0, 1, 2))
        return inv_std * (grad_x_hat - mean_grad - x_hat * mean_grad_x_hat)
