"""Names, reasons, notes, ids and file names that look like Rich markup are printed as they are.

Square brackets are ordinary text in the registry: a closing tag such as "[/]" in one record
must not stop a listing with a MarkupError, and "[bold]" in a name must not vanish into a
style. The commands' own markup (bold headings, colours) still applies.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from medevac.cli.main import app
from medevac.services.auditing import utc_now
from tests.e2e.conftest import invoke

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).parents[2] / "src/medevac/data/scenarios"


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def import_ward(cli: CliRunner, tmp_path: Path, *, reported_days_ago: float) -> None:
    """Organisation "Cell [/] x", and facility FAC-[/]1 "Ward [/bold] east" with one burns
    report made `reported_days_ago` days ago."""
    organisation = {
        "id": "ORG-MK",
        "name": "Cell [/] x",
        "kind": "coordination_cell",
        "country": "PL",
    }
    invoke(cli, "import", "organisations", str(write_json(tmp_path / "o.json", [organisation])))
    facility = {
        "id": "FAC-[/]1",
        "name": "Ward [/bold] east",
        "kind": "hospital",
        "operator_id": "ORG-PARTNER-MOH",
        "city": "[red]Town",
        "country": "PL",
        "lat": 51,
        "lon": 19,
        "specialties": ["burns"],
    }
    invoke(cli, "import", "facilities", str(write_json(tmp_path / "f.json", [facility])))
    reported_at = utc_now() - timedelta(days=reported_days_ago)
    report = {
        "facility_id": "FAC-[/]1",
        "specialty": "burns",
        "available": 3,
        "baseline": 5,
        "reported_at": reported_at.isoformat(),
    }
    invoke(cli, "import", "capacity", str(write_json(tmp_path / "c.json", [report])))


def test_organisation_and_facility_names_with_markup_are_listed_as_they_are(
    cli: CliRunner, tmp_path: Path
) -> None:
    import_ward(cli, tmp_path, reported_days_ago=0)
    assert "Cell [/] x" in invoke(cli, "organisations", "list")
    listed = invoke(cli, "facilities", "list")
    for text in ("FAC-[/]1", "Ward [/bold] east", "[red]Town (PL)"):
        assert text in listed
    shown = invoke(cli, "facilities", "show", "FAC-[/]1")
    assert "Ward [/bold] east (FAC-[/]1), hospital, operated by ORG-PARTNER-MOH" in shown
    assert "Location: [red]Town PL at" in shown
    assert "│ FAC-[/]1 " in invoke(cli, "facilities", "capacity", "show", "FAC-[/]1")


def test_the_commands_own_markup_still_styles_the_text_around_the_data(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_ward(cli, tmp_path, reported_days_ago=0)
    screen = io.StringIO()
    terminal = Console(
        file=screen,
        force_terminal=True,
        color_system="standard",
        width=200,
        highlight=False,
        emoji=False,
    )
    monkeypatch.setattr("medevac.cli.registry_commands.console", terminal)
    invoke(cli, "facilities", "show", "FAC-[/]1")
    shown = screen.getvalue()
    assert "\x1b[1mWard [/bold] east\x1b[0m (FAC-[/]1)" in shown  # the name in bold


def test_emoji_codes_in_names_are_not_replaced(cli: CliRunner, tmp_path: Path) -> None:
    organisation = {
        "id": "ORG-EM",
        "name": "Unit :hospital: north",
        "kind": "coordination_cell",
        "country": "PL",
    }
    invoke(cli, "import", "organisations", str(write_json(tmp_path / "o.json", [organisation])))
    assert "Unit :hospital: north" in invoke(cli, "organisations", "list")


def test_a_reason_and_actor_with_markup_show_in_the_audit_trail_and_the_timeline(
    cli: CliRunner,
) -> None:
    moved = invoke(
        cli,
        *("patients", "move", "PT-0002", "cancelled"),
        *("--reason", "dup of [/b] record", "--actor", "dr.[/]who"),
    )
    assert "PT-0002:" in moved
    audit = invoke(cli, "audit", "list", "--entity-id", "PT-0002", "--limit", "1")
    assert "dup of [/b] record" in audit
    assert "dr.[/]who" in audit
    timeline = invoke(cli, "patients", "show", "PT-0002")
    assert "dup of [/b] record" in timeline
    assert "dr.[/]who" in timeline


def test_closing_a_request_with_a_markup_reason_succeeds_and_says_so(cli: CliRunner) -> None:
    drafted = invoke(
        cli,
        *("requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-MOH"),
        *("--places", "burns=3", "--note", "see [/i] file"),
    )
    request_id = drafted.split()[1].rstrip(";")
    closed = cli.invoke(app, ["requests", "close", request_id, "--reason", "duplicate [/] of X"])
    assert closed.exit_code == 0, closed.output
    assert f"{request_id} closed: duplicate [/] of X" in closed.output
    shown = invoke(cli, "requests", "show", request_id)
    assert "Note: see [/i] file" in shown
    assert "Closed: duplicate [/] of X" in shown


def test_answers_with_markup_reasons_are_shown_as_they_are(cli: CliRunner) -> None:
    out = invoke(
        cli,
        *("requests", "respond", "REQ-DEMO-001", "--accept-all"),
        *("--decline", "PT-0001=no bed [/] before December"),
    )
    assert "no bed [/] before December" in out
    assert "no bed [/] before December" in invoke(cli, "patients", "show", "PT-0001")


def test_a_screening_mission_with_markup_in_its_texts(cli: CliRunner) -> None:
    planned = invoke(
        cli,
        *("screening", "create", "--team", "ORG-PARTNER-DMS", "--place", "Ward [/]"),
        *("--from", "2026-01-01", "--to", "2099-12-31", "--member", "[b]Dr X"),
    )
    mission = planned.split()[1].rstrip(";")
    invoke(cli, "screening", "add", mission, "PT-0003")
    decided = invoke(
        cli,
        *("screening", "decide", mission, "PT-0003", "select"),
        *("--clinician", "dr.[/]k", "--notes", "[/i] meets the criteria"),
    )
    assert "PT-0003: select by dr.[/]k" in decided
    report = invoke(cli, "screening", "report", mission, "--candidates")
    for text in ("at Ward [/], 2026-01-01", "Team: [b]Dr X", "dr.[/]k", "[/i] meets the"):
        assert text in report
    assert "Ward [/]" in invoke(cli, "screening", "list")


def test_plan_build_names_a_stale_report_of_a_facility_with_brackets_in_its_id(
    cli: CliRunner, tmp_path: Path
) -> None:
    import_ward(cli, tmp_path, reported_days_ago=3)
    problem = tmp_path / "problem.json"
    out = invoke(cli, "plan", "build", "--out", str(problem))
    assert "stale capacity: FAC-[/]1 burns reported 3 d" in out
    assert f"next: medevac plan solve {problem} --out {tmp_path / 'plan.json'}" in out


def test_an_approver_and_a_plan_with_markup_are_shown_as_they_are(
    cli: CliRunner, tmp_path: Path
) -> None:
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--engine", "greedy")
    invoke(cli, "plan", "approve", str(plan), "--problem", str(problem), "--actor", "cell [/]")
    assert "by cell [/]: 24 of 24 admissions open" in " ".join(
        invoke(cli, "plan", "approved").split()
    )
    # a plan file naming a facility and a solver with brackets
    data = json.loads(plan.read_text(encoding="utf-8"))
    data["solver"] = "greedy [/]"
    for assignment in data["assignments"]:
        assignment["facility"] = "FAC-[/]X"
    odd = write_json(tmp_path / "odd.json", data)
    shown = invoke(cli, "plan", "show", str(odd))
    assert "greedy [/]" in shown
    assert "FAC-[/]X" in shown


def test_a_file_name_with_brackets_is_named_as_it_is(cli: CliRunner, tmp_path: Path) -> None:
    organisation = {"id": "ORG-FN", "name": "Cell", "kind": "coordination_cell", "country": "PL"}
    source = write_json(tmp_path / "orgs [b].json", [organisation])
    assert "from orgs [b].json: 1 created" in invoke(cli, "import", "organisations", str(source))
    target = tmp_path / "out [b].csv"
    assert f"to {target}." in invoke(cli, "export", "organisations", str(target))


def test_simulate_and_deploy_show_names_and_ids_with_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "500")  # their consoles are made as they run
    scenario = json.loads((SCENARIOS / "who-emt-type-2.json").read_text(encoding="utf-8"))
    scenario.update(name="Field [/] unit", days=2)
    runner = CliRunner()
    simulated = runner.invoke(
        app,
        [
            *("simulate", str(write_json(tmp_path / "s.json", scenario))),
            *("-n", "2", "--out", str(tmp_path / "sim [/]")),
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    assert "Field [/] unit: 2 replications" in simulated.output
    assert f"results written to {tmp_path / 'sim [/]'}/" in simulated.output
    problem = json.loads((SCENARIOS / "deployment-example.json").read_text(encoding="utf-8"))
    for site in problem["candidate_sites"]:
        site["id"] = f"[/]{site['id']}"
    for hospital in problem["hospitals"]:
        hospital["id"] = f"[b]{hospital['id']}"
    deployed = runner.invoke(
        app,
        [
            *("deploy", str(write_json(tmp_path / "d.json", problem))),
            *("--out", str(tmp_path / "plan [/].json"), "--time-limit", "30"),
        ],
    )
    assert deployed.exit_code == 0, deployed.output
    assert "[b]fh-100" in deployed.output
    assert "[/]site-" in deployed.output
