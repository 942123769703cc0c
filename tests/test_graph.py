"""The integer graph: built with GraphBuilder, it runs equal to calling intq.ops op by op; its
validation catches every inconsistency with an error naming the op and the field."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import intq
from intq import GraphBuilder, GraphError, ops
from intq import QuantParams as Q

PROFILES = ["tflite", "tflite-single-rounding"]
# Distinct output values seen per op type over the random graphs (non-vacuity, checked last).
DISTINCT: dict[str, set[int]] = collections.defaultdict(set)


@st.composite
def scales(draw, low=-9, high=-1):
    return draw(st.floats(2.0**low, 2.0**high, allow_nan=False))


@st.composite
def activation_qparams(draw, dtype=np.int8):
    info = np.iinfo(dtype)
    zero_point = draw(st.integers(int(info.min), int(info.max)))
    return Q(draw(scales()), zero_point, signed=info.min < 0)


def _weights(rng, shape):
    return rng.integers(-127, 128, shape).astype(np.int8)


def build_and_reference(draw, profile):
    """A small CNN drawn from hypothesis, built twice: as a graph, and as the outputs of the
    intq.ops calls with the same arguments. Returns (graph, input array, {tensor: array})."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch, h, w, c = draw(st.integers(1, 2)), draw(st.integers(3, 7)), draw(st.integers(3, 7)), 3
    x_q = draw(activation_qparams())
    x = rng.integers(-128, 128, (batch, h, w, c)).astype(np.int8)
    b = GraphBuilder(profile)
    ref: dict[str, np.ndarray] = {}
    kw = {"profile": profile}

    xn = b.input("x", (1, h, w, c), x_q)
    ref[xn] = x
    c1 = draw(st.integers(1, 5))
    w1 = _weights(rng, (c1, 3, 3, c))
    w1_q = Q([draw(scales(-10, -5)) for _ in range(c1)], [0] * c1, axis=0, narrow_range=True)
    b1 = rng.integers(-2000, 2000, c1).astype(np.int32)
    y1_q = draw(activation_qparams())
    act = draw(st.sampled_from([None, "relu", "relu6"]))
    stride = draw(st.integers(1, 2))
    y1 = b.conv2d(xn, w1, b1, w_qparams=w1_q, out_qparams=y1_q, stride=stride, padding="same",
                  activation=act)  # fmt: skip
    ref[y1] = ops.conv2d(x, w1, b1, x_qparams=x_q, w_qparams=w1_q, out_qparams=y1_q,
                         stride=stride, padding="same", activation=act, **kw)  # fmt: skip

    w2 = _weights(rng, (1, 3, 3, c1))
    w2_q = Q(draw(scales(-10, -5)), 0)
    y2_q = draw(activation_qparams())
    y2 = b.depthwise_conv2d(y1, w2, None, w_qparams=w2_q, out_qparams=y2_q, padding="same")
    ref[y2] = ops.depthwise_conv2d(ref[y1], w2, None, x_qparams=y1_q, w_qparams=w2_q,
                                   out_qparams=y2_q, padding="same", **kw)  # fmt: skip

    s_q = draw(activation_qparams())
    s = b.add(y1, y2, out_qparams=s_q, activation="relu")
    ref[s] = ops.add(ref[y1], ref[y2], x1_qparams=y1_q, x2_qparams=y2_q, out_qparams=s_q,
                     activation="relu", **kw)  # fmt: skip
    m_q = draw(activation_qparams())
    m = b.mul(s, y2, out_qparams=m_q)
    ref[m] = ops.mul(ref[s], ref[y2], x1_qparams=s_q, x2_qparams=y2_q, out_qparams=m_q, **kw)

    p = b.avg_pool2d(s, filter_size=2, padding="same")
    ref[p] = ops.avg_pool2d(ref[s], x_qparams=s_q, filter_size=2, padding="same")
    pm = b.max_pool2d(m, filter_size=2, padding="same")
    ref[pm] = ops.max_pool2d(ref[m], x_qparams=m_q, filter_size=2, padding="same")

    cat_q = draw(activation_qparams())
    cat = b.concat([p, pm], 3, out_qparams=cat_q)
    ref[cat] = ops.concat([ref[p], ref[pm]], 3, input_qparams=[s_q, m_q], out_qparams=cat_q, **kw)
    pads = [[0, 0], [1, 0], [0, 2], [0, 0]]
    pd = b.pad(cat, pads)
    ref[pd] = ops.pad(ref[cat], pads, x_qparams=cat_q)

    mean_q = draw(activation_qparams())
    mn = b.mean(pd, [1, 2], out_qparams=mean_q)
    ref[mn] = ops.mean(ref[pd], [1, 2], x_qparams=cat_q, out_qparams=mean_q, **kw)
    units = draw(st.integers(1, 6))
    w3 = _weights(rng, (units, 2 * c1))
    w3_q = Q(draw(scales(-8, -4)), 0)
    fc_q = draw(activation_qparams())
    b3 = rng.integers(-300, 300, units).astype(np.int32)
    fc = b.fully_connected(mn, w3, b3, w_qparams=w3_q, out_qparams=fc_q)
    ref[fc] = ops.linear(ref[mn], w3, b3, x_qparams=mean_q, w_qparams=w3_q, out_qparams=fc_q,
                         **kw)  # fmt: skip
    sm = b.softmax(fc)
    ref[sm] = ops.softmax(ref[fc], x_qparams=fc_q, **kw)
    lg = b.logistic(fc)
    ref[lg] = ops.logistic(ref[fc], x_qparams=fc_q, **kw)
    th = b.tanh(fc)
    ref[th] = ops.tanh(ref[fc], x_qparams=fc_q, **kw)
    rq_q = draw(activation_qparams())
    rq = b.requantize(fc, out_qparams=rq_q)
    ref[rq] = ops.requantize(ref[fc], x_qparams=fc_q, out_qparams=rq_q, **kw)
    flat = b.reshape(pd, [-1])
    ref[flat] = ref[pd].reshape(batch, -1)
    b.output(sm, lg, th, rq, flat)
    return b.build(), x, ref


@given(st.data(), st.sampled_from(PROFILES))
def test_graph_runs_equal_to_ops_op_by_op(data, profile):
    graph, x, ref = build_and_reference(data.draw, profile)
    traced = graph.run({"x": x}, trace=True)
    assert list(traced) == ["x", *(op.outputs[0] for op in graph.ops)]
    types = {op.outputs[0]: op.type for op in graph.ops}
    for name, expected in ref.items():
        got = traced[name]
        DISTINCT[types.get(name, "input")].update(np.unique(got).tolist())
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        assert np.array_equal(got, expected), name
    outputs = graph.run({"x": x})
    assert list(outputs) == graph.outputs
    for name in graph.outputs:
        assert np.array_equal(outputs[name], traced[name])


def _example(profile="tflite"):
    rng = np.random.default_rng(7)
    b = GraphBuilder(profile)
    x = b.input("x", (1, 6, 6, 2), Q(0.03, 4))
    y = b.conv2d(x, _weights(rng, (3, 3, 3, 2)), rng.integers(-99, 99, 3).astype(np.int32),
                 w_qparams=Q([0.01, 0.02, 0.015], [0, 0, 0], axis=0), out_qparams=Q(0.05, -7),
                 padding="same", activation="relu6", name="conv")  # fmt: skip
    f = b.fully_connected(b.reshape(b.avg_pool2d(y, filter_size=6, name="pool"), [3]),
                          _weights(rng, (4, 3)), None, w_qparams=Q(0.02, 0),
                          out_qparams=Q(0.04, 3), name="fc")  # fmt: skip
    b.output(b.softmax(f, name="probs"))
    return b.build(), rng.integers(-128, 128, (5, 6, 6, 2)).astype(np.int8)


def test_any_batch_size_runs_as_the_rows_one_by_one():
    graph, x = _example()
    whole = graph.run({"x": x})["probs"]
    rows = [graph.run({"x": x[i : i + 1]})["probs"][0] for i in range(len(x))]
    assert whole.shape == (5, 4)
    assert np.array_equal(whole, np.stack(rows))
    assert np.array_equal(graph.run({"x": x[:0]})["probs"], np.zeros((0, 4), np.int8))


def test_with_profile_equals_building_under_that_profile():
    graph, x = _example("tflite")
    single, _ = _example("tflite-single-rounding")
    moved = graph.with_profile("tflite-single-rounding")
    moved.validate()
    assert moved.profile == "tflite-single-rounding"
    for a, b in zip(moved.ops, single.ops, strict=True):
        assert intq.graph.params_difference(a.params, b.params) is None, a.name
    assert np.array_equal(moved.run({"x": x})["probs"], single.run({"x": x})["probs"])


def test_run_refuses_floats_and_wrong_inputs_with_clear_errors():
    graph, x = _example()
    with pytest.raises(TypeError, match=r"input 'x': got float64 .*quantize_inputs"):
        graph.run({"x": x.astype(np.float64)})
    with pytest.raises(TypeError, match=r"input 'x': dtype uint8"):
        graph.run({"x": x.astype(np.uint8)})
    with pytest.raises(ValueError, match=r"input 'x': shape \(5, 6, 5, 2\)"):
        graph.run({"x": x[:, :, :5]})
    with pytest.raises(ValueError, match=r"missing \['x'\]"):
        graph.run({"y": x})
    real = graph.dequantize_outputs({"x": x})["x"]
    assert np.array_equal(graph.quantize_inputs({"x": real})["x"], x)


def test_run_refuses_values_off_a_narrow_grid():
    b = GraphBuilder()
    x = b.input("x", (1, 4), Q(0.1, 0, bits=4))
    b.output(b.reshape(x, [2, 2]))
    graph = b.build()
    with pytest.raises(ValueError, match=r"input 'x': values span \[-8, 9\]"):
        graph.run({"x": np.array([[-8, 0, 1, 9]], np.int8)})


def _replace_op(graph, index, **changes):
    ops_ = list(graph.ops)
    ops_[index] = dataclasses.replace(ops_[index], **changes)
    return intq.Graph(dict(graph.tensors), ops_, list(graph.inputs), list(graph.outputs),
                      graph.profile)  # fmt: skip


def test_validate_names_a_tampered_param():
    graph, _ = _example()
    conv = graph.ops[0]
    multiplier = conv.params.multiplier.copy()
    multiplier[1] += 1
    bad = _replace_op(graph, 0, params=dataclasses.replace(conv.params, multiplier=multiplier))
    with pytest.raises(GraphError, match=r"op 0 'conv' \(conv2d\): params.multiplier differs") as e:
        bad.validate()
    assert e.value.op == 0 and e.value.field == "params/multiplier"
    bad = _replace_op(
        graph, 0, params=dataclasses.replace(conv.params, act_max=conv.params.act_max - 1)
    )
    with pytest.raises(GraphError, match=r"params.act_max differs"):
        bad.validate()


BROKEN = [
    ({"op": 1, "inputs": ("nowhere",)}, r"op 1 'pool': inputs: unknown tensor 'nowhere'"),
    ({"op": 1, "inputs": ("probs",)}, r"reads 'probs', which is not a graph input"),
    ({"op": 2, "outputs": ("conv",)}, r"writes 'conv', which is already defined"),
    ({"op": 0, "type": "conv3d"}, r"op 0 'conv' \(conv3d\): unknown op type"),
    ({"op": 0, "attrs": {"stride": 2, "padding": "same"}}, r"params.stride_h differs"),
    ({"op": 0, "attrs": {"padding": "valid"}}, r"params.pad_top differs"),
    ({"op": 1, "params": "conv"}, r"params must be PoolParams"),
    ({"op": 3, "inputs": ("x",)}, r"op 3 'fc' \(fully_connected\): 1 inputs is wrong"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_validate_names_the_op_and_field(change, message):
    graph, _ = _example()
    change = dict(change)
    index = change.pop("op")
    if change.get("params") == "conv":
        change["params"] = graph.ops[0].params
    if "attrs" in change:
        change["attrs"] = {**graph.ops[index].attrs, **change["attrs"]}
    with pytest.raises(GraphError, match=message):
        _replace_op(graph, index, **change).validate()


def test_validate_checks_declared_output_tensors():
    graph, _ = _example()
    tensors = dict(graph.tensors)
    conv = tensors["conv"]
    tensors["conv"] = intq.Tensor("conv", np.int8, (1, 5, 6, 3), conv.qparams)
    bad = intq.Graph(tensors, list(graph.ops), ["x"], ["probs"])
    with pytest.raises(GraphError, match=r"output 'conv' is declared int8\[1, 5, 6, 3\]") as e:
        bad.validate()
    assert e.value.field == "tensors/conv"
    with pytest.raises(GraphError, match=r"outputs: unknown tensor 'nope'"):
        intq.Graph(dict(graph.tensors), list(graph.ops), ["x"], ["nope"]).validate()


def test_builder_errors_name_the_op_and_argument():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 4, 2), Q(0.1, 0))
    with pytest.raises(ValueError, match=r"c \(conv2d\): w: expected C_in / groups = 2"):
        b.conv2d(x, np.zeros((3, 1, 1, 5), np.int8), w_qparams=Q(0.1, 0), out_qparams=Q(0.1, 0),
                 name="c")  # fmt: skip
    with pytest.raises(ValueError, match=r"a tensor named 'x' already exists"):
        b.input("x", (1, 2), Q(0.1, 0))
    with pytest.raises(ValueError, match=r"mean_0 \(mean\): axes: a graph's MEAN cannot reduce"):
        b.mean(x, [0, 1], out_qparams=Q(0.1, 0))
    with pytest.raises(ValueError, match=r"shape: \[3, -1\]|cannot infer the -1"):
        b.reshape(x, [3, -1])
    with pytest.raises(ValueError, match=r"unknown op type 'gelu'"):
        b.add_op("gelu", [x])


def test_summary_lists_every_op_with_macs_and_bytes():
    graph, _ = _example()
    text = graph.summary()
    for op in graph.ops:
        assert op.name in text
    conv_macs = 6 * 6 * 3 * 3 * 3 * 2
    assert graph.macs()["conv"] == conv_macs and graph.macs()["fc"] == 4 * 3
    assert f"{conv_macs:,}" in text
    constant_bytes = 3 * 3 * 3 * 2 + 3 * 4 + 4 * 3
    assert f"{constant_bytes:,} bytes of constants" in text


def test_random_graphs_were_not_vacuous():
    """Every op type of the random graphs produced varied outputs (run after the property)."""
    assert set(DISTINCT) >= {"conv2d", "depthwise_conv2d", "add", "mul", "avg_pool2d", "concat",
                             "mean", "fully_connected", "softmax", "logistic", "tanh"}  # fmt: skip
    poor = {t: len(v) for t, v in DISTINCT.items() if len(v) < 20}
    assert not poor, poor
