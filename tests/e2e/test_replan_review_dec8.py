"""Findings of the review of 2026-12-08 on re-planning through the command line: approved places
that a shorter horizon does not carry, named by `plan show` and `plan explain` (only `plan
build` had said them), and the hint after `plan build`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.domain.audit import snapshot
from medevac.services.auditing import audit
from tests.e2e.conftest import built_and_solved, invoke


def said(output: str) -> str:
    """The output with its lines joined as one text (Rich wraps long lines)."""
    return " ".join(output.split())


def test_plan_show_and_explain_name_the_approved_places_a_shorter_horizon_does_not_carry(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the demo's plan admits 8 patients on its third day, under an agreement with a quota:
    # over two days they come into the problem with no current place, and the plan has no
    # room for them. `plan show` had said "lose their place 0" and `plan explain` nothing of
    # their admission; approving the plan supersedes it
    problem, plan = tmp_path / "problem.json", tmp_path / "plan.json"
    built = said(invoke(cli, "plan", "build", "--out", str(problem), "--horizon-days", "2"))
    assert "not carried at their approved place: 8 patient(s)" in built
    assert (
        "after the horizon, not kept: it comes under AGR-DEMO-002, an agreement with a quota"
        in built
    )
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan))
    manifest = json.loads((tmp_path / "problem.registry.json").read_text(encoding="utf-8"))
    not_carried = manifest["not_carried"]
    assert len(not_carried) == 8
    patient = sorted(not_carried)[0]
    assert not_carried[patient].startswith("FAC-LODZ-MMA on ")

    shown = said(invoke(cli, "plan", "show", str(plan), "--problem", str(problem)))
    assert (
        "approved places not carried into the problem: 8 patient(s); approving this plan "
        "supersedes their admissions:"
    ) in shown
    assert f"{patient}: no place in this plan (approved for {not_carried[patient]})" in shown

    explained = said(invoke(cli, "plan", "explain", str(problem), str(plan), patient))
    assert (
        f"approved for {not_carried[patient]}; the problem does not carry that place: "
        "approving this plan supersedes it"
    ) in explained
    as_json = json.loads(invoke(cli, "plan", "explain", str(problem), str(plan), patient, "--json"))
    assert as_json["not_carried"] == not_carried[patient]


def test_plan_show_names_no_approved_place_where_the_build_carried_every_one(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, plan = built_and_solved(cli, tmp_path)
    manifest = json.loads((tmp_path / "problem.registry.json").read_text(encoding="utf-8"))
    assert manifest["not_carried"] == {}
    assert "not carried" not in said(
        invoke(cli, "plan", "show", str(plan), "--problem", str(problem))
    )
    as_json = json.loads(
        invoke(cli, "plan", "explain", str(problem), str(plan), "PT-0010", "--json")
    )
    assert as_json["not_carried"] is None


def test_the_hint_after_plan_build_names_a_plan_beside_the_problem(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the hint had always said `--out plan.json`: followed after a second build, it
    # overwrote the plan of the first problem
    first = said(invoke(cli, "plan", "build", "--out", str(tmp_path / "problem.json")))
    assert (
        f"next: medevac plan solve {tmp_path / 'problem.json'} --out {tmp_path / 'plan.json'}"
        in first
    )
    second = said(invoke(cli, "plan", "build", "--out", str(tmp_path / "p9.json")))
    assert f"--out {tmp_path / 'p9-plan.json'}" in second


def test_plan_explain_says_why_a_patient_left_out_of_the_problem_is_not_in_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    # a patient holding an approved admission, no longer fit to transport: `plan build` and
    # `plan show` named its approved place, `plan explain` only "is not in problem.json"
    with context.unit_of_work() as uow:
        patient = uow.patients.get("PT-0010")
        before = snapshot(patient)
        patient.fit_to_transport = False
        uow.patients.update(patient)
        audit(uow, "patient", patient, "update", actor="clerk", before=before)
        uow.commit()
    problem, plan = built_and_solved(cli, tmp_path)
    result = cli.invoke(app, ["plan", "explain", str(problem), str(plan), "PT-0010"])
    assert result.exit_code == 1
    text = said(result.stderr)
    assert text.startswith(
        f"error: patient 'PT-0010' is not in {problem}; plan build left it out: approved for "
        "FAC-LODZ-MMA on "
    )
    assert text.endswith(
        ", left out: not fit to transport; approving a plan of this problem supersedes that place"
    )
