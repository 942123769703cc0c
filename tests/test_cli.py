"""The command line: `intq demo` reports an exact integer product; bad arguments are messages."""

import pytest

from intq import cli
from intq.demo import run


def test_demo_agrees_with_the_oracle_and_the_float_product(capsys):
    assert cli.main(["demo", "--m", "8", "--k", "33", "--n", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "integer result vs pure-Python oracle:            0 mismatches of 40" in out
    assert "multiplier" in out and "shift" in out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_figures(seed, capsys):
    figures = run(m=16, k=64, n=16, seed=seed)
    capsys.readouterr()
    assert figures["oracle_mismatches"] == 0
    assert figures["expansion_mismatches"] == 0
    # Requantization alone rounds to the nearest step, up to the 31-bit multiplier and the
    # second rounding of the double-rounding build: never a whole step off.
    assert 0.4 < figures["requantization_max_error_steps"] < 1.0
    assert figures["total_max_error_steps"] >= figures["requantization_max_error_steps"] - 1e-9


def test_bad_arguments_are_messages_not_tracebacks(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--m", "0"])
    assert exc.value.code == 2
    assert "--m must be at least 1" in capsys.readouterr().err
    assert cli.main([]) == 2
    assert "usage: intq" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err
