"""`medevac plan solve / check / show / explain` with files whose names hold an ESC and a
newline: every message naming such a file writes them as JSON escapes (`\\u001b`, `\\n`), so
that none reaches the terminal raw nor breaks the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medevac.cli import plan_commands
from medevac.cli.main import app
from medevac.planning import PlanFormatError, refused_plan, write_plan
from tests.manifest_edits import manifest_of
from tests.unit.planning.builders import facility, patient, problem_dict
from tests.unit.planning.test_plan_files import said

runner = CliRunner()

# a name with an ESC (a terminal's colour sequence) and a newline, both legal on Linux
NAME = "bad\x1b[31m\nname"
SHOWN = "bad\\u001b[31m\\nname"
QUOTA = {
    "id": "AGR-1",
    "room": 1,
    "organisations": ["ORG-A"],
    "facilities": ["NEAR", "FAR"],
    "specialties": None,
}


def shown(path: Path) -> str:
    """``path`` as the messages name it: `NAME` escaped."""
    return str(path).replace(NAME, SHOWN)


def invoke(*arguments: str | Path) -> Any:
    """The result of `medevac` with ``arguments``."""
    return runner.invoke(app, [str(argument) for argument in arguments])


def assert_says(output: str, *expected: str) -> None:
    """``output`` holds no raw ESC and no raw newline of `NAME`, and says each of
    ``expected`` (whitespace aside, as the console wraps long lines)."""
    assert "\x1b" not in output, output
    assert "m\nname" not in output, output
    for text in expected:
        assert said(text, output), (text, output)


def write_problem(path: Path, *patients: str, **beds: int) -> Path:
    """A problem of facilities NEAR and FAR (2 orthopaedics beds each, ``beds`` added) and
    ``patients`` of ORG-A (A and B where none are given) in ``path``, which it returns."""
    rooms = {"orthopaedics": 2, **beds}
    data = problem_dict(
        [facility("NEAR", 50.1, 30.0, beds=rooms), facility("FAR", 50.0, 10.0, beds=rooms)],
        [patient(p, organisation="ORG-A") for p in patients or ("A", "B")],
    )
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def problem(tmp_path: Path) -> Path:
    return write_problem(tmp_path / f"{NAME}.json")


@pytest.fixture
def manifest(problem: Path) -> Path:
    """Where the manifest of `problem` belongs (nothing is written there)."""
    return problem.with_name(f"{NAME}.registry.json")


def solved(problem: Path, out: Path) -> Path:
    """`plan solve` of ``problem`` into ``out``, which it returns."""
    result = invoke("plan", "solve", problem, "--out", out, "--engine", "greedy")
    assert result.exit_code == 0, result.output
    return out


def test_solve_names_a_problem_it_cannot_read_and_its_out_escaped(tmp_path: Path) -> None:
    missing = tmp_path / f"{NAME}.json"
    out = tmp_path / f"{NAME}.plan.json"
    result = invoke("plan", "solve", missing, "--out", out)
    assert result.exit_code == 1
    assert_says(
        result.output,
        f"error: {shown(missing)}: cannot be read",
        f"; nothing was written to {shown(out)}",
    )


def test_solve_names_the_plan_it_wrote_escaped(problem: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{NAME}.plan.json"
    result = invoke("plan", "solve", problem, "--out", out, "--engine", "greedy")
    assert result.exit_code == 0, result.output
    assert_says(result.output, f"plan written to {shown(out)}; checker: feasible")


@pytest.mark.parametrize("given", ["the problem", "a missing folder", "not a plan"])
def test_solve_names_an_out_it_refuses_escaped(problem: Path, tmp_path: Path, given: str) -> None:
    out = {
        "the problem": problem,
        "a missing folder": tmp_path / NAME / "plan.json",
        "not a plan": tmp_path / f"{NAME}.txt",
    }[given]
    if given == "not a plan":
        out.write_text("notes", encoding="utf-8")
    result = invoke("plan", "solve", problem, "--out", out)
    assert result.exit_code == 1
    expected = {
        "the problem": f"--out {shown(out)} is the problem file {shown(problem)}: the plan",
        "a missing folder": f"error: {shown(out)}: cannot be written (",
        "not a plan": f"--out {shown(out)} holds something that is not a JSON object",
    }[given]
    assert_says(result.output, expected)


def test_solve_of_a_refused_problem_names_the_plan_it_wrote_escaped(tmp_path: Path) -> None:
    refused = tmp_path / f"{NAME}.json"
    refused.write_text("{", encoding="utf-8")
    out = tmp_path / f"{NAME}.plan.json"
    result = invoke("plan", "solve", refused, "--out", out)
    assert result.exit_code == 1
    assert_says(
        result.output,
        f"error: {shown(refused)}: 1 error(s) in problem: is not valid JSON",
        f"the plan written to {shown(out)} says so (status infeasible_input)",
    )


def test_check_names_the_problem_in_its_warnings_and_verdict_escaped(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / f"{NAME}.json", orthopaedic=1)  # a misspelt specialty
    result = invoke("plan", "check", problem)
    assert result.exit_code == 0, result.output
    assert_says(
        result.output,
        f'warning: {shown(problem)}: facilities[0].beds: "orthopaedic" is not a known',
        f"{shown(problem)}: a valid problem: 2 patients",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "cannot be read as JSON ("),  # a folder
        ("{", "is not valid JSON ("),
        ('{"built_at": 1, "built_at": 2}', "built_at: is given more than once in its object"),
        ("[]", "expected a JSON object"),
    ],
)
def test_a_manifest_that_is_no_json_object_is_named_escaped(
    problem: Path, manifest: Path, text: str | None, expected: str
) -> None:
    if text is None:
        manifest.mkdir()
    else:
        manifest.write_text(text, encoding="utf-8")
    result = invoke("plan", "check", problem)
    assert result.exit_code == 1
    assert_says(result.output, f"error: {shown(manifest)}: {expected}")


@pytest.mark.parametrize("fault", ["unsealed", "another problem", "malformed", "not fitting"])
def test_a_manifest_refused_is_named_escaped_with_its_problem(
    problem: Path, manifest: Path, tmp_path: Path, fault: str
) -> None:
    if fault == "unsealed":
        manifest.write_text(json.dumps({"built_at": "2026-12-07", "patients": {}}))
    elif fault == "another problem":
        other = write_problem(tmp_path / "other.json", "C")
        manifest.write_text(manifest_of(other))
    elif fault == "malformed":
        manifest.write_text(manifest_of(problem, held_admissions={"NEAR": 1}))
    else:
        ends = [{"facility": "ELSEWHERE", "organisation": "ORG-A", "last_day": 1}]
        manifest.write_text(manifest_of(problem, acceptance_ends=ends))
    result = invoke("plan", "check", problem)
    assert result.exit_code == 1
    expected = {
        "unsealed": [f"error: {shown(manifest)} has no 'manifest_sha256'"],
        "another problem": [
            f"error: {shown(manifest)} was written for another problem than {shown(problem)} ("
        ],
        "malformed": [f"error: {shown(manifest)}: manifest: 'held_admissions' has 'NEAR'"],
        "not fitting": [
            f"error: {shown(manifest)}: ",
            f"; the manifest does not fit {shown(problem)}: build the problem again",
        ],
    }[fault]
    assert_says(result.output, *expected)


def test_check_names_the_manifest_it_applies_escaped(problem: Path, manifest: Path) -> None:
    ends = [{"facility": "NEAR", "organisation": "ORG-A", "last_day": 1}]
    text = manifest_of(problem, held_admissions={"NEAR/0": 1}, quotas=[QUOTA], acceptance_ends=ends)
    manifest.write_text(text)
    result = invoke("plan", "check", problem)
    assert result.exit_code == 0, result.output
    assert_says(
        result.output,
        f"arrive at NEAR on days of this problem ({shown(manifest)}); they count",
        f"quotas: 1 agreement quota(s) from {shown(manifest)}: AGR-1 (room 1)",
        f"acceptance ends: 1 from {shown(manifest)}: NEAR admits ORG-A until day 1",
        f"{shown(problem)}: a valid problem: 2 patients, 2 facilities, "
        f"5 days; its manifest {shown(manifest)} fits it",
    )


def test_check_names_a_feasible_plan_and_its_problem_escaped(problem: Path, tmp_path: Path) -> None:
    plan = solved(problem, tmp_path / f"{NAME}.plan.json")
    feasible = invoke("plan", "check", problem, plan)
    assert feasible.exit_code == 0, feasible.output
    assert_says(feasible.output, f"{shown(plan)}: feasible for {shown(problem)}; objective")


def test_check_names_a_plan_breaking_rules_and_its_files_escaped(
    problem: Path, manifest: Path, tmp_path: Path
) -> None:
    plan = solved(problem, tmp_path / f"{NAME}.plan.json")  # A and B placed, no quota yet
    manifest.write_text(manifest_of(problem, quotas=[QUOTA]))
    broken = invoke("plan", "check", problem, plan)
    assert broken.exit_code == 1
    assert_says(
        broken.output,
        f"{shown(plan)}: quota AGR-1: 2 patients placed under it, room 1",
        f"error: {shown(plan)}: 1 rule(s) broken for {shown(problem)} and its manifest "
        f"{shown(manifest)}",
    )


@pytest.mark.parametrize("command", ["check", "explain"])
def test_a_plan_of_a_refused_problem_is_named_escaped(
    problem: Path, tmp_path: Path, command: str
) -> None:
    plan = tmp_path / f"{NAME}.plan.json"
    write_plan(refused_plan(["problem.json: is not valid JSON"]), plan)
    arguments = ["plan", command, problem, plan] + (["A"] if command == "explain" else [])
    result = invoke(*arguments)
    assert result.exit_code == 1
    assert_says(
        result.output,
        f"error: {shown(plan)}: status infeasible_input: the plan of a problem `plan solve` "
        "refused (input refused: problem.json: is not valid JSON)",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", ": is not valid JSON ("),  # the plan reader names the file itself
        ('{"status": "optimal"}', ": plan: missing "),  # it names a path inside the file
    ],
)
def test_show_names_a_malformed_plan_escaped_and_once(
    tmp_path: Path, text: str, expected: str
) -> None:
    plan = tmp_path / f"{NAME}.plan.json"
    plan.write_text(text, encoding="utf-8")
    result = invoke("plan", "show", plan)
    assert result.exit_code == 1
    assert_says(result.output, f"error: {shown(plan)}{expected}")
    assert "".join(result.output.split()).count(SHOWN) == 1


def test_a_message_naming_the_path_escaped_already_is_not_led_by_it_again() -> None:
    path = Path(f"/plans/{NAME}.json")
    named = f"/plans/{SHOWN}.json: is not valid JSON (line 1)"
    assert plan_commands._located(path, PlanFormatError(named)) == named
    raw = PlanFormatError(f"{path}: is not valid JSON (line 1)")
    assert plan_commands._located(path, raw) == named


def test_show_names_a_problem_given_for_the_plan_escaped(problem: Path) -> None:
    swapped = invoke("plan", "show", problem)
    assert swapped.exit_code == 1
    assert_says(swapped.output, f"error: {shown(problem)}: looks like a problem file, not a plan")


def test_show_names_a_plan_and_a_problem_that_do_not_fit_escaped(
    problem: Path, tmp_path: Path
) -> None:
    plan = solved(problem, tmp_path / f"{NAME}.plan.json")
    other = write_problem(tmp_path / f"{NAME}.other.json", "C")
    unfit = invoke("plan", "show", plan, "--problem", other)
    assert unfit.exit_code == 1
    assert_says(
        unfit.output,
        f"error: {shown(plan)}: the plan does not fit the problem: patient A is not in the problem",
        f"({shown(other)})",
    )


def test_explain_names_the_manifest_giving_day_0_escaped(
    problem: Path, manifest: Path, tmp_path: Path
) -> None:
    manifest.write_text(manifest_of(problem))
    plan = solved(problem, tmp_path / f"{NAME}.plan.json")
    explained = invoke("plan", "explain", problem, plan, "A")
    assert explained.exit_code == 0, explained.output
    assert_says(explained.output, f"day 0 is 2026-12-07 ({shown(manifest)})")


def test_explain_names_the_problem_without_the_patient_escaped(
    problem: Path, tmp_path: Path
) -> None:
    plan = solved(problem, tmp_path / f"{NAME}.plan.json")
    unknown = invoke("plan", "explain", problem, plan, "Z")
    assert unknown.exit_code == 1
    assert_says(unknown.output, f"error: patient 'Z' is not in {shown(problem)}")


def test_the_errors_other_commands_print_name_the_file_escaped(tmp_path: Path) -> None:
    # `plan approve` raises them as they are (`UserError`), printed without `_fail`
    path = tmp_path / f"{NAME}.json"
    refused = refused_plan(["problem.json: is not valid JSON"])
    for message in (
        plan_commands.swapped(path, "a problem", "a plan"),
        plan_commands.refused_status(path, refused),
    ):
        assert message.startswith(f"{shown(path)}: "), message
        assert message.isprintable(), message
