"""What the graph knows about each op type: the one place that derives its integer parameters,
infers its output, counts its multiply-accumulates and runs its kernel (docs/graph.md).

``derive`` is the float half, run once when an op is built or a model is loaded: it calls the
``*_params`` function of ``intq.ops`` with the op's tensors (graph ``Tensor`` objects for the
activations, whose values exist only at run time, and the constant arrays for weights and
biases), its ``attrs`` and the graph's profile. ``run`` is the integer half: the ``run_*``
function of ``intq.ops`` with the stored parameters; no float is computed there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ops import activations as _act
from .ops import conv as _conv
from .ops import elementwise as _ew
from .ops import fully_connected as _fc
from .ops import pool as _pool
from .ops._common import scale32
from .qparams import QuantParams


@dataclass(frozen=True)
class ConcatParams:
    """CONCATENATION of inputs that share the output's quantization: a copy along ``axis``."""

    axis: int


@dataclass(frozen=True)
class ReshapeParams:
    """RESHAPE: the new shape of every batch element (the batch dimension is kept)."""

    shape: tuple[int, ...]


def jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` as stored in a graph and a model file: JSON values (tuples become lists);
    ``TypeError`` for anything JSON cannot hold."""
    try:
        return json.loads(json.dumps(dict(attrs), allow_nan=False))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"attrs: expected JSON values (None, bool, int, float, str, lists): {err}"
        ) from None


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the ``intq.ops`` arguments take (nested for padding)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class OpDef:
    """One op type: input count, params classes, and its four functions (see the module doc).

    ``derive(inputs, out_qparams, attrs, profile) -> params``;
    ``output(inputs, attrs, params, out_qparams) -> (shape, qparams)`` (the output dtype is
    ``qparams.dtype``); ``macs(inputs, out_shape) -> int``;
    ``run(arrays, attrs, params, out_dtype) -> array``.
    """

    type: str
    min_inputs: int
    max_inputs: int | None
    params_types: tuple[type, ...]
    derive: Callable[..., Any]
    output: Callable[..., tuple[tuple[int, ...], QuantParams]]
    run: Callable[..., np.ndarray]
    macs: Callable[[Sequence[Any], tuple[int, ...]], int] = lambda inputs, out_shape: 0


def _data(tensor: Any) -> np.ndarray | None:
    return None if tensor is None else tensor.data


def _operands(inputs: Sequence[Any]) -> tuple[Any, Any, Any]:
    """``(x, w, bias)`` of a layer with weights; bias may be absent."""
    return inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None


def _same_qparams(op: str, x: Any, out_qparams: QuantParams | None) -> QuantParams:
    """Ops that keep the input's quantization (pools, pad, reshape): refuse another one."""
    if out_qparams is not None and out_qparams != x.qparams:
        raise ValueError(
            f"out_qparams: {op} keeps the input's quantization {x.qparams!r}, got {out_qparams!r}"
        )
    return x.qparams


def _need(out_qparams: QuantParams | None, op: str) -> QuantParams:
    if out_qparams is None:
        raise ValueError(f"out_qparams: {op} needs the output's quantization parameters")
    return out_qparams


# ---- layers with weights ------------------------------------------------------------------


def _derive_fc(inputs, out_qparams, attrs, profile):
    x, w, bias = _operands(inputs)
    return _fc.linear_layer_params(
        x, w.data, _data(bias), x_qparams=x.qparams, w_qparams=w.qparams,
        out_qparams=_need(out_qparams, "fully_connected"), activation=attrs.get("activation"),
        profile=profile, bias_qparams=None if bias is None else bias.qparams,
    )  # fmt: skip


def _output_fc(inputs, attrs, params, out_qparams):
    return (*inputs[0].shape[:-1], inputs[1].shape[0]), out_qparams


def _macs_fc(inputs, out_shape):
    return math.prod(out_shape) * inputs[1].shape[1]


def _derive_conv(params_function, op: str, channel_arg: str):
    """Derive for conv2d (``channel_arg="groups"``) or depthwise (``"depth_multiplier"``)."""

    def derive(inputs, out_qparams, attrs, profile):
        x, w, bias = _operands(inputs)
        return params_function(
            x, w.data, _data(bias), x_qparams=x.qparams, w_qparams=w.qparams,
            out_qparams=_need(out_qparams, op), stride=_tuples(attrs.get("stride", 1)),
            padding=_tuples(attrs.get("padding", "valid")),
            dilation=_tuples(attrs.get("dilation", 1)), activation=attrs.get("activation"),
            profile=profile, **{channel_arg: attrs.get(channel_arg, 1)},
        )  # fmt: skip

    return derive


def _output_conv(channel_axis: int):
    def output(inputs, attrs, params, out_qparams):
        x, w = inputs[0], inputs[1]
        return (x.shape[0], params.out_h, params.out_w, w.shape[channel_axis]), out_qparams

    return output


def _macs_conv2d(inputs, out_shape):
    _, kh, kw, depth = inputs[1].shape
    return math.prod(out_shape) * kh * kw * depth


def _macs_depthwise(inputs, out_shape):
    _, kh, kw, _ = inputs[1].shape
    return math.prod(out_shape) * kh * kw


def _run_layer(run):
    def run_op(arrays, attrs, params, out_dtype):
        bias = arrays[2] if len(arrays) > 2 else None
        return run(arrays[0], arrays[1], bias, params)

    return run_op


def _run_fc(arrays, attrs, params, out_dtype):
    bias = arrays[2] if len(arrays) > 2 else None
    return _fc.run_linear(arrays[0], arrays[1], bias, params, out_dtype)


# ---- pools ---------------------------------------------------------------------------------


def _derive_pool(average: bool):
    def derive(inputs, out_qparams, attrs, profile):
        x = inputs[0]
        _same_qparams("avg_pool2d" if average else "max_pool2d", x, out_qparams)
        stride = attrs.get("stride")
        return _pool.pool_params(
            x.shape, x.qparams, filter_size=_tuples(attrs["filter_size"]),
            stride=None if stride is None else _tuples(stride),
            padding=_tuples(attrs.get("padding", "valid")), activation=attrs.get("activation"),
            average=average,
        )  # fmt: skip

    return derive


def _output_pool(inputs, attrs, params, out_qparams):
    x = inputs[0]
    return (x.shape[0], params.out_h, params.out_w, x.shape[3]), x.qparams


# ---- elementwise ---------------------------------------------------------------------------


def _derive_add_sub(op: str):
    def derive(inputs, out_qparams, attrs, profile):
        return _ew.add_params(
            inputs[0].qparams, inputs[1].qparams, _need(out_qparams, op),
            activation=attrs.get("activation"), profile=profile, op=op,
        )  # fmt: skip

    return derive


def _derive_mul(inputs, out_qparams, attrs, profile):
    return _ew.mul_params(
        inputs[0].qparams, inputs[1].qparams, _need(out_qparams, "mul"),
        activation=attrs.get("activation"), profile=profile,
    )  # fmt: skip


def _output_broadcast(inputs, attrs, params, out_qparams):
    try:
        shape = np.broadcast_shapes(inputs[0].shape, inputs[1].shape)
    except ValueError:
        raise ValueError(
            f"x2: shape {inputs[1].shape} does not broadcast with x1's {inputs[0].shape}"
        ) from None
    return tuple(shape), out_qparams


def _derive_requantize(inputs, out_qparams, attrs, profile):
    return _ew.requantize_params(
        inputs[0].qparams, _need(out_qparams, "requantize"), profile=profile
    )


def _output_same_shape(inputs, attrs, params, out_qparams):
    return inputs[0].shape, out_qparams


def _derive_concat(inputs, out_qparams, attrs, profile):
    out_qparams = _need(out_qparams, "concat")
    first = inputs[0]
    axis = attrs.get("axis")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -first.ndim <= axis < first.ndim:
        raise ValueError(f"axis: expected an int in [{-first.ndim}, {first.ndim}), got {axis!r}")
    axis %= first.ndim
    for i, x in enumerate(inputs):
        same = (
            x.dtype == out_qparams.dtype
            and scale32(x.qparams) == scale32(out_qparams)
            and x.qparams.zero_point == out_qparams.zero_point
        )
        if not same:
            raise ValueError(
                f"inputs[{i}]: a graph concat copies inputs quantized as its output "
                f"({out_qparams!r}), got {x.qparams!r}; requantize it first "
                "(GraphBuilder.concat does)"
            )
        if x.ndim != first.ndim or any(
            x.shape[d] != first.shape[d] for d in range(first.ndim) if d != axis
        ):
            raise ValueError(
                f"inputs[{i}]: shape {x.shape} does not match inputs[0]'s {first.shape} outside "
                f"axis {axis}"
            )
    return ConcatParams(axis)


def _output_concat(inputs, attrs, params, out_qparams):
    shape = list(inputs[0].shape)
    shape[params.axis] = sum(x.shape[params.axis] for x in inputs)
    return tuple(shape), out_qparams


def _derive_pad(inputs, out_qparams, attrs, profile):
    x = inputs[0]
    _same_qparams("pad", x, out_qparams)
    return _ew.pad_params(
        x, attrs.get("paddings"), x_qparams=x.qparams, constant=attrs.get("constant")
    )


def _output_pad(inputs, attrs, params, out_qparams):
    shape = np.asarray(inputs[0].shape) + params.pad_before + params.pad_after
    return tuple(int(d) for d in shape), inputs[0].qparams


def _mean_axes(x: Any, attrs: Mapping[str, Any]) -> list[int]:
    axes = _ew.resolve_axes(_tuples(attrs.get("axes")), x.ndim)
    if 0 in axes:
        raise ValueError(
            "axes: a graph's MEAN cannot reduce the batch axis 0 (its count would change with "
            "the batch size)"
        )
    return axes


def _derive_mean(inputs, out_qparams, attrs, profile):
    x = inputs[0]
    count = math.prod(x.shape[d] for d in _mean_axes(x, attrs))
    return _ew.mean_params(x.qparams, _need(out_qparams, "mean"), count, profile=profile)


def _output_mean(inputs, attrs, params, out_qparams):
    x = inputs[0]
    axes = _mean_axes(x, attrs)
    keep = bool(attrs.get("keepdims", False))
    shape = [1 if d in axes else n for d, n in enumerate(x.shape) if keep or d not in axes]
    return tuple(shape), out_qparams


def _run_mean(arrays, attrs, params, out_dtype):
    x = arrays[0]
    keepdims = bool(attrs.get("keepdims", False))
    return _ew.run_mean(x, _mean_axes(x, attrs), keepdims, params, out_dtype)


def _derive_reshape(inputs, out_qparams, attrs, profile):
    x = inputs[0]
    _same_qparams("reshape", x, out_qparams)
    shape = _tuples(attrs.get("shape"))
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in shape
    ):
        raise ValueError(f"shape: expected a list of ints (one may be -1), got {shape!r}")
    size = math.prod(x.shape[1:])
    known = math.prod(d for d in shape if d != -1)
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or size % known)):
        raise ValueError(f"shape: cannot infer the -1 of {list(shape)} for {size} elements")
    resolved = tuple(size // known if d == -1 else d for d in shape)
    if math.prod(resolved) != size:
        raise ValueError(
            f"shape: {list(resolved)} holds {math.prod(resolved)} elements per batch item, the "
            f"input {x.shape} has {size}"
        )
    return ReshapeParams(resolved)


def _output_reshape(inputs, attrs, params, out_qparams):
    return (inputs[0].shape[0], *params.shape), inputs[0].qparams


# ---- activations ---------------------------------------------------------------------------


def _derive_unary(params_function):
    def derive(inputs, out_qparams, attrs, profile):
        return params_function(
            inputs[0].qparams, out_qparams, profile=profile, method=attrs.get("method")
        )

    return derive


def _derive_softmax(inputs, out_qparams, attrs, profile):
    return _act.softmax_params(
        inputs[0].qparams, out_qparams, beta=attrs.get("beta", 1.0), profile=profile
    )


def _derive_hard_swish(inputs, out_qparams, attrs, profile):
    return _act.hard_swish_params(
        inputs[0].qparams, _need(out_qparams, "hard_swish"), profile=profile
    )


def _output_activation(inputs, attrs, params, out_qparams):
    return inputs[0].shape, params.out_qparams


def _unary(run):
    def run_op(arrays, attrs, params, out_dtype):
        return run(arrays[0], params)

    return run_op


_TABLE_OR_FIXED = (_act.ActivationTable, _act.FixedPointActivationParams)

# fmt: off
_DEFINITIONS: tuple[OpDef, ...] = (
    OpDef("fully_connected", 2, 3, (_fc.LinearParams,), _derive_fc, _output_fc, _run_fc,
          _macs_fc),
    OpDef("conv2d", 2, 3, (_conv.ConvParams,),
          _derive_conv(_conv.conv2d_params, "conv2d", "groups"), _output_conv(0),
          _run_layer(_conv.run_conv2d), _macs_conv2d),
    OpDef("depthwise_conv2d", 2, 3, (_conv.ConvParams,),
          _derive_conv(_conv.depthwise_conv2d_params, "depthwise_conv2d", "depth_multiplier"),
          _output_conv(3),
          _run_layer(_conv.run_depthwise_conv2d), _macs_depthwise),
    OpDef("avg_pool2d", 1, 1, (_pool.PoolParams,), _derive_pool(True), _output_pool,
          _unary(_pool.run_avg_pool2d)),
    OpDef("max_pool2d", 1, 1, (_pool.PoolParams,), _derive_pool(False), _output_pool,
          _unary(_pool.run_max_pool2d)),
    OpDef("add", 2, 2, (_ew.AddParams,), _derive_add_sub("add"), _output_broadcast,
          lambda a, attrs, p, dtype: _ew.run_add_sub("add", a[0], a[1], p, dtype)),
    OpDef("sub", 2, 2, (_ew.AddParams,), _derive_add_sub("sub"), _output_broadcast,
          lambda a, attrs, p, dtype: _ew.run_add_sub("sub", a[0], a[1], p, dtype)),
    OpDef("mul", 2, 2, (_ew.MulParams,), _derive_mul, _output_broadcast,
          lambda a, attrs, p, dtype: _ew.run_mul(a[0], a[1], p, dtype)),
    OpDef("requantize", 1, 1, (_ew.RequantizeParams,), _derive_requantize,
          _output_same_shape, lambda a, attrs, p, dtype: _ew.run_requantize(a[0], p, dtype)),
    OpDef("concat", 1, None, (ConcatParams,), _derive_concat, _output_concat,
          lambda a, attrs, p, dtype: np.concatenate(a, axis=p.axis)),
    OpDef("pad", 1, 1, (_ew.PadParams,), _derive_pad, _output_pad, _unary(_ew.run_pad)),
    OpDef("mean", 1, 1, (_ew.MeanParams,), _derive_mean, _output_mean, _run_mean),
    OpDef("reshape", 1, 1, (ReshapeParams,), _derive_reshape, _output_reshape,
          lambda a, attrs, p, dtype: a[0].reshape((a[0].shape[0], *p.shape))),
    OpDef("logistic", 1, 1, _TABLE_OR_FIXED, _derive_unary(_act.logistic_params),
          _output_activation, _unary(_act.run_logistic)),
    OpDef("tanh", 1, 1, _TABLE_OR_FIXED, _derive_unary(_act.tanh_params),
          _output_activation, _unary(_act.run_tanh)),
    OpDef("softmax", 1, 1, (_act.SoftmaxParams,), _derive_softmax, _output_activation,
          _unary(_act.run_softmax)),
    OpDef("hard_swish", 1, 1, (_act.HardSwishParams,), _derive_hard_swish,
          _output_activation, _unary(_act.run_hard_swish)),
)
# fmt: on
OPDEFS: dict[str, OpDef] = {d.type: d for d in _DEFINITIONS}

PARAMS_TYPES: dict[str, type] = {
    cls.__name__: cls for d in OPDEFS.values() for cls in d.params_types
}


def get_opdef(op_type: str) -> OpDef:
    """The ``OpDef`` of ``op_type``; ``ValueError`` listing the known types otherwise."""
    try:
        return OPDEFS[op_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"type: unknown op type {op_type!r}; known: {', '.join(sorted(OPDEFS))}"
        ) from None


__all__ = ["OPDEFS", "PARAMS_TYPES", "ConcatParams", "OpDef", "ReshapeParams", "get_opdef"]
