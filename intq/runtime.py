"""Executing an integer graph: each op's kernel with its stored integer params, nothing else.

No float is computed here: quantization parameters were turned into multipliers, shifts,
clamp bounds and tables when the graph was built or loaded (docs/graph.md).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .opdefs import OPDEFS
from .ops._common import check_quantized

if TYPE_CHECKING:
    from .graph import Graph, Op


def run_op(op: Op, arrays: Sequence[np.ndarray], out_dtype: np.dtype) -> np.ndarray:
    """Run one op on its input arrays (constants included, in ``op.inputs`` order) with its
    stored ``params``: the integer half of the matching ``intq.ops`` function."""
    return OPDEFS[op.type].run(list(arrays), op.attrs, op.params, np.dtype(out_dtype))


def _check_inputs(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph inputs as given, after checking names, dtypes, shapes (any batch size) and
    that every value lies on the input's grid; float arrays are refused."""
    if not isinstance(inputs, Mapping):
        raise TypeError(
            f"inputs: expected a dict of arrays by input name, got {type(inputs).__name__}"
        )
    missing = [n for n in graph.inputs if n not in inputs]
    extra = [n for n in inputs if n not in graph.inputs]
    if missing or extra:
        raise ValueError(
            f"inputs: the graph takes {graph.inputs}; "
            + ", ".join(
                p
                for p in (
                    f"missing {missing}" if missing else "",
                    f"unknown {extra}" if extra else "",
                )
                if p
            )
        )
    checked = {}
    for name in graph.inputs:
        tensor, x = graph.tensors[name], inputs[name]
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            raise TypeError(
                f"input {name!r}: got {x.dtype} values; the graph runs integers only: quantize "
                "them explicitly with graph.quantize_inputs({...})"
            )
        x = check_quantized(x, tensor.qparams, f"input {name!r}")
        if x.ndim != tensor.ndim or x.shape[1:] != tensor.shape[1:]:
            raise ValueError(
                f"input {name!r}: shape {x.shape} does not match {tensor.shape} "
                "(any batch size, the other dimensions as declared)"
            )
        checked[name] = x
    return checked


def run_graph(
    graph: Graph, inputs: Mapping[str, np.ndarray], *, trace: bool = False, progress: bool = False
) -> dict[str, np.ndarray]:
    """Run ``graph`` op by op in execution order (``Graph.run``). ``progress`` shows a tqdm bar
    on standard error when that is a terminal."""
    values = _check_inputs(graph, inputs)
    ops = graph.ops
    if progress:
        from tqdm import tqdm

        ops = tqdm(ops, desc="ops", unit="op", file=sys.stderr, disable=not sys.stderr.isatty())
    for op in ops:
        arrays = [
            graph.tensors[n].data if graph.tensors[n].is_constant else values[n] for n in op.inputs
        ]
        out = graph.tensors[op.outputs[0]]
        values[out.name] = run_op(op, arrays, out.dtype)
    if trace:
        return values
    return {name: values[name] for name in graph.outputs}


__all__ = ["run_graph", "run_op"]
