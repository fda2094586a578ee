"""What the end-to-end tests of the command share: a runner on a demo database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings


def _fresh_caches() -> None:
    get_settings.cache_clear()
    context._checked.cache_clear()


def _built_demo(database: Path) -> None:
    """`db upgrade` then `demo` into DATABASE, through the command as a user runs them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{database}")
        patch.setenv("COLUMNS", "200")
        _fresh_caches()
        runner = CliRunner()
        for args in (["db", "upgrade"], ["demo"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
    _fresh_caches()


def _copied(template: Path, database: Path) -> None:
    """A copy of TEMPLATE at DATABASE through SQLite's backup, which reads what its write-ahead
    log holds as well."""
    source, target = sqlite3.connect(template), sqlite3.connect(database)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> dict[date, Path]:
    """Demo databases built once a session, one per UTC day the session runs on.

    The demo dates its reports and plan from the day it is built, so a test copies the template
    of its own day; a session that runs past midnight builds a second one."""
    return {}


@pytest.fixture
def cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_template: dict[date, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CliRunner]:
    """A runner on a fresh, migrated SQLite database holding the demo (a copy of the day's)."""
    today = datetime.now(UTC).date()
    if today not in demo_template:
        template = tmp_path_factory.mktemp("demo-template") / "demo.db"
        _built_demo(template)
        demo_template[today] = template
    database = tmp_path / "cli.db"
    _copied(demo_template[today], database)
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("COLUMNS", "200")
    _fresh_caches()
    yield CliRunner()
    _fresh_caches()


def invoke(cli: CliRunner, *args: str) -> str:
    """The output of a command that must succeed."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def built_and_solved(cli: CliRunner, folder: Path) -> tuple[Path, Path]:
    """`plan build` into ``folder``/problem.json, then `plan solve` into plan.json beside it:
    the problem's and the plan's paths."""
    problem, plan = folder / "problem.json", folder / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan))
    return problem, plan
