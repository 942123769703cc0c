"""``intq demo`` / ``make demo``: the whole pipeline of Jacob et al. on the digits scikit-learn
ships — train a float conv–BN–ReLU6 CNN, quantize it after training (dynamic, and static with
every observer) and by quantization-aware training with folded batch norm, convert each to an
integer-only graph, run it, and report.

Every accuracy labelled "integer graph" comes from ``Graph.run`` (integer kernels only); "fake
quant" accuracies come from the float simulation; the dynamic variant is a float simulation of
per-batch activation ranges and is **not** integer-only.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import nn
from .convert import (
    QuantConfig,
    QuantizedModel,
    calibrate,
    convert,
    predict_dynamic,
    prepare,
    simulation_agreement,
)
from .data import load_digits
from .graph import Graph
from .io import save
from .io.atomic import atomic_write
from .observers import HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver
from .quantize import dequantize

OBSERVERS = {
    "min-max": MinMaxObserver,
    "moving average (EMA)": MovingAverageMinMaxObserver,
    "histogram, percentile 99.99": lambda: HistogramObserver(method="percentile"),
    "histogram, entropy (KL)": lambda: HistogramObserver(method="entropy"),
    "histogram, MSE": lambda: HistogramObserver(method="mse"),
}


def build_model(rng: np.random.Generator) -> nn.Sequential:
    """The demo CNN for 8×8×1 digits: conv–BN–ReLU6, a residual depthwise-separable block,
    max pool, conv–BN–ReLU6, global average pool, a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same", bias=False, rng=rng),
        nn.BatchNorm2d(16),
        nn.ReLU6(),
        nn.Residual(
            nn.Sequential(
                nn.DepthwiseConv2d(16, 3, padding="same", bias=False, rng=rng),
                nn.BatchNorm2d(16),
                nn.ReLU6(),
                nn.Conv2d(16, 16, 1, bias=False, rng=rng),
                nn.BatchNorm2d(16),
            )
        ),
        nn.ReLU6(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same", bias=False, rng=rng),
        nn.BatchNorm2d(32),
        nn.ReLU6(),
        nn.GlobalAvgPool2d(),
        nn.Linear(32, 10, rng=rng),
    )


def graph_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the integer graph: inputs quantized once (the explicit float step), then
    integer kernels only; the class is the argmax of the int8 logits."""
    q = graph.quantize_inputs({"input": x})
    logits = graph.run(q)[graph.outputs[0]]
    return float(np.mean(np.argmax(logits, axis=1) == y))


def layer_errors(prepared: QuantizedModel, graph: Graph, x: np.ndarray) -> dict[str, float]:
    """Per graph tensor: the RMS difference between the dequantized integer tensor and the
    same stage's output in the unquantized (BN-folded, float) model, relative to the latter's
    RMS. Leaves ``prepared`` with its fake quantization switched back on."""
    traced = graph.run(graph.quantize_inputs({"input": x}), trace=True)
    fqs = list(prepared.fake_quants())
    for fq in fqs:
        fq.fake_quant_enabled = False
    prepared.eval()(x)
    for fq in fqs:
        fq.fake_quant_enabled = True
    stages = {
        m.graph_name: m for _, m in prepared.named_modules() if getattr(m, "graph_name", None)
    }
    errors = {}
    for op in graph.ops:
        name = op.outputs[0]
        stage = stages.get(name)
        if stage is None:
            continue
        real = dequantize(traced[name], graph.tensors[name].qparams).astype(np.float64)
        ref = stage.output.astype(np.float64)
        errors[name] = float(np.sqrt(np.mean((real - ref) ** 2) / max(np.mean(ref**2), 1e-30)))
    return errors


def _plot_errors(errors: dict[str, float], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(range(len(errors)), [100 * e for e in errors.values()], color="tab:blue")
    ax.set_xticks(range(len(errors)), list(errors), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("relative RMS error (%)")
    ax.set_title("int8 graph vs the same model in float, per layer (QAT)")
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(
    *, epochs: int = 12, qat_epochs: int = 3, seed: int = 0, out_dir: str | os.PathLike = ".",
    progress: bool = True,
) -> dict:  # fmt: skip
    """Run the pipeline, print the table, save ``intq-demo.h5`` (the QAT int8 graph) and
    ``intq-demo-layers.png`` in ``out_dir``; return every printed figure by name."""
    started = time.perf_counter()
    data = load_digits(seed=seed)
    rng = np.random.default_rng(seed)
    model = build_model(rng)
    _log(f"training the float model on {len(data.y_train)} digits ({epochs} epochs)")
    nn.fit(model, data.x_train, data.y_train, epochs=epochs, batch_size=32,
           optimizer=nn.Adam(model.parameters(), lr=3e-3), rng=rng, progress=progress)  # fmt: skip
    model.eval()
    x_test, y_test, x_cal = data.x_test, data.y_test, data.x_calibration
    rows: list[tuple[str, float, str]] = []
    figures: dict = {"float": nn.accuracy(nn.predict(model, x_test), y_test)}
    rows.append(("float32 model", figures["float"], "float"))

    figures["ptq_dynamic"] = nn.accuracy(predict_dynamic(model, x_test), y_test)
    rows.append(("PTQ dynamic (per-batch activation ranges)", figures["ptq_dynamic"],
                 "float simulation, NOT integer-only"))  # fmt: skip
    figures["ptq_static"] = {}
    for name, observer in OBSERVERS.items():
        prepared = calibrate(prepare(model, config=QuantConfig(observer=observer)), x_cal)
        accuracy = graph_accuracy(convert(prepared, x_test.shape[1:]), x_test, y_test)
        figures["ptq_static"][name] = accuracy
        rows.append((f"PTQ static, {name}", accuracy, "integer graph"))

    def qat(weight_bits: int) -> tuple[QuantizedModel, Graph]:
        config = QuantConfig(weight_bits=weight_bits, freeze_bn_delay=len(data.y_train) // 32)
        prepared = prepare(model, qat=True, config=config)
        _log(f"quantization-aware training, {weight_bits}-bit weights ({qat_epochs} epochs)")
        nn.fit(prepared, data.x_train, data.y_train, epochs=qat_epochs, batch_size=32,
               optimizer=nn.Adam(prepared.parameters(), lr=5e-4), rng=rng,
               progress=progress)  # fmt: skip
        prepared.eval()
        return prepared, convert(prepared, x_test.shape[1:])

    prepared, graph = qat(8)
    figures["qat_fake_quant"] = nn.accuracy(prepared(x_test), y_test)
    figures["qat_integer"] = graph_accuracy(graph, x_test, y_test)
    agreement = simulation_agreement(prepared, graph, x_test)
    figures["agreement_within_1_lsb"] = agreement["all"]
    rows.append(("QAT (folded BN), fake-quant simulation", figures["qat_fake_quant"], "float"))
    rows.append(("QAT, integer graph", figures["qat_integer"], "integer graph"))

    four_bit = dataclasses.replace(QuantConfig(observer=MinMaxObserver), weight_bits=4)
    ptq4 = convert(calibrate(prepare(model, config=four_bit), x_cal), x_test.shape[1:])
    figures["ptq_4bit_weights"] = graph_accuracy(ptq4, x_test, y_test)
    figures["qat_4bit_weights"] = graph_accuracy(qat(4)[1], x_test, y_test)
    rows.append(
        ("PTQ static, min-max, 4-bit weights", figures["ptq_4bit_weights"], "integer graph")
    )
    rows.append(("QAT, 4-bit weights", figures["qat_4bit_weights"], "integer graph"))

    figures["float_bytes"] = int(sum(p.value.size for p in model.parameters()) * 4)
    figures["int8_bytes"] = int(sum(t.data.nbytes for t in graph.tensors.values() if t.is_constant))
    out = Path(out_dir)
    figures["model_path"] = str(out / "intq-demo.h5")
    figures["plot_path"] = str(out / "intq-demo-layers.png")
    save(graph, figures["model_path"])
    figures["layer_errors"] = layer_errors(prepared, graph, x_test)
    _plot_errors(figures["layer_errors"], Path(figures["plot_path"]))
    figures["seconds"] = time.perf_counter() - started
    _print_table(rows, figures, agreement, len(y_test))
    return figures


def _print_table(rows, figures: dict, agreement: dict[str, float], count: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\nintq demo: scikit-learn digits, {count} test images\n")
    print(f"{'model':<{width}}  accuracy  how it ran")
    print(f"{'-' * width}  --------  {'-' * 34}")
    for label, accuracy, how in rows:
        print(f"{label:<{width}}  {100 * accuracy:7.2f}%  {how}")
    print()
    print(f"integer graph vs its fake-quant simulation: {100 * agreement['all']:.2f}% of all "
          "elements within 1 LSB")  # fmt: skip
    worst = min((v, k) for k, v in agreement.items() if k != "all")
    print(f"  (lowest per tensor: {100 * worst[0]:.2f}% at {worst[1]})")
    print(f"model size: float32 {figures['float_bytes']:,} bytes, int8 graph "
          f"{figures['int8_bytes']:,} bytes of constants")  # fmt: skip
    print(f"saved {figures['model_path']} (intq inspect / run / verify it) and "
          f"{figures['plot_path']}; {figures['seconds']:.0f} s")  # fmt: skip


__all__ = ["build_model", "graph_accuracy", "layer_errors", "run"]
