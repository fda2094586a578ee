"""Findings of the review of 2026-12-07 through the command line: a problem file whose name
holds a control character, and numbers a float rounds."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medevac.cli.main import app
from medevac.planning import PlanStatus, load_plan
from tests.unit.planning.builders import facility, patient, problem_dict

ESCAPED_NAME = "bad\\u001b[31mname.json"


def test_a_control_character_in_the_problem_file_name_reaches_no_terminal_nor_plan(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the ESC went raw to the terminal, and the infeasible_input plan written with it in its
    # solver field was refused by the plan reader ("solver: holds a control character")
    problem = tmp_path / "bad\x1b[31mname.json"
    problem.write_text("{", encoding="utf-8")
    out = tmp_path / "out.plan"
    solved = cli.invoke(
        app, ["plan", "solve", str(problem), "--out", str(out), "--engine", "greedy"]
    )
    assert solved.exit_code == 1
    assert "\x1b" not in solved.output
    assert f"{tmp_path}/{ESCAPED_NAME}: 1 error(s) in problem: is not valid JSON" in (
        "".join(solved.output.splitlines())
    )
    plan = load_plan(out)
    assert plan.status is PlanStatus.INFEASIBLE_INPUT
    assert ESCAPED_NAME in plan.solver
    shown = cli.invoke(app, ["plan", "show", str(out)])
    assert "\x1b" not in shown.output
    assert "holds a control character" not in shown.output

    checked = cli.invoke(app, ["plan", "check", str(problem)])
    assert checked.exit_code == 1
    assert "\x1b" not in checked.output
    lines = checked.output.splitlines()
    assert lines[0].startswith(f"{tmp_path}/{ESCAPED_NAME}: is not valid JSON")
    assert f"{ESCAPED_NAME}: 1 error(s); the engines refuse this file" in "".join(lines[1:])


def test_plan_check_refuses_numbers_a_float_rounds_to_whole_ones(
    cli: CliRunner, tmp_path: Path
) -> None:
    # `plan check` had said "a valid problem", the facility closed by 1e-400 admissions a day
    data = problem_dict(
        [facility("F1", 50.0, 30.0, daily_admission_limit="LIMIT")], [patient("P1", lat="LAT")]
    )
    text = json.dumps(data).replace('"LIMIT"', "1e-400").replace('"LAT"', "-90.000000000000001")
    problem = tmp_path / "problem.json"
    problem.write_text(text, encoding="utf-8")
    checked = cli.invoke(app, ["plan", "check", str(problem)])
    assert checked.exit_code == 1
    assert checked.output.splitlines()[:2] == [
        f"{problem}: facilities[0].daily_admission_limit: must be a whole number, got 1e-400",
        f"{problem}: patients[0].lat: must be at least -90, got -90.000000000000001",
    ]
