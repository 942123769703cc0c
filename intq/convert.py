"""From a float ``intq.nn`` model to an integer-only ``intq.Graph`` (Jacob et al. 2018, §3).

Three steps, shared by post-training quantization and quantization-aware training:

1. ``prepare(model, ...)`` rewrites the model into *stages*, each one op of the integer graph:
   ``Conv2d | DepthwiseConv2d | Linear`` [+ ``BatchNorm2d``] [+ ``ReLU | ReLU6``] becomes one
   ``QuantizedLayer`` (weights fake-quantized per channel, symmetric, narrow range; BN folded —
   for QAT as the folded block of TF's ``fold_batch_norms``, ``intq.fold.FoldedConvBN``; the
   activation fused), followed by a fake-quant node on its output; ``Residual`` [+ activation]
   becomes a ``QuantizedResidual`` (fake quant after the sum); ``GlobalAvgPool2d`` a
   ``QuantizedMean``; pools and ``Flatten`` keep their input's quantization. A fake-quant node
   also quantizes the model input. Fake-quant nodes sit exactly where the integer graph
   requantizes, so the prepared model *is* the float simulation of the integer graph.
2. Calibrate (``calibrate``: observers see float activations, fake quantization off) or train
   (QAT: ``intq.nn.fit`` on the prepared model; the observers are EMAs).
3. ``convert(prepared)`` emits one ``GraphBuilder`` op per stage: int8 (or narrower) weights
   ``quantize(w, w_qparams)``, int32 bias ``round_half_away_from_zero(b / (s_in · s_w[c]))``
   (scale ``s_in · s_w``, zero point 0), fixed-point multipliers and fused clamps derived by
   ``intq.ops``.

``simulation_agreement`` measures how well the integer graph follows its fake-quant simulation.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import nn
from .builder import GraphBuilder
from .fold import FoldedConvBN, fold_bn
from .graph import Graph
from .nn.module import Module
from .observers import MinMaxObserver, MovingAverageMinMaxObserver
from .qat import FakeQuant, weight_fake_quant
from .qparams import QuantParams
from .quantize import quantize
from .rounding import round_half_away_from_zero

_LAYERS = (nn.Conv2d, nn.DepthwiseConv2d, nn.Linear)
_ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6"}


def _activation_module(name: str | None) -> Module | None:
    return {"relu": nn.ReLU, "relu6": nn.ReLU6}[name]() if name else None


class _Stage(Module):
    """A stage: one op of the integer graph. ``graph_name`` is the tensor ``convert`` gave its
    output; ``output`` the last float output (for ``simulation_agreement``)."""

    graph_name: str | None = None
    output: np.ndarray | None = None

    def _keep(self, y: np.ndarray) -> np.ndarray:
        self.output = y
        return y

    def _set_output(self, activation: str | None, out_fq: FakeQuant) -> None:
        """The fused ``activation`` and the output fake quant that end this stage."""
        self.activation = _activation_module(activation)
        self.activation_name = activation
        self.out_fq = out_fq

    def _finish(self, y: np.ndarray) -> np.ndarray:
        if self.activation is not None:
            y = self.activation(y)
        return self._keep(self.out_fq(y))

    def _finish_backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad = self.out_fq.backward(grad_y)
        return grad if self.activation is None else self.activation.backward(grad)


class WeightQuantized(Module):
    """A layer whose forward uses its weights fake-quantized by ``weight_fq``; the gradient
    reaches the float weights through the straight-through estimator."""

    def __init__(self, layer: Module, weight_fq: FakeQuant) -> None:
        super().__init__()
        self.layer = layer
        self.weight_fq = weight_fq

    def forward(self, x: np.ndarray) -> np.ndarray:
        w = self.layer.weight
        master = w.value
        w.value = self.weight_fq(master)
        try:
            return self.layer(x)
        finally:
            w.value = master

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        w = self.layer.weight
        kept, w.grad = w.grad, np.zeros_like(w.grad)
        grad_x = self.layer.backward(grad_y)  # with respect to the fake-quantized weights
        w.grad = kept + self.weight_fq.backward(w.grad)
        return grad_x

    def float_weight_and_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """The float weights and bias (zeros when the layer has none) the converter quantizes."""
        layer = self.layer
        bias = layer.bias.value if layer.bias is not None else np.zeros(_channels(layer))
        return layer.weight.value, bias


class FoldedQuantized(FoldedConvBN):
    """``intq.fold.FoldedConvBN`` with the converter's accessor."""

    def float_weight_and_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """The BN-folded float weights and bias (moving statistics)."""
        return self.folded_weight_and_bias()


def _channels(layer: Module) -> int:
    return layer.weight.value.shape[3 if isinstance(layer, nn.DepthwiseConv2d) else 0]


class QuantizedLayer(_Stage):
    """conv / depthwise / FC (BN folded, weights fake-quantized) → activation → output fake
    quant: one CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED op with a fused activation."""

    def __init__(self, core: Module, activation: str | None, out_fq: FakeQuant) -> None:
        super().__init__()
        self.core = core
        self._set_output(activation, out_fq)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._finish(self.core(x))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self.core.backward(self._finish_backward(grad_y))


class QuantizedResidual(_Stage):
    """``body(x) + shortcut(x)`` → activation → output fake quant: an ADD with a fused
    activation after the body's (and shortcut's) stages."""

    def __init__(self, body: Module, shortcut: Module | None, activation: str | None,
                 out_fq: FakeQuant) -> None:  # fmt: skip
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self._set_output(activation, out_fq)

    def forward(self, x: np.ndarray) -> np.ndarray:
        skip = x if self.shortcut is None else self.shortcut(x)
        return self._finish(self.body(x) + skip)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad = self._finish_backward(grad_y)
        grad_skip = grad if self.shortcut is None else self.shortcut.backward(grad)
        return self.body.backward(grad) + grad_skip


class QuantizedMean(_Stage):
    """``GlobalAvgPool2d`` → output fake quant: a MEAN over (H, W)."""

    def __init__(self, out_fq: FakeQuant) -> None:
        super().__init__()
        self.pool = nn.GlobalAvgPool2d()
        self.out_fq = out_fq

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep(self.out_fq(self.pool(x)))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self.pool.backward(self.out_fq.backward(grad_y))


class KeepQuantization(_Stage):
    """A pool or ``Flatten``: its output keeps the input's quantization (the int8 spec's
    MAX_POOL_2D, AVERAGE_POOL_2D and RESHAPE)."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep(self.module(x))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self.module.backward(grad_y)


class QuantizedModel(Module):
    """A prepared model: the input fake quant, then the stages in order."""

    def __init__(self, input_fq: FakeQuant, stages: nn.Sequential) -> None:
        super().__init__()
        self.input_fq = input_fq
        self.stages = stages

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.input_output = self.input_fq(x)
        return self.stages(self.input_output)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self.input_fq.backward(self.stages.backward(grad_y))

    def fake_quants(self) -> Iterator[FakeQuant]:
        """Every fake-quant node (activations and weights)."""
        return (m for _, m in self.named_modules() if isinstance(m, FakeQuant))

    def activation_fake_quants(self) -> list[FakeQuant]:
        """The activation fake-quant nodes (the input's and every stage's output)."""
        weights = {id(m.weight_fq) for _, m in self.named_modules() if hasattr(m, "weight_fq")}
        weights |= {
            id(m.weight_fake_quant) for _, m in self.named_modules() if isinstance(m, FoldedConvBN)
        }
        return [m for m in self.fake_quants() if id(m) not in weights]


@dataclass(frozen=True)
class QuantConfig:
    """How ``prepare`` quantizes: bit widths, the activation observer (a factory called once
    per fake-quant node; the default is TF's EMA with ``decay`` 0.999), QAT's ``quant_delay``
    and ``freeze_bn_delay``."""

    weight_bits: int = 8
    activation_bits: int = 8
    observer: Callable[[], object] | None = None
    quant_delay: int = 0
    freeze_bn_delay: int | None = None

    def activation_fq(self) -> FakeQuant:
        observer = MovingAverageMinMaxObserver() if self.observer is None else self.observer()
        return FakeQuant(bits=self.activation_bits, observer=observer,
                         quant_delay=self.quant_delay)  # fmt: skip

    def weight_fq(self, layer: Module) -> FakeQuant:
        return weight_fake_quant(
            self.weight_bits, 3 if isinstance(layer, nn.DepthwiseConv2d) else 0
        )


def _flatten(module: Module) -> list[Module]:
    if isinstance(module, nn.Sequential):
        return [m for child in module for m in _flatten(child)]
    return [module]


def _stages(modules: list[Module], qat: bool, config: QuantConfig, where: str) -> nn.Sequential:
    """Group a flat list of float modules into stages (the module docstring's patterns)."""
    stages: list[Module] = []
    i = 0
    while i < len(modules):
        m = modules[i]
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(m, _LAYERS):
            layer = copy.deepcopy(m)
            bn = None
            if isinstance(nxt, nn.BatchNorm2d):
                bn, i = copy.deepcopy(nxt), i + 1
                nxt = modules[i + 1] if i + 1 < len(modules) else None
            activation = _ACTIVATIONS.get(type(nxt))
            i += activation is not None
            wfq = config.weight_fq(layer)
            if bn is None:
                core: Module = WeightQuantized(layer, wfq)
            elif qat:
                core = FoldedQuantized(layer, bn, weight_fake_quant=wfq,
                                       freeze_bn_delay=config.freeze_bn_delay)  # fmt: skip
            else:
                core = WeightQuantized(fold_bn(layer, bn.eval()), wfq)
            stages.append(QuantizedLayer(core, activation, config.activation_fq()))
        elif isinstance(m, nn.Residual):
            activation = _ACTIVATIONS.get(type(nxt))
            i += activation is not None
            body = _stages(_flatten(m.body), qat, config, f"{where}[{i}].body")
            shortcut = None if m.shortcut is None else _stages(
                _flatten(m.shortcut), qat, config, f"{where}[{i}].shortcut")  # fmt: skip
            stages.append(QuantizedResidual(body, shortcut, activation, config.activation_fq()))
        elif isinstance(m, nn.GlobalAvgPool2d):
            stages.append(QuantizedMean(config.activation_fq()))
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Flatten)):
            stages.append(KeepQuantization(copy.deepcopy(m)))
        else:
            raise ValueError(
                f"model: {where}[{i}] is a {type(m).__name__}, which has no integer op here "
                "(supported: Conv2d/DepthwiseConv2d/Linear [+BatchNorm2d] [+ReLU/ReLU6], "
                "Residual [+ReLU/ReLU6], MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten)"
            )
        i += 1
    return nn.Sequential(*stages)


def prepare(
    model: Module, *, qat: bool = False, config: QuantConfig | None = None
) -> QuantizedModel:
    """The prepared (fake-quantized) copy of a float ``model`` (the module docstring, step 1).

    ``qat=False`` (post-training): batch norms are folded with their moving statistics
    (``intq.fold.fold_bn``; the model's BNs must be in eval mode). ``qat=True``: each conv–BN
    pair becomes the folded QAT block, and the result is trained like any ``intq.nn`` module.
    The float model is not modified.
    """
    config = QuantConfig() if config is None else config
    stages = _stages(_flatten(model), qat, config, "model")
    prepared = QuantizedModel(config.activation_fq(), stages)
    return prepared.train(qat)


def calibrate(prepared: QuantizedModel, x: np.ndarray, *, batch_size: int = 256) -> QuantizedModel:
    """Post-training calibration: stream ``x`` through the prepared model with fake quantization
    off, so every observer sees float activations, then freeze every range and switch fake
    quantization on (eval mode). Returns ``prepared``."""
    fqs = prepared.activation_fake_quants()
    prepared.train()
    for fq in fqs:
        fq.fake_quant_enabled = False
    for start in range(0, len(x), batch_size):
        prepared(x[start : start + batch_size])
    for fq in fqs:
        fq.fake_quant_enabled = True
        fq.freeze()
    return prepared.eval()


def predict_dynamic(model: Module, x: np.ndarray, *, config: QuantConfig | None = None,
                    batch_size: int = 256) -> np.ndarray:  # fmt: skip
    """Post-training *dynamic* quantization, simulated in float — **not integer-only**: weights
    quantized per channel as in ``prepare``, and every activation range taken at run time from
    the batch itself (min-max of that batch, as dynamic-range engines do), so nothing is
    calibrated beforehand. Returns the model's outputs for ``x``."""
    config = dataclasses.replace(QuantConfig() if config is None else config,
                                 observer=MinMaxObserver)  # fmt: skip
    outputs = []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        outputs.append(calibrate(prepare(model, config=config), batch)(batch))
    return np.concatenate(outputs)


# ---- conversion ------------------------------------------------------------------------------


def _quantized_bias(bias: np.ndarray, x_qparams: QuantParams, w_qparams: QuantParams,
                    where: str) -> np.ndarray:  # fmt: skip
    """``round_half_away_from_zero(b / (s_in · s_w[c]))`` as int32 (zero point 0), the
    product of the float32 scales taken in float32 as TFLite's converter does."""
    scale = np.float32(x_qparams.scale) * np.asarray(w_qparams.scale, dtype=np.float32)
    q = round_half_away_from_zero(np.asarray(bias, np.float64) / scale.astype(np.float64))
    if np.any(np.abs(q) > 2**31 - 1):
        raise ValueError(f"{where}: a quantized bias exceeds int32; the input or weight scale "
                         "is too small")  # fmt: skip
    return q.astype(np.int32)


def _emit(stage: Module, b: GraphBuilder, x: str, rounding: str) -> str:
    """Add the op(s) of one stage reading tensor ``x``; returns the output tensor's name."""
    if isinstance(stage, nn.Sequential):
        for child in stage:
            x = _emit(child, b, x, rounding)
        return x
    if isinstance(stage, QuantizedLayer):
        core = stage.core
        layer = core.layer
        w, bias = core.float_weight_and_bias()
        wfq = core.weight_fq if isinstance(core, WeightQuantized) else core.weight_fake_quant
        wfq(w.astype(np.float32))  # the range of the weights as they are now
        w_q = wfq.qparams
        x_q = b.qparams(x)
        name = f"stage{len(b.ops)}"
        weights = quantize(w.astype(np.float32), w_q, rounding=rounding)
        bias_q = _quantized_bias(bias, x_q, w_q, name)
        out_q, act = stage.out_fq.qparams, stage.activation_name
        if isinstance(layer, nn.Linear):
            y = b.fully_connected(x, weights, bias_q, w_qparams=w_q, out_qparams=out_q,
                                  activation=act, name=name)  # fmt: skip
        else:
            common = {"w_qparams": w_q, "out_qparams": out_q, "stride": layer.stride,
                      "padding": layer.padding, "dilation": layer.dilation, "activation": act,
                      "name": name}  # fmt: skip
            if isinstance(layer, nn.DepthwiseConv2d):
                multiplier = layer.depth_multiplier
                y = b.depthwise_conv2d(x, weights, bias_q, depth_multiplier=multiplier, **common)
            else:
                y = b.conv2d(x, weights, bias_q, **common)
    elif isinstance(stage, QuantizedResidual):
        body = _emit(stage.body, b, x, rounding)
        skip = x if stage.shortcut is None else _emit(stage.shortcut, b, x, rounding)
        y = b.add(body, skip, out_qparams=stage.out_fq.qparams, activation=stage.activation_name)
    elif isinstance(stage, QuantizedMean):
        y = b.mean(x, [1, 2], out_qparams=stage.out_fq.qparams)
    elif isinstance(stage, KeepQuantization):
        m = stage.module
        if isinstance(m, nn.Flatten):
            y = b.reshape(x, [-1])
        else:
            pool = b.max_pool2d if isinstance(m, nn.MaxPool2d) else b.avg_pool2d
            y = pool(x, filter_size=m.kernel_size, stride=m.stride, padding=m.padding)
    else:
        raise ValueError(f"prepared: unknown stage {type(stage).__name__}")
    stage.graph_name = y
    return y


def convert(prepared: QuantizedModel, input_shape: tuple[int, ...], *,
            profile: str = "tflite") -> Graph:  # fmt: skip
    """The integer graph of a calibrated or trained prepared model, for inputs of shape
    ``(batch, *input_shape)``: the module docstring's step 3. Every fake-quant node must have
    a range (calibrated, trained, or frozen)."""
    from .profiles import get_profile

    rounding = get_profile(profile).quantize_rounding
    b = GraphBuilder(profile)
    x = b.input("input", (1, *input_shape), prepared.input_fq.qparams)
    b.output(_emit(prepared.stages, b, x, rounding))
    return b.build()


def simulation_agreement(prepared: QuantizedModel, graph: Graph, x: np.ndarray) -> dict[str, float]:
    """Per graph tensor written by a stage, the share of elements where the integer graph is
    within one step of the fake-quant simulation (the prepared model in eval mode, its float
    outputs quantized with the tensor's qparams); key ``"all"``: over every element."""
    prepared.eval()
    prepared(x)
    traced = graph.run({"input": graph.quantize_inputs({"input": x})["input"]}, trace=True)
    shares, close, total = {}, 0, 0
    for _, stage in prepared.named_modules():
        if not isinstance(stage, _Stage) or stage.graph_name is None:
            continue
        tensor = graph.tensors[stage.graph_name]
        simulated = quantize(stage.output.astype(np.float32), tensor.qparams)
        within = np.abs(simulated.astype(np.int64) - traced[tensor.name].astype(np.int64)) <= 1
        shares[tensor.name] = float(within.mean())
        close, total = close + int(within.sum()), total + within.size
    shares["all"] = close / total
    return shares


__all__ = [
    "QuantConfig",
    "QuantizedModel",
    "calibrate",
    "convert",
    "predict_dynamic",
    "prepare",
    "simulation_agreement",
]
