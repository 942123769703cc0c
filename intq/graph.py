"""The integer model: named tensors and ops with precomputed integer parameters (docs/graph.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .profiles import get_profile
from .qparams import QuantParams
from .quantize import dequantize, quantize


class GraphError(ValueError):
    """An inconsistent graph. ``op`` is the index of the offending op (None for graph-level
    problems) and ``field`` what is wrong in it: ``"inputs"``, ``"outputs"``, ``"type"``,
    ``"attrs"``, ``"params/<name>"``, ``"tensors/<name>"``..."""

    def __init__(self, message: str, *, op: int | None = None, field: str | None = None):
        super().__init__(message)
        self.op = op
        self.field = field


@dataclass(frozen=True, eq=False)
class Tensor:
    """A named tensor: integer ``dtype`` and ``shape``, its ``qparams`` (None only for raw
    integer tensors such as a bias without its implicit scale), and ``data`` for constants (a
    copy of the array given; treat it as read-only)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    qparams: QuantParams | None = None
    data: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.dtype.kind not in "iu":
            raise ValueError(
                f"tensor {self.name!r}: dtype must be an integer type, got {self.dtype}"
            )
        if self.qparams is not None and self.qparams.dtype != self.dtype:
            raise ValueError(
                f"tensor {self.name!r}: dtype {self.dtype} does not match its quantization "
                f"parameters ({self.qparams.dtype})"
            )
        if self.data is not None:
            data = np.asarray(self.data)
            if data.dtype != self.dtype or data.shape != self.shape:
                raise ValueError(
                    f"tensor {self.name!r}: data is {data.dtype}{list(data.shape)}, but the tensor "
                    f"is declared {self.dtype}{list(self.shape)}"
                )
            # A private C-contiguous copy, left writeable: the kernels are compiled for writeable
            # arrays only (a read-only one would make Numba compile an unlisted signature).
            object.__setattr__(self, "data", np.array(data, order="C", copy=True))

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def is_constant(self) -> bool:
        """True for tensors whose values are stored in the model (weights, biases)."""
        return self.data is not None


@dataclass(frozen=True, eq=False)
class Op:
    """One op in execution order: its ``type`` (``intq.opdefs.OPDEFS``), the tensor names it
    reads and writes, its ``attrs`` (the arguments of the ``intq.ops`` function, JSON values)
    and ``params``: the integer parameters of its kernel, derived when it was built."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)
    params: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))


def params_difference(a: Any, b: Any) -> str | None:
    """The name of the first field in which two params dataclasses differ (``"class"`` if their
    types differ), or None when they are equal: arrays by dtype, shape and values; nested
    dataclasses field by field; ``QuantParams`` by ``==``; everything else by type and ``==``."""
    if type(a) is not type(b):
        return "class"
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            same = (
                isinstance(x, np.ndarray)
                and isinstance(y, np.ndarray)
                and x.dtype == y.dtype
                and np.array_equal(x, y)
            )
        elif dataclasses.is_dataclass(x) and not isinstance(x, QuantParams):
            same = params_difference(x, y) is None
        else:
            same = type(x) is type(y) and x == y
        if not same:
            return f.name
    return None


@dataclass(eq=False)
class Graph:
    """Tensors by name, ops in execution order, the names of the graph's inputs and outputs, and
    the profile whose arithmetic its op params encode."""

    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]
    profile: str = "tflite"

    # ---- structure ----------------------------------------------------------------------

    def producers(self) -> dict[str, str]:
        """Tensor name → name of the op that writes it."""
        return {out: op.name for op in self.ops for out in op.outputs}

    def validate(self) -> None:
        """Check the whole graph (docs/graph.md) and raise ``GraphError`` naming the first
        problem: names, execution order, input counts, shapes and dtypes, and that every op's
        params equal what its tensors' quantization gives under ``profile``."""
        from .opdefs import OPDEFS

        get_profile(self.profile)
        for name, tensor in self.tensors.items():
            if not isinstance(tensor, Tensor) or tensor.name != name:
                raise GraphError(f"tensors[{name!r}]: holds a tensor named {tensor.name!r}")
        defined: set[str] = set()
        for name in self.inputs:
            tensor = self._tensor(name, "inputs")
            if tensor.is_constant or tensor.qparams is None:
                raise GraphError(f"inputs: graph input {name!r} must be a quantized non-constant")
            defined.add(name)
        defined.update(n for n, t in self.tensors.items() if t.is_constant)
        for index, op in enumerate(self.ops):
            where = f"op {index} {op.name!r} ({op.type})"
            opdef = OPDEFS.get(op.type)
            if opdef is None:
                raise GraphError(f"{where}: unknown op type", op=index, field="type")
            count = len(op.inputs)
            if count < opdef.min_inputs or (opdef.max_inputs and count > opdef.max_inputs):
                raise GraphError(f"{where}: {count} inputs is wrong", op=index, field="inputs")
            for name in op.inputs:
                self._tensor(name, "inputs", index)
                if name not in defined:
                    raise GraphError(
                        f"{where}: reads {name!r}, which is not a graph input, a constant or "
                        "the output of an earlier op",
                        op=index,
                        field="inputs",
                    )
            if len(op.outputs) != 1:
                raise GraphError(
                    f"{where}: must write exactly one tensor", op=index, field="outputs"
                )
            out = self._tensor(op.outputs[0], "outputs", index)
            if out.name in defined:
                raise GraphError(
                    f"{where}: writes {out.name!r}, which is already defined",
                    op=index,
                    field="outputs",
                )
            self._check_op(index, op, out)
            defined.add(out.name)
        for name in self.outputs:
            self._tensor(name, "outputs")
            if name not in defined:
                raise GraphError(f"outputs: {name!r} is not computed by the graph")

    def _tensor(self, name: str, field_name: str, op: int | None = None) -> Tensor:
        if not isinstance(name, str) or name not in self.tensors:
            where = f"op {op} {self.ops[op].name!r}: " if op is not None else ""
            raise GraphError(
                f"{where}{field_name}: unknown tensor {name!r}", op=op, field=field_name
            )
        return self.tensors[name]

    def _check_op(self, index: int, op: Op, out: Tensor) -> None:
        """Re-derive the op's params and output, and compare them with what is stored."""
        from .opdefs import OPDEFS

        opdef = OPDEFS[op.type]
        where = f"op {index} {op.name!r} ({op.type})"
        inputs = [self.tensors[name] for name in op.inputs]
        for i, t in enumerate(inputs):
            if t.qparams is None and not (t.is_constant and i == 2):
                raise GraphError(
                    f"{where}: input {t.name!r} has no quantization parameters",
                    op=index,
                    field="inputs",
                )
        if not isinstance(op.attrs, dict):
            raise GraphError(f"{where}: attrs must be a dict", op=index, field="attrs")
        if not isinstance(op.params, opdef.params_types):
            raise GraphError(
                f"{where}: params must be {' or '.join(c.__name__ for c in opdef.params_types)}, "
                f"got {type(op.params).__name__}",
                op=index,
                field="params",
            )
        try:
            params = opdef.derive(inputs, out.qparams, op.attrs, self.profile)
            shape, qparams = opdef.output(inputs, op.attrs, params, out.qparams)
        except (TypeError, ValueError) as err:
            raise GraphError(f"{where}: {err}", op=index, field="attrs") from None
        differs = params_difference(op.params, params)
        if differs is not None:
            raise GraphError(
                f"{where}: params.{differs} differs from what the tensors' quantization "
                f"parameters give under profile {self.profile!r}",
                op=index,
                field=f"params/{differs}",
            )
        if out.shape != tuple(shape) or out.dtype != qparams.dtype or out.qparams != qparams:
            raise GraphError(
                f"{where}: output {out.name!r} is declared {out.dtype}{list(out.shape)} "
                f"{out.qparams!r}, the op computes {qparams.dtype}{list(shape)} {qparams!r}",
                op=index,
                field=f"tensors/{out.name}",
            )

    def with_profile(self, profile: str) -> Graph:
        """The same graph with every op's params derived under ``profile`` (float work)."""
        from .opdefs import OPDEFS

        get_profile(profile)
        ops = []
        for op in self.ops:
            inputs = [self.tensors[name] for name in op.inputs]
            out_qparams = self.tensors[op.outputs[0]].qparams
            params = OPDEFS[op.type].derive(inputs, out_qparams, op.attrs, profile)
            ops.append(dataclasses.replace(op, params=params))
        return Graph(dict(self.tensors), ops, list(self.inputs), list(self.outputs), profile)

    # ---- reading it -----------------------------------------------------------------------

    def macs(self) -> dict[str, int]:
        """Multiply-accumulates per op (at the stored batch size), by op name."""
        from .opdefs import OPDEFS

        return {
            op.name: OPDEFS[op.type].macs(
                [self.tensors[n] for n in op.inputs], self.tensors[op.outputs[0]].shape
            )
            for op in self.ops
        }

    def summary(self) -> str:
        """A table of the ops in execution order: type, output shape and dtype, output scale
        and zero point, MACs and the bytes of the op's constants; totals at the end."""
        macs = self.macs()
        rows = [("#", "op", "type", "output", "scale", "zero_point", "MACs", "param bytes")]
        total_bytes = 0
        for i, op in enumerate(self.ops):
            out = self.tensors[op.outputs[0]]
            nbytes = sum(
                self.tensors[n].data.nbytes for n in op.inputs if self.tensors[n].data is not None
            )
            total_bytes += nbytes
            q = out.qparams
            rows.append((
                str(i), op.name, op.type, f"{out.dtype}{list(out.shape)}",
                "-" if q is None else f"{float(np.float32(q.scale)):.6g}",
                "-" if q is None else str(q.zero_point), f"{macs[op.name]:,}", f"{nbytes:,}",
            ))  # fmt: skip
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        ins = ", ".join(
            f"{n} {self.tensors[n].dtype}{list(self.tensors[n].shape)}" for n in self.inputs
        )
        lines[1:1] = ["-" * len(lines[0])]
        lines.insert(
            0, f"inputs: {ins}; outputs: {', '.join(self.outputs)}; profile {self.profile}"
        )
        lines.append(
            f"{len(self.ops)} ops, {sum(macs.values()):,} MACs, {total_bytes:,} bytes of constants"
        )
        return "\n".join(lines)

    # ---- running it -----------------------------------------------------------------------

    def run(
        self, inputs: Mapping[str, np.ndarray], *, trace: bool = False, progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Run the graph with integer kernels only (``intq.runtime.run_graph``): integer input
        arrays by name (any batch size) → the output arrays by name, or with ``trace=True``
        every non-constant tensor (inputs, intermediates, outputs) in execution order."""
        from .runtime import run_graph

        return run_graph(self, inputs, trace=trace, progress=progress)

    def quantize_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The explicit float → integer step: ``intq.quantize`` of each real-valued input with
        its tensor's qparams and the profile's ``quantize_rounding`` (a float step, outside
        the integer-only run)."""
        rounding = get_profile(self.profile).quantize_rounding
        return {
            name: quantize(np.asarray(x), self._tensor(name, "inputs").qparams, rounding=rounding)
            for name, x in inputs.items()
        }

    def dequantize_outputs(self, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Real values of integer tensors: ``intq.dequantize`` with each tensor's qparams."""
        return {
            name: dequantize(q, self._tensor(name, "outputs").qparams)
            for name, q in outputs.items()
        }


__all__ = ["Graph", "GraphError", "Op", "Tensor", "params_difference"]
