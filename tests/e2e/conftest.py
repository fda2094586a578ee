"""What the end-to-end tests of the command share: a runner on a demo database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner on a fresh, migrated SQLite database holding the demo."""
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    context._checked.cache_clear()
    runner = CliRunner()
    for args in (["db", "upgrade"], ["demo"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    yield runner
    get_settings.cache_clear()
    context._checked.cache_clear()


def invoke(cli: CliRunner, *args: str) -> str:
    """The output of a command that must succeed."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output
