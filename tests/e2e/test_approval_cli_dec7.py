"""Findings of the review of 2026-12-07 on `medevac plan approve`, through the command line: a
plan solved without its manifest that passes a daily admission limit with the admissions
already due, a plan approved on a later day than its build, and a problem edited by hand
with its digests made anew."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.services.auditing import utc_now
from medevac.services.manifests import document_digest, seal
from tests.e2e.conftest import built_and_solved, invoke

ACADEMY = "FAC-LODZ-MMA"


def said(result_output: str) -> str:
    """The output with its lines joined as one text (Rich wraps long lines)."""
    return " ".join(result_output.split())


def live_plan_ids() -> list[str]:
    with context.unit_of_work() as uow:
        return [plan.id for plan in uow.plans.live()]


def first_day_accepted(cli: CliRunner, count: int) -> list[str]:
    """The first ``count`` patients the demo's plan admits today, accepted at the academy."""
    with context.unit_of_work() as uow:
        [plan] = uow.plans.live()
    today = utc_now().date()
    chosen = sorted(a.patient_id for a in plan.admissions if a.admission_date == today)[:count]
    for patient_id in chosen:
        invoke(cli, "patients", "move", patient_id, "accepted", "--role", "receiving_facility")
    return chosen


def test_plan_approve_refuses_a_plan_that_passes_a_limit_with_the_admissions_already_due(
    cli: CliRunner, tmp_path: Path
) -> None:
    # solved with no manifest beside the problem, the plan fills the academy's day 0 although
    # one patient sent earlier arrives then: `plan check` refused it, `plan approve` approved
    # it with a yellow "admission limit:" line
    demo_plan = live_plan_ids()
    first_day_accepted(cli, 1)
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(problem, alone / "problem.json")
    invoke(cli, "plan", "solve", str(alone / "problem.json"), "--out", str(plan))
    checked = cli.invoke(app, ["plan", "check", str(problem), str(plan)])
    assert checked.exit_code == 1
    assert "day 0: 8 admissions and 1 already due, limit 8" in said(checked.output)
    refused = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert refused.exit_code == 1, refused.output
    text = said(refused.output)
    assert (
        f"{plan}: it does not fit its problem (the admissions already due that its manifest "
        "keeps counted): "
    ) in text
    assert "day 0: 8 admissions and 1 already due, limit 8" in text
    assert "admission limit:" not in text
    assert live_plan_ids() == demo_plan  # nothing changed
    # solved beside its manifest, it is approved
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan))
    assert "23 admissions planned" in invoke(
        cli, "plan", "approve", str(plan), "--problem", str(problem)
    )


def test_plan_approve_on_the_next_day_counts_the_overdue_arrivals_on_it(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # built today with the 8 accepted patients due today at the academy; the plan keeps the
    # others' places, 8 of them tomorrow. Approved tomorrow with the 8 not arrived, they
    # arrive tomorrow too: 16 on a day of 8, approved without a word
    due = first_day_accepted(cli, 8)
    problem, plan = built_and_solved(cli, tmp_path)
    placed = json.loads(plan.read_text())["assignments"]
    assert sum(1 for a in placed if (a["facility"], a["day"]) == (ACADEMY, 1)) == 8
    tomorrow = utc_now() + timedelta(days=1)
    monkeypatch.setattr("medevac.services.regulating.utc_now", lambda: tomorrow)
    refused = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert refused.exit_code == 1, refused.output
    text = said(refused.output)
    assert "the registry changed since the plan was built" in text
    assert (
        f"8 patient(s) sent earlier now arrive at {ACADEMY} on day 1 of the problem "
        f"({', '.join(due)}), 0 when it was built (8 of them due before today "
        f"({tomorrow.date()}) and not arrived): they count against its daily admission limit"
    ) in text
    assert "run `medevac plan build` and solve again" in text


def test_plan_approve_refuses_a_problem_edited_by_hand_with_its_digests_made_anew(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the review's tamper.sh: 1,000 beds a day and no admission limits, the two digests made
    # anew with the project's own functions; the plan was approved, 24 on day 0
    demo_plan = live_plan_ids()
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    manifest_file = tmp_path / "problem.registry.json"
    document = json.loads(problem.read_text())
    manifest = json.loads(manifest_file.read_text())
    for facility in document["facilities"]:
        facility.pop("daily_admission_limit", None)
        facility["beds"] = {s: [1000] * document["horizon_days"] for s in facility["beds"]}
    manifest["problem_sha256"] = document_digest(document)
    problem.write_text(json.dumps(document))
    manifest_file.write_text(json.dumps(seal(manifest)))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan))
    refused = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert refused.exit_code == 1, refused.output
    text = said(refused.output)
    assert f"{problem}: is not what `medevac plan build` made of the registry at " in text
    assert f"facility {ACADEMY}: daily_admission_limit none, 8 in the registry" in text
    assert f"facility {ACADEMY}: beds " in text
    assert "build the problem again" in text
    assert live_plan_ids() == demo_plan


def test_plan_approve_goes_ahead_over_a_facility_renamed_and_says_so(
    cli: CliRunner, tmp_path: Path
) -> None:
    # exported, renamed and imported again after the build: the problem holds no name
    problem, plan = built_and_solved(cli, tmp_path)
    facilities = tmp_path / "facilities.json"
    invoke(cli, "export", "facilities", str(facilities))
    document = json.loads(facilities.read_text(encoding="utf-8"))
    [academy] = [row for row in document["facilities"] if row["id"] == ACADEMY]
    academy["name"] = "Central Clinical Hospital of the Military Medical Academy"
    facilities.write_text(json.dumps(document), encoding="utf-8")
    invoke(cli, "import", "facilities", str(facilities))
    text = said(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)))
    assert "admissions planned" in text, text
    assert (
        "changed since the build, not in what the problem holds (approved all the same; kept "
        f"in the audit record): facility {ACADEMY}: name"
    ) in text, text


def test_plan_approve_names_the_referred_patients_a_shorter_horizon_leaves_without_a_place(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the demo's plan admits 8 patients on its third day, under the academy's agreement,
    # which has a quota: built again over two days, they come into the problem with no
    # current place (kept out of it, they would take the quota's room ahead of those
    # planned) and the plan has no room for them. The approval had dropped their admissions
    # unsaid ("0 without a place now"); a live request holds them, so they stay referred
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    built = invoke(cli, "plan", "build", "--out", str(problem), "--horizon-days", "2")
    assert "kept as approved" not in said(built)
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan))
    text = said(invoke(cli, "plan", "approve", str(plan), "--problem", str(problem)))
    assert "16 admissions planned" in text
    assert (
        "on request with no place: 8 referred patient(s) this plan gives no place stay "
        "referred, as a live request holds them; answer or withdraw them there: PT-"
    ) in text
    assert "16 kept, 0 on another day, 0 moved to another facility, 8 without a place now" in text
