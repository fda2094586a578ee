"""Findings of the review of 2026-12-08 on treatment requests through the command line: an
answer that takes an agreement beyond its quota, repeated options folded into one, a patient
given twice, and the count of patients a submission refers."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.domain.audit import snapshot
from medevac.domain.lifecycle import PatientStatus
from medevac.services.auditing import audit, utc_now
from tests.e2e.conftest import built_and_solved, invoke

# patients of ORG-ORIGIN-MOH the demo defers whose specialty AGR-DEMO-002 covers
DEFERRED = ["PT-0006", "PT-0008", "PT-0014", "PT-0018", "PT-0020", "PT-0022", "PT-0026"]


def said(output: str) -> str:
    return " ".join(output.split())


def selected(cli: CliRunner, patients: list[str]) -> None:
    for patient in patients:
        invoke(cli, "patients", "move", patient, "screening", "--reason", "seen again")
        invoke(cli, "patients", "move", patient, "selected")


def drafted(cli: CliRunner, receiver: str, *args: str) -> str:
    """The id of a request drafted from ORG-ORIGIN-MOH to ``receiver`` with ``args``."""
    created = invoke(cli, "requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", receiver, *args)
    request_id = created.split()[1].rstrip(";")
    assert request_id.startswith("REQ-"), created
    return request_id


def request_for(cli: CliRunner, patients: list[str]) -> str:
    request_id = drafted(cli, "ORG-PARTNER-DMS", *[a for p in patients for a in ("-p", p)])
    invoke(cli, "requests", "submit", request_id)
    return request_id


def test_an_answer_beyond_an_agreements_quota_is_said(cli: CliRunner) -> None:
    # AGR-DEMO-002 allows 30 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS: 24 accepted, then
    # 7 more went beyond it unsaid (only the next `plan build` said so)
    first = said(invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all"))
    assert "beyond the quota" not in first
    selected(cli, DEFERRED)
    request_id = request_for(cli, DEFERRED)
    out = said(invoke(cli, "requests", "respond", request_id, "--accept-all"))
    assert (
        "beyond the quota: AGR-DEMO-002 allows 30 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS "
        "and 31 were sent there; the answer stands"
    ) in out


def test_a_specialty_given_twice_to_grant_or_places_is_refused(cli: CliRunner) -> None:
    # the later option had overwritten the earlier unsaid
    result = cli.invoke(
        app,
        ["requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-MOH",
         "--places", "burns=1", "--places", "burns=2"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--places: burns is given more than once" in said(result.stderr)
    request_id = drafted(cli, "ORG-PARTNER-MOH", "--places", "burns=3")
    invoke(cli, "requests", "submit", request_id)
    result = cli.invoke(
        app,
        ["requests", "respond", request_id, "--grant", "burns=1:one bed",
         "--grant", "burns=3"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--grant: burns is given more than once" in said(result.stderr)


def test_a_patient_given_twice_to_a_new_request_is_named_as_such(cli: CliRunner) -> None:
    # it had said the patient "is already on request REQ-..." naming the draft just refused
    selected(cli, DEFERRED[:1])
    result = cli.invoke(
        app,
        ["requests", "create", "--from", "ORG-ORIGIN-MOH", "--to", "ORG-PARTNER-DMS",
         "-p", DEFERRED[0], "-p", DEFERRED[0]],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"--patient: {DEFERRED[0]} is given more than once" in said(result.stderr)


def test_submit_counts_only_the_patients_it_refers(cli: CliRunner, tmp_path: Path) -> None:
    # a plan approved after the draft referred one of its patients: "2 patients referred"
    # had counted it too
    selected(cli, DEFERRED[:2])
    request_id = drafted(cli, "ORG-PARTNER-DMS", "-p", DEFERRED[0], "-p", DEFERRED[1])
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    problem, plan = built_and_solved(cli, tmp_path)
    invoke(cli, "plan", "approve", str(plan), "--problem", str(problem))
    with context.unit_of_work() as uow:
        referred = [p for p in DEFERRED[:2] if uow.patients.get(p).status is PatientStatus.REFERRED]
    assert referred, "the plan referred neither patient: the test shows nothing"
    out = said(invoke(cli, "requests", "submit", request_id))
    assert out == (
        f"{request_id} submitted: {2 - len(referred)} patients referred; {len(referred)} "
        f"referred already: {', '.join(referred)}"
    )


def test_a_patient_admitted_with_no_destination_known_is_no_longer_at_the_hospital_it_left(
    cli: CliRunner,
) -> None:
    # moved along by hand with no request or plan naming a facility: it had stayed located at
    # the hospital it left, listed there as admitted
    patient = DEFERRED[0]
    selected(cli, [patient])
    for status in ("referred", "accepted", "scheduled", "in_transit", "admitted"):
        role = ["--role", "receiving_facility"] if status in ("accepted", "admitted") else []
        invoke(cli, "patients", "move", patient, status, *role)
    shown = said(invoke(cli, "patients", "show", patient))
    assert "Location: unknown" in shown
    assert patient not in invoke(cli, "patients", "list", "--location", "FAC-KYIV-MH")
    with context.unit_of_work() as uow:
        [record] = uow.audit.list(entity_type="patient", entity_id=patient, limit=1)
    assert record.action == "move:in_transit->admitted"
    assert record.after is not None
    assert record.after["location_id"] is None


def test_audit_list_of_a_capacity_report_by_facility_says_how_reports_are_named(
    cli: CliRunner,
) -> None:
    # by the facility's id, it had answered "0 records" unsaid
    invoke(
        cli, "facilities", "capacity", "report", "FAC-LODZ-MMA", "neurology",
        "--available", "2", "--baseline", "8",
    )  # fmt: skip
    by_facility = said(
        invoke(
            cli, "audit", "list", "--entity-type", "capacity_report", "--entity-id", "FAC-LODZ-MMA"
        )
    )
    assert "0 records" in by_facility
    assert (
        "capacity reports are recorded as FACILITY/specialty: --entity-id "
        "FAC-LODZ-MMA/SPECIALTY, or --entity-type capacity_report alone for all"
    ) in by_facility
    by_report = said(
        invoke(
            cli, "audit", "list", "--entity-type", "capacity_report",
            "--entity-id", "FAC-LODZ-MMA/neurology",
        )
    )  # fmt: skip
    assert "FAC-LODZ-MMA/neurology │ report" in by_report
    assert "capacity reports are recorded" not in by_report


def test_a_facility_without_a_city_shows_its_country_alone(cli: CliRunner) -> None:
    # " (UA)" in the list, "Location:  UA at ..." in show
    with context.unit_of_work() as uow:
        facility = uow.facilities.get("FAC-KYIV-MH")
        facility.city = ""
        uow.facilities.update(facility)
        uow.commit()
    shown = invoke(cli, "facilities", "show", "FAC-KYIV-MH")
    assert "Location: UA at " in shown
    listed = invoke(cli, "facilities", "list")
    assert "│  (UA)" not in listed
    assert "│ UA " in listed


def test_a_location_recorded_since_the_patient_left_is_kept_at_its_admission(
    cli: CliRunner,
) -> None:
    # with no destination known, the location set by hand (an import) after the patient
    # left had been erased at its admission
    patient = DEFERRED[0]
    selected(cli, [patient])
    for status in ("referred", "accepted", "scheduled", "in_transit"):
        role = ["--role", "receiving_facility"] if status == "accepted" else []
        invoke(cli, "patients", "move", patient, status, *role)
    with context.unit_of_work() as uow:
        record = uow.patients.get(patient)
        before = snapshot(record)
        record.location_id = "FAC-LODZ-MMA"
        uow.patients.update(record)
        audit(uow, "patient", record, "update", actor="importer", before=before)
        uow.commit()
    invoke(cli, "patients", "move", patient, "admitted", "--role", "receiving_facility")
    assert "Location: FAC-LODZ-MMA" in invoke(cli, "patients", "show", patient)


def test_accepting_patients_one_at_a_time_beyond_a_quota_is_said(cli: CliRunner) -> None:
    # `patients move ... accepted`, the way the help of `requests respond` gives to answer
    # one patient at a time, had passed the quota unsaid
    invoke(cli, "requests", "respond", "REQ-DEMO-001", "--accept-all")
    selected(cli, DEFERRED)
    request_for(cli, DEFERRED)
    moved = [
        said(invoke(cli, "patients", "move", p, "accepted", "--role", "receiving_facility"))
        for p in DEFERRED
    ]
    assert not any("beyond the quota" in out for out in moved[:-1])  # 30 of 30: reached only
    assert (
        "beyond the quota: AGR-DEMO-002 allows 30 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS "
        "and 31 were sent there; the move stands"
    ) in moved[-1]


def test_a_patient_given_twice_to_screening_add_is_named_as_such(cli: CliRunner) -> None:
    # "PT-0006 is screening; only reported, deferred or declined patients can be screened",
    # the whole add refused and the patient still deferred
    today = utc_now().date().isoformat()
    created = invoke(
        cli, "screening", "create", "--team", "ORG-PARTNER-DMS", "--place", "Kyiv",
        "--from", today, "--to", today,
    )  # fmt: skip
    mission = next(word for word in created.split() if word.startswith("SCR-"))
    mission = mission.rstrip(":;,.")
    result = cli.invoke(app, ["screening", "add", mission, DEFERRED[0], DEFERRED[0]])
    assert result.exit_code == 1
    assert f"patient '{DEFERRED[0]}' is given more than once" in said(result.stderr)
