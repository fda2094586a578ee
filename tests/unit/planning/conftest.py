"""Fixtures shared by the planning tests."""

from __future__ import annotations

import pytest
import typer

from medevac.cli.plan_commands import register


@pytest.fixture
def app() -> typer.Typer:
    """An application holding the `plan` commands alone (and a second command, which keeps
    `plan` a sub-group)."""
    application = typer.Typer()
    application.command("version")(lambda: None)
    register(application)
    return application
