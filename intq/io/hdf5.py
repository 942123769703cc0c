"""intq's own HDF5 files: model files (a whole integer graph) and dump files (named integer
tensors with their quantization parameters). docs/files.md describes both field by field.

Loading checks every field and raises ``FormatError`` naming the first bad one by its HDF5 path
(``ops/0003/params/multiplier``; an attribute is named ``<object>/<attribute>``). Saving goes
through ``atomic_write``, so an interrupted save leaves the previous file untouched.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import h5py
import numpy as np

from ..errors import FormatError
from ..graph import Graph, GraphError, Op, Tensor
from ..opdefs import OPDEFS, PARAMS_TYPES
from ..profiles import available_profiles
from ..qparams import QuantParams
from .atomic import atomic_write

MODEL_FORMAT = "intq-model"
DUMP_FORMAT = "intq-dump"
VERSION = 1
INTEGER_DTYPES: tuple[str, ...] = ("int8", "uint8", "int16", "uint16", "int32", "int64")
QPARAMS_ATTRS: tuple[str, ...] = ("scale", "zero_point", "axis", "bits", "signed", "narrow_range")
# Dimensions are int32 in TFLite; anything larger in a file is corruption, not a model.
_MAX_DIM = 2**31 - 1
# What h5py raises on damaged files besides OSError: broken headers surface as any of these.
_H5PY_ERRORS = (OSError, KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError)


@dataclass(frozen=True)
class DumpTensor:
    """One tensor of a dump file: its name, integer data and quantization (None if raw)."""

    name: str
    data: np.ndarray
    qparams: QuantParams | None


# ---- reading: one node of an open file, failing with the field's path ---------------------------


class _Node:
    """An open HDF5 group or dataset of the file at ``path``; every accessor checks the kind of
    what it reads and raises ``FormatError`` naming ``<where>/<key>`` otherwise."""

    def __init__(self, path: str, obj: h5py.Group | h5py.Dataset) -> None:
        self.path = path
        self.obj = obj
        self.where = obj.name.lstrip("/")
        self._attrs = obj.attrs
        self._values: dict[str, Any] = {}  # each attribute is read once: h5py reads are slow
        try:
            self._names = set(self._attrs.keys())
        except _H5PY_ERRORS as exc:
            self.fail("", f"unreadable attributes ({exc})")

    def field(self, key: str) -> str:
        return f"{self.where}/{key}" if self.where and key else self.where or key

    def fail(self, key: str, problem: str) -> NoReturn:
        raise FormatError(self.path, self.field(key), problem)

    def has_attr(self, key: str) -> bool:
        return key in self._names

    def attr(self, key: str) -> Any:
        if key not in self._names:
            self.fail(key, "missing")
        if key not in self._values:
            try:
                self._values[key] = self._attrs[key]
            except _H5PY_ERRORS as exc:
                self.fail(key, f"unreadable attribute ({exc})")
        return self._values[key]

    def is_empty_attr(self, key: str) -> bool:
        return self.has_attr(key) and isinstance(self.attr(key), h5py.Empty)

    def str_attr(self, key: str) -> str:
        value = self.attr(key)
        if isinstance(value, bytes):  # fixed-length strings (np.bytes_) written by other tools
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(key, "expected a UTF-8 string, got undecodable bytes")
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_describe(value)}")
        return value

    def int_attr(self, key: str) -> int:
        value = self.attr(key)
        if not _is_scalar_of(value, "iu"):
            self.fail(key, f"expected an integer, got {_describe(value)}")
        return int(value)

    def float_attr(self, key: str) -> float:
        value = self.attr(key)
        if not _is_scalar_of(value, "f"):
            self.fail(key, f"expected a float, got {_describe(value)}")
        return float(value)

    def bool_attr(self, key: str) -> bool:
        value = self.attr(key)
        if not _is_scalar_of(value, "b"):
            self.fail(key, f"expected a bool, got {_describe(value)}")
        return bool(value)

    def array_attr(self, key: str, kinds: str, what: str, ndims: tuple[int, ...]) -> np.ndarray:
        value = self.attr(key)
        arr = np.asarray(value) if isinstance(value, np.generic | np.ndarray) else None
        if arr is None or arr.dtype.kind not in kinds or arr.ndim not in ndims:
            self.fail(key, f"expected {what}, got {_describe(value)}")
        return arr

    def int_tuple_attr(self, key: str) -> tuple[int, ...]:
        arr = self.array_attr(key, "iu", "a 1-D integer array", (1,))
        return tuple(int(v) for v in arr)

    def json_attr(self, key: str, kind: type) -> Any:
        text = self.str_attr(key)
        try:
            value = json.loads(text)
        except ValueError as exc:
            self.fail(key, f"not valid JSON ({exc})")
        if not isinstance(value, kind):
            self.fail(key, f"expected a JSON {kind.__name__}, got {text[:60]!r}")
        return value

    def str_list_attr(self, key: str) -> list[str]:
        value = self.json_attr(key, list)
        if not all(isinstance(v, str) for v in value):
            self.fail(key, f"expected a JSON list of strings, got {value!r:.60}")
        return value

    def child(self, key: str, kind: type[h5py.Group] | type[h5py.Dataset]) -> _Node:
        try:
            obj = self.obj.get(key)
        except _H5PY_ERRORS as exc:
            self.fail(key, f"unreadable ({exc})")
        if obj is None:
            self.fail(key, f"missing {_KIND_NAMES[kind]}")
        if not isinstance(obj, kind):
            self.fail(key, f"expected {_KIND_NAMES[kind]}, got {type(obj).__name__}")
        return _Node(self.path, obj)

    def has_child(self, key: str) -> bool:
        try:
            return key in self.obj
        except _H5PY_ERRORS as exc:
            self.fail(key, f"unreadable ({exc})")

    def indexed_children(self, kind: type[h5py.Group] | type[h5py.Dataset]) -> list[_Node]:
        """The entries named by zero-padded index ("0000", "0001", …), in index order."""
        try:
            keys = set(self.obj.keys())
        except _H5PY_ERRORS as exc:
            self.fail("", f"unreadable group ({exc})")
        names = [index_key(i, len(keys)) for i in range(len(keys))]
        for name in names:
            if name not in keys:
                stray = sorted(keys - set(names))[0]
                self.fail(name, f"missing (found {stray!r}, which is not the next index)")
        return [self.child(name, kind) for name in names]

    def array(self, expected: str) -> np.ndarray:
        """This dataset's integer data (native byte order), read whole."""
        dtype = self.obj.dtype
        if dtype.kind not in "iu" or dtype.newbyteorder("=").name not in INTEGER_DTYPES:
            self.fail("", f"expected {expected}, got {dtype} data")
        try:
            data = np.asarray(self.obj[()])
        except _H5PY_ERRORS as exc:
            self.fail("", f"unreadable data ({exc})")
        return data.astype(dtype.newbyteorder("="), copy=False)


_KIND_NAMES = {h5py.Group: "a group", h5py.Dataset: "a dataset"}


def _is_scalar_of(value: Any, kinds: str) -> bool:
    return isinstance(value, np.generic) and value.dtype.kind in kinds


def _describe(value: Any) -> str:
    if isinstance(value, h5py.Empty):
        return "an empty attribute"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"{value.dtype} {value!r:.40}"
    return f"{type(value).__name__} {value!r:.40}"


def index_key(index: int, count: int) -> str:
    """The name of entry ``index`` of ``count``: zero-padded to at least four digits."""
    return str(index).zfill(max(4, len(str(count - 1))))


@contextmanager
def _open(path: str | os.PathLike, expected_format: str) -> Iterator[_Node]:
    """The root of the HDF5 file at ``path`` after checking its ``format`` and ``version``.

    A missing file is ``FileNotFoundError``; whatever else goes wrong is ``FormatError``.
    """
    fspath = os.fspath(path)
    if not os.path.exists(fspath):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), fspath)
    try:
        file = h5py.File(fspath, "r")
    except _H5PY_ERRORS as exc:
        raise FormatError(fspath, "", f"not a readable HDF5 file ({exc})") from None
    try:
        root = _Node(fspath, file)
        found = root.str_attr("format")
        if found != expected_format:
            root.fail("format", f"expected {expected_format!r}, got {found!r}")
        version = root.int_attr("version")
        if version != VERSION:
            root.fail("version", f"intq reads version {VERSION}, got {version}")
        yield root
    except FormatError:
        raise
    except _H5PY_ERRORS as exc:  # a damaged file that failed below the field accessors
        problem = f"unreadable HDF5 content ({type(exc).__name__}: {exc})"
        raise FormatError(fspath, "", problem) from exc
    finally:
        try:
            file.close()
        except _H5PY_ERRORS:
            pass


# ---- quantization parameters: the codec shared by dumps and model files -------------------------


def write_qparams(attrs: h5py.AttributeManager, qparams: QuantParams) -> None:
    """Store ``qparams`` as the attributes ``scale``, ``zero_point``, ``axis`` (per channel
    only), ``bits``, ``signed`` and ``narrow_range`` on an h5py ``attrs`` object."""
    attrs["scale"] = np.asarray(qparams.scale, dtype=np.float64)
    attrs["zero_point"] = np.asarray(qparams.zero_point, dtype=np.int64)
    if qparams.axis is not None:
        attrs["axis"] = np.int64(qparams.axis)
    attrs["bits"] = np.int64(qparams.bits)
    attrs["signed"] = np.bool_(qparams.signed)
    attrs["narrow_range"] = np.bool_(qparams.narrow_range)


def qparams_mismatch(
    qparams: QuantParams, dtype: np.dtype, shape: tuple[int, ...]
) -> tuple[str, str] | None:
    """``(attribute, problem)`` if ``qparams`` cannot describe a ``dtype`` tensor of ``shape``
    (grid wider than the dtype, axis out of range, channel count ≠ that dimension), else None."""
    info = np.iinfo(dtype)
    if qparams.qmin < info.min or qparams.qmax > info.max:
        signed_differs = qparams.signed != (dtype.kind == "i")
        return (
            "signed" if signed_differs and qparams.bits <= info.bits else "bits",
            f"the grid [{qparams.qmin}, {qparams.qmax}] "
            f"({qparams.bits}-bit, signed={qparams.signed}) does not fit {dtype}",
        )
    if qparams.axis is None:
        return None
    if not -len(shape) <= qparams.axis < len(shape):
        return "axis", f"{qparams.axis} is out of range for a {len(shape)}-D tensor {shape}"
    if shape[qparams.axis] != qparams.num_channels:
        return (
            "scale",
            f"{qparams.num_channels} channels, but dimension {qparams.axis} of the tensor "
            f"{shape} has {shape[qparams.axis]}",
        )
    return None


def read_qparams(
    node: _Node, *, dtype: np.dtype | None, shape: tuple[int, ...] | None, required: bool
) -> QuantParams | None:
    """The ``QuantParams`` stored on ``node``'s attributes by ``write_qparams``, validated.

    With ``required=False``, a node without any of these attributes has none (None). An absent
    ``axis`` means per tensor; absent ``bits``/``signed`` come from ``dtype`` and an absent
    ``narrow_range`` is False (all three are required when ``dtype`` is None). With ``dtype`` and
    ``shape`` the parameters must also fit the tensor (see ``qparams_mismatch``).
    """
    present = [key for key in QPARAMS_ATTRS if node.has_attr(key)]
    if not required and not present:
        return None
    scale = node.array_attr("scale", "fiu", "a float scalar or 1-D float array", (0, 1))
    zero_point = node.array_attr("zero_point", "iu", "an integer scalar or 1-D array", (0, 1))
    axis = node.int_attr("axis") if "axis" in present else None
    if dtype is None or "bits" in present:
        bits = node.int_attr("bits")
    else:
        bits = dtype.itemsize * 8
    signed = node.bool_attr("signed") if dtype is None or "signed" in present else dtype.kind == "i"
    if dtype is None or "narrow_range" in present:
        narrow_range = node.bool_attr("narrow_range")
    else:
        narrow_range = False
    if axis is None and scale.ndim == 1:
        node.fail("axis", f"missing, but the scale is per channel (shape {scale.shape})")
    if axis is not None and scale.ndim == 0:
        node.fail("scale", f"axis {axis} asks for per-channel scales, got a scalar")
    if zero_point.ndim > scale.ndim:
        node.fail("zero_point", f"shape {zero_point.shape} does not match scale {scale.shape}")
    try:
        qparams = QuantParams(scale[()], zero_point[()], axis, bits, signed, narrow_range)
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")
        node.fail(key if key in QPARAMS_ATTRS else "scale", problem or str(exc))
    if dtype is not None and shape is not None:
        mismatch = qparams_mismatch(qparams, dtype, shape)
        if mismatch is not None:
            node.fail(*mismatch)
    return qparams


# ---- dump files ----------------------------------------------------------------------------------


def _check_dump_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.name not in INTEGER_DTYPES:
        raise ValueError(
            f"tensors[{name!r}]: dumps hold integer tensors ({', '.join(INTEGER_DTYPES)}), got "
            f"{arr.dtype}" + (" (quantize float data first)" if arr.dtype.kind == "f" else "")
        )
    return arr


def save_dump(
    tensors: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    qparams: Mapping[str, QuantParams] | None = None,
) -> None:
    """Write ``tensors`` (name → integer array, in this order) to the dump file ``path``.

    ``qparams`` gives the quantization of some or all of them (by name). Raises ``ValueError``
    naming the tensor for float or other non-integer data, a non-string or empty name, a
    ``qparams`` entry for an unknown tensor or one that does not fit its tensor. The file is
    replaced atomically (``atomic_write``).
    """
    qparams = dict(qparams or {})
    for name in qparams:
        if name not in tensors:
            raise ValueError(f"qparams[{name!r}]: no tensor of that name is being dumped")
    arrays: list[tuple[str, np.ndarray, QuantParams | None]] = []
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensors: names must be non-empty strings, got {name!r}")
        arr = _check_dump_array(name, value)
        qp = qparams.get(name)
        if qp is not None:
            if not isinstance(qp, QuantParams):
                raise TypeError(f"qparams[{name!r}]: expected QuantParams, got {type(qp).__name__}")
            mismatch = qparams_mismatch(qp, arr.dtype, arr.shape)
            if mismatch is not None:
                raise ValueError(f"qparams[{name!r}]: {mismatch[0]}: {mismatch[1]}")
        arrays.append((name, arr, qp))
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as file:
        file.attrs["format"] = DUMP_FORMAT
        file.attrs["version"] = np.int64(VERSION)
        group = file.create_group("tensors")
        for i, (name, arr, qp) in enumerate(arrays):
            dataset = group.create_dataset(index_key(i, len(arrays)), data=arr)
            dataset.attrs["name"] = name
            if qp is not None:
                write_qparams(dataset.attrs, qp)


def load_dump(path: str | os.PathLike) -> dict[str, DumpTensor]:
    """Read the dump file ``path``: tensor name → ``DumpTensor``, in file order.

    Raises ``FileNotFoundError`` if ``path`` does not exist and ``FormatError`` naming the first
    bad field for anything else (not HDF5, truncated, wrong format or version, non-integer
    data, duplicate names, invalid quantization parameters).
    """
    tensors: list[DumpTensor] = []
    with _open(path, DUMP_FORMAT) as root:
        nodes = root.child("tensors", h5py.Group).indexed_children(h5py.Dataset)
        for node in nodes:
            name = node.str_attr("name")
            data = node.array("integer data")
            qp = read_qparams(node, dtype=data.dtype, shape=data.shape, required=False)
            tensors.append(DumpTensor(name, data, qp))
        _check_unique_names(nodes, [t.name for t in tensors])
    return {t.name: t for t in tensors}


def _check_unique_names(nodes: list[_Node], names: list[str]) -> None:
    """Tensor names are unique within a file; the second use of a name is the bad field."""
    first: dict[str, str] = {}
    for node, name in zip(nodes, names, strict=True):
        if name in first:
            node.fail("name", f"duplicate tensor name {name!r} (also {first[name]})")
        first[name] = node.field("name")


# ---- op params dataclasses: one HDF5 entry per field, chosen by its type hint --------------------


def _field_kind(cls: type, name: str, hint: Any) -> tuple[str, bool]:
    """``(kind, optional)`` of a params field: kind is one of int, float, bool, str, ndarray,
    int_tuple, qparams; ``optional`` when the hint admits None."""
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
    kinds = {int: "int", float: "float", bool: "bool", str: "str", np.ndarray: "ndarray"}
    if hint in kinds:
        return kinds[hint], optional
    if hint is QuantParams:
        return "qparams", optional
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (int, ...):
        return "int_tuple", optional
    raise TypeError(f"{cls.__name__}.{name}: the HDF5 codec cannot store a field of type {hint}")


@functools.cache
def _params_fields(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """``(name, kind, optional)`` of each field of a params dataclass, in order."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, *_field_kind(cls, f.name, hints[f.name])) for f in dataclasses.fields(cls)
    )


def _write_params(group: h5py.Group, params: object) -> None:
    cls = type(params)
    group.attrs["class"] = cls.__name__
    for name, kind, _ in _params_fields(cls):
        value = getattr(params, name)
        if value is None:  # None is an empty attribute; only optional fields can hold it
            group.attrs[name] = h5py.Empty("i1")
        elif kind == "qparams":
            write_qparams(group.create_group(name).attrs, value)
        elif kind == "ndarray":
            group.create_dataset(name, data=np.asarray(value))
        elif kind == "int_tuple":
            group.attrs[name] = np.asarray(value, dtype=np.int64).reshape(-1)
        else:
            scalar = {"int": np.int64, "float": np.float64, "bool": np.bool_, "str": str}[kind]
            group.attrs[name] = scalar(value)


def _read_params_field(node: _Node, name: str, kind: str, optional: bool) -> Any:
    if optional and node.is_empty_attr(name):
        return None
    if kind == "qparams":
        return read_qparams(node.child(name, h5py.Group), dtype=None, shape=None, required=True)
    if kind == "ndarray":
        dataset = node.child(name, h5py.Dataset)
        if dataset.obj.dtype.kind not in "iuf":
            dataset.fail("", f"expected a numeric array, got {dataset.obj.dtype} data")
        try:
            return np.asarray(dataset.obj[()])
        except _H5PY_ERRORS as exc:
            dataset.fail("", f"unreadable data ({exc})")
    readers = {
        "int_tuple": node.int_tuple_attr,
        "int": node.int_attr,
        "float": node.float_attr,
        "bool": node.bool_attr,
        "str": node.str_attr,
    }
    return readers[kind](name)


def _read_params(node: _Node) -> object:
    class_name = node.str_attr("class")
    cls = PARAMS_TYPES.get(class_name)
    if cls is None:
        node.fail("class", f"unknown params class {class_name!r}")
    values = {
        name: _read_params_field(node, name, kind, optional)
        for name, kind, optional in _params_fields(cls)
    }
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        node.fail("", f"invalid {class_name}: {exc}")


# ---- model files ---------------------------------------------------------------------------------


def _write_tensor(group: h5py.Group, tensor: Tensor) -> None:
    group.attrs["name"] = tensor.name
    group.attrs["dtype"] = tensor.dtype.name
    group.attrs["shape"] = np.asarray(tensor.shape, dtype=np.int64).reshape(-1)
    if tensor.qparams is not None:
        write_qparams(group.attrs, tensor.qparams)
    if tensor.data is not None:
        group.create_dataset("data", data=tensor.data)


def _write_op(group: h5py.Group, op: Op) -> None:
    group.attrs["type"] = op.type
    group.attrs["name"] = op.name
    group.attrs["inputs"] = json.dumps(list(op.inputs))
    group.attrs["outputs"] = json.dumps(list(op.outputs))
    group.attrs["attrs"] = json.dumps(op.attrs)
    _write_params(group.create_group("params"), op.params)


def save_model(graph: Graph, path: str | os.PathLike) -> None:
    """Validate ``graph`` (``Graph.validate``) and write it to the model file ``path``,
    replacing any previous file atomically (``atomic_write``)."""
    graph.validate()
    tensors = list(graph.tensors.values())
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as file:
        file.attrs["format"] = MODEL_FORMAT
        file.attrs["version"] = np.int64(VERSION)
        file.attrs["profile"] = graph.profile
        file.attrs["inputs"] = json.dumps(list(graph.inputs))
        file.attrs["outputs"] = json.dumps(list(graph.outputs))
        group = file.create_group("tensors")
        for i, tensor in enumerate(tensors):
            _write_tensor(group.create_group(index_key(i, len(tensors))), tensor)
        group = file.create_group("ops")
        for i, op in enumerate(graph.ops):
            _write_op(group.create_group(index_key(i, len(graph.ops))), op)


def _read_shape(node: _Node) -> tuple[int, ...]:
    shape = node.array_attr("shape", "iu", "a 1-D integer array", (1,))
    bad = (shape < 0) | (shape > _MAX_DIM)
    if bad.any():
        node.fail("shape", f"dimension {int(shape[np.argmax(bad)])} is outside [0, {_MAX_DIM}]")
    return tuple(int(d) for d in shape)


def _read_tensor(node: _Node) -> Tensor:
    name = node.str_attr("name")
    dtype_name = node.str_attr("dtype")
    if dtype_name not in INTEGER_DTYPES:
        node.fail("dtype", f"expected one of {', '.join(INTEGER_DTYPES)}, got {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    shape = _read_shape(node)
    qparams = read_qparams(node, dtype=dtype, shape=shape, required=False)
    if qparams is not None and qparams.dtype != dtype:
        node.fail(
            "dtype",
            f"{dtype} differs from {qparams.dtype}, the storage of its {qparams.bits}-bit "
            f"grid (signed={qparams.signed})",
        )
    data = None
    if node.has_child("data"):
        dataset = node.child("data", h5py.Dataset)
        if dataset.obj.shape != shape:
            dataset.fail("", f"shape {dataset.obj.shape} differs from the declared shape {shape}")
        data = dataset.array(f"{dtype} data")
        if data.dtype != dtype:
            dataset.fail("", f"{data.dtype} data differs from the declared dtype {dtype}")
    return Tensor(name, dtype, shape, qparams, data)


def _read_op(node: _Node) -> Op:
    op_type = node.str_attr("type")
    if op_type not in OPDEFS:
        node.fail("type", f"unknown op type {op_type!r}")
    return Op(
        type=op_type,
        name=node.str_attr("name"),
        inputs=tuple(node.str_list_attr("inputs")),
        outputs=tuple(node.str_list_attr("outputs")),
        attrs=node.json_attr("attrs", dict),
        params=_read_params(node.child("params", h5py.Group)),
    )


def _check_constants(
    nodes: list[_Node], tensors: list[Tensor], graph_inputs: list[str], ops: list[Op]
) -> None:
    """A tensor that no op writes and that is no graph input must carry its data."""
    produced = set(graph_inputs).union(*(op.outputs for op in ops))
    for node, tensor in zip(nodes, tensors, strict=True):
        if tensor.data is None and tensor.name not in produced:
            node.fail(
                "data",
                f"missing: tensor {tensor.name!r} is neither a graph input nor "
                "written by an op, so it must be a constant",
            )


def load_model(path: str | os.PathLike) -> Graph:
    """Read the model file ``path`` and return its validated ``Graph``.

    Raises ``FileNotFoundError`` if ``path`` does not exist and ``FormatError`` naming the first
    bad field for anything else, including a graph that fails ``Graph.validate`` (for example
    params that differ from what its tensors' qparams derive).
    """
    with _open(path, MODEL_FORMAT) as root:
        profile = root.str_attr("profile")
        if profile not in available_profiles():
            root.fail("profile", f"unknown profile {profile!r}")
        inputs = root.str_list_attr("inputs")
        outputs = root.str_list_attr("outputs")
        tensor_nodes = root.child("tensors", h5py.Group).indexed_children(h5py.Group)
        tensors = [_read_tensor(node) for node in tensor_nodes]
        ops = [
            _read_op(node) for node in root.child("ops", h5py.Group).indexed_children(h5py.Group)
        ]
        _check_unique_names(tensor_nodes, [t.name for t in tensors])
        _check_constants(tensor_nodes, tensors, inputs, ops)
    graph = Graph({t.name: t for t in tensors}, ops, inputs, outputs, profile=profile)
    try:
        graph.validate()
    except GraphError as exc:
        raise FormatError(path, _graph_error_field(exc, tensors, len(ops)), str(exc)) from None
    return graph


def _graph_error_field(exc: GraphError, tensors: list[Tensor], op_count: int) -> str:
    """The file path of what ``GraphError`` blames: ``ops/0003/params/multiplier``,
    ``tensors/0007`` (for its ``tensors/<name>``), or "" for graph-level problems."""
    field = exc.field or ""
    if field.startswith("tensors/"):
        names = [t.name for t in tensors]
        name = field.removeprefix("tensors/")
        return f"tensors/{index_key(names.index(name), len(names))}" if name in names else ""
    if exc.op is None:
        return ""
    return f"ops/{index_key(exc.op, op_count)}" + (f"/{field}" if field else "")
