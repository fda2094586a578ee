"""The line Ctrl-C leaves: one line, whatever the names it holds."""

from __future__ import annotations

import pytest

from medevac.cli.interrupts import EXIT_INTERRUPTED, Interruption, say_interrupted


def test_a_file_name_with_control_characters_stays_on_one_printable_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a newline or an escape in --out had been written as it was: two lines, or a terminal's
    # colours changed
    say_interrupted("nothing written to a\nb\x1b[31m.json")
    assert capsys.readouterr().err == "interrupted: nothing written to a\\nb\\u001b[31m.json\n"


def test_names_that_are_printable_are_written_as_they_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say_interrupted("nothing written to Łódź plan.json")
    say_interrupted()
    assert (
        capsys.readouterr().err == "interrupted: nothing written to Łódź plan.json\ninterrupted\n"
    )


def test_an_interruption_says_what_it_left_and_exits_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as ended, Interruption("nothing written to x\ty.json"):
        raise KeyboardInterrupt
    assert ended.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted: nothing written to x\\ty.json\n"
