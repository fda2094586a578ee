"""`medevac patients show` says where the patient is to be admitted, and on whose word: the
live plan's admission, or for a patient accepted the facility its acceptance or its plan named,
also once a re-plan superseded that plan; or that there is none."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.domain.plans import PlannedAdmission
from medevac.services.auditing import utc_now
from medevac.services.demo import PLAN_ID
from tests.e2e.conftest import invoke

pytestmark = pytest.mark.e2e

ACADEMY = "FAC-LODZ-MMA (Partner Military Medical Academy)"


def planned(patient_id: str) -> PlannedAdmission:
    """The patient's admission in the live plan."""
    with context.unit_of_work() as uow:
        [plan] = uow.plans.live()
    admission = plan.admission_of(patient_id)
    assert admission is not None
    return admission


def destination(cli: CliRunner, patient_id: str) -> str:
    """The destination line of `patients show`, on one line."""
    shown = invoke(cli, "patients", "show", patient_id)
    [line] = [line for line in shown.splitlines() if line.startswith("Destination:")]
    return line


def re_plan(cli: CliRunner, folder: Path) -> None:
    """Build, solve and approve a plan from the registry."""
    problem, plan = str(folder / "problem.json"), str(folder / "plan.json")
    invoke(cli, "plan", "build", "--out", problem)
    invoke(cli, "plan", "solve", problem, "--out", plan, "--time-limit", "30")
    invoke(cli, "plan", "approve", plan, "--problem", problem)


def test_a_referred_patient_s_destination_is_its_admission_in_the_live_plan(
    cli: CliRunner,
) -> None:
    admission = planned("PT-0001")
    assert destination(cli, "PT-0001") == (
        f"Destination: {ACADEMY}, admission on {admission.admission_date}, planned by plan "
        f"{PLAN_ID}"
    )


def test_an_accepted_patient_s_destination_outlives_the_re_plan_that_leaves_it_out(
    cli: CliRunner, tmp_path: Path
) -> None:
    admission = planned("PT-0001")
    invoke(cli, "patients", "move", "PT-0001", "accepted", "--role", "receiving_facility")
    re_plan(cli, tmp_path)  # the 23 still referred: PLAN-DEMO-001 is superseded
    with context.unit_of_work() as uow:
        [live] = uow.plans.live()
    assert live.id != PLAN_ID
    assert live.admission_of("PT-0001") is None
    assert destination(cli, "PT-0001") == (
        f"Destination: {ACADEMY}, admission on {admission.admission_date}, planned by an "
        "earlier plan, superseded since"
    )
    # the receiving side names the facility and day: its word now
    day = utc_now().date() + timedelta(days=3)
    invoke(cli, "requests", "admit", "REQ-DEMO-001", "PT-0001", "FAC-LODZ-MMA", "--on", str(day))
    assert destination(cli, "PT-0001") == (
        f"Destination: {ACADEMY}, admission from {day}, named on request REQ-DEMO-001"
    )


def test_a_planned_day_that_has_passed_is_said_so(cli: CliRunner) -> None:
    # the plan approved two days ago, say: PT-0001, still referred, waits for its admission
    with context.unit_of_work() as uow:
        [plan] = uow.plans.live()
        plan.admissions = [
            replace(a, admission_date=a.admission_date - timedelta(days=2))
            if a.patient_id == "PT-0001"
            else a
            for a in plan.admissions
        ]
        uow.plans.update(plan)
        uow.commit()
    day: date = planned("PT-0001").admission_date
    assert day < utc_now().date()
    assert destination(cli, "PT-0001") == (
        f"Destination: {ACADEMY}, admission on {day} (that day has passed), planned by plan "
        f"{PLAN_ID}"
    )


def test_patients_show_says_when_there_is_no_destination(cli: CliRunner) -> None:
    assert "deferred" in invoke(cli, "patients", "show", "PT-0002").splitlines()[0]
    assert destination(cli, "PT-0002") == ("Destination: none (deferred patients are not planned)")
    # a referral withdrawn takes the patient out of the live plan
    invoke(cli, "patients", "move", "PT-0001", "selected", "--reason", "family refused")
    assert destination(cli, "PT-0001") == "Destination: none: no live plan places the patient"


def test_requests_respond_help_shows_the_admission_day_of_admit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rich took "[@YYYY-MM-DD]" for markup and dropped it from the help
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["requests", "respond", "--help"])
    assert result.exit_code == 0, result.output
    assert "PATIENT=FACILITY[@YYYY-MM-DD]: where (and from which day" in result.output


def test_an_accepted_patient_whose_facility_nobody_named_has_none_recorded(
    cli: CliRunner,
) -> None:
    # asked of the academy's service on a request of its own (the demo's closed, which takes
    # it out of the live plan) and accepted without a facility: `plan build` holds no bed
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "one patient at a time")
    out = invoke(
        cli, "requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-DMS",
        "-p", "PT-0001",
    )  # fmt: skip
    request_id = out.split()[1].rstrip(";")
    invoke(cli, "requests", "submit", request_id)
    invoke(cli, "requests", "respond", request_id, "--accept-all")
    assert destination(cli, "PT-0001") == (
        "Destination: none recorded: no accepted request or plan names a facility of the "
        "organisation that accepted the patient (`medevac requests admit` names one)"
    )
