"""The `medevac` command end to end on a SQLite file: real database, real migrations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import Identity
from medevac.domain.vocabulary import Sex
from medevac.services.auditing import utc_now
from medevac.services.demo import ACADEMY_AGREEMENT_ID
from medevac.store.database import create_engine_for, known_revisions, upgrade
from tests.e2e.conftest import invoke
from tests.manifest_edits import resealed_text

pytestmark = pytest.mark.e2e


def run_medevac(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MEDEVAC_DATABASE_URL": f"sqlite:///{database}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "medevac.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_db_upgrade_then_demo_prints_the_summary_and_is_rerunnable(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    assert run_medevac("db", "upgrade", database=database).returncode == 0
    first = run_medevac("demo", database=database)
    assert first.returncode == 0, first.stderr
    assert "examined 110 of 110, selected 24, deferred" in first.stdout
    assert "REQ-DEMO-001" in first.stdout
    assert "Regulating plan PLAN-DEMO-001: 24 admissions" in first.stdout
    assert "(optimal)" in first.stdout
    again = run_medevac("demo", database=database)
    assert again.returncode == 0
    assert "already in this database" in again.stdout


def test_db_upgrade_to_an_unknown_or_an_earlier_revision_is_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    # an unknown revision had printed alembic's traceback, after creating an empty file; an
    # earlier one had said "is at revision 0008" and exited 0
    database = tmp_path / "fresh.db"
    bogus = run_medevac("db", "upgrade", "bogus", database=database)
    assert bogus.returncode == 1
    known = known_revisions()
    assert known[:2] == ["0001", "0002"]
    assert bogus.stderr.splitlines() == [
        f"error: revision 'bogus' is not one of medevac's migrations ({', '.join(known)}, or "
        "head, the newest)"
    ]
    assert not database.exists()
    assert run_medevac("db", "upgrade", "0002", database=database).returncode == 0
    # alembic's relative forms still go through, and what it cannot follow is one line
    assert run_medevac("db", "upgrade", "+1", database=database).returncode == 0
    far = run_medevac("db", "upgrade", "+99", database=database)
    assert far.returncode == 1
    assert far.stderr.splitlines() == [
        "error: revision '+99': Relative revision +99 didn't produce 99 migrations"
    ]
    assert run_medevac("db", "upgrade", "heads", database=database).returncode == 0
    back = run_medevac("db", "upgrade", "0002", database=database)
    assert back.returncode == 1
    assert back.stderr.splitlines() == [
        f"error: database sqlite:///{database} is at revision {known[-1]}, after 0002: `db "
        "upgrade` does not go back"
    ]


def test_the_command_line_loads_the_solvers_only_when_a_command_solves() -> None:
    # numba's kernels and HiGHS take about a third of a second to import
    probe = (
        "import sys, medevac.cli.main, medevac.planning as p; "
        "print(sorted(m for m in ('numba', 'highspy') if m in sys.modules)); "
        "p.solve_exact; print(sorted(m for m in ('numba', 'highspy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == ["[]", "['highspy', 'numba']"]


def test_version_is_printed_without_a_command(tmp_path: Path) -> None:
    # it had answered "Missing command." with exit code 2
    result = run_medevac("--version", database=tmp_path / "v.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("medevac ")


def test_a_user_error_is_one_line_with_exit_code_1_and_no_traceback(tmp_path: Path) -> None:
    database = tmp_path / "e.db"
    run_medevac("db", "upgrade", database=database)
    run_medevac("demo", database=database)
    result = run_medevac("patients", "move", "PT-0001", "admitted", database=database)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: patient PT-0001: cannot move from referred to admitted")


@pytest.mark.parametrize(
    "args",
    [
        ("patients", "show", "PT\udcff"),
        ("patients", "move", "PT\udcff", "died", "--reason", "x"),
        ("patients", "list", "--location", "F\udcff"),
        ("audit", "list", "--entity-id", "P\udcffx"),
        ("requests", "show", "R\udcff"),
    ],
)
def test_an_argument_that_is_not_utf8_is_one_line_naming_its_bytes(
    cli: CliRunner, args: tuple[str, ...]
) -> None:
    # the shell hands a byte that is not UTF-8 on as a lone surrogate: an id or filter holding
    # one had reached the database and ended in a traceback
    result = cli.invoke(app, list(args))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: '")
    assert "is not UTF-8 text (byte 0xff at character" in line
    assert line.endswith("medevac reads its arguments as UTF-8")


def test_an_uninitialised_database_says_to_run_db_upgrade(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run_medevac("patients", "list", database=empty)
    assert result.returncode == 1
    assert "run `medevac db upgrade` first" in result.stderr


def test_a_database_file_that_is_missing_is_named_and_not_created(tmp_path: Path) -> None:
    # a mistyped path: asking SQLite whether it is up to date had left an empty file there
    missing = tmp_path / "mistyped.db"
    result = run_medevac("plan", "approved", database=missing)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: there is no database at {missing}; check MEDEVAC_DATABASE_URL, or run "
        "`medevac db upgrade` to create one there"
    )
    assert not missing.exists()


def test_a_migration_that_refuses_its_data_is_one_line_without_a_traceback(
    tmp_path: Path,
) -> None:
    database = tmp_path / "old.db"
    url = f"sqlite:///{database}"
    upgrade(url, "0002")  # before the index that allows one live plan
    engine = create_engine_for(url)
    two_live_plans = text(
        "INSERT INTO approved_plans (id, approved_at, approved_by, built_at, objective, solver, "
        "solver_status, status, version) VALUES (:id, :at, 'cell', :at, 1.0, 'exact', "
        "'optimal', 'live', 1)"
    )
    with engine.begin() as connection:
        connection.execute(
            two_live_plans,
            [{"id": f"P-{n}", "at": datetime(2026, 12, n, tzinfo=UTC)} for n in (1, 2)],
        )
    engine.dispose()
    result = run_medevac("db", "upgrade", database=database)
    assert result.returncode == 1
    assert result.stderr.startswith("error: approved_plans holds 2 live plans (P-1, P-2)")
    assert "Traceback" not in result.stderr


def test_patients_list_filters_by_status_specialty_and_location(cli: CliRunner) -> None:
    out = invoke(cli, "patients", "list", "--status", "referred", "--specialty", "ophthalmology")
    assert "4 patients" in out
    out = invoke(cli, "patients", "list", "--location", "FAC-LVIV-MH", "--limit", "500")
    assert "25 patients" in out
    out = invoke(cli, "patients", "list", "--precedence", "urgent")
    assert "0 patients" in out
    # an id nobody registered had been answered "0 patients", as if about a real facility
    for option, kind, key in (
        ("--location", "facility", "FAC-NOPE"),
        ("--organisation", "organisation", "ORG-NOPE"),
    ):
        result = cli.invoke(app, ["patients", "list", option, key])
        assert result.exit_code == 1
        assert result.output.strip() == f"error: {kind} '{key}' not found"


def test_patient_show_prints_the_timeline_and_next_moves(cli: CliRunner) -> None:
    out = invoke(cli, "patients", "show", "PT-0001")
    assert "Timeline" in out
    for step in ("registered", "candidate of screening mission", "referred to ORG-PARTNER-DMS"):
        assert step in out
    assert "Allowed next moves: accepted, cancelled, declined, died, selected" in out


def test_moving_a_patient_through_the_cli_and_refusing_a_bad_move(cli: CliRunner) -> None:
    assert "referred -> died" in invoke(
        cli, "patients", "move", "PT-0001", "died", "--reason", "sepsis"
    )
    refused = cli.invoke(app, ["patients", "move", "PT-0001", "screening"])
    assert refused.exit_code == 1
    assert "died is final" in refused.output
    assert "withdrawn" in invoke(cli, "requests", "show", "REQ-DEMO-001")


def test_request_answer_with_a_decline_reason(cli: CliRunner) -> None:
    # one patient both accepted and declined: the later option had overwritten the earlier
    both = cli.invoke(
        app,
        ["requests", "respond", "REQ-DEMO-001", "--accept", "PT-0001", "--decline",
         "PT-0001=no bed"],
    )  # fmt: skip
    assert both.exit_code == 1
    assert "'PT-0001' is given with --accept too" in both.output
    assert "submitted" in invoke(cli, "requests", "show", "REQ-DEMO-001")
    out = invoke(
        cli,
        "requests",
        "respond",
        "REQ-DEMO-001",
        "--accept-all",
        "--decline",
        "PT-0001=no neurology bed before December",
    )
    assert "partially_accepted" in out
    assert "no neurology bed before December" in out
    assert "23 patients" in invoke(cli, "patients", "list", "--status", "accepted")
    missing_reason = cli.invoke(app, ["requests", "respond", "REQ-DEMO-001", "--decline", "PT-1"])
    assert missing_reason.exit_code == 1


def test_a_request_for_places_by_specialty(cli: CliRunner) -> None:
    out = invoke(
        cli,
        "requests",
        "create",
        "--from",
        "ORG-ORIGIN-MOH",
        "--to",
        "ORG-PARTNER-MOH",
        "--places",
        "burns=3",
    )
    request_id = out.split()[1].rstrip(";")
    # a superscript two is a digit to str.isdigit, not to int: it had crashed
    for option, value in [("--places", "burns=\u00b2"), ("--grant", "burns=\u00b2:x")]:
        command = ["requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-MOH"]
        if option == "--grant":
            command = ["requests", "respond", request_id]
        odd = cli.invoke(app, [*command, option, value])
        assert odd.exit_code == 1, odd.output
        assert "is not SPECIALTY=" in odd.output
    invoke(cli, "requests", "submit", request_id)
    refused = cli.invoke(app, ["requests", "respond", request_id, "--grant", "burns=1"])
    assert refused.exit_code == 1
    assert "1 of 3 without a reason" in refused.output
    out = invoke(cli, "requests", "respond", request_id, "--grant", "burns=1:one burns bed left")
    assert "partially_accepted" in out


def test_screening_mission_from_the_cli(cli: CliRunner) -> None:
    out = invoke(
        cli,
        "screening",
        "create",
        "--team",
        "ORG-PARTNER-DMS",
        "--place",
        "Kyiv",
        "--from",
        "2026-01-01",
        "--to",
        "2099-12-31",
    )
    mission = out.split()[1].rstrip(";")
    invoke(cli, "screening", "add", mission, "PT-0003")
    refused = cli.invoke(
        app, ["screening", "decide", mission, "PT-0003", "decline", "--clinician", "dr"]
    )
    assert refused.exit_code == 1
    assert "criteria" in refused.output
    invoke(cli, "screening", "decide", mission, "PT-0003", "select", "--clinician", "dr.k")
    out = invoke(cli, "screening", "report", mission)
    assert "│ 1          │ 1        │ 1        │ 0        │ 0        │ 0    │ 0       │" in out
    assert "SCR-DEMO-001" in invoke(cli, "screening", "list")


def test_a_capacity_report_older_than_the_latest_is_recorded_and_said_not_in_force(
    cli: CliRunner,
) -> None:
    # it had said "recorded" with no word that the later report stays in force
    command = ("facilities", "capacity", "report", "FAC-LODZ-MMA", "orthopaedics")
    fresh = invoke(cli, *command, "--available", "9", "--baseline", "40")
    assert "later report" not in fresh
    earlier = (utc_now() - timedelta(days=2)).isoformat()
    out = " ".join(
        invoke(cli, *command, "--available", "3", "--baseline", "40", "--at", earlier).split()
    )
    assert out.startswith("recorded: FAC-LODZ-MMA orthopaedics: 3 of 40 beds available")
    assert "FAC-LODZ-MMA orthopaedics has a later report, of " in out
    assert "(9 of 40 beds): that one stays in force, and plans do not read this one" in out


def test_capacity_report_and_stale_marking(cli: CliRunner) -> None:
    out = invoke(cli, "facilities", "capacity", "show")
    assert "STALE" in out
    assert "1 report(s) older than 24 h" in out
    invoke(
        cli,
        "facilities",
        "capacity",
        "report",
        "FAC-KOLOBRZEG-SAN",
        "rehabilitation",
        "--available",
        "20",
        "--baseline",
        "40",
    )
    out = invoke(cli, "facilities", "capacity", "show", "FAC-KOLOBRZEG-SAN")
    assert "STALE" not in out
    args = ["facilities", "capacity", "report", "FAC-KOLOBRZEG-SAN", "burns"]
    refused = cli.invoke(app, [*args, "--available", "1", "--baseline", "2"])
    assert refused.exit_code == 1
    assert "does not offer burns" in refused.output


def test_audit_list_shows_who_did_what(cli: CliRunner) -> None:
    invoke(cli, "patients", "move", "PT-0002", "cancelled", "--reason", "x", "--actor", "dr.who")
    out = invoke(cli, "audit", "list", "--entity-type", "patient", "--entity-id", "PT-0002")
    assert "dr.who" in out
    assert "move:" in out


def test_listing_organisations_and_facilities(cli: CliRunner) -> None:
    assert "6 organisations" in invoke(cli, "organisations", "list")
    assert "2 facilities" in invoke(cli, "facilities", "list", "--kind", "emt_type_2")
    assert "free of charge" in invoke(cli, "agreements", "list")
    out = invoke(cli, "facilities", "show", "FAC-FIELD-1")
    assert "outpatients a day 420" in out
    assert "paediatric" in out


def test_regulating_from_the_registry_build_solve_approve(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the demo's request is closed: its 24 patients are selected again, to be regulated
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    out = invoke(cli, "plan", "build", "--out", str(problem))
    assert "24 patients" in out
    assert (tmp_path / "problem.registry.json").exists()
    out = invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    assert "checker: feasible" in out
    out = invoke(
        cli,
        *("plan", "approve", str(plan), "--problem", str(problem)),
        *("--actor", "cell", "--over-quota", "unneeded"),
    )
    assert "24 admissions planned" in out
    assert "no quota is exceeded: the --over-quota reason was not needed or kept" in out
    again = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert again.exit_code == 1
    assert "changed" in again.output  # the patients are referred now: their versions moved
    # the next day's re-plan: the approved places come back as current and are kept
    assert "against the places approved before" not in out
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    out = invoke(cli, "plan", "approve", str(plan), "--problem", str(problem))
    assert "against the places approved before: 24 kept, 0 on another day, 0 moved" in " ".join(
        out.split()
    )
    # accepted by the academy since its reports: the next problem leaves the bed out
    first = json.loads(plan.read_text())["assignments"][0]["patient"]
    invoke(cli, "patients", "move", first, "accepted", "--role", "receiving_facility")
    out = invoke(cli, "plan", "build", "--out", str(problem))
    assert "23 patients" in out
    assert "held: FAC-LODZ-MMA" in out
    assert "arriving: FAC-LODZ-MMA day " in out  # its admission slot, which the problem lacks
    assert f"bed(s) taken off its report for patients sent there since it reported ({first})" in (
        " ".join(out.split())
    )
    details = invoke(cli, "plan", "approved", "--details")
    assert "24 of 24 admissions open" in details
    assert details.count("PT-") == 24
    # above the table's size the admissions come as tab-separated lines
    monkeypatch.setattr("medevac.cli.plan_registry_commands.TABLE_ROWS", 10)
    lines = invoke(cli, "plan", "approved", "--details").splitlines()
    header = lines.index("patient\tfacility\tadmission\twithdrawn\tsent since")
    rows = [line.split("\t") for line in lines[header + 1 :]]
    assert len(rows) == 24
    assert all(len(row) == 5 and row[0].startswith("PT-") for row in rows)


def academy_allowed_20(
    cli: CliRunner, tmp_path: Path, *, request_closed: bool = True
) -> tuple[list[str], str]:
    """The demo's request closed (unless not ``request_closed``) and the academy's quota set
    to 20, a plan of the 24 built (`--ignore-quotas`, so that it may go beyond it) and solved,
    all to the academy: the `plan approve` arguments, and what `plan build` said."""
    if request_closed:
        invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    with context.unit_of_work() as uow:
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        agreement.quota = 20
        uow.agreements.update(agreement)
        uow.commit()
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    built = " ".join(invoke(cli, "plan", "build", "--out", str(problem), "--ignore-quotas").split())
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    return ["plan", "approve", str(plan), "--problem", str(problem)], built


def test_plan_approve_refuses_a_plan_beyond_a_quota_unless_given_a_reason(
    cli: CliRunner, tmp_path: Path
) -> None:
    approve, _ = academy_allowed_20(cli, tmp_path)

    refused = cli.invoke(app, approve)
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert "not approved, nothing changed: the plan exceeds 1 agreement quota(s):" in text
    assert f"{ACADEMY_AGREEMENT_ID} allows 20 patients of ORG-ORIGIN-MOH" in text
    assert "this plan places 24 there" in text
    assert '--over-quota "..."' in text
    assert invoke(cli, "plan", "approved").startswith("PLAN-DEMO-001 ")  # still the demo's
    blank = cli.invoke(app, [*approve, "--over-quota", "  "])
    assert blank.exit_code == 1
    assert blank.output.startswith("error: --over-quota: the reason is blank")

    out = invoke(cli, *approve, "--over-quota", "partner agreed by phone")
    assert "24 admissions planned" in out
    assert f"over quota: {ACADEMY_AGREEMENT_ID} allows 20 patients" in " ".join(out.split())
    assert not invoke(cli, "plan", "approved").startswith("PLAN-DEMO-001 ")
    trail = invoke(cli, "audit", "list", "--entity-type", "approved_plan")
    assert "approved over quota (partner agreed by phone)" in " ".join(trail.split())


def test_plan_build_into_a_missing_folder_is_a_one_line_error(
    cli: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "problem.json"
    result = cli.invoke(app, ["plan", "build", "--out", str(target)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"cannot write {target}: No such file or directory" in text
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command", [["plan", "build", "--out"], ["plan", "approve", "p", "--problem"]]
)
@pytest.mark.parametrize("path", ["", "/"])
def test_a_folder_where_a_problem_file_belongs_is_a_one_line_error(
    cli: CliRunner, command: list[str], path: str
) -> None:
    # the manifest's name is made from the problem's: an empty name had raised ValueError
    result = cli.invoke(app, [*command, path])
    assert result.exit_code == 1
    assert "is not a file name: give the problem's JSON file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "list", "--limit", str(10**20)],  # had raised OverflowError in SQLite
        ["patients", "list", "--limit", str(10**20)],
        ["simulate", "field-hospital-50-beds", "-n", "10001", "--out", "{tmp}"],
    ],
)
def test_counts_beyond_an_options_range_are_usage_errors(
    cli: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    # an --out under tmp_path: had the range not held, the run would not litter the checkout
    result = cli.invoke(app, [arg.replace("{tmp}", str(tmp_path)) for arg in args])
    assert result.exit_code == 2
    assert "Input should be less than or equal to" in result.output


def test_plan_build_settings_override_weights_one_by_one_and_wrong_ones_are_refused(
    cli: CliRunner, tmp_path: Path
) -> None:
    settings, problem = tmp_path / "settings.json", tmp_path / "problem.json"
    settings.write_text(json.dumps({"weights": {"change": 500}}))
    invoke(cli, "plan", "build", "--out", str(problem), "--settings", str(settings))
    weights = json.loads(problem.read_text())["weights"]
    assert weights["change"] == 500
    assert weights["unplaced"] == 1000  # the others keep their defaults
    settings.write_text(json.dumps({"weights": {"unplaced": -1}}))
    result = cli.invoke(app, ["plan", "build", "--out", str(problem), "--settings", str(settings)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"{settings}: the problem would be refused" in text
    assert "weights.unplaced: must be at least 0, got -1" in text
    assert "Traceback" not in result.output


def test_plan_build_with_no_capacity_reported_says_so_instead_of_what_to_run_next(
    cli: CliRunner, tmp_path: Path
) -> None:
    engine = create_engine_for(context.database_url())
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM capacity_reports"))
    finally:
        engine.dispose()
    out = invoke(cli, "plan", "build", "--out", str(tmp_path / "problem.json"))
    text_out = " ".join(out.split())
    assert "0 facilities" in text_out
    assert "no facility to plan for: none has a capacity report" in text_out
    assert "next: medevac plan solve" not in text_out


def test_plan_build_with_nobody_to_plan_says_so_instead_of_what_to_run_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    context._checked.cache_clear()
    runner = CliRunner()
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(app, ["plan", "build", "--out", str(problem)])
        solved = runner.invoke(app, ["plan", "solve", str(problem), "--out", str(plan)])
        approved = runner.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    finally:
        get_settings.cache_clear()
        context._checked.cache_clear()
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 patients" in text
    assert "nothing to plan: no patient in the registry is selected or referred" in text
    assert "next: medevac plan solve" not in text
    # an empty plan is no plan to approve: it would only supersede the live one
    assert solved.exit_code == 0, solved.output
    assert approved.exit_code == 1
    assert " ".join(approved.output.split()).startswith(
        f"error: {problem}: has no patients: there is nothing to approve"
    )


def pt_0001_asked_of(cli: CliRunner, receiver: str) -> str:
    """The demo's request closed, PT-0001 asked of ``receiver`` on a request of its own: the
    id of that request, submitted."""
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "one patient at a time")
    out = invoke(
        cli, "requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", receiver, "-p", "PT-0001"
    )
    request_id = out.split()[1].rstrip(";")
    invoke(cli, "requests", "submit", request_id)
    return request_id


def test_an_answer_naming_where_a_patient_is_admitted_holds_its_bed(
    cli: CliRunner, tmp_path: Path
) -> None:
    request_id = pt_0001_asked_of(cli, "ORG-PARTNER-DMS")
    day = (utc_now().date() + timedelta(days=1)).isoformat()
    for value, message in [
        ("PT-0001", "is not PATIENT=FACILITY[@YYYY-MM-DD]"),
        ("PT-0001=FAC-LODZ-MMA@tomorrow", "'tomorrow' in 'PT-0001=FAC-LODZ-MMA@tomorrow' is not"),
        ("PT-0001=FAC-CIECHOCINEK-SAN", "FAC-CIECHOCINEK-SAN is operated by ORG-PARTNER-MOH"),
    ]:
        answer = ["requests", "respond", request_id, "--accept-all", "--admit", value]
        refused = cli.invoke(app, answer)
        assert refused.exit_code == 1, refused.output
        assert message in " ".join(refused.output.split())
    admit = f"PT-0001=FAC-LODZ-MMA@{day}"
    out = invoke(cli, "requests", "respond", request_id, "--accept-all", "--admit", admit)
    assert f"FAC-LODZ-MMA from {day}" in out
    assert f"FAC-LODZ-MMA from {day}" in invoke(cli, "requests", "show", request_id)
    out = " ".join(invoke(cli, "plan", "build", "--out", str(tmp_path / "p.json")).split())
    assert "held: FAC-LODZ-MMA" in out
    assert "taken off its report for patients sent there since it reported (PT-0001)" in out
    assert "arriving: FAC-LODZ-MMA day 1: 1 patient(s)" in out


def test_plan_solve_counts_the_admissions_already_due_against_the_daily_limit(
    cli: CliRunner, tmp_path: Path
) -> None:
    # PT-0001 accepted for the academy today; the other 23 are planned there, 8 a day at most
    request_id = pt_0001_asked_of(cli, "ORG-PARTNER-DMS")
    today = utc_now().date().isoformat()
    admit = f"PT-0001=FAC-LODZ-MMA@{today}"
    invoke(cli, "requests", "respond", request_id, "--accept-all", "--admit", admit)
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    out = " ".join(
        invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30").split()
    )
    assert (
        "admissions already due: 1 patient(s) sent earlier arrive at FAC-LODZ-MMA on days of "
        "this problem"
    ) in out
    placed = json.loads(plan.read_text())["assignments"]
    assert sum(1 for a in placed if (a["facility"], a["day"]) == ("FAC-LODZ-MMA", 0)) == 7
    approved = invoke(cli, "plan", "approve", str(plan), "--problem", str(problem))
    assert "admission limit" not in approved
    # a manifest edited by hand is refused, naming it
    manifest = tmp_path / "problem.registry.json"
    edited = json.loads(manifest.read_text()) | {"held_admissions": {"FAC-LODZ-MMA": 1}}
    manifest.write_text(json.dumps(edited))
    refused = cli.invoke(app, ["plan", "solve", str(problem), "--out", str(plan)])
    assert refused.exit_code == 1
    assert f"{manifest} was changed after `medevac plan build` wrote it" in (
        " ".join(refused.output.split())
    )
    manifest.write_text(resealed_text(edited))  # its digest made anew: the key is named
    refused = cli.invoke(app, ["plan", "solve", str(problem), "--out", str(plan)])
    assert refused.exit_code == 1
    assert f"{manifest}: manifest: 'held_admissions' has 'FAC-LODZ-MMA', not FACILITY/day" in (
        " ".join(refused.output.split())
    )


def test_an_admission_named_after_the_answer_from_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    request_id = pt_0001_asked_of(cli, "ORG-PARTNER-DMS")
    invoke(cli, "requests", "respond", request_id, "--accept-all")
    problem = str(tmp_path / "p.json")
    out = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    assert "no destination: 1 patient(s) accepted and not yet arrived" in out
    assert "(PT-0001); no bed is held for them" in out
    admit = ["requests", "admit", request_id, "PT-0001", "FAC-LODZ-MMA", "--on"]
    refused = cli.invoke(app, [*admit, "x"])
    assert refused.exit_code == 1
    assert "--on: 'x' is not a date" in refused.output
    day = (utc_now().date() + timedelta(days=2)).isoformat()
    out = invoke(cli, *admit, day)
    assert f"PT-0001 to FAC-LODZ-MMA from {day}" in out
    shown = " ".join(invoke(cli, "patients", "show", "PT-0001").split())
    assert f"accepted, to be admitted at FAC-LODZ-MMA from {day}" in shown
    out = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    assert "no destination" not in out
    assert "taken off its report for patients sent there since it reported (PT-0001)" in out
    assert "arriving: FAC-LODZ-MMA day 2: 1 patient(s)" in out


def test_plan_approved_says_where_an_answer_sent_a_planned_patient_since(
    cli: CliRunner, tmp_path: Path
) -> None:
    # PT-0001 asked of the academy's service and planned there; the answer names a later day
    request_id = pt_0001_asked_of(cli, "ORG-PARTNER-DMS")
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    invoke(cli, "plan", "approve", str(plan), "--problem", str(problem))
    [placed] = [a for a in json.loads(plan.read_text())["assignments"] if a["patient"] == "PT-0001"]
    assert placed["facility"] == "FAC-LODZ-MMA"
    details = " ".join(invoke(cli, "plan", "approved", "--details").split())
    assert "been sent to another facility" not in details
    later = (utc_now().date() + timedelta(days=placed["day"] + 3)).isoformat()
    admit = f"PT-0001=FAC-LODZ-MMA@{later}"
    invoke(cli, "requests", "respond", request_id, "--accept-all", "--admit", admit)
    out = " ".join(invoke(cli, "plan", "approved").split())
    assert (
        "1 of the open admissions' patients has been sent to another facility or on another "
        "day since" in out
    )
    details = " ".join(invoke(cli, "plan", "approved", "--details").split())
    assert f"FAC-LODZ-MMA from {later}" in details
    assert details.count(" from 20") == 1  # the others go where the plan said


def test_approval_says_which_live_requests_it_admits_patients_away_from(
    cli: CliRunner, tmp_path: Path
) -> None:
    # PT-0001 asked of the partner ministry, whose sanatoriums only rehabilitate
    request_id = pt_0001_asked_of(cli, "ORG-PARTNER-MOH")
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    out = " ".join(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)).split())
    assert (
        f"on request: {request_id} asks ORG-PARTNER-MOH to treat 1 patient(s) this plan admits "
        "at another organisation's facilities (PT-0001)"
    ) in out
    assert "answer, close or withdraw them there" in out
    # the ministry accepts it with no facility named: the plan's place is not its destination
    invoke(cli, "requests", "respond", request_id, "--accept-all")
    details = " ".join(invoke(cli, "plan", "approved", "--details").split())
    assert (
        "1 of the open admissions' patients has been sent to another facility or on another "
        "day since" in details
    )
    assert "accepted by another organisation, no facility named" in details


def test_plan_approve_within_quotas_leaves_out_the_least_urgent(
    cli: CliRunner, tmp_path: Path
) -> None:
    approve, built = academy_allowed_20(cli, tmp_path)
    assert "quota:" not in built  # --ignore-quotas carries no quota
    refused = cli.invoke(app, approve)
    assert refused.exit_code == 1
    assert "to approve it without the least urgent patients beyond the quotas: --within-quotas" in (
        " ".join(refused.output.split())
    )
    both = cli.invoke(app, [*approve, "--within-quotas", "--over-quota", "agreed"])
    assert both.exit_code == 1
    assert "not both" in both.output
    out = " ".join(invoke(cli, *approve, "--within-quotas").split())
    assert "20 admissions planned (feasible" in out
    assert (
        "within quotas: 4 patient(s) left out of the plan, the least urgent beyond an "
        "agreement's quota; selected for the next plan (referred ones back to selected): PT-"
    ) in out
    assert f"({ACADEMY_AGREEMENT_ID})" in out
    with context.unit_of_work() as uow:  # left out, they are selected for the next plan
        assert len(uow.patients.list(status=PatientStatus.SELECTED)) == 4


def test_requests_close_lists_the_patients_back_to_selected_and_the_admissions_withdrawn(
    cli: CliRunner,
) -> None:
    # it had said only "REQ-DEMO-001 closed", and the live plan lost its 24 admissions unsaid
    out = " ".join(
        invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally").split()
    )
    assert out.startswith(
        "REQ-DEMO-001 closed: regulate centrally back to selected: 24 patient(s) it had "
        "referred, waiting for an answer; their 24 admission(s) in the live plan withdrawn: "
        "PT-0001 (was FAC-LODZ-MMA on "
    ), out
    assert out.endswith(", ...")  # 20 of them named
    with context.unit_of_work() as uow:
        assert len(uow.patients.list(status=PatientStatus.SELECTED)) == 24
        assert uow.plans.live_admissions(["PT-0001"]) == {}


def test_plan_approve_names_the_patients_the_plan_leaves_without_a_place(
    cli: CliRunner, tmp_path: Path
) -> None:
    # one orthopaedic bed: a first approval had said "18 admissions planned" and nothing of
    # the 6 patients left out
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    invoke(
        cli,
        *("facilities", "capacity", "report", "FAC-LODZ-MMA", "orthopaedics"),
        *("--available", "1", "--baseline", "40"),
    )
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30")
    out = " ".join(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)).split())
    assert "18 admissions planned" in out
    assert (
        "without a place in this plan: 6 patient(s), who keep their status for the next plan "
        "(`plan explain` says why): PT-"
    ) in out
    with context.unit_of_work() as uow:
        assert len(uow.patients.list(status=PatientStatus.SELECTED)) == 6


def test_plan_build_says_when_arrivals_named_by_answers_pass_a_daily_admission_limit(
    cli: CliRunner, tmp_path: Path
) -> None:
    # twelve answers name one day at a facility that admits 8 a day: the build had said "17
    # patient(s) sent earlier" and nothing of the limit
    tomorrow = (utc_now() + timedelta(days=1)).date().isoformat()
    named = ["PT-0001", "PT-0004", "PT-0010", "PT-0012", "PT-0016", "PT-0017"]
    named += ["PT-0019", "PT-0024", "PT-0025", "PT-0034", "PT-0037", "PT-0043"]
    admits = [arg for p in named for arg in ("--admit", f"{p}=FAC-LODZ-MMA@{tomorrow}")]
    answered = " ".join(
        invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all", *admits).split()
    )
    # the answer itself says so (it had been taken with no word)
    assert re.search(
        rf"over the daily admission limit: FAC-LODZ-MMA on {tomorrow}: \d+ patient\(s\) due to "
        r"arrive against its daily admission limit of 8; the answer stands",
        answered,
    ), answered
    out = " ".join(invoke(cli, "plan", "build", "--out", str(tmp_path / "problem.json")).split())
    day_1 = re.search(r"arriving: FAC-LODZ-MMA day 1: (\d+) patient\(s\)", out)
    assert day_1 is not None, out
    count = int(day_1[1])
    assert count > 8
    assert (
        f"counts them against it; {count - 8} more than its daily admission limit of 8: it "
        "admits nobody else that day"
    ) in out


def test_an_answer_says_when_the_beds_it_holds_pass_the_facility_s_free_beds(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the academy reports one orthopaedic bed free, then accepts its 8 orthopaedic patients:
    # only `plan build` had said the holds passed the report ("they hold 7 more")
    invoke(
        cli,
        *("facilities", "capacity", "report", "FAC-LODZ-MMA", "orthopaedics"),
        *("--available", "1", "--baseline", "40"),
    )
    tomorrow = (utc_now() + timedelta(days=1)).date().isoformat()
    admits = [
        a for p in ("PT-0004", "PT-0017") for a in ("--admit", f"{p}=FAC-LODZ-MMA@{tomorrow}")
    ]
    answered = " ".join(
        invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all", *admits).split()
    )
    found = re.search(
        r"beyond the free beds: FAC-LODZ-MMA orthopaedics: the beds held for patients sent there "
        r"since its report pass the free beds it reported by (\d+) on (\S+); the answer stands",
        answered,
    )
    assert found is not None, answered
    built = " ".join(invoke(cli, "plan", "build", "--out", str(tmp_path / "p.json")).split())
    day = (date.fromisoformat(found[2]) - utc_now().date()).days
    assert f"they hold {found[1]} more than the report gives free on day {day} " in built
    assert "beyond the free beds" not in " ".join(
        invoke(cli, "requests", "admit", "REQ-DEMO-001", "PT-0001", "FAC-LODZ-MMA").split()
    )
    # a stay named past the days a build looks ahead meets no shortage (it had been warned of
    # the facility's shortage whatever the days named)
    later = (utc_now() + timedelta(days=20)).date().isoformat()
    moved = invoke(
        cli, "requests", "admit", "REQ-DEMO-001", "PT-0004", "FAC-LODZ-MMA", "--on", later
    )
    assert "beyond the free beds" not in moved


def test_plan_build_names_the_approved_places_it_does_not_carry(
    cli: CliRunner, tmp_path: Path
) -> None:
    # over one day, 16 of the demo's admissions fall after the horizon under a quota
    # agreement: `plan show` said nobody lost a place, and the approval "16 without a place"
    problem = tmp_path / "problem.json"
    out = " ".join(
        invoke(cli, "plan", "build", "--out", str(problem), "--horizon-days", "1").split()
    )
    assert (
        "not carried at their approved place: 16 patient(s) (a plan that gives them no place "
        "supersedes their admission at approval): PT-"
    ) in out
    assert (
        ", after the horizon, not kept: it comes under AGR-DEMO-002, an agreement with a "
        "quota); PT-"
    ) in out
    # and the facilities that never reported are named, not left out unsaid
    assert "FAC-KYIV-MH │ no capacity report: its free beds are not known" in out


def test_plan_approve_within_quotas_says_which_left_out_stay_referred_on_request(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the demo's request left live: the line had said every referred patient left out went
    # back to selected, and the next line that they stayed referred on the request
    approve, _ = academy_allowed_20(cli, tmp_path, request_closed=False)
    out = " ".join(invoke(cli, *approve, "--within-quotas").split())
    assert (
        "within quotas: 4 patient(s) left out of the plan, the least urgent beyond an "
        "agreement's quota; selected for the next plan (referred ones back to selected, but "
        "for 4 a live request holds, which stay referred): PT-"
    ) in out
    assert "on request with no place: 4 referred patient(s)" in out
    with context.unit_of_work() as uow:
        assert uow.patients.list(status=PatientStatus.SELECTED) == []


def test_plan_solve_keeps_to_the_quotas_the_manifest_carries(
    cli: CliRunner, tmp_path: Path
) -> None:
    # built without --ignore-quotas, the manifest carries the academy's quota of 20: `plan
    # solve` keeps to it, and the plan is approved as it is
    academy_allowed_20(cli, tmp_path)
    problem, plan = tmp_path / "within.json", tmp_path / "within-plan.json"
    built = " ".join(invoke(cli, "plan", "build", "--out", str(problem)).split())
    assert (
        f"quota: {ACADEMY_AGREEMENT_ID} has room for 20 more patient(s) of ORG-ORIGIN-MOH at "
        "ORG-PARTNER-DMS (quota 20, 0 sent), and 24 in this problem could go there under it: "
        "the plan keeps to it, and the optimiser chooses who uses the room"
    ) in built
    solve = ["plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30"]
    out = " ".join(invoke(cli, *solve).split())
    manifest = tmp_path / "within.registry.json"
    assert (
        f"quotas: 1 agreement quota(s) from {manifest}: {ACADEMY_AGREEMENT_ID} (room 20); the "
        "plan keeps to them and the engine chooses who uses their room"
    ) in out
    placed = json.loads(plan.read_text())["assignments"]
    assert sum(1 for a in placed if a["facility"] == "FAC-LODZ-MMA") == 20
    unplaced = json.loads(plan.read_text())["unplaced"][0]["patient"]
    explained = " ".join(invoke(cli, "plan", "explain", str(problem), str(plan), unplaced).split())
    assert f"quota {ACADEMY_AGREEMENT_ID} used up" in explained
    out = " ".join(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)).split())
    assert "20 admissions planned" in out
    assert "over quota" not in out
    # a manifest whose quotas were edited by hand is refused, naming it, the entry and field
    written = json.loads(manifest.read_text())
    for quota, message in [
        ({"room": -1}, "'quotas' entry 0 (AGR-DEMO-002): 'room' must be a count of patients"),
        (
            {"facilities": ["FAC-NOWHERE"]},
            "quota AGR-DEMO-002: 'FAC-NOWHERE' is not a facility of the problem; the manifest "
            f"does not fit {problem}: build the problem again",
        ),
    ]:
        edited = written | {"quotas": [written["quotas"][0] | quota]}
        manifest.write_text(resealed_text(edited))
        for command in (solve, ["plan", "explain", str(problem), str(plan), unplaced]):
            refused = cli.invoke(app, command)
            assert refused.exit_code == 1
            assert f"{manifest}: " in refused.output
            assert message in " ".join(refused.output.split())
            assert "Traceback" not in refused.output
    # so is its approval
    manifest.write_text(
        resealed_text(written | {"quotas": [written["quotas"][0] | {"room": "20"}]})
    )
    refused = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert refused.exit_code == 1
    assert "'quotas' entry 0 (AGR-DEMO-002): 'room' must be a count of patients, not '20'" in (
        " ".join(refused.output.split())
    )


def test_a_quota_of_an_agreement_ending_within_the_horizon_holds_on_its_days(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the academy's agreement (quota 2) ends on day 2 and a renewal without a quota follows:
    # the quota holds on days 0-2 only, and the 22 others come from day 3 (until quotas had
    # days, the room held on every day and 2 of the 24 were placed there)
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    today = utc_now().date()
    with context.unit_of_work() as uow:
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        agreement.quota, agreement.valid_to = 2, today + timedelta(days=2)
        uow.agreements.update(agreement)
        renewal = replace(
            agreement,
            id="AGR-RENEWAL",
            quota=None,
            valid_from=today + timedelta(days=3),
            valid_to=None,
            version=0,
        )
        uow.agreements.add(renewal)
        uow.commit()
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    built = " ".join(invoke(cli, "plan", "build", "--out", str(problem)).split())
    assert (
        f"its patients come under {ACADEMY_AGREEMENT_ID} on day(s) 0-2 only, and the quota "
        "holds on those days"
    ) in built
    solve = ["plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30"]
    out = " ".join(invoke(cli, *solve).split())
    assert f"{ACADEMY_AGREEMENT_ID} (room 2, admissions on day(s) 0-2)" in out
    days = [a["day"] for a in json.loads(plan.read_text())["assignments"]]
    assert (len(days), len([d for d in days if d <= 2])) == (24, 2)
    out = " ".join(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)).split())
    assert "24 admissions planned" in out
    assert "over quota" not in out
    # a day outside the horizon in the manifest's quota is refused, naming it
    manifest = tmp_path / "problem.registry.json"
    written = json.loads(manifest.read_text())
    edited = written | {"quotas": [written["quotas"][0] | {"days": [0, 1, 99]}]}
    manifest.write_text(resealed_text(edited))
    refused = cli.invoke(app, solve)
    assert refused.exit_code == 1
    assert f"quota {ACADEMY_AGREEMENT_ID}: day 99 is outside the horizon (days 0-13)" in " ".join(
        refused.output.split()
    )


def test_plan_build_leaves_out_an_agreement_whose_quota_is_used_up(
    cli: CliRunner, tmp_path: Path
) -> None:
    with context.unit_of_work() as uow:  # the academy takes no more of the ministry's patients
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        agreement.quota = 0
        uow.agreements.update(agreement)
        uow.commit()
    problem = str(tmp_path / "problem.json")
    out = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    assert (
        f"quota used up: {ACADEMY_AGREEMENT_ID} allows 0 patients of ORG-ORIGIN-MOH at "
        "ORG-PARTNER-DMS and 0 were sent there; it covers nobody in this problem "
        "(--ignore-quotas keeps it)"
    ) in out
    out = " ".join(invoke(cli, "plan", "build", "--out", problem, "--ignore-quotas").split())
    assert "quota used up" not in out


def academy_agreement_ends(cli: CliRunner, days: int) -> date:
    """The demo's request closed and the academy's agreement ending ``days`` from today (the
    problem's day ``days``); the day it ends."""
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    ends = datetime.now(UTC).date() + timedelta(days=days)
    with context.unit_of_work() as uow:
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        agreement.valid_to = ends
        uow.agreements.update(agreement)
        uow.commit()
    return ends


def test_plan_build_names_an_agreement_that_ends_within_the_horizon(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the academy's agreement ends in three days: the problem accepts the ministry's patients
    # there on every day of its horizon, so `plan build` says so, and the manifest carries
    # the end to `plan solve`
    ends = academy_agreement_ends(cli, 3)
    problem = tmp_path / "p.json"
    out = " ".join(invoke(cli, "plan", "build", "--out", str(problem)).split())
    assert (
        f"agreement ends: {ACADEMY_AGREEMENT_ID} (ORG-ORIGIN-MOH at ORG-PARTNER-DMS) ends on "
        f"{ends.isoformat()}, day 3 of this problem: plans admit its patients on day 3 at the "
        "latest"
    ) in out
    manifest = json.loads((tmp_path / "p.registry.json").read_text())
    assert manifest["acceptance_ends"] == [
        {"facility": "FAC-LODZ-MMA", "organisation": "ORG-ORIGIN-MOH", "last_day": 3}
    ]


def test_plan_solve_keeps_to_an_agreement_s_end_and_approve_refuses_a_plan_past_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the academy (8 admissions a day) takes the ministry's patients until tomorrow, day 1
    ends = academy_agreement_ends(cli, 1)
    problem, plan = tmp_path / "p.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    manifest = tmp_path / "p.registry.json"
    solve = ["plan", "solve", str(problem), "--out", str(plan), "--time-limit", "30"]
    out = " ".join(invoke(cli, *solve).split())
    assert (
        f"acceptance ends: 1 from {manifest}: FAC-LODZ-MMA admits ORG-ORIGIN-MOH until day 1; "
        "agreements end there, and the plan admits none of their patients later"
    ) in out
    placed = json.loads(plan.read_text())["assignments"]
    assert max(a["day"] for a in placed if a["facility"] == "FAC-LODZ-MMA") <= 1
    # the same problem solved without its manifest admits some of them after the end
    alone = tmp_path / "alone" / "p.json"
    alone.parent.mkdir()
    alone.write_text(problem.read_text())
    unkept = tmp_path / "unkept.json"
    invoke(cli, "plan", "solve", str(alone), "--out", str(unkept), "--time-limit", "30")
    assignments = json.loads(unkept.read_text())["assignments"]
    late = sorted((a["patient"], a["day"]) for a in assignments if a["day"] > 1)
    assert late
    refused = cli.invoke(app, ["plan", "approve", str(unkept), "--problem", str(problem)])
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert (
        f"not approved, nothing changed: the plan admits {len(late)} patient(s) after the "
        "agreements they come under end:"
    ) in text
    patient, day = late[0]
    assert (
        f"patient {patient} is admitted at FAC-LODZ-MMA on day {day} "
        f"({(ends + timedelta(days=day - 1)).isoformat()}), after {ACADEMY_AGREEMENT_ID} "
        f"(ORG-ORIGIN-MOH at ORG-PARTNER-DMS) ends on {ends.isoformat()}, day 1 of the problem"
    ) in text
    assert f"solve the problem with its manifest beside it ({manifest};" in text
    assert "Traceback" not in refused.output
    out = " ".join(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)).split())
    assert f"{len(placed)} admissions planned" in out
    # a manifest whose ends were edited by hand is refused, naming the entry and field
    written = json.loads(manifest.read_text())
    edited = written | {"acceptance_ends": [written["acceptance_ends"][0] | {"last_day": -1}]}
    manifest.write_text(resealed_text(edited))
    refused = cli.invoke(app, solve)
    assert refused.exit_code == 1
    assert (
        "'acceptance_ends' entry 0 (FAC-LODZ-MMA, ORG-ORIGIN-MOH): 'last_day' must be a day of "
        "the problem (0 or later), not -1"
    ) in " ".join(refused.output.split())


def test_accept_all_leaves_the_answers_already_given(cli: CliRunner) -> None:
    # PT-0004 declined by the receiving facility through a move: --accept-all had answered it
    # again, which the request now refuses as a contradiction
    invoke(cli, "patients", "move", "PT-0004", "declined", "--role", "receiving_facility",
           "--reason", "no bed")  # fmt: skip
    out = invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all")
    assert "partially_accepted" in out
    assert "no bed" in invoke(cli, "requests", "show", "REQ-DEMO-001")


def test_an_admitted_patient_is_located_at_the_facility_that_admitted_it(cli: CliRunner) -> None:
    # its location had stayed the hospital it left: `patients list --location` found it there
    invoke(cli, "patients", "move", "PT-0004", "accepted", "--role", "receiving_facility")
    invoke(cli, "patients", "move", "PT-0004", "scheduled")
    invoke(cli, "patients", "move", "PT-0004", "in_transit")
    assert "Location: FAC-KYIV-MH" in invoke(cli, "patients", "show", "PT-0004")
    invoke(cli, "patients", "move", "PT-0004", "admitted", "--role", "receiving_facility")
    shown = " ".join(invoke(cli, "patients", "show", "PT-0004").split())
    assert "Location: FAC-LODZ-MMA" in shown
    # the day it was admitted, not the day planned (which `plan build` no longer counts)
    assert f"admitted on {utc_now().date()}, planned by plan PLAN-DEMO-001" in shown
    at_academy = invoke(cli, "patients", "list", "--location", "FAC-LODZ-MMA")
    assert "PT-0004" in at_academy
    assert "PT-0004" not in invoke(cli, "patients", "list", "--location", "FAC-KYIV-MH")
    with context.unit_of_work() as uow:
        [record] = uow.audit.list(entity_type="patient", entity_id="PT-0004", limit=1)
    assert record.action == "move:in_transit->admitted"
    assert record.before is not None
    assert record.after is not None
    assert (record.before["location_id"], record.after["location_id"]) == (
        "FAC-KYIV-MH",
        "FAC-LODZ-MMA",
    )
    # home again, no facility holds it (it had stayed listed at the academy)
    for status in ("in_treatment", "discharged", "repatriated"):
        invoke(cli, "patients", "move", "PT-0004", status)
    assert "Location: none: repatriated" in invoke(cli, "patients", "show", "PT-0004")
    assert "PT-0004" not in invoke(cli, "patients", "list", "--location", "FAC-LODZ-MMA")


def test_audit_list_refuses_an_unknown_kind_and_says_when_more_match_than_shown(
    cli: CliRunner,
) -> None:
    # a typo ("patients") had answered "0 records", and --limit had cut the list unsaid
    refused = cli.invoke(app, ["audit", "list", "--entity-type", "patients"])
    assert refused.exit_code == 1
    assert "--entity-type: 'patients' is not a kind of record; one of organisation," in (
        " ".join(refused.output.split())
    )
    out = " ".join(invoke(cli, "audit", "list", "--entity-type", "patient", "--limit", "2").split())
    assert "2+ records" in out
    assert "more than 2 match: narrow the filters or raise --limit" in out
    out = invoke(cli, "audit", "list", "--entity-id", "PT-0004", "--limit", "1000")
    assert "more than" not in out


def test_patients_show_says_identity_not_recorded_rather_than_unknown(cli: CliRunner) -> None:
    with context.unit_of_work() as uow:
        patient = uow.patients.get("PT-0004")
        patient.identity = Identity()
        uow.patients.update(patient)
        uow.commit()
    assert "Identity: not recorded" in invoke(cli, "patients", "show", "PT-0004")
    with context.unit_of_work() as uow:
        patient = uow.patients.get("PT-0004")
        patient.identity = Identity(name="Ivan", sex=Sex.MALE)
        uow.patients.update(patient)
        uow.commit()
    assert "Identity: Ivan, male\n" in invoke(cli, "patients", "show", "PT-0004")


def test_texts_ending_in_a_backslash_are_shown_as_stored(cli: CliRunner, tmp_path: Path) -> None:
    # rich's escape doubles a trailing backslash: tables and lines had shown "BS-1\\"
    facility = {
        "id": "BS-1\\",
        "name": "Back\\slash [b]x[/b] end\\",
        "kind": "hospital",
        "operator_id": "ORG-PARTNER-MOH",
        "country": "PL",
        "lat": 52.0,
        "lon": 21.0,
        "specialties": ["general_surgery"],
    }
    path = tmp_path / "f.json"
    path.write_text(json.dumps([facility]), encoding="utf-8")
    invoke(cli, "import", "facilities", str(path))
    listed = invoke(cli, "facilities", "list")
    assert "│ BS-1\\ " in listed
    assert "BS-1\\\\" not in listed
    assert "Back\\slash [b]x[/b] end\\ " in listed
    shown = invoke(cli, "facilities", "show", "BS-1\\")
    assert "Back\\slash [b]x[/b] end\\ (BS-1\\), hospital" in shown
    # two and three: one had been lost, and three had printed the closing tag "[/]"
    for count in (2, 3):
        ending = "\\" * count
        row = facility | {"id": f"BS-{count}{ending}", "name": f"N{count}{ending}"}
        path.write_text(json.dumps([row]), encoding="utf-8")
        invoke(cli, "import", "facilities", str(path))
        shown = invoke(cli, "facilities", "show", f"BS-{count}{ending}")
        assert f"N{count}{ending} (BS-{count}{ending}), hospital" in shown


def test_registry_listings_refuse_unknown_filters_and_show_only_offered_capacity(
    cli: CliRunner, tmp_path: Path
) -> None:
    # an unknown --operator or --organisation had answered with an empty listing
    for args in (
        ("facilities", "list", "--operator", "org-partner-dms"),
        ("agreements", "list", "--organisation", "ORG-ORIGIN-MOX"),
    ):
        refused = cli.invoke(app, list(args))
        assert refused.exit_code == 1
        assert "not found" in refused.output
    # the academy stops offering neurology: its neurology report had stayed listed as current
    exported = tmp_path / "f.json"
    invoke(cli, "export", "facilities", str(exported))
    rows = json.loads(exported.read_text())["facilities"]
    [academy] = [r for r in rows if r["id"] == "FAC-LODZ-MMA"]
    academy["specialties"] = [s for s in academy["specialties"] if s != "neurology"]
    exported.write_text(json.dumps({"facilities": [academy]}))
    invoke(cli, "import", "facilities", str(exported))
    for args in (("facilities", "show", "FAC-LODZ-MMA"), ("facilities", "capacity", "show")):
        shown = invoke(cli, *args)
        assert "neurosurgery" in shown or "orthopaedics" in shown
        assert "neurology" not in shown
    # the same report entered twice: the database's unique key had answered, per backend
    report = ("facilities", "capacity", "report", "FAC-LODZ-MMA", "orthopaedics")
    figures = ("--available", "4", "--baseline", "8")
    invoke(cli, *report, *figures, "--at", "2026-12-07T10:00:00.123456+05:30")
    again = cli.invoke(app, [*report, *figures, "--at", "2026-12-07T04:30:00.123456Z"])
    assert again.exit_code == 1
    assert "is already recorded; reports are never changed: send a new one with a later time" in (
        " ".join(again.output.split())
    )


def test_a_database_a_newer_medevac_migrated_is_named_as_such(cli: CliRunner) -> None:
    # every command had advised `db upgrade`, which then could not find the revision
    with create_engine_for(os.environ["MEDEVAC_DATABASE_URL"]).begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0999'"))
    for args in (("facilities", "list"), ("db", "upgrade")):
        refused = cli.invoke(app, list(args))
        assert refused.exit_code == 1
        said = " ".join(refused.output.split())
        assert "is at revision 0999, which this medevac does not know" in said
        assert "a newer medevac migrated it" in said
    status = " ".join(invoke(cli, "db", "status").split())
    assert "newer than this medevac knows" in status


def test_plan_build_warns_of_stale_reports_only_of_specialties_still_offered(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the demo's Kołobrzeg rehabilitation report is stale; once the sanatorium no longer
    # offers rehabilitation the build had still warned of it, and nobody could report it again
    problem = str(tmp_path / "p.json")
    assert "stale capacity: FAC-KOLOBRZEG-SAN rehabilitation" in " ".join(
        invoke(cli, "plan", "build", "--out", problem).split()
    )
    exported = tmp_path / "f.json"
    invoke(cli, "export", "facilities", str(exported))
    rows = json.loads(exported.read_text())["facilities"]
    [sanatorium] = [r for r in rows if r["id"] == "FAC-KOLOBRZEG-SAN"]
    exported.write_text(json.dumps({"facilities": [sanatorium | {"specialties": ["psychiatry"]}]}))
    invoke(cli, "import", "facilities", str(exported))
    built = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    assert "stale capacity: FAC-KOLOBRZEG-SAN" not in built


def test_patients_admitted_today_count_against_today_s_admission_limit(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the demo plan admits 8 at the academy today (its limit is 8): three of them admitted
    # today had freed their slots, and the next plan admitted three more there today
    invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all")
    problem = str(tmp_path / "p.json")
    before = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    found = re.search(r"arriving: FAC-LODZ-MMA day 0: (\d+) patient\(s\)", before)
    assert found is not None, before
    with context.unit_of_work() as uow:
        due_today = sorted(
            a.patient_id
            for a in uow.plans.get("PLAN-DEMO-001").admissions
            if a.facility_id == "FAC-LODZ-MMA" and a.admission_date == utc_now().date()
        )
    for patient in due_today[:3]:
        for status in ("scheduled", "in_transit", "admitted"):
            invoke(cli, "patients", "move", patient, status)
    after = " ".join(invoke(cli, "plan", "build", "--out", problem).split())
    assert f"arriving: FAC-LODZ-MMA day 0: {found[1]} patient(s)" in after
