"""The ``intq`` command line: ``demo``, ``run``, ``verify``, ``inspect`` and ``bench``.

Exit codes: 0 success (for ``verify``: every tensor matches), 1 a verification mismatch (or a
failed demo check), 2 bad arguments or files, reported as one line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable

import numpy as np
from tqdm import tqdm

from . import __version__, io, ops
from .errors import FormatError
from .graph import Graph
from .io import hdf5
from .io.atomic import atomic_write
from .qparams import QuantParams
from .verify import explain, plot, verify_graph


class CliError(Exception):
    """A bad argument or file: printed as one line, exit code 2."""


_NPY_MAGIC = b"\x93NUMPY"


def _show_progress(args: argparse.Namespace) -> bool:
    """Progress bars go to stderr, unless ``--quiet`` or stderr is not a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _progress(iterable: Iterable, args: argparse.Namespace, **kwargs) -> tqdm:
    return tqdm(iterable, file=sys.stderr, disable=not _show_progress(args), leave=False, **kwargs)


# ---- files ------------------------------------------------------------------------------------


def _existing(path: str, what: str) -> str:
    if not os.path.exists(path):
        raise CliError(f"{what} {path}: no such file")
    if os.path.isdir(path):
        raise CliError(f"{what} {path}: is a folder, not a file")
    return path


def _file_error(what: str, path: str, exc: Exception) -> CliError:
    """``"{what} {path}: {problem}"`` from an exception whose message may already name the path."""
    message = str(exc)
    if not message.startswith(path):
        message = f"{path}: {message}"
    return CliError(f"{what} {message}")


def _load_model(path: str) -> Graph:
    try:
        return io.load(_existing(path, "model"))
    except (FormatError, OSError, ValueError) as exc:
        raise _file_error("model", path, exc) from None


def _load_dump(path: str) -> dict[str, np.ndarray]:
    try:
        dump = hdf5.load_dump(_existing(path, "dump"))
    except (FormatError, OSError, ValueError) as exc:
        raise _file_error("dump", path, exc) from None
    return {name: tensor.data for name, tensor in dump.items()}


def _read_npy(path: str, what: str) -> np.ndarray:
    """The array in the .npy file ``path``; anything else (.npz, pickles, text) is refused."""
    with open(_existing(path, what), "rb") as file:
        magic = file.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        raise CliError(f"{what} {path}: not a .npy file (no NumPy array header)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _file_error(what, path, exc) from None


def _save_npy(path: str, array: np.ndarray) -> None:
    with atomic_write(path) as tmp, open(tmp, "wb") as file:
        np.save(file, array)


def _named_paths(specs: list[str], names: list[str], option: str) -> dict[str, str]:
    """``NAME=PATH`` or (when the model has one such tensor) bare ``PATH`` specs of ``--input``
    or ``--output`` → {tensor name: path}."""
    noun = option.lstrip("-")
    paths: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or (name not in names and os.path.exists(spec)):
            if len(names) != 1:
                raise CliError(
                    f"{option} {spec}: the model has {len(names)} {noun}s "
                    f"({', '.join(names)}); write {option} NAME=PATH"
                )
            name, path = names[0], spec
        elif name not in names:
            raise CliError(
                f"{option} {spec}: the model has no {noun} {name!r} "
                f"(its {noun}s: {', '.join(names)})"
            )
        if name in paths:
            raise CliError(f"{option}: {name!r} is given twice")
        paths[name] = path
    return paths


def _check_writable(path: str | None, option: str) -> None:
    """Fail before any work when ``path`` cannot be written: its folder must exist."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CliError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CliError(f"{option} {path}: is a folder, not a file")


def _check_input(graph: Graph, name: str, path: str, array: np.ndarray, quantize: bool) -> None:
    tensor = graph.tensors[name]
    if array.dtype != tensor.dtype and not (quantize and array.dtype.kind == "f"):
        hint = " (pass --quantize to quantize it with the input's qparams)"
        raise CliError(
            f"--input {name}: {path} holds {array.dtype}; the model input is {tensor.dtype}"
            + (hint if array.dtype.kind == "f" else "")
        )
    if array.ndim != tensor.ndim or array.shape[1:] != tensor.shape[1:]:
        expected = ", ".join(["N", *map(str, tensor.shape[1:])])
        raise CliError(
            f"--input {name}: {path} has shape {list(array.shape)}; the model input takes "
            f"[{expected}] (any batch size N)"
        )


def _read_inputs(graph: Graph, specs: list[str], quantize: bool) -> dict[str, np.ndarray]:
    """The graph's input arrays from ``--input`` specs, checked against the input tensors;
    float arrays are quantized (``graph.quantize_inputs``) only when ``quantize`` is set."""
    paths = _named_paths(specs, list(graph.inputs), "--input")
    missing = [n for n in graph.inputs if n not in paths]
    if missing:
        raise CliError(f"--input: no array given for the model input(s) {', '.join(missing)}")
    arrays = {}
    for name, path in paths.items():
        arrays[name] = _read_npy(path, "input")
        _check_input(graph, name, path, arrays[name], quantize)
    floats = {n: a for n, a in arrays.items() if a.dtype.kind == "f"}
    if floats:
        arrays.update(graph.quantize_inputs(floats))
    return arrays


# ---- commands ---------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    figures = run(epochs=args.epochs, qat_epochs=args.qat_epochs, seed=args.seed,
                  out_dir=args.out_dir, progress=not args.quiet)  # fmt: skip
    return 0 if figures["agreement_within_1_lsb"] >= 0.99 else 1


def _print_outputs(graph: Graph, values: dict[str, np.ndarray]) -> None:
    for name in graph.outputs:
        out = values[name]
        print(f"output {name}: {out.dtype} {list(out.shape)}")
        if out.ndim == 2 and out.shape[1] > 0:
            print(f"  argmax per row: {' '.join(map(str, np.argmax(out, axis=1)))}")


def _run(args: argparse.Namespace) -> int:
    graph = _load_model(args.model)
    inputs = _read_inputs(graph, args.input, args.quantize)
    output_paths = _named_paths(args.output, list(graph.outputs), "--output")
    for option, path in [("--dump", args.dump), *(("--output", p) for p in output_paths.values())]:
        _check_writable(path, option)
    values = graph.run(inputs, trace=args.dump is not None, progress=_show_progress(args))
    if args.dump is not None:
        qparams = {n: q for n in values if (q := graph.tensors[n].qparams) is not None}
        hdf5.save_dump(values, args.dump, qparams=qparams)
    for name, path in output_paths.items():
        _save_npy(path, values[name])
    _print_outputs(graph, values)
    return 0


def _verify(args: argparse.Namespace) -> int:
    graph = _load_model(args.model)
    inputs = _read_inputs(graph, args.input, args.quantize)
    dump = _load_dump(args.against)
    _check_writable(args.plot, "--plot")
    report = verify_graph(graph, inputs, dump, progress=_show_progress(args))
    explanation = None
    if report.first_divergent is not None:
        explanation = explain(graph, report, dump, progress=_show_progress(args))
    if args.plot is not None:
        plot(report, args.plot)
    if args.json:
        document = {
            "report": report.to_dict(),
            "explanation": None if explanation is None else explanation.to_dict(),
        }
        print(json.dumps(document, indent=2))
    else:
        print(report.to_table())
        if explanation is not None:
            print()
            print(explanation.to_text())
    return 0 if report.ok else 1


def _inspect(args: argparse.Namespace) -> int:
    print(_load_model(args.model).summary())
    return 0


# ---- bench ------------------------------------------------------------------------------------

# (label, x shape, w shape, kind); conv weights are OHWI, inputs NHWC, "same" padding.
BENCH_SHAPES = [
    ("gemm 1x1024x1024", (1, 1024), (1024, 1024), "gemm"),
    ("gemm 64x512x512", (64, 512), (512, 512), "gemm"),
    ("gemm 256x256x256", (256, 256), (256, 256), "gemm"),
    ("conv3x3 28x28x32->32", (1, 28, 28, 32), (32, 3, 3, 32), "conv"),
    ("conv1x1 28x28x64->128", (1, 28, 28, 64), (128, 1, 1, 64), "conv"),
]
QUICK_SHAPES = [
    ("gemm 4x32x16", (4, 32), (16, 32), "gemm"),
    ("conv3x3 8x8x4->8", (1, 8, 8, 4), (8, 3, 3, 4), "conv"),
]


def _gemm_dims(x_shape: tuple, w_shape: tuple, kind: str) -> tuple[int, int, int]:
    """(M, K, N) of the matrix product the layer amounts to (im2col for a convolution)."""
    if kind == "gemm":
        return x_shape[0], x_shape[1], w_shape[0]
    n, h, w, _ = x_shape
    return n * h * w, int(np.prod(w_shape[1:])), w_shape[0]


def _best_seconds(fn: Callable[[], object], budget: float, repeats: int) -> float:
    """Fastest of up to ``repeats`` calls within ``budget`` seconds, after one warm-up call."""
    fn()
    best, spent = float("inf"), 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def _bench_layer(x_shape: tuple, w_shape: tuple, kind: str, budget: float, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = rng.integers(-127, 128, w_shape, dtype=np.int8)
    channels = w_shape[0]
    bias = rng.integers(-1000, 1000, channels, dtype=np.int32)
    qp = {
        "x_qparams": QuantParams(0.05, -3),
        "w_qparams": QuantParams(np.full(channels, 0.002), np.zeros(channels, np.int64), axis=0),
        "out_qparams": QuantParams(0.5, 2),
    }
    if kind == "gemm":
        layer = functools.partial(ops.linear, x, w, bias, **qp)
    else:
        layer = functools.partial(ops.conv2d, x, w, bias, padding="same", **qp)
    m, k, n = _gemm_dims(x_shape, w_shape, kind)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    ops_count = 2 * m * k * n
    intq_s = _best_seconds(layer, budget, repeats)
    numpy_s = _best_seconds(lambda: a @ b, budget, repeats)
    return {
        "ops": ops_count,
        "intq_ms": intq_s * 1e3,
        "intq_gops": ops_count / intq_s / 1e9,
        "numpy_f32_ms": numpy_s * 1e3,
        "numpy_f32_gops": ops_count / numpy_s / 1e9,
    }


def _bench(args: argparse.Namespace) -> int:
    shapes = QUICK_SHAPES if args.quick else BENCH_SHAPES
    budget, repeats = (0.0, 1) if args.quick else (0.5, 20)
    rows = []
    for label, x_shape, w_shape, kind in _progress(shapes, args, desc="bench", unit="shape"):
        rows.append({"name": label, **_bench_layer(x_shape, w_shape, kind, budget, repeats)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("int8 layers (requantized, per-channel weights) vs NumPy float32 matmul, same process;")
    print("GOP/s counts 2 operations per multiply-add (conv: the im2col GEMM's)")
    width = max(len(r["name"]) for r in rows)
    print(
        f"{'shape':<{width}}  {'intq ms':>9}  {'intq GOP/s':>10}  {'f32 ms':>9}  {'f32 GOP/s':>9}"
    )
    for r in rows:
        print(
            f"{r['name']:<{width}}  {r['intq_ms']:9.3f}  {r['intq_gops']:10.2f}  "
            f"{r['numpy_f32_ms']:9.3f}  {r['numpy_f32_gops']:9.2f}"
        )
    return 0


# ---- parser -----------------------------------------------------------------------------------


def _graph_inputs_parser() -> argparse.ArgumentParser:
    """Options shared by ``run`` and ``verify``: the model and its input arrays."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("model", help="intq model file (.h5)")
    parent.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="[NAME=]X.npy",
        help="input array (.npy) of the model input's integer dtype; repeat as NAME=PATH for "
        "models with several inputs",
    )
    parent.add_argument(
        "--quantize",
        action="store_true",
        help="accept float .npy inputs and quantize them with each input's qparams",
    )
    return parent


def _quiet_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--quiet", action="store_true", help="no progress bars")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``intq`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="intq", description="Integer-arithmetic-only neural-network inference."
    )
    parser.add_argument("--version", action="version", version=f"intq {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        parents=[_quiet_parser()],
        help="train a CNN on the digits, quantize it (PTQ, QAT) and run it integer-only",
    )
    demo.add_argument("--epochs", type=int, default=12, help="float training epochs (12)")
    demo.add_argument("--qat-epochs", type=int, default=3, help="QAT epochs (3)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--out-dir", default=".", help="where the model and plot go (.)")
    demo.set_defaults(handler=_demo)

    graph_inputs, quiet = _graph_inputs_parser(), _quiet_parser()
    run = commands.add_parser(
        "run", parents=[graph_inputs, quiet], help="run a model on integer inputs"
    )
    run.add_argument("--dump", metavar="D.h5", help="write every tensor to this dump file")
    run.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="[NAME=]OUT.npy",
        help="write an output array (.npy); NAME=PATH for models with several outputs",
    )
    run.set_defaults(handler=_run)

    verify = commands.add_parser(
        "verify",
        parents=[graph_inputs, quiet],
        help="compare a model's tensors with another engine's dump, layer by layer",
        description="Exit code 0 when every tensor matches the dump, 1 on a mismatch, 2 on bad "
        "arguments or files.",
    )
    verify.add_argument("--against", required=True, metavar="D.h5", help="reference dump file")
    verify.add_argument("--plot", metavar="OUT.png", help="write a PNG of the per-tensor figures")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)

    inspect = commands.add_parser("inspect", help="print a model's ops, shapes and qparams")
    inspect.add_argument("model", help="intq model file (.h5)")
    inspect.set_defaults(handler=_inspect)

    bench = commands.add_parser(
        "bench",
        parents=[quiet],
        help="time int8 GEMM/conv layers beside NumPy float32 matmul",
    )
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--quick", action="store_true", help="tiny shapes, one timed call each")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run a subcommand; errors are messages, not tracebacks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    for name in ("epochs", "qat_epochs"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        return args.handler(args)
    except (CliError, ValueError, TypeError, OverflowError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception's text
        print(f"intq {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
