"""Building an integer graph by hand, with the arguments of ``intq.ops`` (docs/graph.md).

Each method adds one op: its constants become named tensors, its integer params are derived
once (``intq.opdefs``), its output tensor is inferred, and the output's name is returned so the
next op can read it::

    b = GraphBuilder()
    x = b.input("x", (1, 8, 8, 3), QuantParams(0.02, -3))
    y = b.conv2d(x, w, bias, w_qparams=wq, out_qparams=yq, padding="same", activation="relu6")
    b.output(b.softmax(b.fully_connected(b.reshape(b.mean(y, [1, 2], out_qparams=mq), [-1]),
                                         w2, b2, w_qparams=w2q, out_qparams=lq)))
    graph = b.build()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .graph import Graph, Op, Tensor
from .opdefs import get_opdef, jsonable
from .ops._common import Activation, scale32
from .ops._geometry import IntPair, Padding
from .profiles import get_profile
from .qparams import QuantParams


class GraphBuilder:
    """Accumulates tensors and ops in execution order; ``build()`` returns the validated
    ``Graph``. ``profile`` fixes the arithmetic every op's params are derived for."""

    def __init__(self, profile: str = "tflite") -> None:
        get_profile(profile)
        self.profile = profile
        self._tensors: dict[str, Tensor] = {}
        self._ops: list[Op] = []
        self._inputs: list[str] = []
        self._outputs: list[str] = []

    # ---- tensors --------------------------------------------------------------------------

    def _add_tensor(self, tensor: Tensor) -> str:
        if tensor.name in self._tensors:
            raise ValueError(f"name: a tensor named {tensor.name!r} already exists")
        self._tensors[tensor.name] = tensor
        return tensor.name

    def input(self, name: str, shape: Sequence[int], qparams: QuantParams) -> str:
        """A graph input of ``shape`` (the first dimension is the batch; any batch size runs)
        quantized with per-tensor ``qparams``."""
        if not isinstance(qparams, QuantParams) or qparams.per_channel:
            raise ValueError(f"qparams: input {name!r} needs per-tensor QuantParams")
        if len(shape) < 1:
            raise ValueError(f"shape: input {name!r} needs a batch dimension")
        self._add_tensor(Tensor(name, qparams.dtype, tuple(shape), qparams))
        self._inputs.append(name)
        return name

    def constant(self, name: str, data: np.ndarray, qparams: QuantParams | None = None) -> str:
        """A constant tensor (weights, bias) holding a copy of ``data``."""
        if not isinstance(data, np.ndarray):
            raise TypeError(f"{name}: expected a NumPy integer array, got {type(data).__name__}")
        return self._add_tensor(Tensor(name, data.dtype, data.shape, qparams, data.copy()))

    def tensor(self, name: str) -> Tensor:
        """The tensor ``name`` added so far."""
        if name not in self._tensors:
            raise ValueError(f"name: unknown tensor {name!r}")
        return self._tensors[name]

    def qparams(self, name: str) -> QuantParams | None:
        """The quantization parameters of tensor ``name``."""
        return self.tensor(name).qparams

    @property
    def ops(self) -> tuple[Op, ...]:
        """The ops added so far, in execution order."""
        return tuple(self._ops)

    def output(self, *names: str) -> None:
        """Mark tensors as graph outputs (in this order)."""
        for name in names:
            if name not in self._tensors:
                raise ValueError(f"output: unknown tensor {name!r}")
            self._outputs.append(name)

    # ---- ops ------------------------------------------------------------------------------

    def add_op(
        self,
        op_type: str,
        inputs: Sequence[str],
        attrs: dict[str, Any] | None = None,
        *,
        out_qparams: QuantParams | None = None,
        name: str | None = None,
    ) -> str:
        """Add an op of ``op_type`` reading ``inputs``: derive its params under the builder's
        profile, infer its output tensor (named ``name``, by default ``"<type>_<index>"``) and
        return that name. Errors name the op and the argument."""
        opdef = get_opdef(op_type)
        name = f"{op_type}_{len(self._ops)}" if name is None else name
        attrs = jsonable(attrs or {})
        try:
            tensors = [self._tensors[n] for n in inputs]
        except KeyError as err:
            raise ValueError(f"{name}: unknown input tensor {err.args[0]!r}") from None
        try:
            params = opdef.derive(tensors, out_qparams, attrs, self.profile)
            shape, qparams = opdef.output(tensors, attrs, params, out_qparams)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name} ({op_type}): {err}") from None
        self._add_tensor(Tensor(name, qparams.dtype, shape, qparams))
        self._ops.append(Op(op_type, name, tuple(inputs), (name,), attrs, params))
        return name

    def _layer(
        self, op_type: str, x: str, w: np.ndarray, bias: np.ndarray | None,
        w_qparams: QuantParams, bias_qparams: QuantParams | None, name: str | None,
        out_qparams: QuantParams, attrs: dict[str, Any],
    ) -> str:  # fmt: skip
        name = f"{op_type}_{len(self._ops)}" if name is None else name
        inputs = [x, self.constant(f"{name}/weights", w, w_qparams)]
        if bias is not None:
            inputs.append(self.constant(f"{name}/bias", bias, bias_qparams))
        return self.add_op(op_type, inputs, attrs, out_qparams=out_qparams, name=name)

    def fully_connected(
        self, x: str, w: np.ndarray, bias: np.ndarray | None = None, *,
        w_qparams: QuantParams, out_qparams: QuantParams, activation: Activation = None,
        bias_qparams: QuantParams | None = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """FULLY_CONNECTED as ``intq.ops.linear``: ``w`` (N, K), ``bias`` (N,) or None."""
        return self._layer(
            "fully_connected", x, w, bias, w_qparams, bias_qparams, name, out_qparams,
            {"activation": activation},
        )  # fmt: skip

    def conv2d(
        self, x: str, w: np.ndarray, bias: np.ndarray | None = None, *,
        w_qparams: QuantParams, out_qparams: QuantParams, stride: IntPair = 1,
        padding: Padding = "valid", dilation: IntPair = 1, groups: int = 1,
        activation: Activation = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """CONV_2D as ``intq.ops.conv2d``: ``w`` OHWI."""
        attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
                 "activation": activation}  # fmt: skip
        return self._layer("conv2d", x, w, bias, w_qparams, None, name, out_qparams, attrs)

    def depthwise_conv2d(
        self, x: str, w: np.ndarray, bias: np.ndarray | None = None, *,
        w_qparams: QuantParams, out_qparams: QuantParams, stride: IntPair = 1,
        padding: Padding = "valid", dilation: IntPair = 1, depth_multiplier: int = 1,
        activation: Activation = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """DEPTHWISE_CONV_2D as ``intq.ops.depthwise_conv2d``: ``w`` 1HWO."""
        attrs = {"stride": stride, "padding": padding, "dilation": dilation,
                 "depth_multiplier": depth_multiplier, "activation": activation}  # fmt: skip
        return self._layer(
            "depthwise_conv2d", x, w, bias, w_qparams, None, name, out_qparams, attrs
        )

    def avg_pool2d(
        self, x: str, *, filter_size: IntPair, stride: IntPair | None = None,
        padding: Padding = "valid", activation: Activation = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """AVERAGE_POOL_2D as ``intq.ops.avg_pool2d`` (the output keeps the input's qparams)."""
        attrs = {"filter_size": filter_size, "stride": stride, "padding": padding,
                 "activation": activation}  # fmt: skip
        return self.add_op("avg_pool2d", [x], attrs, name=name)

    def max_pool2d(
        self, x: str, *, filter_size: IntPair, stride: IntPair | None = None,
        padding: Padding = "valid", activation: Activation = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """MAX_POOL_2D as ``intq.ops.max_pool2d`` (the output keeps the input's qparams)."""
        attrs = {"filter_size": filter_size, "stride": stride, "padding": padding,
                 "activation": activation}  # fmt: skip
        return self.add_op("max_pool2d", [x], attrs, name=name)

    def add(self, x1: str, x2: str, *, out_qparams: QuantParams, activation: Activation = None,
            name: str | None = None) -> str:  # fmt: skip
        """ADD as ``intq.ops.add`` (NumPy broadcasting)."""
        return self.add_op("add", [x1, x2], {"activation": activation},
                           out_qparams=out_qparams, name=name)  # fmt: skip

    def sub(self, x1: str, x2: str, *, out_qparams: QuantParams, activation: Activation = None,
            name: str | None = None) -> str:  # fmt: skip
        """SUB as ``intq.ops.sub``."""
        return self.add_op("sub", [x1, x2], {"activation": activation},
                           out_qparams=out_qparams, name=name)  # fmt: skip

    def mul(self, x1: str, x2: str, *, out_qparams: QuantParams, activation: Activation = None,
            name: str | None = None) -> str:  # fmt: skip
        """MUL as ``intq.ops.mul``."""
        return self.add_op("mul", [x1, x2], {"activation": activation},
                           out_qparams=out_qparams, name=name)  # fmt: skip

    def requantize(self, x: str, *, out_qparams: QuantParams, name: str | None = None) -> str:
        """QUANTIZE (integer → integer) as ``intq.ops.requantize``."""
        return self.add_op("requantize", [x], out_qparams=out_qparams, name=name)

    def concat(self, xs: Sequence[str], axis: int, *, out_qparams: QuantParams,
               name: str | None = None) -> str:  # fmt: skip
        """CONCATENATION as ``intq.ops.concat``: an input quantized differently from the output
        first goes through a ``requantize`` op (named ``"<name>/requantize<i>"``), as TFLite
        converters insert; the concat itself copies."""
        name = f"concat_{len(self._ops)}" if name is None else name
        parts = []
        for i, x in enumerate(xs):
            q = self._tensors[x].qparams if x in self._tensors else None
            same = (
                q is not None
                and q.dtype == out_qparams.dtype
                and scale32(q) == scale32(out_qparams)
                and q.zero_point == out_qparams.zero_point
            )
            parts.append(
                x if same or q is None
                else self.requantize(x, out_qparams=out_qparams, name=f"{name}/requantize{i}")
            )  # fmt: skip
        return self.add_op("concat", parts, {"axis": axis}, out_qparams=out_qparams, name=name)

    def pad(self, x: str, paddings: Sequence[Sequence[int]], *, constant: int | None = None,
            name: str | None = None) -> str:  # fmt: skip
        """PAD / PADV2 as ``intq.ops.pad``."""
        paddings = np.asarray(paddings).tolist()
        return self.add_op("pad", [x], {"paddings": paddings, "constant": constant}, name=name)

    def mean(self, x: str, axes: int | Sequence[int], *, out_qparams: QuantParams,
             keepdims: bool = False, name: str | None = None) -> str:  # fmt: skip
        """MEAN as ``intq.ops.mean`` (not over the batch axis 0)."""
        attrs = {"axes": axes if isinstance(axes, int) else list(axes), "keepdims": keepdims}
        return self.add_op("mean", [x], attrs, out_qparams=out_qparams, name=name)

    def reshape(self, x: str, shape: Sequence[int], *, name: str | None = None) -> str:
        """RESHAPE of every batch element to ``shape`` (one entry may be −1)."""
        return self.add_op("reshape", [x], {"shape": list(shape)}, name=name)

    def logistic(self, x: str, *, method: str | None = None, name: str | None = None) -> str:
        """LOGISTIC as ``intq.ops.logistic`` (table or fixed point; the profile's by default)."""
        return self.add_op("logistic", [x], {"method": method}, name=name)

    def tanh(self, x: str, *, method: str | None = None, name: str | None = None) -> str:
        """TANH as ``intq.ops.tanh``."""
        return self.add_op("tanh", [x], {"method": method}, name=name)

    def softmax(self, x: str, *, beta: float = 1.0, out_qparams: QuantParams | None = None,
                name: str | None = None) -> str:  # fmt: skip
        """SOFTMAX over the last axis as ``intq.ops.softmax``."""
        return self.add_op("softmax", [x], {"beta": beta}, out_qparams=out_qparams, name=name)

    def hard_swish(self, x: str, *, out_qparams: QuantParams, name: str | None = None) -> str:
        """HARD_SWISH as ``intq.ops.hard_swish``."""
        return self.add_op("hard_swish", [x], out_qparams=out_qparams, name=name)

    def build(self) -> Graph:
        """The validated graph (outputs default to the last op's output)."""
        outputs = self._outputs or ([self._ops[-1].outputs[0]] if self._ops else [])
        graph = Graph(dict(self._tensors), list(self._ops), list(self._inputs), outputs,
                      self.profile)  # fmt: skip
        graph.validate()
        return graph


__all__ = ["GraphBuilder"]
