"""The module protocol of ``intq.nn``: ``Parameter``, ``Module``, ``Sequential``, ``Residual``.

A module computes ``y = forward(x)``, keeps what its backward needs, and ``backward(grad_y)``
returns ``grad_x`` and *adds* the gradients of its parameters into ``Parameter.grad``. Children
and parameters are found from the module's attributes, in the order they were assigned, so
replacing a child is ``setattr(parent, name, new_child)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class Parameter:
    """A trainable array: ``value`` (float ndarray), ``grad`` (same shape and dtype, accumulated
    by ``backward``, zeroed by ``Module.zero_grad``) and a ``name`` such as ``"weight"``."""

    def __init__(self, value: np.ndarray, name: str) -> None:
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"Parameter {name!r}: value must be a float array, got {value.dtype}")
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


class Module:
    """Base class: ``forward``/``backward`` pairs plus recursive bookkeeping.

    Subclasses call ``super().__init__()`` first, assign their ``Parameter`` and child ``Module``
    attributes, and implement ``forward`` (store what backward needs in ``self._cache``) and
    ``backward``. ``self.training`` is True after construction and toggled by ``train``/``eval``.
    """

    def __init__(self) -> None:
        self.training = True
        self._cache: tuple | None = None

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        """The output of the module for ``inputs``; caches what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_y: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """The gradient of the loss with respect to the last forward's input(s), given
        ``grad_y`` (with respect to its output); adds the parameter gradients to ``.grad``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return self.forward(*inputs)

    def _saved(self) -> tuple:
        """What the last ``forward`` cached; a ``RuntimeError`` if there was none."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")
        return self._cache

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(attribute name, module)`` of the direct children, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """The direct child modules, in assignment order."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` of this module (name ``prefix``, "" at the root) and all its
        descendants, depth first, e.g. ``("0.body.1", ReLU6())``."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def parameters(self) -> list[Parameter]:
        """Every ``Parameter`` of this module and its descendants, own ones first, in assignment
        order (stable across calls)."""
        params = []
        for value in vars(self).values():
            if isinstance(value, Parameter):
                params.append(value)
            elif isinstance(value, Module):
                params.extend(value.parameters())
        return params

    def train(self, mode: bool = True) -> Module:
        """Set ``training = mode`` on this module and all descendants; returns self."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: batch-norm layers use their moving statistics."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to zero."""
        for param in self.parameters():
            param.grad.fill(0)

    def __repr__(self) -> str:
        children = [
            f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self.named_children()
        ]
        if not children:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n" + "\n".join(children) + "\n)"


class Sequential(Module):
    """``modules`` applied in order; backward in reverse order. Children are named ``"0"``,
    ``"1"``, ...; ``seq[i]`` reads and ``seq[i] = m`` replaces one."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: item {i} is a {type(module).__name__}, not a Module")
            setattr(self, str(i), module)
        self._length = len(modules)

    def _index(self, index: int) -> str:
        if not -self._length <= index < self._length:
            raise IndexError(f"Sequential: index {index} out of range for {self._length} modules")
        return str(index % self._length)

    def __getitem__(self, index: int) -> Module:
        return getattr(self, self._index(index))

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: cannot store a {type(module).__name__}, not a Module")
        setattr(self, self._index(index), module)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Module]:
        for i in range(self._length):
            yield getattr(self, str(i))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` through every module in order."""
        for module in self:
            x = module(x)
        return x

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` through every module's backward, last module first."""
        for module in reversed(list(self)):
            grad_y = module.backward(grad_y)
        return grad_y


class Add(Module):
    """``a + b`` of two same-shape inputs; backward returns ``(grad_a, grad_b)``."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The elementwise sum ``a + b`` (shapes must be equal)."""
        if a.shape != b.shape:
            raise ValueError(f"Add: input shapes differ, {a.shape} and {b.shape}")
        self._cache = ()
        return a + b

    def backward(self, grad_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(grad_y, grad_y)``: the sum passes its gradient to both inputs."""
        self._saved()
        return grad_y, grad_y


class Residual(Module):
    """``add(body(x), shortcut(x))``, the shortcut being the identity when None. ``add`` is an
    ``Add`` child so that a fake-quant can later be placed after the sum."""

    def __init__(self, body: Module, shortcut: Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.add = Add()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``body(x) + shortcut(x)`` (or ``body(x) + x``)."""
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.add(self.body(x), skip)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """The sum of the gradients through the body and through the shortcut."""
        grad_body, grad_skip = self.add.backward(grad_y)
        if self.shortcut is not None:
            grad_skip = self.shortcut.backward(grad_skip)
        return self.body.backward(grad_body) + grad_skip
