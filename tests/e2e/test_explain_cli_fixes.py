"""`medevac plan explain` refuses the plan of a refused problem as `plan check` does."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medevac.cli.main import app
from tests.unit.planning.builders import facility, patient, problem_dict


def test_explain_refuses_the_plan_of_a_refused_problem_as_check_does(
    cli: CliRunner, tmp_path: Path
) -> None:
    # it said "the plan does not fit the problem: the plan says nothing of 1 patient(s)"
    problem = tmp_path / "problem.json"
    problem.write_text(
        json.dumps(problem_dict([facility("F1", 50.1, 30.0)], [patient("A")])), encoding="utf-8"
    )
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"patients": 1}), encoding="utf-8")
    refused = tmp_path / "refused.json"
    assert cli.invoke(app, ["plan", "solve", str(broken), "--out", str(refused)]).exit_code == 1
    assert json.loads(refused.read_text(encoding="utf-8"))["status"] == "infeasible_input"
    checked = cli.invoke(app, ["plan", "check", str(problem), str(refused)])
    explained = cli.invoke(app, ["plan", "explain", str(problem), str(refused), "A"])
    assert (checked.exit_code, explained.exit_code) == (1, 1)
    refusal = " ".join(checked.output.split())
    assert "status infeasible_input: the plan of a problem `plan solve` refused" in refusal
    assert " ".join(explained.output.split()) == refusal
    assert "does not fit" not in explained.output
