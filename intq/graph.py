"""The integer model: named tensors and ops with precomputed integer parameters (docs/graph.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .qparams import QuantParams


@dataclass(frozen=True, eq=False)
class Tensor:
    """A named tensor: integer ``dtype`` and ``shape``, its ``qparams`` (None only for raw
    integer tensors such as int32 shape plumbing), and ``data`` for constants."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    qparams: QuantParams | None = None
    data: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.data is not None:
            data = np.asarray(self.data)
            if data.dtype != self.dtype or data.shape != self.shape:
                raise ValueError(
                    f"tensor {self.name!r}: data is {data.dtype}{list(data.shape)}, but the tensor "
                    f"is declared {self.dtype}{list(self.shape)}"
                )
            data = np.ascontiguousarray(data)
            data.setflags(write=False)
            object.__setattr__(self, "data", data)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def is_constant(self) -> bool:
        """True for tensors whose values are stored in the model (weights, biases, tables)."""
        return self.data is not None


@dataclass(frozen=True, eq=False)
class Op:
    """One op in execution order: its ``type`` (docs/graph.md), the tensor names it reads and
    writes, and ``params``: the integer arguments of its kernel, computed when it was built."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))


@dataclass(eq=False)
class Graph:
    """Tensors by name, ops in execution order, and the names of the graph's inputs/outputs."""

    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]
