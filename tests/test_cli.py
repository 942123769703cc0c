"""The command line: bad arguments are messages, not tracebacks."""

import pytest

from intq import cli


def test_bad_arguments_are_messages_not_tracebacks(capsys):
    assert cli.main([]) == 2
    assert "usage: intq" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err
