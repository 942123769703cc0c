"""intq's HDF5 files (docs/files.md): round trips, hand-written dumps, one-field mutations,
atomic saves, and byte-level fuzzing in a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intq import io as intq_io
from intq.builder import GraphBuilder
from intq.errors import FormatError
from intq.graph import Graph, params_difference
from intq.io import hdf5
from intq.io.atomic import atomic_write
from intq.io.hdf5 import DumpTensor, load_dump, load_model, save_dump, save_model
from intq.qparams import QuantParams

ROOT = Path(__file__).resolve().parent.parent
FUZZ_TARGET = Path(__file__).resolve().parent / "hdf5_fuzz_target.py"
CORPUS = Path(__file__).resolve().parent / "corpus"


# ---- fixtures -----------------------------------------------------------------------------------


def build_graph() -> Graph:
    """A graph with every op type of docs/graph.md but ``sub``: per-channel conv and depthwise
    weights, an int32 bias with and without qparams, table and fixed-point activations, a
    requantize inserted by concat, and tensor names containing "/"."""
    rng = np.random.default_rng(0)

    def w8(*shape: int) -> np.ndarray:
        return rng.integers(-127, 128, size=shape, dtype=np.int8)

    def bias(n: int) -> np.ndarray:
        return rng.integers(-500, 500, n, dtype=np.int32)

    b = GraphBuilder()
    x = b.input("image/x", (1, 8, 8, 3), QuantParams(0.05, -3))
    wq = QuantParams(np.array([0.01, 0.02, 0.015, 0.03]), 0, axis=0, narrow_range=True)
    c = b.conv2d(
        x,
        w8(4, 3, 3, 3),
        bias(4),
        w_qparams=wq,
        out_qparams=QuantParams(0.1, -10),
        padding="same",
        activation="relu",
        name="block/conv",
    )
    dq = QuantParams(np.array([0.02, 0.01, 0.02, 0.04]), 0, axis=3, narrow_range=True)
    d = b.depthwise_conv2d(
        c,
        w8(1, 3, 3, 4),
        bias(4),
        w_qparams=dq,
        out_qparams=QuantParams(0.12, 5),
        padding="same",
        name="block/dw",
    )
    mp = b.max_pool2d(d, filter_size=2, stride=2)
    ap = b.avg_pool2d(d, filter_size=2, stride=2, padding="same")
    s = b.add(mp, ap, out_qparams=QuantParams(0.2, 1))
    m = b.mul(s, mp, out_qparams=QuantParams(0.5, -2))
    r = b.requantize(m, out_qparams=QuantParams(0.25, 3))
    cat = b.concat([r, s], axis=3, out_qparams=QuantParams(0.25, 3))
    p = b.pad(cat, [[0, 0], [1, 1], [1, 1], [0, 0]])
    mn = b.mean(p, [1, 2], out_qparams=QuantParams(0.2, 0))
    fc = b.fully_connected(
        mn,
        w8(10, 8),
        bias(10),
        w_qparams=QuantParams(0.01, 0),
        out_qparams=QuantParams(0.3, 2),
        bias_qparams=QuantParams(0.2 * 0.01, 0, bits=32),
    )
    b.output(
        b.softmax(fc),
        b.logistic(fc),
        b.tanh(fc, method="fixed_point"),
        b.hard_swish(fc, out_qparams=QuantParams(0.1, -5)),
        b.reshape(p, [-1]),
    )
    return b.build()


def build_kinds_graph() -> Graph:
    """Six ops whose params hold every kind of field the file stores (int, float, bool, int32
    and float64 arrays, int tuples, QuantParams), and a raw and a quantized int32 bias: the
    model every one of whose fields the mutation test damages (all op types would take
    too long: HDF5 reads an attribute in ~0.1 ms)."""
    rng = np.random.default_rng(4)
    b = GraphBuilder()
    x = b.input("in/x", (1, 3, 3, 2), QuantParams(0.05, -3))
    wq = QuantParams(np.array([0.01, 0.02]), 0, axis=0, narrow_range=True)
    c = b.conv2d(
        x,
        rng.integers(-127, 128, (2, 2, 2, 2), dtype=np.int8),
        rng.integers(-99, 99, 2, dtype=np.int32),
        w_qparams=wq,
        out_qparams=QuantParams(0.1, 1),
        name="conv",
    )
    flat = b.reshape(c, [-1])
    y = b.fully_connected(
        flat,
        rng.integers(-127, 128, (3, 8), dtype=np.int8),
        rng.integers(-99, 99, 3, dtype=np.int32),
        w_qparams=QuantParams(0.02, 0),
        out_qparams=QuantParams(0.1, 1),
        bias_qparams=QuantParams(0.1 * 0.02, 0, bits=32),
    )
    b.output(b.logistic(y), b.tanh(y, method="fixed_point"), b.softmax(y))
    return b.build()


def build_small_graph() -> Graph:
    """Two ops: the model the byte-level fuzzing damages."""
    rng = np.random.default_rng(1)
    b = GraphBuilder()
    x = b.input("x", (1, 6), QuantParams(0.05, -3))
    y = b.fully_connected(
        x,
        rng.integers(-127, 128, (4, 6), dtype=np.int8),
        rng.integers(-99, 99, 4, dtype=np.int32),
        w_qparams=QuantParams(0.02, 0),
        out_qparams=QuantParams(0.1, 1),
    )
    b.logistic(y)
    return b.build()


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph()


@pytest.fixture(scope="module")
def model_file(graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.h5"
    save_model(graph, path)
    return path


def dump_tensors() -> tuple[dict[str, np.ndarray], dict[str, QuantParams]]:
    """Every dtype, a 0-d and an empty tensor, per-tensor and per-channel qparams, raw tensors."""
    rng = np.random.default_rng(2)
    tensors = {
        "input/x": rng.integers(-128, 128, (2, 3, 4), dtype=np.int8),
        "conv/weights": rng.integers(-127, 128, (4, 3), dtype=np.int8),
        "u8": rng.integers(0, 256, (5,), dtype=np.uint8),
        "i16": rng.integers(-(2**15), 2**15, (3, 2), dtype=np.int16),
        "u16": rng.integers(0, 2**16, (7,), dtype=np.uint16),
        "bias": rng.integers(-(2**31), 2**31, (4,), dtype=np.int32),
        "acc64": rng.integers(-(2**62), 2**62, (2, 2), dtype=np.int64),
        "scalar": np.array(-7, dtype=np.int8),
        "empty batch": np.zeros((0, 3), dtype=np.int8),
        "raw/int32": np.arange(6, dtype=np.int32).reshape(2, 3),
    }
    qparams = {
        "input/x": QuantParams(0.0235, -128),
        "conv/weights": QuantParams(np.array([0.1, 0.2, 0.3]), 0, axis=1, narrow_range=True),
        "u8": QuantParams(0.5, 128, signed=False),
        "i16": QuantParams(1 / 3, 0, bits=16),
        "u16": QuantParams(2.0**-20, 65535, bits=16, signed=False),
        "bias": QuantParams(np.float64(0.1) * 0.2, 0, bits=32),
        "acc64": QuantParams(1e-9, 0, bits=64),
        "scalar": QuantParams(0.25, 3, bits=4),
        "empty batch": QuantParams(np.array([1.0, 2.0, 3.0]), np.array([-1, 0, 1]), axis=-1),
    }
    return tensors, qparams


@pytest.fixture(scope="module")
def dump_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dump") / "d.h5"
    tensors, qparams = dump_tensors()
    save_dump(tensors, path, qparams=qparams)
    return path


def copy_to(src: Path, folder: Path, name: str = "copy.h5") -> Path:
    dst = folder / name
    shutil.copyfile(src, dst)
    return dst


# ---- dump files ---------------------------------------------------------------------------------


def test_dump_round_trip_is_bit_identical(dump_file: Path) -> None:
    tensors, qparams = dump_tensors()
    loaded = load_dump(dump_file)
    assert list(loaded) == list(tensors)
    for name, data in tensors.items():
        got = loaded[name]
        assert isinstance(got, DumpTensor) and got.name == name
        assert got.data.dtype == data.dtype and got.data.shape == data.shape, name
        assert np.array_equal(got.data, data), name
        assert got.qparams == qparams.get(name), name
    assert loaded["raw/int32"].qparams is None
    assert loaded["conv/weights"].qparams.axis == 1


@st.composite
def quant_params(draw: st.DrawFn) -> tuple[QuantParams, tuple[int, ...]]:
    """Any valid QuantParams (2..16 bits, per tensor or per channel, scales from 2^-126 to 2^100)
    and a tensor shape it fits."""
    bits = draw(st.integers(2, 16))
    signed, narrow = draw(st.booleans()), draw(st.booleans())
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=3)))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    if axis is not None and shape[axis] == 0:
        axis = None
    channels = None if axis is None else shape[axis]
    scales = st.floats(2.0**-126, 2.0**100, allow_nan=False, allow_infinity=False)
    qmin = (-(2 ** (bits - 1)) if signed else 0) + int(narrow)
    qmax = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    zero_points = st.integers(qmin, qmax)
    if channels is None:
        scale, zero_point = draw(scales), draw(zero_points)
    else:
        scale = np.array(draw(st.lists(scales, min_size=channels, max_size=channels)))
        zero_point = np.array(draw(st.lists(zero_points, min_size=channels, max_size=channels)))
    return QuantParams(scale, zero_point, axis, bits, signed, narrow), shape


@given(quant_params())
def test_any_qparams_survive_a_dump_round_trip(tmp_path_factory, case) -> None:
    qp, shape = case
    data = np.full(shape, qp.qmax, dtype=qp.dtype)
    path = tmp_path_factory.mktemp("qp") / "d.h5"
    save_dump({"t": data}, path, qparams={"t": qp})
    got = load_dump(path)["t"]
    assert got.qparams == qp
    assert got.data.dtype == data.dtype and np.array_equal(got.data, data)


def hand_written_dump_code() -> str:
    """The h5py example of docs/files.md, verbatim."""
    text = (ROOT / "docs" / "files.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (code,) = [b for b in blocks if "h5py.File" in b]
    return code


def test_dump_written_with_plain_h5py_per_docs_loads(tmp_path: Path, monkeypatch) -> None:
    code = hand_written_dump_code()
    assert len(code.strip().splitlines()) <= 6
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/files.md", "exec"), {})
    loaded = load_dump(tmp_path / "npu_dump.h5")
    (tensor,) = loaded.values()
    assert tensor.name == "conv1/out"
    assert tensor.data.dtype == np.int8 and tensor.data.tolist() == [[-3, 0, 127]]
    assert tensor.qparams == QuantParams(0.0235, -128)


def test_dump_from_other_writers_conventions(tmp_path: Path) -> None:
    """Fixed-length string names, big-endian data, float32 scales and omitted optional
    attributes are what other tools write; they read as intq's own."""
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["version"] = np.bytes_(b"intq-dump"), np.int32(1)
        d = f.create_dataset("tensors/0000", data=np.array([1, -2, 3], dtype=">i2"))
        d.attrs["name"] = np.bytes_(b"a/b")
        d.attrs["scale"], d.attrs["zero_point"] = np.float32(0.5), np.int16(-4)
    (tensor,) = load_dump(path).values()
    assert tensor.name == "a/b" and tensor.data.dtype == np.dtype("int16")
    assert tensor.data.tolist() == [1, -2, 3]
    assert tensor.qparams == QuantParams(0.5, -4, bits=16)


@pytest.mark.parametrize(
    ("tensors", "qparams", "message"),
    [
        ({"x": np.zeros(3, np.float32)}, None, r"tensors\['x'\]: .*float32 \(quantize"),
        ({"x": np.zeros(3, np.uint32)}, None, r"tensors\['x'\]: .*got uint32"),
        ({"x": np.zeros(3, np.int8)}, {"y": QuantParams(1.0, 0)}, r"qparams\['y'\]: no tensor"),
        ({"": np.zeros(3, np.int8)}, None, r"tensors: names must be non-empty strings"),
        (
            {"x": np.zeros((2, 3), np.int8)},
            {"x": QuantParams(np.ones(2), 0, axis=1)},
            r"qparams\['x'\]: scale: 2 channels, but dimension 1 .* has 3",
        ),
        ({"x": np.zeros(3, np.int8)}, {"x": QuantParams(1.0, 0, bits=16)}, r"bits: .*int8"),
        ({"x": np.zeros(3, np.uint8)}, {"x": QuantParams(1.0, 0)}, r"signed: .*uint8"),
    ],
)
def test_save_dump_refuses_bad_arguments(tmp_path: Path, tensors, qparams, message) -> None:
    with pytest.raises(ValueError, match=message):
        save_dump(tensors, tmp_path / "d.h5", qparams=qparams)
    assert list(tmp_path.iterdir()) == []


def write_dump(path: Path, *datasets: tuple[np.ndarray, dict]) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["version"] = "intq-dump", 1
        for i, (data, attrs) in enumerate(datasets):
            d = f.create_dataset(f"tensors/{i:04d}", data=data)
            d.attrs.update(attrs)
    return path


I8 = np.array([1, 2, 3], dtype=np.int8)


@pytest.mark.parametrize(
    ("datasets", "field", "message"),
    [
        ([(np.zeros(3, np.float64), {"name": "x"})], "tensors/0000", "got float64 data"),
        ([(I8, {"name": "x"}), (I8, {"name": "x"})], "tensors/0001/name", "duplicate"),
        ([(I8, {"name": "x", "scale": np.nan, "zero_point": 0})], "tensors/0000/scale", "nan"),
        ([(I8, {"name": "x", "scale": np.inf, "zero_point": 0})], "tensors/0000/scale", "inf"),
        ([(I8, {"name": "x", "scale": -1.0, "zero_point": 0})], "tensors/0000/scale", "-1.0"),
        ([(I8, {"name": "x", "scale": 0.0, "zero_point": 0})], "tensors/0000/scale", "positive"),
        ([(I8, {"name": "x", "scale": 1.0, "zero_point": 128})], "tensors/0000/zero_point", "128"),
        ([(I8, {"name": "x", "scale": 1.0})], "tensors/0000/zero_point", "missing"),
        ([(I8, {"name": "x", "zero_point": 0})], "tensors/0000/scale", "missing"),
        ([(I8, {"name": "x", "bits": 4})], "tensors/0000/scale", "missing"),
        (
            [(I8, {"name": "x", "scale": [1.0, 2.0], "zero_point": [0, 0], "axis": 0})],
            "tensors/0000/scale",
            "2 channels, but dimension 0",
        ),
        (
            [(I8, {"name": "x", "scale": [1.0, 2.0, 3.0], "zero_point": [0, 0, 0]})],
            "tensors/0000/axis",
            "missing, but the scale is per channel",
        ),
        (
            [(I8, {"name": "x", "scale": 1.0, "zero_point": 0, "axis": 1})],
            "tensors/0000/scale",
            "per-channel",
        ),
        (
            [(I8, {"name": "x", "scale": 1.0, "zero_point": 0, "bits": 9})],
            "tensors/0000/bits",
            "fit",
        ),
        (
            [(I8, {"name": "x", "scale": 1.0, "zero_point": 0, "bits": 1})],
            "tensors/0000/bits",
            "2..16",
        ),
        ([(I8, {"name": 5})], "tensors/0000/name", "expected a string"),
    ],
)
def test_load_dump_names_the_bad_field(tmp_path: Path, datasets, field, message) -> None:
    path = write_dump(tmp_path / "bad.h5", *datasets)
    with pytest.raises(FormatError, match=re.escape(message)) as info:
        load_dump(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: {field}: ")
    assert info.value.path == str(path)


def test_duplicate_model_tensor_names_are_refused(tmp_path: Path, model_file: Path) -> None:
    path = copy_to(model_file, tmp_path)
    with h5py.File(path, "r+") as f:
        f["tensors/0002"].attrs["name"] = f["tensors/0001"].attrs["name"]
    with pytest.raises(FormatError, match="duplicate tensor name 'block/conv/weights'") as info:
        load_model(path)
    assert info.value.field == "tensors/0002/name"


def test_load_dump_refuses_a_gap_in_the_indices(tmp_path: Path) -> None:
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["version"] = "intq-dump", 1
        f.create_dataset("tensors/0000", data=I8).attrs["name"] = "a"
        f.create_dataset("tensors/0002", data=I8).attrs["name"] = "b"
    with pytest.raises(FormatError, match="found '0002'") as info:
        load_dump(path)
    assert info.value.field == "tensors/0001"


# ---- whole files: not HDF5, truncated, wrong format or version, missing -------------------------


@pytest.mark.parametrize("load", [load_dump, load_model])
def test_missing_file_is_file_not_found(tmp_path: Path, load) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.h5")


@pytest.mark.parametrize("load", [load_dump, load_model])
def test_not_hdf5_and_truncated_files_are_format_errors(tmp_path: Path, model_file, load) -> None:
    text = tmp_path / "text.h5"
    text.write_text("hello, not HDF5\n")
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(model_file.read_bytes()[:1000])
    for path in (text, truncated):
        with pytest.raises(FormatError, match=re.escape(f"{path}: ")):
            load(path)


def test_a_model_is_not_a_dump_and_vice_versa(model_file: Path, dump_file: Path) -> None:
    with pytest.raises(FormatError, match="expected 'intq-dump', got 'intq-model'") as info:
        load_dump(model_file)
    assert info.value.field == "format"
    with pytest.raises(FormatError, match="expected 'intq-model', got 'intq-dump'"):
        load_model(dump_file)


def test_wrong_version_is_refused(tmp_path: Path, dump_file: Path) -> None:
    path = copy_to(dump_file, tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["version"] = 2
    with pytest.raises(FormatError, match="intq reads version 1, got 2") as info:
        load_dump(path)
    assert info.value.field == "version"


# ---- model files --------------------------------------------------------------------------------


def test_model_round_trip_is_bit_identical(graph: Graph, model_file: Path) -> None:
    loaded = load_model(model_file)
    assert loaded.profile == graph.profile
    assert loaded.inputs == graph.inputs and loaded.outputs == graph.outputs
    assert list(loaded.tensors) == list(graph.tensors)
    for name, t in graph.tensors.items():
        u = loaded.tensors[name]
        assert (u.dtype, u.shape, u.qparams) == (t.dtype, t.shape, t.qparams), name
        assert (u.data is None) == (t.data is None), name
        if t.data is not None:
            assert u.data.dtype == t.data.dtype and np.array_equal(u.data, t.data), name
    assert [op.name for op in loaded.ops] == [op.name for op in graph.ops]
    for op, back in zip(graph.ops, loaded.ops, strict=True):
        assert (back.type, back.inputs, back.outputs) == (op.type, op.inputs, op.outputs)
        assert back.attrs == op.attrs, op.name
        assert params_difference(back.params, op.params) is None, op.name
    x = np.random.default_rng(3).integers(-128, 128, (3, 8, 8, 3), dtype=np.int8)
    before = graph.run({"image/x": x}, trace=True)
    after = loaded.run({"image/x": x}, trace=True)
    assert list(after) == list(before)
    for name, value in before.items():
        assert after[name].dtype == value.dtype and np.array_equal(after[name], value), name


def test_round_trip_covers_every_op_type_but_sub(graph: Graph) -> None:
    from intq.opdefs import OPDEFS

    assert set(OPDEFS) - {op.type for op in graph.ops} == {"sub"}
    classes = {type(op.params).__name__ for op in graph.ops}
    assert {"ActivationTable", "FixedPointActivationParams", "ConcatParams"} <= classes


def test_a_tampered_multiplier_is_caught_by_validation(tmp_path: Path, model_file: Path) -> None:
    path = copy_to(model_file, tmp_path)
    with h5py.File(path, "r+") as f:
        key = next(k for k in f["ops"] if f[f"ops/{k}"].attrs["type"] == "conv2d")
        data = f[f"ops/{key}/params/multiplier"]
        data[0] = data[0] + 1
    with pytest.raises(FormatError, match=r"params\.multiplier differs") as info:
        load_model(path)
    assert info.value.field == f"ops/{key}/params/multiplier"


@pytest.mark.parametrize(
    ("target", "value", "message"),
    [
        ("tensors/0001/shape", np.array([4, 3, -3, 3]), "dimension -3 is outside"),
        ("tensors/0001/shape", np.array([4, 3, 2**40, 3]), "is outside"),
        ("tensors/0001/dtype", "float32", "expected one of int8"),
        ("tensors/0001/dtype", "int16", "int16 differs from int8, the storage"),
        ("tensors/0001/zero_point", np.array([0, 0, 0, -128]), "outside [qmin, qmax]"),
        ("tensors/0000/scale", np.float64(0.0), "must be finite and positive"),
        ("tensors/0000/zero_point", np.int64(300), "300 lies outside"),
        ("ops/0000/type", "conv3d", "unknown op type"),
        ("ops/0000/attrs", "{not json", "not valid JSON"),
        ("ops/0000/inputs", '["image/x", 3]', "list of strings"),
        ("ops/0000/params/class", "NoSuchParams", "unknown params class"),
        ("profile", "no-such-profile", "unknown profile"),
    ],
)
def test_invalid_model_values_name_the_field(tmp_path, model_file, target, value, message):
    path = copy_to(model_file, tmp_path)
    obj, attr = target.rsplit("/", 1) if "/" in target else ("/", target)
    with h5py.File(path, "r+") as f:
        f[obj].attrs[attr] = value
    with pytest.raises(FormatError, match=re.escape(message)) as info:
        load_model(path)
    assert info.value.field == target


def test_a_wrong_output_shape_names_the_tensor(tmp_path: Path, model_file: Path) -> None:
    path = copy_to(model_file, tmp_path)
    with h5py.File(path, "r+") as f:
        assert f["tensors/0003"].attrs["name"] == "block/conv"
        f["tensors/0003"].attrs["shape"] = np.array([1, 8, 8, 5])
    with pytest.raises(
        FormatError, match=r"output 'block/conv' is declared int8\[1, 8, 8, 5\]"
    ) as info:
        load_model(path)
    assert info.value.field == "tensors/0003"


def test_per_channel_length_must_match_the_axis(tmp_path: Path, model_file: Path) -> None:
    path = copy_to(model_file, tmp_path)
    with h5py.File(path, "r+") as f:
        f["tensors/0001"].attrs["scale"] = np.array([0.01, 0.02, 0.015])
        f["tensors/0001"].attrs["zero_point"] = np.array([0, 0, 0])
    with pytest.raises(FormatError, match="3 channels, but dimension 0 of the tensor") as info:
        load_model(path)
    assert info.value.field == "tensors/0001/scale"


# ---- one-field mutations of every attribute and dataset ------------------------------------------

# Attributes a reader may find absent (docs/files.md): deleting one can leave a valid file.
OPTIONAL_QPARAMS = ("bits", "signed", "narrow_range")


def file_items(path: Path) -> list[tuple[str, str | None]]:
    """``(object path, attribute name)`` of every attribute, and ``(dataset path, None)`` of every
    dataset, in the file."""
    items: list[tuple[str, str | None]] = []
    with h5py.File(path, "r") as f:
        items += [("", a) for a in f.attrs]

        def visit(name: str, obj: h5py.HLObject) -> None:
            if isinstance(obj, h5py.Dataset):
                items.append((name, None))
            items.extend((name, a) for a in obj.attrs)

        f.visititems(visit)
    return items


def field_of(obj: str, attr: str | None) -> str:
    return obj if attr is None else f"{obj}/{attr}" if obj else attr


def mutate(path: Path, obj: str, attr: str | None, action: str) -> None:
    """Delete, or replace by a value of the wrong type, one attribute or dataset (a dataset
    keeps its attributes: only its data changes)."""
    with h5py.File(path, "r+") as f:
        if attr is not None:
            node = f[obj] if obj else f
            old = node.attrs[attr]
            del node.attrs[attr]
            if action == "wrong type":
                node.attrs[attr] = np.int64(7) if isinstance(old, str | bytes) else "seven"
            return
        attrs = dict(f[obj].attrs)
        del f[obj]
        if action == "wrong type":
            f.create_dataset(obj, data="seven").attrs.update(attrs)


def mutation_failures(good: Path, folder: Path, load, may_load) -> tuple[int, list[str]]:
    """Apply every mutation to a fresh copy of ``good``; return how many were tried and a line
    for each whose load did not raise ``FormatError`` naming the mutated field. ``may_load
    (obj, attr)`` says whether a deletion may leave a valid file."""
    tried, failures = 0, []
    for obj, attr in file_items(good):
        field = field_of(obj, attr)
        for action in ("delete", "wrong type"):
            path = copy_to(good, folder)
            mutate(path, obj, attr, action)
            tried += 1
            try:
                load(path)
            except FormatError as err:
                if err.field != field:
                    failures.append(f"{action} {field}: FormatError names {err.field!r}: {err}")
                continue
            except Exception as err:
                failures.append(f"{action} {field}: {type(err).__name__}: {err}")
                continue
            if not (action == "delete" and may_load(obj, attr)):
                failures.append(f"{action} {field}: loaded without error")
    return tried, failures


def test_every_mutated_model_field_is_named(tmp_path: Path) -> None:
    def may_load(obj: str, attr: str | None) -> bool:
        return obj.startswith("tensors/") and attr in OPTIONAL_QPARAMS

    model_file = tmp_path / "kinds.h5"
    save_model(build_kinds_graph(), model_file)
    tried, failures = mutation_failures(model_file, tmp_path, load_model, may_load)
    assert tried > 300
    assert failures == [], "\n".join(failures)


def test_every_mutated_dump_field_is_named(tmp_path: Path, dump_file: Path) -> None:
    last = f"tensors/{len(dump_tensors()[0]) - 1:04d}"

    def may_load(obj: str, attr: str | None) -> bool:
        # Dropping the last dataset leaves a valid, shorter dump.
        return attr in OPTIONAL_QPARAMS or (obj == last and attr is None)

    tried, failures = mutation_failures(dump_file, tmp_path, load_dump, may_load)
    assert tried > 100
    assert failures == [], "\n".join(failures)


# ---- atomic saves -------------------------------------------------------------------------------


def test_atomic_write_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half-way"), atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and not tmp.exists()
        tmp.write_bytes(b"partial")
        raise RuntimeError("half-way")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    with atomic_write(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def raise_on_call(monkeypatch, name: str, call: int) -> None:
    """Make ``intq.io.hdf5.<name>`` raise on its ``call``-th call (1-based)."""
    original, calls = getattr(hdf5, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise RuntimeError("interrupted half-way")
        return original(*args, **kwargs)

    monkeypatch.setattr(hdf5, name, failing)


def test_interrupted_model_save_leaves_the_previous_file(tmp_path, model_file, monkeypatch):
    path = copy_to(model_file, tmp_path, "m.h5")
    before = path.read_bytes()
    raise_on_call(monkeypatch, "_write_op", 2)
    with pytest.raises(RuntimeError, match="interrupted half-way"):
        save_model(build_small_graph(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]


def test_interrupted_dump_save_leaves_the_previous_file(tmp_path, dump_file, monkeypatch):
    path = copy_to(dump_file, tmp_path, "d.h5")
    before = path.read_bytes()
    raise_on_call(monkeypatch, "write_qparams", 3)
    tensors, qparams = dump_tensors()
    with pytest.raises(RuntimeError, match="interrupted half-way"):
        save_dump(tensors, path, qparams=qparams)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]


# ---- save/load by suffix ------------------------------------------------------------------------


def test_save_and_load_dispatch_on_the_suffix(tmp_path: Path) -> None:
    graph = build_small_graph()
    for name in ("m.h5", "m.HDF5", "m.tflite"):
        intq_io.save(graph, tmp_path / name)
        assert [op.name for op in intq_io.load(tmp_path / name).ops] == [
            op.name for op in graph.ops
        ]
    with pytest.raises(ValueError, match=r"unknown model file suffix '\.onnx'"):
        intq_io.load(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"unknown model file suffix '\(none\)'"):
        intq_io.save(graph, tmp_path / "model")


# ---- byte-level fuzzing in a subprocess ----------------------------------------------------------


def culprits(files: list[Path], timeout: float) -> list[tuple[Path, str]]:
    """Run the fuzz target on ``files``; return each file that crashed, hung or raised something
    other than ``FormatError``, with what happened. After a culprit the rest is run again."""
    found: list[tuple[Path, str]] = []
    remaining = list(files)
    while remaining:
        command = [sys.executable, str(FUZZ_TARGET), *map(str, remaining)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            out, what = proc.stdout, f"exit status {proc.returncode}: {proc.stderr[-300:]}"
            if proc.returncode == 0:
                break
        except subprocess.TimeoutExpired as exc:
            out, what = exc.stdout or "", f"no answer within {timeout} s"
        out = out.decode() if isinstance(out, bytes) else out
        done = sum(line.startswith("ok ") for line in out.splitlines())
        found.append((remaining[done], what))
        remaining = remaining[done + 1 :]
    return found


def fuzzed_files(model: bytes, folder: Path) -> list[Path]:
    """~30 truncations and ~30 files with four bits flipped each (seeds 0..29)."""
    files = []
    for length in np.linspace(0, len(model) - 1, 30).astype(int):
        files.append(folder / f"truncate-{length}.h5")
        files[-1].write_bytes(model[:length])
    for seed in range(30):
        data = bytearray(model)
        rng = np.random.default_rng(seed)
        for bit in rng.integers(0, 8 * len(data), 4):
            data[bit // 8] ^= 1 << (bit % 8)
        files.append(folder / f"bitflip-{seed}.h5")
        files[-1].write_bytes(bytes(data))
    return files


def test_the_fuzz_harness_finds_planted_culprits(tmp_path: Path) -> None:
    good = tmp_path / "good.h5"
    save_model(build_small_graph(), good)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not HDF5")
    missing = tmp_path / "missing.h5"  # FileNotFoundError: not a FormatError, so a culprit
    found = culprits([good, missing, bad, good, missing], timeout=60)
    assert [(p.name, what.split(":")[0]) for p, what in found] == [
        ("missing.h5", "exit status 1"),
        ("missing.h5", "exit status 1"),
    ]


def test_fuzzed_model_files_raise_only_format_error(tmp_path: Path) -> None:
    save_model(build_small_graph(), tmp_path / "small.h5")
    files = fuzzed_files((tmp_path / "small.h5").read_bytes(), tmp_path)
    found = culprits(files, timeout=60)
    for path, _ in found:
        shutil.copyfile(path, CORPUS / path.name)
    assert found == [], "copied to tests/corpus/: " + "; ".join(
        f"{p.name}: {what}" for p, what in found
    )


def test_corpus_files_raise_only_format_error() -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.name != "README.md")
    if not files:
        pytest.skip("tests/corpus/ holds no crashing inputs yet")
    assert culprits(files, timeout=60) == []
