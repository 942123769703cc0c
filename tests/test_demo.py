"""The demo's printed figures are the ones checked here: one full run of the pipeline."""

import contextlib
import io

import pytest

import intq
from intq import cli
from intq.demo import run

pytest.importorskip("sklearn", reason="the demo's digits need the demo extra (scikit-learn)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        figures = run(out_dir=out, progress=False)
    return figures, printed.getvalue()


def test_ptq_int8_is_within_two_points_of_float(demo):
    figures, text = demo
    assert figures["float"] > 0.9
    for name, accuracy in figures["ptq_static"].items():
        assert accuracy >= figures["float"] - 0.02, name
        assert f"PTQ static, {name}" in text and f"{100 * accuracy:7.2f}%" in text
    assert figures["ptq_dynamic"] >= figures["float"] - 0.02


def test_qat_beats_ptq_at_4_bit_weights(demo):
    figures, text = demo
    assert figures["qat_4bit_weights"] >= figures["ptq_4bit_weights"]
    assert f"{100 * figures['qat_4bit_weights']:7.2f}%" in text


def test_integer_graph_follows_its_simulation(demo):
    figures, text = demo
    assert figures["agreement_within_1_lsb"] >= 0.99
    assert f"{100 * figures['agreement_within_1_lsb']:.2f}% of all elements within 1 LSB" in text
    assert figures["qat_integer"] >= figures["float"] - 0.02


def test_saved_model_and_plot(demo):
    figures, _ = demo
    graph = intq.load(figures["model_path"])
    assert [op.type for op in graph.ops][-1] == "fully_connected"
    assert figures["int8_bytes"] < figures["float_bytes"] / 3
    with open(figures["plot_path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert set(figures["layer_errors"]) <= set(graph.tensors)
    assert all(0 < e < 0.2 for e in figures["layer_errors"].values())


def test_demo_command_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--epochs", "0"])
    assert exc.value.code == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
