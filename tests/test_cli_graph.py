"""`intq run`, `verify`, `inspect` and `bench` on a model file: dumps round-trip through verify,
an injected change is named with exit code 1, bad arguments and files are one-line messages
with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_verify import PNG_SIGNATURE, TRACE_ORDER, image, small_graph, with_one_lsb_change

import intq.io
from intq import QuantParams, cli
from intq.builder import GraphBuilder
from intq.io import hdf5


@pytest.fixture(scope="module")
def graph():
    return small_graph()


@pytest.fixture
def files(tmp_path, graph):
    """The model file, an int8 input and the trace dump `intq run --dump` writes for it."""
    model, x, dump = tmp_path / "model.h5", tmp_path / "x.npy", tmp_path / "dump.h5"
    intq.io.save(graph, model)
    np.save(x, image())
    assert cli.main(["run", str(model), "--input", str(x), "--dump", str(dump), "--quiet"]) == 0
    return model, x, dump


def one_line_error(capsys, command: str) -> str:
    """The stderr of a failed command: exactly one line, prefixed, without a traceback."""
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"intq {command}: error: ") and "Traceback" not in err
    return err


def test_run_prints_outputs_and_writes_the_output_and_the_dump(graph, files, tmp_path, capsys):
    model, x, dump = files
    out = tmp_path / "out.npy"
    assert cli.main(["run", str(model), "--input", str(x), "--output", str(out)]) == 0
    expected = graph.run({"image": image()})["probs"]
    stdout = capsys.readouterr().out
    assert "output probs: int8 [4, 10]" in stdout
    assert f"argmax per row: {' '.join(map(str, expected.argmax(axis=1)))}" in stdout
    np.testing.assert_array_equal(np.load(out), expected)
    trace = hdf5.load_dump(dump)
    assert list(trace) == TRACE_ORDER
    assert trace["conv"].qparams == graph.tensors["conv"].qparams


def test_float_input_needs_quantize(graph, files, tmp_path, capsys):
    model, _, _ = files
    real = tmp_path / "real.npy"
    np.save(real, graph.dequantize_outputs({"image": image()})["image"])
    assert cli.main(["run", str(model), "--input", str(real)]) == 2
    assert "holds float32; the model input is int8 (pass --quantize" in one_line_error(
        capsys, "run"
    )
    assert cli.main(["run", str(model), "--input", str(real), "--quantize"]) == 0
    expected = graph.run({"image": image()})["probs"].argmax(axis=1)
    assert f"argmax per row: {' '.join(map(str, expected))}" in capsys.readouterr().out


def test_verify_against_its_own_dump_passes(files, capsys):
    model, x, dump = files
    assert cli.main(["verify", str(model), "--input", str(x), "--against", str(dump)]) == 0
    stdout = capsys.readouterr().out
    assert "OK: 8 of 8 compared tensors agree exactly" in stdout
    assert all(name in stdout for name in TRACE_ORDER)


def test_verify_names_an_injected_change_and_exits_1(files, tmp_path, capsys):
    model, x, dump = files
    changed, _ = with_one_lsb_change({n: t.data for n, t in hdf5.load_dump(dump).items()}, "pool")
    bad = tmp_path / "bad.h5"
    hdf5.save_dump(changed, bad)
    png = tmp_path / "report.png"
    argv = ["verify", str(model), "--input", str(x), "--against", str(bad)]
    assert cli.main([*argv, "--plot", str(png)]) == 1
    stdout = capsys.readouterr().out
    assert "first divergent tensor: pool (produced by pool)" in stdout
    assert "explain: pool is produced by pool (avg_pool2d)" in stdout
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert cli.main([*argv, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["report"]["first_divergent"] == {"tensor": "pool", "producer": "pool"}
    pool = next(t for t in document["report"]["tensors"] if t["name"] == "pool")
    assert (pool["mismatches"], pool["max_abs_diff"]) == (1, 1)
    assert document["explanation"]["op"] == "pool"


def test_inspect_prints_every_op(graph, files, capsys):
    model, _, _ = files
    assert cli.main(["inspect", str(model)]) == 0
    stdout = capsys.readouterr().out
    for op in graph.ops:
        assert op.name in stdout and op.type in stdout


def two_input_model(path: Path) -> None:
    b = GraphBuilder()
    q = QuantParams(0.1, 0)
    b.output(b.add(b.input("a", (1, 3), q), b.input("b", (1, 3), q), out_qparams=q, name="sum"))
    intq.io.save(b.build(), path)


def test_models_with_several_inputs_take_named_inputs(tmp_path, capsys):
    model, a, b = tmp_path / "two.h5", tmp_path / "a.npy", tmp_path / "b.npy"
    two_input_model(model)
    np.save(a, np.array([[1, 2, 3]], np.int8))
    np.save(b, np.array([[10, 20, 30]], np.int8))
    out = tmp_path / "sum.npy"
    argv = ["run", str(model), "--input", f"a={a}", "--input", f"b={b}", "--output", f"sum={out}"]
    assert cli.main(argv) == 0
    np.testing.assert_array_equal(np.load(out), [[11, 22, 33]])
    capsys.readouterr()
    assert cli.main(["run", str(model), "--input", str(a)]) == 2
    assert "the model has 2 inputs (a, b); write --input NAME=PATH" in one_line_error(capsys, "run")
    assert cli.main(["run", str(model), "--input", f"a={a}"]) == 2
    assert "no array given for the model input(s) b" in one_line_error(capsys, "run")
    assert cli.main(["run", str(model), "--input", f"c={a}", "--input", f"b={b}"]) == 2
    assert "the model has no input 'c' (its inputs: a, b)" in one_line_error(capsys, "run")


def bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.txt"
    text.write_text("not an array\n")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x00" * 64)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=image())
    wide = tmp_path / "wide.npy"
    np.save(wide, image().astype(np.int16))
    flat = tmp_path / "flat.npy"
    np.save(flat, image().reshape(4, -1))
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, image())
    truncated.write_bytes(truncated.read_bytes()[:100])
    return {"text": text, "garbage": garbage, "npz": npz, "wide": wide, "flat": flat,
            "truncated": truncated, "missing": tmp_path / "missing.npy"}  # fmt: skip


@pytest.mark.parametrize(
    "command,args,message",
    [
        ("run", ["{missing_model}", "--input", "{x}"], "model {missing_model}: no such file"),
        ("run", ["{x}", "--input", "{x}"], "unknown model file suffix '.npy'"),
        ("inspect", ["{garbage}"], "model {garbage}: not a readable HDF5 file"),
        ("run", ["{model}", "--input", "{missing}"], "input {missing}: no such file"),
        ("run", ["{model}", "--input", "{text}"], "not a .npy file (no NumPy array header)"),
        ("run", ["{model}", "--input", "{npz}"], "not a .npy file (no NumPy array header)"),
        ("run", ["{model}", "--input", "{truncated}"], "input {truncated}: "),
        ("run", ["{model}", "--input", "{wide}"], "holds int16; the model input is int8"),
        ("run", ["{model}", "--input", "{flat}"], "takes [N, 8, 8, 3] (any batch size N)"),
        ("run", ["{model}", "--input", "{x}", "--output", "{tmp}/no/such/o.npy"], "does not exist"),
        ("verify", ["{model}", "--input", "{x}", "--against", "{garbage}"], "dump {garbage}: "),
        ("verify", ["{model}", "--input", "{x}", "--against", "{missing}"], "no such file"),
    ],
)
def test_bad_files_are_one_line_messages_with_exit_code_2(
    files, tmp_path, capsys, command, args, message
):
    model, x, _ = files
    names = {**bad_files(tmp_path), "model": model, "x": x, "tmp": tmp_path,
             "missing_model": tmp_path / "nope.h5"}  # fmt: skip
    capsys.readouterr()
    assert cli.main([command, *(a.format(**names) for a in args)]) == 2
    assert message.format(**names) in one_line_error(capsys, command)


def test_a_truncated_model_file_is_a_format_error(files, tmp_path, capsys):
    model = files[0]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(model.read_bytes()[:2000])
    capsys.readouterr()
    assert cli.main(["inspect", str(cut)]) == 2
    assert f"model {cut}: " in one_line_error(capsys, "inspect")


@pytest.mark.parametrize("command", ["run", "verify", "inspect", "bench"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: intq {command}" in capsys.readouterr().out


def test_missing_required_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", "model.h5", "--input", "x.npy"])
    assert exc.value.code == 2
    assert "the following arguments are required: --against" in capsys.readouterr().err


def test_bench_reports_every_shape(capsys):
    assert cli.main(["bench", "--quick", "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [shape[0] for shape in cli.QUICK_SHAPES]
    for r in rows:
        assert r["ops"] > 0 and r["intq_ms"] > 0 and r["numpy_f32_ms"] > 0
        assert r["intq_gops"] == pytest.approx(r["ops"] / r["intq_ms"] / 1e6)


def test_the_installed_entry_point_prints_help():
    script = Path(sys.executable).with_name("intq")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert all(c in result.stdout for c in ("run", "verify", "inspect", "bench", "demo"))
