"""What every command shares: the database URL it is given and the actor it records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings
from medevac.store.database import DatabaseUrlError, create_engine_for, shown_url
from tests.e2e.conftest import invoke

pytestmark = pytest.mark.e2e

BLANK_ACTOR = "error: actor: every change needs the name of who makes it (--actor is blank)"


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    context._checked.cache_clear()
    yield
    get_settings.cache_clear()
    context._checked.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> CliRunner:
    """A runner on a fresh, migrated SQLite database holding the demo."""
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    for args in (["db", "upgrade"], ["demo"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return runner


def audit_records() -> int:
    engine = create_engine_for(context.database_url())
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one())
    finally:
        engine.dispose()


# -- MEDEVAC_DATABASE_URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "notaurl",
            "error: MEDEVAC_DATABASE_URL=notaurl: not a database URL; use sqlite:///path/to/file.db"
            " or postgresql+psycopg://user@host/dbname",
        ),
        (
            "mysql://u:secret@127.0.0.1:1/x",
            "error: MEDEVAC_DATABASE_URL=mysql://u:***@127.0.0.1:1/x: unsupported backend "
            "'mysql'; use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname",
        ),
        (
            "postgresql://u:secret@db:port/x",
            "error: MEDEVAC_DATABASE_URL=postgresql://u:***@db:port/x: not a database URL; use "
            "sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname",
        ),
        (
            "postgresql+asyncpg://u:secret@db/x",
            "error: MEDEVAC_DATABASE_URL=postgresql+asyncpg://u:***@db/x: use the psycopg 3 "
            "driver, as in postgresql+psycopg://user@host:5432/dbname",
        ),
    ],
)
@pytest.mark.parametrize("command", [["patients", "list"], ["db", "status"], ["db", "upgrade"]])
def test_a_database_url_that_cannot_be_used_is_one_line_naming_the_variable(
    url: str,
    said: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    fresh_settings: None,
) -> None:
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", url)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # no other exception escaped
    assert result.output.splitlines() == [said]
    assert "secret" not in result.output


def test_a_bad_database_url_gives_no_traceback_from_the_installed_command(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medevac.cli.main", "patients", "list"],
        capture_output=True,
        text=True,
        env=os.environ | {"MEDEVAC_DATABASE_URL": "notaurl"},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: MEDEVAC_DATABASE_URL=notaurl: not a database URL")


def test_a_database_url_is_shown_without_its_password_even_when_malformed() -> None:
    assert shown_url("postgresql+psycopg://u:secret@db/x") == "postgresql+psycopg://u:***@db/x"
    assert shown_url("postgresql://u:secret@db:port/x") == "postgresql://u:***@db:port/x"
    assert shown_url("notaurl") == "notaurl"
    with pytest.raises(DatabaseUrlError, match="not a database URL") as raised:
        create_engine_for("postgresql://u:secret@db:port/x")
    assert "secret" not in str(raised.value)


# -- --actor ------------------------------------------------------------------------------------

#: every command that takes --actor, with arguments it accepts on the demo (but a blank actor)
WITH_ACTOR: dict[str, list[str]] = {
    "demo": ["demo"],
    "import": ["import", "organisations", "{tmp}/organisations.json"],
    "facilities capacity report": [
        *("facilities", "capacity", "report", "FAC-KOLOBRZEG-SAN", "rehabilitation"),
        *("--available", "20", "--baseline", "40"),
    ],
    "patients move": ["patients", "move", "PT-0002", "cancelled", "--reason", "duplicate"],
    "requests create": [
        *("requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-MOH"),
        *("--places", "burns=3"),
    ],
    "requests submit": ["requests", "submit", "{made}"],
    "requests respond": ["requests", "respond", "REQ-DEMO-001", "--accept-all"],
    "requests admit": ["requests", "admit", "REQ-DEMO-001", "PT-0001", "FAC-LODZ-MMA"],
    "requests close": ["requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally"],
    "screening create": [
        *("screening", "create", "--team", "ORG-PARTNER-DMS", "--place", "Kyiv"),
        *("--from", "2026-01-01", "--to", "2099-12-31"),
    ],
    "screening add": ["screening", "add", "{made}", "PT-0003"],
    "plan approve": ["plan", "approve", "{tmp}/plan.json", "--problem", "{tmp}/problem.json"],
}

#: what runs before a command of WITH_ACTOR; "{made}" there is the id the last step made
PREPARED: dict[str, list[list[str]]] = {
    "requests submit": [WITH_ACTOR["requests create"]],
    "requests admit": [WITH_ACTOR["requests respond"]],
    "screening add": [WITH_ACTOR["screening create"]],
    "plan approve": [
        WITH_ACTOR["requests close"],
        ["plan", "build", "--out", "{tmp}/problem.json"],
        ["plan", "solve", "{tmp}/problem.json", "--out", "{tmp}/plan.json", "--engine", "greedy"],
    ],
}


def commands_with_an_actor() -> set[str]:
    """The full names of every command of the application that has an --actor option."""
    found: set[str] = set()

    def walk(command: Any, path: tuple[str, ...]) -> None:  # typer vendors its own click
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        elif any("--actor" in getattr(p, "opts", ()) for p in command.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), ())
    return found


def test_the_blank_actor_cases_cover_every_command_with_an_actor() -> None:
    assert commands_with_an_actor() == set(WITH_ACTOR)


@pytest.mark.parametrize("command", sorted(WITH_ACTOR))
def test_every_command_refuses_a_blank_actor_and_changes_nothing(
    command: str, cli: CliRunner, tmp_path: Path
) -> None:
    organisation = {"id": "ORG-X", "name": "Cell", "kind": "coordination_cell", "country": "PL"}
    (tmp_path / "organisations.json").write_text(json.dumps([organisation]), encoding="utf-8")
    made = ""
    for step in PREPARED.get(command, []):
        out = invoke(cli, *(arg.format(tmp=tmp_path) for arg in step))
        made = out.split()[1].rstrip(";")  # "drafted REQ-...;", "planned SCR-...;"
    args = [arg.format(tmp=tmp_path, made=made) for arg in WITH_ACTOR[command]]
    before = audit_records()
    for blank in (" ", "  ", ""):
        refused = cli.invoke(app, [*args, "--actor", blank])
        assert refused.exit_code == 1, refused.output
        assert refused.output.splitlines() == [BLANK_ACTOR]
    assert audit_records() == before
    # the same command with a name goes through
    accepted = cli.invoke(app, [*args, "--actor", "cell"])
    assert accepted.exit_code == 0, accepted.output
    assert audit_records() > before or command == "demo"  # the demo is there already


def test_a_blank_default_actor_is_refused_naming_its_variable(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDEVAC_ACTOR", " ")
    get_settings.cache_clear()
    args = ["patients", "move", "PT-0002", "cancelled", "--reason", "duplicate"]
    refused = cli.invoke(app, args)
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        "error: actor: every change needs the name of who makes it (MEDEVAC_ACTOR is blank)"
    ]
    assert "PT-0002: deferred -> cancelled" in invoke(cli, *args, "--actor", "dr.k")


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MEDEVAC_STALE_AFTER_HOURS", "abc", "Input should be a valid number"),
        ("MEDEVAC_STALE_AFTER_HOURS", "-1", "must be a number of hours above 0"),
        ("MEDEVAC_STALE_AFTER_HOURS", "nan", "must be a number of hours above 0"),
        # 1e11 hours had overflowed a timedelta with a traceback
        ("MEDEVAC_STALE_AFTER_HOURS", "1e11", "must be a number of hours above 0 and at most"),
        ("MEDEVAC_PROGRESS_THRESHOLD_ROWS", "many", "Input should be a valid integer"),
        ("MEDEVAC_PROGRESS_THRESHOLD_ROWS", "-5", "must be 0 or more"),
        ("MEDEVAC_LOCK_WAIT_SECONDS", "0", "must be a number of seconds above 0"),
        ("MEDEVAC_LOCK_WAIT_SECONDS", "inf", "must be a number of seconds above 0"),
        # SQLite would keep 1e7 s as no wait at all (its busy timeout is 32-bit milliseconds)
        ("MEDEVAC_LOCK_WAIT_SECONDS", "1e7", "must be a number of seconds above 0 and at most"),
        ("MEDEVAC_TIME_ZONE", "Mars/Olympus", "is not a known time zone: give an IANA name"),
        ("MEDEVAC_TIME_ZONE", "Europe", "is not a known time zone"),  # a folder of zones
        ("MEDEVAC_TIME_ZONE", "/etc/localtime", "is not a known time zone"),
        ("MEDEVAC_TIME_ZONE", "localtime", "is not a known time zone"),  # the machine's file
        ("MEDEVAC_TIME_ZONE", "right/UTC", "is not a known time zone"),  # leap seconds
        ("MEDEVAC_TIME_ZONE", "Factory", "is not a known time zone"),
    ],
)
def test_a_setting_that_cannot_be_read_is_a_one_line_error_naming_it(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    result = cli.invoke(app, ["facilities", "list"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {variable}='{value}': {said}")
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_command_that_waits_too_long_for_another_write_says_the_registry_is_busy(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDEVAC_LOCK_WAIT_SECONDS", "0.2")
    get_settings.cache_clear()
    before = audit_records()
    args = ["patients", "move", "PT-0002", "cancelled", "--reason", "duplicate"]
    engine = create_engine_for(context.database_url())
    try:
        with engine.connect() as holder:  # another write in progress (an approval, say)
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            refused = cli.invoke(app, args)
            holder.rollback()
    finally:
        engine.dispose()
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        "error: the registry is busy: another transaction (a plan approval, say) held the lock "
        "this one needed for more than 0.2 s; nothing was written; try again when it is done "
        "(MEDEVAC_LOCK_WAIT_SECONDS sets how long to wait)"
    ]
    assert audit_records() == before
    assert "PT-0002: deferred -> cancelled" in invoke(cli, *args)


def test_the_demo_run_again_counts_the_live_plan_s_open_admissions(cli: CliRunner) -> None:
    listed = invoke(cli, "patients", "list", "--status", "referred")
    referred = sorted({word for word in listed.split() if word.startswith("PT-")})
    invoke(cli, "patients", "move", referred[0], "cancelled", "--reason", "died")
    again = invoke(cli, "demo")
    # the cancelled patient's admission is withdrawn from the plan: 23 open, not 24
    assert "Regulating plan PLAN-DEMO-001: 23 admissions" in again


def test_db_status_names_a_missing_database_file_without_creating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    missing = tmp_path / "mistyped.db"
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{missing}")
    result = CliRunner().invoke(app, ["db", "status"])
    assert result.exit_code == 0
    # the console may break the long path across lines
    assert f"thereisnodatabasefileat{missing}" in "".join(result.output.split())
    assert not missing.exists()
