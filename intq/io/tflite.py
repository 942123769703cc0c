"""TFLite flatbuffer files (schema version 3) in and out of ``intq.Graph`` (docs/tflite.md).

``save_tflite`` writes one subgraph whose tensors carry the graph's names, shapes and
quantization; ``load_tflite`` rebuilds a graph through ``intq.GraphBuilder``, so every integer
parameter is derived again by intq under the chosen profile, and each op (and its output tensor)
is named after the output tensor stored in the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import tflite

from ..builder import GraphBuilder
from ..errors import FormatError
from ..graph import Graph, Op, Tensor
from ..ops._common import scale32
from ..ops.elementwise import resolve_axes
from ..qparams import QuantParams
from .atomic import atomic_write

SCHEMA_VERSION = 3
_OP = tflite.BuiltinOperator
_OPT = tflite.BuiltinOptions
_TYPE = tflite.TensorType
_PADDING = {"same": tflite.Padding.SAME, "valid": tflite.Padding.VALID}
_ACTIVATIONS = {
    None: tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
    "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
}
_DTYPES = {
    np.dtype(np.int8): _TYPE.INT8,
    np.dtype(np.uint8): _TYPE.UINT8,
    np.dtype(np.int16): _TYPE.INT16,
    np.dtype(np.int32): _TYPE.INT32,
    np.dtype(np.int64): _TYPE.INT64,
}
# intq op type → (builtin operator, operator version written: the one TF's converter writes for
# int8 models; LiteRT accepts any version it registers).
_CODES = {
    "conv2d": (_OP.CONV_2D, 3),
    "depthwise_conv2d": (_OP.DEPTHWISE_CONV_2D, 3),
    "fully_connected": (_OP.FULLY_CONNECTED, 4),
    "add": (_OP.ADD, 2),
    "sub": (_OP.SUB, 2),
    "mul": (_OP.MUL, 2),
    "avg_pool2d": (_OP.AVERAGE_POOL_2D, 2),
    "max_pool2d": (_OP.MAX_POOL_2D, 2),
    "reshape": (_OP.RESHAPE, 1),
    "mean": (_OP.MEAN, 2),
    "softmax": (_OP.SOFTMAX, 2),
    "logistic": (_OP.LOGISTIC, 2),
    "tanh": (_OP.TANH, 2),
    "concat": (_OP.CONCATENATION, 2),
    "requantize": (_OP.QUANTIZE, 2),
    "hard_swish": (_OP.HARD_SWISH, 1),
    "pad": (_OP.PAD, 2),
}
_PADV2 = (_OP.PADV2, 2)
_NAMES = {code: name for name, code in vars(_OP).items() if not name.startswith("_")}
_MAX_DEPRECATED_CODE = 127  # PLACEHOLDER_FOR_GREATER_OP_CODES
_BUFFER_ALIGNMENT = 16
_MAX_ELEMENTS = 2**31 - 1  # TFLite indexes tensor elements with int32


# ---- writing ------------------------------------------------------------------------------


class _Writer:
    """Accumulates the tensors and buffers of one subgraph while its ops are written."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.builder = flatbuffers.Builder(1024)
        self.tensors: list[tuple[str, np.dtype, tuple[int, ...], QuantParams | None, int]] = []
        self.index: dict[str, int] = {}
        self.buffers: list[bytes] = [b""]  # buffer 0: the empty buffer of every activation

    def tensor(
        self, name: str, dtype: np.dtype, shape: tuple[int, ...], qparams: QuantParams | None,
        data: np.ndarray | None = None,
    ) -> int:  # fmt: skip
        """Index of tensor ``name``, adding it (and its buffer) on first use."""
        if name in self.index:
            return self.index[name]
        buffer = 0
        if data is not None:
            buffer = len(self.buffers)
            self.buffers.append(np.ascontiguousarray(data, dtype=dtype.newbyteorder("<")).tobytes())
        self.index[name] = len(self.tensors)
        self.tensors.append((name, np.dtype(dtype), tuple(shape), qparams, buffer))
        return self.index[name]

    def graph_tensor(self, name: str) -> int:
        t: Tensor = self.graph.tensors[name]
        return self.tensor(name, t.dtype, t.shape, t.qparams, t.data)

    def int32_constant(self, op: Op, suffix: str, values: Any) -> int:
        """An int32 constant input that TFLite wants and intq keeps in ``attrs`` (axes, shape)."""
        name = f"{op.name}/{suffix}"
        if name in self.graph.tensors:
            raise ValueError(f"op {op.name!r}: its {suffix} tensor name {name!r} is taken")
        data = np.asarray(values, dtype=np.int32)
        return self.tensor(name, data.dtype, data.shape, None, data)


def _activation(op: Op) -> int:
    activation = op.attrs.get("activation")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"op {op.name!r}: fused activation {activation!r} has no TFLite code")
    return _ACTIVATIONS[activation]


def _padding(op: Op) -> int:
    """SAME/VALID; explicit padding is VALID only when it is all zeros."""
    padding = op.attrs.get("padding", "valid")
    if isinstance(padding, str) and padding.lower() in _PADDING:
        return _PADDING[padding.lower()]
    if not isinstance(padding, str) and not np.any(np.asarray(padding)):
        return tflite.Padding.VALID
    raise ValueError(
        f"op {op.name!r} ({op.type}): padding {padding!r} is neither SAME nor VALID, which a "
        "TFLite file cannot express"
    )


def _options(b: flatbuffers.Builder, w: _Writer, op: Op) -> tuple[int, int, list[int]]:
    """Write the op's builtin options; returns (options type, table offset, extra inputs)."""
    p, t = op.params, op.type
    if t in ("conv2d", "depthwise_conv2d"):
        mod = "DepthwiseConv2DOptions" if t == "depthwise_conv2d" else "Conv2DOptions"
        getattr(tflite, f"{mod}Start")(b)
        getattr(tflite, f"{mod}AddPadding")(b, _padding(op))
        getattr(tflite, f"{mod}AddStrideH")(b, p.stride_h)
        getattr(tflite, f"{mod}AddStrideW")(b, p.stride_w)
        getattr(tflite, f"{mod}AddDilationHFactor")(b, p.dilation_h)
        getattr(tflite, f"{mod}AddDilationWFactor")(b, p.dilation_w)
        getattr(tflite, f"{mod}AddFusedActivationFunction")(b, _activation(op))
        if t == "depthwise_conv2d":
            tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, p.depth_multiplier)
        return getattr(_OPT, mod), getattr(tflite, f"{mod}End")(b), []
    if t == "fully_connected":
        keep_num_dims = w.graph.tensors[op.inputs[0]].ndim != 2
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, _activation(op))
        tflite.FullyConnectedOptionsAddKeepNumDims(b, keep_num_dims)
        return _OPT.FullyConnectedOptions, tflite.FullyConnectedOptionsEnd(b), []
    if t in ("add", "sub", "mul"):
        mod = {"add": "AddOptions", "sub": "SubOptions", "mul": "MulOptions"}[t]
        getattr(tflite, f"{mod}Start")(b)
        getattr(tflite, f"{mod}AddFusedActivationFunction")(b, _activation(op))
        return getattr(_OPT, mod), getattr(tflite, f"{mod}End")(b), []
    if t in ("avg_pool2d", "max_pool2d"):
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, _padding(op))
        tflite.Pool2DOptionsAddStrideH(b, p.stride_h)
        tflite.Pool2DOptionsAddStrideW(b, p.stride_w)
        tflite.Pool2DOptionsAddFilterHeight(b, p.filter_h)
        tflite.Pool2DOptionsAddFilterWidth(b, p.filter_w)
        tflite.Pool2DOptionsAddFusedActivationFunction(b, _activation(op))
        return _OPT.Pool2DOptions, tflite.Pool2DOptionsEnd(b), []
    if t == "reshape":
        new_shape = w.graph.tensors[op.outputs[0]].shape
        vector = b.CreateNumpyVector(np.asarray(new_shape, dtype=np.int32))
        tflite.ReshapeOptionsStart(b)
        tflite.ReshapeOptionsAddNewShape(b, vector)
        shape_input = w.int32_constant(op, "shape", new_shape)
        return _OPT.ReshapeOptions, tflite.ReshapeOptionsEnd(b), [shape_input]
    if t == "mean":
        axes = resolve_axes(op.attrs["axes"], w.graph.tensors[op.inputs[0]].ndim)
        tflite.ReducerOptionsStart(b)
        tflite.ReducerOptionsAddKeepDims(b, bool(op.attrs.get("keepdims", False)))
        axes_input = w.int32_constant(op, "axes", axes)
        return _OPT.ReducerOptions, tflite.ReducerOptionsEnd(b), [axes_input]
    if t == "softmax":
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, float(op.attrs.get("beta", 1.0)))
        return _OPT.SoftmaxOptions, tflite.SoftmaxOptionsEnd(b), []
    if t == "pad":
        paddings = np.stack([p.pad_before, p.pad_after], axis=1)
        extra = [w.int32_constant(op, "paddings", paddings)]
        x = w.graph.tensors[op.inputs[0]]
        if p.value != x.qparams.zero_point:
            name = f"{op.name}/constant"
            if name in w.graph.tensors:
                raise ValueError(f"op {op.name!r}: its constant tensor name {name!r} is taken")
            extra.append(w.tensor(name, x.dtype, (), x.qparams, np.asarray(p.value, x.dtype)))
        return _OPT.NONE, 0, extra
    if t == "concat":
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, p.axis)
        return _OPT.ConcatenationOptions, tflite.ConcatenationOptionsEnd(b), []
    return _OPT.NONE, 0, []  # logistic, tanh, requantize (QUANTIZE), hard_swish


def _byte_vector(b: flatbuffers.Builder, payload: bytes) -> int:
    """A ubyte vector aligned to 16 bytes, so LiteRT can read constants in place."""
    b.StartVector(1, len(payload), _BUFFER_ALIGNMENT)
    b.head -= len(payload)
    b.Bytes[b.head : b.head + len(payload)] = payload
    return b.EndVector()


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _quantization(b: flatbuffers.Builder, qparams: QuantParams) -> int:
    scale = b.CreateNumpyVector(np.atleast_1d(scale32(qparams)).astype(np.float32))
    zero_point = b.CreateNumpyVector(np.atleast_1d(qparams.zero_point).astype(np.int64))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zero_point)
    tflite.QuantizationParametersAddQuantizedDimension(b, qparams.axis or 0)
    return tflite.QuantizationParametersEnd(b)


def _bias_qparams(graph: Graph, op: Op) -> QuantParams | None:
    """TFLite gives an int32 bias the scale ``s_x · s_w`` (per channel) and zero point 0."""
    bias = graph.tensors[op.inputs[2]]
    if bias.qparams is not None:
        return bias.qparams
    x, w = graph.tensors[op.inputs[0]].qparams, graph.tensors[op.inputs[1]].qparams
    scale = np.float32(scale32(x)) * np.asarray(scale32(w), dtype=np.float32)
    if scale.ndim == 0:
        return QuantParams(float(scale), 0, bits=32)
    return QuantParams(scale, np.zeros(scale.shape, np.int64), axis=0, bits=32)


def _write_tensor(b: flatbuffers.Builder, entry: tuple) -> int:
    name, dtype, shape, qparams, buffer = entry
    if dtype not in _DTYPES:
        raise ValueError(f"tensor {name!r}: dtype {dtype} has no TFLite type")
    name_offset = b.CreateString(name)
    shape_offset = b.CreateNumpyVector(np.asarray(shape, dtype=np.int32))
    quant = None if qparams is None else _quantization(b, qparams)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape_offset)
    tflite.TensorAddType(b, _DTYPES[dtype])
    tflite.TensorAddBuffer(b, buffer)
    tflite.TensorAddName(b, name_offset)
    if quant is not None:
        tflite.TensorAddQuantization(b, quant)
    return tflite.TensorEnd(b)


def _write_operator(b: flatbuffers.Builder, w: _Writer, op: Op, opcode: int) -> int:
    if op.type in ("fully_connected", "conv2d", "depthwise_conv2d") and len(op.inputs) > 2:
        bias = w.graph.tensors[op.inputs[2]]
        w.tensor(bias.name, bias.dtype, bias.shape, _bias_qparams(w.graph, op), bias.data)
    inputs = [w.graph_tensor(name) for name in op.inputs]
    options_type, options, extra = _options(b, w, op)
    outputs = [w.graph_tensor(name) for name in op.outputs]
    in_vector = b.CreateNumpyVector(np.asarray(inputs + extra, dtype=np.int32))
    out_vector = b.CreateNumpyVector(np.asarray(outputs, dtype=np.int32))
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, opcode)
    tflite.OperatorAddInputs(b, in_vector)
    tflite.OperatorAddOutputs(b, out_vector)
    if options_type != _OPT.NONE:
        tflite.OperatorAddBuiltinOptionsType(b, options_type)
        tflite.OperatorAddBuiltinOptions(b, options)
    return tflite.OperatorEnd(b)


def _opcode(graph: Graph, op: Op) -> tuple[int, int]:
    """(builtin code, version) of ``op``: a pad by another value than the zero point is PADV2."""
    if op.type == "pad" and op.params.value != graph.tensors[op.inputs[0]].qparams.zero_point:
        return _PADV2
    return _CODES[op.type]


def _write_opcode(b: flatbuffers.Builder, code: int, version: int) -> int:
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, _MAX_DEPRECATED_CODE))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, version)
    return tflite.OperatorCodeEnd(b)


def tflite_bytes(graph: Graph) -> bytes:
    """The .tflite flatbuffer of ``graph``: schema version 3, one subgraph, tensors in the order
    first used (graph inputs first), constants in their own buffers (buffer 0 is empty).
    ``ValueError`` names the op or tensor TFLite cannot express (an op type without a TFLite
    builtin, explicit padding, a dtype TFLite lacks)."""
    for op in graph.ops:
        if op.type not in _CODES:
            raise ValueError(f"op {op.name!r}: type {op.type!r} is not written to .tflite yet")
    w = _Writer(graph)
    b = w.builder
    for name in graph.inputs:
        w.graph_tensor(name)
    opcodes = [_opcode(graph, op) for op in graph.ops]
    unique = list(dict.fromkeys(opcodes))
    operators = [
        _write_operator(b, w, op, unique.index(c)) for op, c in zip(graph.ops, opcodes, strict=True)
    ]
    tensor_offsets = [_write_tensor(b, entry) for entry in w.tensors]
    sub_inputs = b.CreateNumpyVector(np.asarray([w.index[n] for n in graph.inputs], np.int32))
    sub_outputs = b.CreateNumpyVector(np.asarray([w.index[n] for n in graph.outputs], np.int32))
    tensors_vector = _offset_vector(b, tensor_offsets)
    operators_vector = _offset_vector(b, operators)
    sub_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vector)
    tflite.SubGraphAddInputs(b, sub_inputs)
    tflite.SubGraphAddOutputs(b, sub_outputs)
    tflite.SubGraphAddOperators(b, operators_vector)
    tflite.SubGraphAddName(b, sub_name)
    subgraph = tflite.SubGraphEnd(b)

    codes_vector = _offset_vector(b, [_write_opcode(b, *c) for c in unique])
    buffer_offsets = []
    for payload in w.buffers:
        data = _byte_vector(b, payload) if payload else None
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        buffer_offsets.append(tflite.BufferEnd(b))
    buffers_vector = _offset_vector(b, buffer_offsets)
    subgraphs_vector = _offset_vector(b, [subgraph])
    description = b.CreateString(f"intq graph (profile {graph.profile})")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, SCHEMA_VERSION)
    tflite.ModelAddOperatorCodes(b, codes_vector)
    tflite.ModelAddSubgraphs(b, subgraphs_vector)
    tflite.ModelAddDescription(b, description)
    tflite.ModelAddBuffers(b, buffers_vector)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def save_tflite(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` to ``path`` as a .tflite file (``tflite_bytes``), atomically: on any
    error the previous file at ``path`` is left as it was."""
    data = tflite_bytes(graph)
    with atomic_write(path) as tmp:
        Path(tmp).write_bytes(data)


# ---- reading ------------------------------------------------------------------------------


class _Unsupported(ValueError):
    """A well-formed file holding something intq cannot run (raised to the caller as is)."""


_NP_TYPES = {code: dtype for dtype, code in _DTYPES.items()}
_ACTIVATION_NAMES = {code: name for name, code in _ACTIVATIONS.items()}
_PADDING_NAMES = {code: name for name, code in _PADDING.items()}


class _Reader:
    """Reads one subgraph of a parsed model into a ``GraphBuilder``; ``field`` is the place
    being read, for the ``FormatError`` of whatever goes wrong there."""

    def __init__(self, data: bytes, profile: str) -> None:
        self.data = data
        self.field = ""
        if len(data) < 8 or not tflite.Model.ModelBufferHasIdentifier(data, 0):
            raise _Malformed("", "not a TFLite flatbuffer (file identifier 'TFL3' missing)")
        self.model = tflite.Model.GetRootAs(data, 0)
        self.field = "version"
        if self.model.Version() != SCHEMA_VERSION:
            raise _Malformed("version", f"schema version {self.model.Version()}, expected 3")
        self.field = "subgraphs"
        if self.length(self.model.SubgraphsLength()) == 0:
            raise _Malformed("subgraphs", "the model has no subgraph")
        if self.model.SubgraphsLength() > 1:
            raise _Unsupported(
                f"subgraphs: {self.model.SubgraphsLength()} subgraphs; intq reads models with one"
            )
        self.subgraph = self.model.Subgraphs(0)
        self.builder = GraphBuilder(profile)
        self.names: dict[int, str] = {}  # tensor index → graph tensor name, once defined
        self.output = -1  # the output tensor of the operator being read

    def length(self, n: int) -> int:
        """A vector length, refused when it could not fit in the file (corrupt offsets)."""
        if not 0 <= n <= len(self.data) // 4:
            raise _Malformed(self.field, f"vector length {n} exceeds the file size")
        return n

    def tensor(self, index: int) -> Any:
        count = self.length(self.subgraph.TensorsLength())
        if not 0 <= index < count:
            raise _Malformed(self.field, f"tensor index {index} is outside [0, {count})")
        return self.subgraph.Tensors(index)

    def name(self, index: int) -> str:
        return self.tensor(index).Name().decode("utf-8")

    def dtype(self, index: int) -> np.dtype:
        code = self.tensor(index).Type()
        if code not in _NP_TYPES:
            raise _Unsupported(f"tensor {self.name(index)!r}: TFLite type {code} is not integer")
        return _NP_TYPES[code]

    def shape(self, index: int) -> tuple[int, ...]:
        t = self.tensor(index)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if self.length(t.ShapeLength()) else ()
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > _MAX_ELEMENTS:
            raise _Malformed(self.field, f"tensor {self.name(index)!r}: impossible shape {shape}")
        return shape

    def qparams(self, index: int) -> QuantParams | None:
        q = self.tensor(index).Quantization()
        if q is None or self.length(q.ScaleLength()) == 0:
            return None
        dtype = self.dtype(index)
        scale = q.ScaleAsNumpy().astype(np.float64)
        zero_point = q.ZeroPointAsNumpy().astype(np.int64)
        bits, signed = dtype.itemsize * 8, dtype.kind == "i"
        if scale.size == 1:
            return QuantParams(float(scale[0]), int(zero_point[0]), bits=bits, signed=signed)
        return QuantParams(scale, zero_point, axis=q.QuantizedDimension(), bits=bits, signed=signed)

    def constant(self, index: int) -> np.ndarray:
        """The data of a constant tensor, in its dtype and shape."""
        t = self.tensor(index)
        count = self.length(self.model.BuffersLength())
        if not 0 < t.Buffer() < count:
            raise _Malformed(self.field, f"tensor {self.name(index)!r} has no constant data")
        buffer = self.model.Buffers(t.Buffer())
        raw = buffer.DataAsNumpy() if self.length(buffer.DataLength()) else np.zeros(0, np.uint8)
        dtype, shape = self.dtype(index), self.shape(index)
        if raw.size != dtype.itemsize * int(np.prod(shape)):
            raise _Malformed(
                self.field,
                f"tensor {self.name(index)!r}: {raw.size} bytes of data for {dtype}{list(shape)}",
            )
        return raw.view(dtype.newbyteorder("<")).astype(dtype).reshape(shape)

    def run(self) -> Graph:
        b = self.builder
        for i in range(self.length(self.subgraph.InputsLength())):
            self.field = f"subgraphs/0/inputs/{i}"
            index = int(self.subgraph.Inputs(i))
            qparams = self.qparams(index)
            if qparams is None:
                raise _Unsupported(f"input {self.name(index)!r} is not quantized")
            self.names[index] = b.input(self.name(index), self.shape(index), qparams)
        for i in range(self.length(self.subgraph.OperatorsLength())):
            self.field = f"subgraphs/0/operators/{i}"
            self.operator(i, self.subgraph.Operators(i))
        self.field = "subgraphs/0/outputs"
        b.output(*(self.defined(int(self.subgraph.Outputs(i)))
                   for i in range(self.length(self.subgraph.OutputsLength()))))  # fmt: skip
        return b.build()

    def defined(self, index: int) -> str:
        if index not in self.names:
            raise _Malformed(self.field, f"tensor {self.name(index)!r} is read before written")
        return self.names[index]

    def operator(self, i: int, op: Any) -> None:
        codes = self.length(self.model.OperatorCodesLength())
        if not 0 <= op.OpcodeIndex() < codes:
            raise _Malformed(self.field, f"opcode index {op.OpcodeIndex()} outside [0, {codes})")
        opcode = self.model.OperatorCodes(op.OpcodeIndex())
        code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
        op_name = _NAMES.get(code, f"builtin code {code}")
        inputs = [int(op.Inputs(k)) for k in range(self.length(op.InputsLength()))]
        outputs = [int(op.Outputs(k)) for k in range(self.length(op.OutputsLength()))]
        if len(outputs) != 1:
            raise _Malformed(self.field, f"{op_name} has {len(outputs)} outputs, expected 1")
        reader = _READERS.get(code)
        if reader is None:
            raise _Unsupported(f"operators[{i}]: {op_name} is not supported by intq yet")
        out = self.output = outputs[0]
        try:
            self.names[out] = reader(self, op, inputs, self.name(out), self.qparams(out))
        except _Unsupported as err:
            raise _Unsupported(f"operators[{i}] ({op_name}): {err}") from None
        except (TypeError, ValueError) as err:
            if isinstance(err, FormatError):
                raise
            raise _Malformed(self.field, f"{op_name}: {err}") from None
        # Checked at once: a corrupt shape must not reach the next op's derivation, whose
        # window checks take time proportional to it. (GraphBuilder has no public shape getter.)
        computed = self.builder.tensor(self.names[out])
        if computed.shape != self.shape(out) or not _same_grid(computed.qparams, self.qparams(out)):
            raise _Malformed(
                self.field,
                f"{op_name}: output {self.names[out]!r} is {self.shape(out)} "
                f"{self.qparams(out)!r} in the file, intq computes {computed.shape} "
                f"{computed.qparams!r}",
            )

    def options(self, op: Any, options_class: type) -> Any:
        table = op.BuiltinOptions()
        if table is None:
            raise _Malformed(self.field, f"{options_class.__name__} missing")
        options = options_class()
        options.Init(table.Bytes, table.Pos)
        return options

    def activation(self, options: Any) -> str | None:
        code = options.FusedActivationFunction()
        if code not in _ACTIVATION_NAMES:
            raise _Unsupported(f"fused activation code {code} is not supported")
        return _ACTIVATION_NAMES[code]

    def padding(self, options: Any) -> str:
        code = options.Padding()
        if code not in _PADDING_NAMES:
            raise _Malformed(self.field, f"padding code {code}")
        return _PADDING_NAMES[code]


def _same_grid(a: QuantParams | None, b: QuantParams | None) -> bool:
    """Equal as a file stores them: float32 scales and the zero points."""
    if a is None or b is None:
        return a is b
    return bool(
        a.dtype == b.dtype
        and np.array_equal(scale32(a), scale32(b))
        and np.array_equal(a.zero_point, b.zero_point)
    )


class _Malformed(Exception):
    """Internal: becomes ``FormatError(path, field, problem)`` once the path is known."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field, self.problem = field, problem


def _layer(r: _Reader, op: Any, inputs: list[int]) -> tuple[str, np.ndarray, Any, QuantParams]:
    """``(x name, weights, bias or None, weight qparams)`` of CONV_2D/DEPTHWISE/FULLY_CONNECTED
    (a bias index of −1 means no bias)."""
    if len(inputs) not in (2, 3):
        raise _Malformed(r.field, f"{len(inputs)} inputs, expected 2 or 3")
    bias = r.constant(inputs[2]) if len(inputs) == 3 and inputs[2] >= 0 else None
    w_qparams = r.qparams(inputs[1])
    if w_qparams is None:
        raise _Unsupported("float weights are not supported")
    return r.defined(inputs[0]), r.constant(inputs[1]), bias, w_qparams


def _read_conv(r: _Reader, op, inputs, name, out_q):
    x, w, bias, w_q = _layer(r, op, inputs)
    o = r.options(op, tflite.Conv2DOptions)
    groups = r.shape(inputs[0])[-1] // max(w.shape[-1], 1)
    return r.builder.conv2d(
        x, w, bias, w_qparams=w_q, out_qparams=out_q, stride=[o.StrideH(), o.StrideW()],
        padding=r.padding(o), dilation=[o.DilationHFactor(), o.DilationWFactor()],
        groups=groups, activation=r.activation(o), name=name,
    )  # fmt: skip


def _read_depthwise(r: _Reader, op, inputs, name, out_q):
    x, w, bias, w_q = _layer(r, op, inputs)
    o = r.options(op, tflite.DepthwiseConv2DOptions)
    return r.builder.depthwise_conv2d(
        x, w, bias, w_qparams=w_q, out_qparams=out_q, stride=[o.StrideH(), o.StrideW()],
        padding=r.padding(o), dilation=[o.DilationHFactor(), o.DilationWFactor()],
        depth_multiplier=o.DepthMultiplier(), activation=r.activation(o), name=name,
    )  # fmt: skip


def _read_fully_connected(r: _Reader, op, inputs, name, out_q):
    x, w, bias, w_q = _layer(r, op, inputs)
    o = r.options(op, tflite.FullyConnectedOptions)
    if o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise _Unsupported("shuffled weights formats are not supported")
    if not o.KeepNumDims() and len(r.shape(inputs[0])) != 2:
        raise _Unsupported("keep_num_dims=False on an input of rank other than 2")
    return r.builder.fully_connected(
        x, w, bias, w_qparams=w_q, out_qparams=out_q, activation=r.activation(o), name=name
    )


def _read_binary(method: str, options_class: type) -> Callable:
    def read(r: _Reader, op, inputs, name, out_q):
        if len(inputs) != 2:
            raise _Malformed(r.field, f"{len(inputs)} inputs, expected 2")
        o = r.options(op, options_class)
        x1, x2 = (r.defined(k) for k in inputs)
        return getattr(r.builder, method)(
            x1, x2, out_qparams=out_q, activation=r.activation(o), name=name
        )

    return read


def _read_pool(method: str) -> Callable:
    def read(r: _Reader, op, inputs, name, out_q):
        o = r.options(op, tflite.Pool2DOptions)
        return getattr(r.builder, method)(
            r.defined(inputs[0]), filter_size=[o.FilterHeight(), o.FilterWidth()],
            stride=[o.StrideH(), o.StrideW()], padding=r.padding(o),
            activation=r.activation(o), name=name,
        )  # fmt: skip

    return read


def _read_reshape(r: _Reader, op, inputs, name, out_q):
    in_shape, out_shape = r.shape(inputs[0]), r.shape(r.output)
    if not out_shape or not in_shape or out_shape[0] != in_shape[0]:
        raise _Unsupported(f"reshape {in_shape} → {out_shape} changes the batch dimension")
    return r.builder.reshape(r.defined(inputs[0]), out_shape[1:], name=name)


def _read_mean(r: _Reader, op, inputs, name, out_q):
    if len(inputs) != 2:
        raise _Malformed(r.field, f"{len(inputs)} inputs, expected 2")
    o = r.options(op, tflite.ReducerOptions)
    axes = [int(a) for a in r.constant(inputs[1]).ravel()]
    return r.builder.mean(
        r.defined(inputs[0]), axes, out_qparams=out_q, keepdims=bool(o.KeepDims()), name=name
    )


def _read_softmax(r: _Reader, op, inputs, name, out_q):
    o = r.options(op, tflite.SoftmaxOptions)
    return r.builder.softmax(r.defined(inputs[0]), beta=float(o.Beta()), out_qparams=out_q,
                             name=name)  # fmt: skip


def _read_concat(r: _Reader, op, inputs, name, out_q):
    o = r.options(op, tflite.ConcatenationOptions)
    if r.activation(o) is not None:
        raise _Unsupported("a fused activation on CONCATENATION is not supported")
    xs = [r.defined(k) for k in inputs]
    return r.builder.concat(xs, o.Axis(), out_qparams=out_q, name=name)


def _read_pad(r: _Reader, op, inputs, name, out_q):
    if len(inputs) not in (2, 3):
        raise _Malformed(r.field, f"{len(inputs)} inputs, expected 2 or 3")
    constant = int(r.constant(inputs[2]).reshape(())) if len(inputs) == 3 else None
    paddings = r.constant(inputs[1]).tolist()
    return r.builder.pad(r.defined(inputs[0]), paddings, constant=constant, name=name)


def _read_quantize(r: _Reader, op, inputs, name, out_q):
    if r.qparams(inputs[0]) is None:
        raise _Unsupported("QUANTIZE of a float tensor (the float boundary) is not supported")
    return r.builder.requantize(r.defined(inputs[0]), out_qparams=out_q, name=name)


def _read_unary(method: str, with_out_qparams: bool) -> Callable:
    def read(r: _Reader, op, inputs, name, out_q):
        kwargs = {"out_qparams": out_q} if with_out_qparams else {}
        return getattr(r.builder, method)(r.defined(inputs[0]), name=name, **kwargs)

    return read


_READERS: dict[int, Callable] = {
    _OP.CONV_2D: _read_conv,
    _OP.DEPTHWISE_CONV_2D: _read_depthwise,
    _OP.FULLY_CONNECTED: _read_fully_connected,
    _OP.ADD: _read_binary("add", tflite.AddOptions),
    _OP.SUB: _read_binary("sub", tflite.SubOptions),
    _OP.MUL: _read_binary("mul", tflite.MulOptions),
    _OP.AVERAGE_POOL_2D: _read_pool("avg_pool2d"),
    _OP.MAX_POOL_2D: _read_pool("max_pool2d"),
    _OP.RESHAPE: _read_reshape,
    _OP.MEAN: _read_mean,
    _OP.SOFTMAX: _read_softmax,
    _OP.CONCATENATION: _read_concat,
    _OP.PAD: _read_pad,
    _OP.PADV2: _read_pad,
    _OP.QUANTIZE: _read_quantize,
    _OP.LOGISTIC: _read_unary("logistic", False),
    _OP.TANH: _read_unary("tanh", False),
    _OP.HARD_SWISH: _read_unary("hard_swish", True),
}


def load_tflite_bytes(
    data: bytes, path: str | os.PathLike = "<bytes>", *, profile: str = "tflite"
) -> Graph:
    """The ``Graph`` of a .tflite flatbuffer held in ``data`` (see ``load_tflite``)."""
    reader = None
    try:
        reader = _Reader(bytes(data), profile)
        return reader.run()
    except _Unsupported as err:
        raise ValueError(f"{os.fspath(path)}: {err}") from None
    except _Malformed as err:
        raise FormatError(path, err.field, err.problem) from None
    except FormatError:
        raise
    except Exception as err:  # a corrupt flatbuffer fails anywhere inside the generated code
        field = "" if reader is None else reader.field
        raise FormatError(path, field, f"unreadable ({type(err).__name__}: {err})") from None


def load_tflite(path: str | os.PathLike, *, profile: str = "tflite") -> Graph:
    """Read the .tflite file at ``path`` into a validated ``Graph`` whose ops' integer params
    are derived by intq under ``profile``; each op and its output tensor carry the name of the
    output tensor in the file. An op (or tensor type) intq cannot run is a ``ValueError``
    naming the op and its index; malformed or truncated bytes are ``intq.FormatError``."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise FormatError(path, "", f"cannot read: {err.strerror or err}") from None
    return load_tflite_bytes(data, path, profile=profile)
