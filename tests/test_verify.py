"""Layer-by-layer verification: exact per-tensor figures, the first divergent tensor and its op,
and the profile that explains a divergence."""

import json

import numpy as np
import pytest

from intq import QuantParams, verify
from intq.builder import GraphBuilder
from intq.io import hdf5

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Execution order of small_graph's non-constant tensors (the builder names an op's output after
# the op).
TRACE_ORDER = ["image", "conv", "depthwise", "residual", "pool", "flatten", "logits", "probs"]


def small_graph(profile: str = "tflite"):
    """conv (+relu6) → depthwise → residual add → avg pool → reshape → fully connected →
    softmax, with fixed random weights; the same weights under every profile."""
    rng = np.random.default_rng(0)

    def per_channel(n, axis):
        return QuantParams(
            rng.uniform(0.005, 0.02, n), np.zeros(n, np.int64), axis=axis, narrow_range=True
        )

    def weights(shape):
        return rng.integers(-127, 128, shape, dtype=np.int8)

    def bias(n):
        return rng.integers(-2000, 2000, n, dtype=np.int32)

    b = GraphBuilder(profile)
    x = b.input("image", (1, 8, 8, 3), QuantParams(0.02, -3))
    conv = b.conv2d(x, weights((8, 3, 3, 3)), bias(8), w_qparams=per_channel(8, 0),
                    out_qparams=QuantParams(6 / 255, -128), padding="same",
                    activation="relu6", name="conv")  # fmt: skip
    dw = b.depthwise_conv2d(conv, weights((1, 3, 3, 8)), bias(8), w_qparams=per_channel(8, 3),
                            out_qparams=QuantParams(0.05, 5), padding="same",
                            name="depthwise")  # fmt: skip
    res = b.add(conv, dw, out_qparams=QuantParams(0.06, -10), name="residual")
    pool = b.avg_pool2d(res, filter_size=2, stride=2, name="pool")
    flat = b.reshape(pool, [-1], name="flatten")
    logits = b.fully_connected(flat, weights((10, 128)), bias(10),
                               w_qparams=QuantParams(0.004, 0, narrow_range=True),
                               out_qparams=QuantParams(0.2, 3), name="logits")  # fmt: skip
    b.output(b.softmax(logits, name="probs"))
    return b.build()


def image(seed: int = 1, batch: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (batch, 8, 8, 3), dtype=np.int8)


def with_one_lsb_change(trace: dict, name: str) -> tuple[dict, int]:
    """A copy of ``trace`` whose tensor ``name`` differs by one LSB in one element, and that
    change (+1, or −1 where the element sits at the top of its dtype)."""
    dump = dict(trace)
    changed = trace[name].copy()
    index = tuple(int(i) for i in np.unravel_index(changed.size // 2, changed.shape))
    step = 1 if changed[index] < np.iinfo(changed.dtype).max else -1
    changed[index] += step
    dump[name] = changed
    return dump, step


@pytest.fixture(scope="module")
def graph():
    return small_graph()


@pytest.fixture(scope="module")
def trace(graph):
    return graph.run({"image": image()}, trace=True)


def test_trace_is_every_non_constant_tensor_in_execution_order(trace):
    assert list(trace) == TRACE_ORDER


def test_a_trace_verifies_against_itself(graph, trace):
    report = verify.verify_graph(graph, {"image": image()}, trace)
    assert report.ok and report.first_divergent is None
    assert [row.name for row in report.rows] == TRACE_ORDER
    assert all(row.mismatches == 0 and row.max_abs_diff == 0 for row in report.rows)
    assert all(row.histogram == {0: row.size} for row in report.rows)
    assert report.rows[1].producer == "conv" and report.rows[0].producer is None
    assert not report.missing_in_candidate and not report.missing_in_reference


def test_one_lsb_change_in_a_middle_tensor_is_found_first_and_exactly(graph, trace, tmp_path):
    dump, step = with_one_lsb_change(trace, "residual")
    path = tmp_path / "dump.h5"
    hdf5.save_dump(dump, path)
    report = verify.verify_graph(graph, {"image": image()}, path)
    assert not report.ok
    first = report.first_divergent
    assert (first.name, first.producer) == ("residual", "residual")
    assert first.mismatches == 1 and first.max_abs_diff == 1
    assert first.share == pytest.approx(1 / trace["residual"].size)
    # Δ is candidate − reference: intq's value minus the dump's.
    assert first.histogram == {-step: 1, 0: trace["residual"].size - 1}
    rows = {row.name: row for row in report.rows}
    assert all(rows[n].ok for n in ("image", "conv", "depthwise"))
    assert all(rows[n].ok for n in TRACE_ORDER[4:])  # the change was only in the dump
    table = report.to_table()
    assert "first divergent tensor: residual (produced by residual)" in table
    assert "MISMATCH" in table


def test_differences_are_int64_and_never_wrap():
    reference = {"t": np.array([-128, 127, 0], np.int8), "acc": np.array([-(2**31)], np.int32)}
    candidate = {"t": np.array([127, -128, 0], np.int8), "acc": np.array([2**31 - 1], np.int32)}
    rows = verify.compare(reference, candidate).rows
    assert rows[0].histogram == {-255: 1, 0: 1, 255: 1}
    assert (rows[0].mismatches, rows[0].max_abs_diff) == (2, 255)
    assert rows[1].max_abs_diff == 2**32 - 1


def test_shape_and_dtype_mismatches_and_missing_tensors_are_reported():
    reference = {
        "a": np.zeros((2, 3), np.int8),
        "b": np.arange(4, dtype=np.int8),
        "c": np.ones(2, np.int8),
        "only_ref": np.ones(1, np.int8),
    }
    candidate = {
        "a": np.zeros((3, 2), np.int8),
        "b": np.arange(4, dtype=np.int16),
        "c": np.ones(2, np.int8),
        "only_cand": np.ones(1, np.int8),
    }
    report = verify.compare(reference, candidate, order=["c", "b", "a"])
    assert [row.name for row in report.rows] == ["c", "b", "a"]
    c, b, a = report.rows
    assert c.ok
    assert a.problem == "shape [3, 2] != [2, 3]" and a.mismatches is None and not a.ok
    assert b.problem == "dtype int16 != int8" and b.mismatches == 0 and not b.ok
    assert report.first_divergent is b
    assert report.missing_in_candidate == ["only_ref"]
    assert report.missing_in_reference == ["only_cand"]
    assert not report.ok
    table = report.to_table()
    assert "shape [3, 2] != [2, 3]" in table and "missing in the candidate: only_ref" in table
    document = json.loads(json.dumps(report.to_dict()))
    assert document["first_divergent"] == {"tensor": "b", "producer": None}
    assert document["tensors"][1]["histogram"] == {"0": 4}


def test_tensors_the_dump_lacks_are_listed_but_do_not_fail(graph, trace):
    dump = {n: a for n, a in trace.items() if n != "pool"}
    report = verify.verify_graph(graph, {"image": image()}, dump)
    assert report.ok and report.missing_in_reference == ["pool"]


def test_constants_in_the_dump_are_compared(graph, trace):
    weights = graph.tensors["conv/weights"].data.copy()
    weights[0, 0, 0, 0] ^= 1
    report = verify.verify_graph(graph, {"image": image()}, {**trace, "conv/weights": weights})
    assert report.first_divergent.name == "conv/weights"
    assert [row.name for row in report.rows][:3] == ["image", "conv/weights", "conv"]


def diverging_input(tflite, single):
    """An input on which the two rounding profiles' traces differ (searched, deterministic)."""
    for seed in range(50):
        x = image(seed)
        a, b = tflite.run({"image": x}, trace=True), single.run({"image": x}, trace=True)
        if any(not np.array_equal(a[n], b[n]) for n in a):
            return x
    raise AssertionError("no input separates double from single rounding")


def test_explain_names_the_rounding_profile_that_reproduces_the_dump(tmp_path):
    tflite, single = small_graph("tflite"), small_graph("tflite-single-rounding")
    x = diverging_input(tflite, single)
    path = tmp_path / "single.h5"
    hdf5.save_dump(single.run({"image": x}, trace=True), path)
    report = verify.verify_graph(tflite, {"image": x}, path)
    first = report.first_divergent
    assert first is not None and first.mismatches > 0
    explanation = verify.explain(tflite, report, path)
    assert explanation.tensor == first.name and explanation.op == first.producer
    trials = {t.profile: t for t in explanation.trials}
    assert "tflite-single-rounding" in explanation.reproducing
    assert "tflite" not in explanation.reproducing
    assert trials["tflite"].mismatches == first.mismatches
    assert trials["tflite-single-rounding"].mismatches == 0
    op = next(o for o in tflite.ops if o.name == first.producer)
    assert explanation.input_sources == {
        n: "intq" if tflite.tensors[n].is_constant else "dump" for n in op.inputs
    }
    text = explanation.to_text()
    assert "reproduced by: " in text and "tflite-single-rounding" in text
    assert json.loads(json.dumps(explanation.to_dict()))["reproducing"] == explanation.reproducing


def test_a_profile_that_cannot_derive_the_op_is_reported_not_raised(graph, trace, monkeypatch):
    dump, _ = with_one_lsb_change(trace, "logits")
    report = verify.verify_graph(graph, {"image": image()}, dump)
    registered = verify.available_profiles()
    monkeypatch.setattr(verify, "available_profiles", lambda: (*registered, "no-such-profile"))
    explanation = verify.explain(graph, report, dump)
    trials = {t.profile: t for t in explanation.trials}
    assert "unknown profile 'no-such-profile'" in trials["no-such-profile"].reason
    assert not trials["no-such-profile"].reproduces
    assert trials["tflite"].mismatches == 1 and explanation.reproducing == []
    assert "cannot derive/run" in explanation.to_text()


def test_explain_without_a_divergence_or_of_a_graph_input(graph, trace):
    report = verify.verify_graph(graph, {"image": image()}, trace)
    assert verify.explain(graph, report, trace).note == "no divergent tensor to explain"
    dump, _ = with_one_lsb_change(trace, "image")
    report = verify.verify_graph(graph, {"image": image()}, dump)
    explanation = verify.explain(graph, report, dump)
    assert explanation.op is None
    assert explanation.note == (
        "image is a graph input, not produced by any op: the dump's graph input differs from intq's"
    )


def test_plot_writes_a_png_atomically(graph, trace, tmp_path):
    dump, _ = with_one_lsb_change(trace, "residual")
    report = verify.verify_graph(graph, {"image": image()}, dump)
    path = tmp_path / "report.png"
    verify.plot(report, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]
