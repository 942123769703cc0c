"""First-order optimizers over ``Parameter`` lists: SGD with momentum and Adam."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .module import Parameter


class Optimizer:
    """Holds the parameters; ``step()`` updates their ``value`` from their ``grad``."""

    def __init__(self, parameters: Iterable[Parameter], lr: float) -> None:
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("parameters: the optimizer got no parameters")
        for i, param in enumerate(self.parameters):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"parameters: item {i} is a {type(param).__name__}, not a Parameter"
                )
        if not lr > 0.0:
            raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for param in self.parameters:
            param.grad.fill(0)

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step")


class SGD(Optimizer):
    """Stochastic gradient descent: ``g = grad + weight_decay · value``, ``v = momentum · v + g``,
    ``value −= lr · v`` (PyTorch's form; plain SGD when ``momentum`` is 0)."""

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(parameters, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), got {momentum!r}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay: expected a non-negative value, got {weight_decay!r}")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.velocity = [np.zeros_like(p.value) for p in self.parameters]

    def step(self) -> None:
        """One SGD update of every parameter."""
        for param, velocity in zip(self.parameters, self.velocity, strict=True):
            grad = param.grad + self.weight_decay * param.value
            velocity *= self.momentum
            velocity += grad
            param.value -= self.lr * velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): ``m = β1·m + (1 − β1)·g``, ``v = β2·v + (1 − β2)·g²``,
    ``value −= lr · m̂ / (√v̂ + eps)`` with the bias-corrected ``m̂ = m / (1 − β1^t)``,
    ``v̂ = v / (1 − β2^t)`` at step ``t``."""

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(parameters, lr)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas: expected two values in [0, 1), got {betas!r}")
        if not eps > 0.0:
            raise ValueError(f"eps: expected a positive value, got {eps!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.parameters]
        self.v = [np.zeros_like(p.value) for p in self.parameters]

    def step(self) -> None:
        """One Adam update of every parameter."""
        beta1, beta2 = self.betas
        self.t += 1
        correction1 = 1.0 - beta1**self.t
        correction2 = 1.0 - beta2**self.t
        for param, m, v in zip(self.parameters, self.m, self.v, strict=True):
            m *= beta1
            m += (1.0 - beta1) * param.grad
            v *= beta2
            v += (1.0 - beta2) * np.square(param.grad)
            param.value -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
