"""prepare → calibrate/train → convert: the integer graph follows its fake-quant simulation."""

import numpy as np
import pytest

import intq
from intq import nn
from intq.convert import (
    QuantConfig,
    calibrate,
    convert,
    predict_dynamic,
    prepare,
    simulation_agreement,
)
from intq.fold import fold_bn
from intq.observers import HistogramObserver, MinMaxObserver


def _model(rng, residual=True):
    body = nn.Sequential(
        nn.DepthwiseConv2d(4, 3, padding="same", bias=False, rng=rng),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 1, rng=rng),
    )
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding="same", bias=False, rng=rng),
        nn.BatchNorm2d(4),
        nn.ReLU6(),
        *([nn.Residual(body), nn.ReLU6()] if residual else []),
        nn.AvgPool2d(2, padding="same"),
        nn.MaxPool2d(1),
        nn.Conv2d(4, 6, 2, rng=rng),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(24, 3, rng=rng),
    )


def _trained_bn(model, rng):
    """Give every BN non-trivial moving statistics, then switch to eval."""
    model.train()
    for _ in range(5):
        model(rng.normal(size=(16, 9, 9, 2)).astype(np.float32))
    return model.eval()


@pytest.mark.parametrize("observer", [MinMaxObserver, lambda: HistogramObserver(method="mse")])
def test_ptq_graph_follows_its_simulation_and_the_float_model(observer):
    rng = np.random.default_rng(0)
    model = _trained_bn(_model(rng), rng)
    x = rng.normal(size=(64, 9, 9, 2)).astype(np.float32)
    prepared = calibrate(prepare(model, config=QuantConfig(observer=observer)), x)
    graph = convert(prepared, (9, 9, 2))
    types = [op.type for op in graph.ops]
    assert types == ["conv2d", "depthwise_conv2d", "conv2d", "add", "avg_pool2d", "max_pool2d",
                     "conv2d", "reshape", "fully_connected"]  # fmt: skip
    # BN folded into the convs, activations fused: no separate op for either
    assert (
        graph.ops[0].attrs["activation"] == "relu6" and graph.ops[3].attrs["activation"] == "relu6"
    )
    agreement = simulation_agreement(prepared, graph, x)
    assert agreement["all"] >= 0.99, agreement
    logits = graph.run(graph.quantize_inputs({"input": x}))[graph.outputs[0]]
    real = intq.dequantize(logits, graph.tensors[graph.outputs[0]].qparams)
    reference = model.eval()(x)
    spread = reference.max() - reference.min()
    assert np.abs(real - reference).max() < 0.15 * spread


def test_weights_and_bias_are_quantized_as_tflite_does():
    rng = np.random.default_rng(1)
    model = _trained_bn(_model(rng, residual=False), rng)
    x = rng.normal(size=(32, 9, 9, 2)).astype(np.float32)
    prepared = calibrate(prepare(model), x)
    graph = convert(prepared, (9, 9, 2))
    conv = graph.ops[0]
    w = graph.tensors[conv.inputs[1]]
    bias = graph.tensors[conv.inputs[2]]
    folded = fold_bn(model[0], model[1])
    w_q = w.qparams
    assert w_q.axis == 0 and w_q.narrow_range and np.all(w_q.zero_point == 0)
    # symmetric per channel: max |w| of every channel maps to ±127
    assert np.array_equal(np.abs(w.data).max(axis=(1, 2, 3)), np.full(4, 127))
    expected_w = intq.quantize(folded.weight.value.astype(np.float32), w_q)
    assert np.array_equal(w.data, expected_w)
    s_in = np.float32(graph.tensors["input"].qparams.scale)
    scale = (s_in * w_q.scale.astype(np.float32)).astype(np.float64)
    expected_b = intq.rounding.round_half_away_from_zero(folded.bias.value / scale)
    assert bias.dtype == np.int32 and np.array_equal(bias.data, expected_b.astype(np.int32))


def test_qat_trains_and_converts():
    rng = np.random.default_rng(2)
    model = _trained_bn(_model(rng), rng)
    x = rng.normal(size=(96, 9, 9, 2)).astype(np.float32)
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[..., 1].mean((1, 2)) > 0)
    prepared = prepare(model, qat=True, config=QuantConfig(freeze_bn_delay=4, weight_bits=6))
    adam = nn.Adam(prepared.parameters(), lr=1e-2)
    losses = nn.fit(
        prepared, x, y, epochs=4, batch_size=16, optimizer=adam, rng=rng, progress=False
    )
    assert losses[-1] < losses[0]
    prepared.eval()
    graph = convert(prepared, (9, 9, 2))
    assert graph.tensors[graph.ops[0].inputs[1]].qparams.bits == 6
    assert np.abs(graph.tensors[graph.ops[0].inputs[1]].data).max() == 31
    assert simulation_agreement(prepared, graph, x)["all"] >= 0.99


def test_dynamic_quantization_is_close_to_float():
    rng = np.random.default_rng(3)
    model = _trained_bn(_model(rng), rng)
    x = rng.normal(size=(40, 9, 9, 2)).astype(np.float32)
    dynamic = predict_dynamic(model, x, batch_size=16)
    reference = model(x)
    assert dynamic.shape == reference.shape
    assert 0 < np.abs(dynamic - reference).max() < 0.1 * (reference.max() - reference.min())


def test_unsupported_modules_are_named():
    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Conv2d(1, 2, 1, rng=rng), nn.ReLU6(), nn.ReLU())
    with pytest.raises(ValueError, match=r"model\[2\] is a ReLU, which has no integer op"):
        prepare(model)
