"""Every command's summary, as the command lists show it, is one line."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
import typer

import medevac.cli
from medevac.cli.application import app

pytestmark = pytest.mark.e2e


def _commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


def test_every_command_summary_is_one_line() -> None:
    for module in pkgutil.iter_modules(medevac.cli.__path__):
        importlib.import_module(f"medevac.cli.{module.name}")
    commands = dict(_commands(typer.main.get_command(app), ("medevac",)))
    assert len(commands) > 30
    # the lists of commands show a command's first paragraph with its line breaks: a summary
    # wrapped over several lines broke the list's column ("plan show", "requests close")
    wrapped = {
        name: (command.help or "").strip().split("\n\n")[0]
        for name, command in commands.items()
        if "\n" in (command.help or "").strip().split("\n\n")[0]
    }
    assert not wrapped, wrapped
