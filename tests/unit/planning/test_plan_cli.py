"""`medevac plan solve / show / explain` on files, and one-line errors on bad input."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

from medevac.cli import plan_commands
from medevac.planning import Plan
from tests.unit.planning.builders import facility, patient, problem_dict

runner = CliRunner()


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    data = problem_dict(
        [
            facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 1}),
            facility("FAR", 50.0, 10.0, beds={"orthopaedics": 1}),
        ],
        [patient("A", length_of_stay_days=5), patient("B", max_distance_km=100)],
    )
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    return path


def solved(app: typer.Typer, problem_file: Path, tmp_path: Path) -> Path:
    """`plan solve` of ``problem_file`` into tmp_path/plan.json, which it returns."""
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", "solve", str(problem_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("engine", ["exact", "greedy", "mip"])
def test_solve_writes_a_plan_and_prints_a_summary(
    app: typer.Typer, problem_file: Path, tmp_path: Path, engine: str
) -> None:
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["plan", "solve", str(problem_file), "--out", str(out), "--engine", engine]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    assert plan["status"] in ("optimal", "feasible")
    text = " ".join(result.output.split())  # the console wraps long lines (temporary paths)
    assert "checker: feasible" in text
    assert "placed routine" in text


def test_solve_with_the_per_patient_mip_refuses_a_problem_too_large_for_it(
    app: typer.Typer, problem_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medevac.planning import load_problem, patient_mip
    from medevac.planning.model import ProblemView

    problem = load_problem(problem_file)
    size = patient_mip.binaries(problem, ProblemView(problem))
    monkeypatch.setattr(patient_mip, "MAX_BINARIES", size - 1)
    out = tmp_path / "plan.json"
    arguments = ["plan", "solve", str(problem_file), "--out", str(out), "--engine", "mip"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"would have {size} binaries, more than its limit of {size - 1}" in text, text
    assert "the exact engine plans problems of any size" in text
    assert not out.exists()


def test_solve_says_when_the_engine_overran_its_time_limit(
    app: typer.Typer, problem_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "plan.json"
    arguments = ["plan", "solve", str(problem_file), "--out", str(out), "--time-limit", "1"]
    quick = runner.invoke(app, arguments)
    assert quick.exit_code == 0, quick.output
    assert "more than the 1 s limit" not in " ".join(quick.output.split())

    real_solve = plan_commands.solve

    def slow_solve(*args: Any) -> Plan:  # as if the first plan had taken 2.2 s
        return dataclasses.replace(real_solve(*args), wall_seconds=2.2)

    monkeypatch.setattr(plan_commands, "solve", slow_solve)
    slow = runner.invoke(app, arguments)
    assert slow.exit_code == 0, slow.output
    text = " ".join(slow.output.split())
    assert "the solve took 2.2 s, more than the 1 s limit" in text
    assert "for 2 patients that took longer" in text
    # the per-patient MIP has no first plan to wait for: its overrun has another cause
    mip = runner.invoke(app, [*arguments, "--engine", "mip"])
    assert mip.exit_code == 0, mip.output
    text = " ".join(mip.output.split())
    assert "the per-patient model is built whole before HiGHS starts" in text
    assert "first plan" not in text


def test_solve_fails_where_the_engine_states_an_objective_the_checker_does_not_recompute(
    app: typer.Typer, problem_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # solve said "checker: feasible, objective X" beside the engine's other figure, exit 0
    out = tmp_path / "plan.json"
    real_solve = plan_commands.solve

    def wrong(*args: Any) -> Plan:
        plan = real_solve(*args)
        return dataclasses.replace(plan, objective=plan.objective + 5, bound=plan.objective + 5)

    monkeypatch.setattr(plan_commands, "solve", wrong)
    result = runner.invoke(app, ["plan", "solve", str(problem_file), "--out", str(out)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert re.search(
        rf"error: the plan written to {re.escape(str(out))} is feasible, but its objective "
        r"[\d,.]+ is not the [\d,.]+ the checker recomputes",
        said,
    ), said


def test_show_and_explain_read_the_written_plan(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = solved(app, problem_file, tmp_path)
    shown = runner.invoke(app, ["plan", "show", str(out)])
    assert shown.exit_code == 0
    assert "optimal" in shown.output
    explained = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "A"])
    assert explained.exit_code == 0
    assert "A is admitted at NEAR on day 3" in explained.output
    assert "NEAR days 0-2 (11 km): orthopaedics beds full" in explained.output
    as_json = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "A", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert (data["patient"], data["facility"], data["day"], data["unplaced"]) == (
        "A",
        "NEAR",
        3,
        None,
    )
    # its facility's earlier days, full; a farther facility's, free but dearer
    alternative, farther = data["alternatives"]
    assert alternative["facility"] == "NEAR"
    assert (alternative["first_day"], alternative["last_day"]) == (0, 2)
    assert alternative["blocker"] == "beds_full"
    assert (farther["facility"], farther["first_day"], farther["last_day"]) == ("FAR", 0, 2)
    assert farther["blocker"] == "costs_more_than_its_place"
    assert farther["detail"].startswith("free, but costs 14.25 to 16.25 against 3.11 for its")
    assert data["text"] == [line for line in explained.output.splitlines() if line]
    unplaced = json.loads(
        runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "B", "--json"]).output
    )
    if unplaced["facility"] is None:
        assert unplaced["unplaced"]["code"] in {"beds_full", "beyond_max_distance"}


def test_show_with_the_problem_says_who_keeps_moves_or_loses_a_current_place(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = solved(app, problem_file, tmp_path)
    plain = runner.invoke(app, ["plan", "show", str(out), "--problem", str(problem_file)])
    assert plain.exit_code == 0, plain.output
    assert "placed routine" in plain.output
    assert "no patient of the problem has a current place" in plain.output
    # A was admitted at NEAR on day 3 (above); say it had FAR on day 0, B NEAR on day 4
    data = json.loads(problem_file.read_text())
    data["patients"][0]["current"] = {"facility": "FAR", "day": 0}
    data["patients"][1]["current"] = {"facility": "NEAR", "day": 4}
    replanned = tmp_path / "replanned.json"
    replanned.write_text(json.dumps(data))
    shown = runner.invoke(app, ["plan", "show", str(out), "--problem", str(replanned)])
    assert shown.exit_code == 0, shown.output
    counts = {
        line.split("│")[1].strip(): int(line.split("│")[2])
        for line in shown.output.splitlines()
        if line.count("│") == 3
        and line.split("│")[2].strip().isdigit()
        and "admissions" not in line
    }
    assert counts["move to another facility"] == 1
    assert counts["keep their place"] + counts["same facility, another day"] == 1
    assert "A: FAR day 0 -> NEAR day 3" in shown.output
    # a plan of another problem is refused, naming what does not fit
    other = tmp_path / "other.json"
    other.write_text(json.dumps(problem_dict([facility("X", 50.0, 30.0)], [patient("A")])))
    refused = runner.invoke(app, ["plan", "show", str(out), "--problem", str(other)])
    assert refused.exit_code == 1
    assert "the plan does not fit the problem" in " ".join(refused.output.split())


def test_a_bad_problem_file_exits_non_zero_with_one_line_and_a_refused_plan(
    app: typer.Typer, tmp_path: Path
) -> None:
    bad = problem_dict([facility("F1", 50.0, 30.0, beds={"orthopaedics": -2})], [patient("A")])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", "solve", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "facilities[0].beds.orthopaedics: must be at least 0, got -2" in result.output
    assert "Traceback" not in result.output
    assert json.loads(out.read_text())["status"] == "infeasible_input"


def with_value(place: str, value: str) -> str:
    """A valid problem's JSON text with the number at ``place`` written as ``value``."""
    data = problem_dict([facility("F1", 50.0, 30.0)], [patient("A")])
    data["horizon_days"] = 987654321
    data["weights"]["unplaced"] = 123456789
    marker = {"horizon": "987654321", "unplaced": "123456789"}[place]
    return json.dumps(data).replace(marker, value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            with_value("horizon", "1" + "0" * 400),
            "horizon_days: must be at most 366, got an integer of about 401 digits",
        ),
        (
            with_value("unplaced", "1" + "0" * 400),
            "weights.unplaced: must be a finite number, got an integer of about 401 digits",
        ),
        ("[" * 100_000 + "]" * 100_000, "is not valid JSON (nested too deeply)"),
        (with_value("horizon", "1" * 5000), "a number has 5000 digits; at most 4300 are read)"),
    ],
)
def test_numbers_beyond_a_float_and_json_beyond_the_decoder_are_refused_not_crashed_on(
    app: typer.Typer, tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", "solve", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "Traceback" not in result.output
    assert json.loads(out.read_text())["status"] == "infeasible_input"
    for command in (["plan", "show", str(path)], ["plan", "check", str(out), str(path)]):
        shown = runner.invoke(app, command)
        assert shown.exit_code == 1, shown.output
        assert "Traceback" not in shown.output
    broken = json.loads(out.read_text())
    broken["objective"] = 10**400
    out.write_text(json.dumps(broken))
    shown = runner.invoke(app, ["plan", "show", str(out)])
    assert shown.exit_code == 1
    assert "objective: must be a finite number" in shown.output


def test_explain_gives_the_reasons_code_for_a_plan_read_from_its_file(
    app: typer.Typer, tmp_path: Path
) -> None:
    # the plan file has the reason's sentence only; the code is worked out again
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 1})],
        [patient("A"), patient("S", specialty="burns"), patient("B")],
        horizon_days=1,
    )
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    out = solved(app, path, tmp_path)
    unplaced = json.loads(out.read_text())["unplaced"]
    assert all("code" not in u for u in unplaced)
    [left] = {u["patient"] for u in unplaced} - {"S"}  # one of A and B has the bed
    codes = {}
    for pid in ("S", left):
        shown = runner.invoke(app, ["plan", "explain", str(path), str(out), pid, "--json"])
        assert shown.exit_code == 0, shown.output
        codes[pid] = json.loads(shown.output)["unplaced"]["code"]
    assert codes == {"S": "specialty_not_offered", left: "beds_full"}


def test_explaining_an_unknown_patient_or_a_broken_plan_is_a_one_line_error(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = solved(app, problem_file, tmp_path)
    result = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "NOBODY"])
    assert result.exit_code == 1
    assert "patient 'NOBODY' is not in" in result.output
    out.write_text("{}")
    result = runner.invoke(app, ["plan", "show", str(out)])
    assert result.exit_code == 1
    assert "missing" in result.output


@pytest.mark.parametrize(("limit", "shown"), [(10.0, "4 of 10 s"), (None, "4 s")])
def test_the_solve_progress_shows_the_time_used_of_the_limit(
    limit: float | None, shown: str
) -> None:
    clock = [100.0]
    progress = Progress(plan_commands.TimeUsed(limit), get_time=lambda: clock[0], disable=True)
    task = progress.add_task("exact:")
    clock[0] = 104.2
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(progress.columns[0].render(progress.tasks[task]))  # type: ignore[union-attr]
    text = console.export_text()
    assert shown in text
    assert ("━" in text) is (limit is not None)  # a bar only against a limit


def test_check_lists_every_error_of_a_bad_problem_file(app: typer.Typer, tmp_path: Path) -> None:
    patients = [patient(f"P{k}", specialty="burn") for k in range(7)]
    bad = problem_dict([facility("F1", 50.0, 30.0, beds={"orthopaedics": 2})], patients)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = runner.invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if ".specialty:" in line]
    assert len(lines) == 7  # all of them, one per line, not the five a one-line error names
    assert f'{path}: patients[6].specialty: "burn" is not offered' in " ".join(lines)
    assert "7 error(s); the engines refuse this file" in " ".join(result.output.split())
    # `plan solve` names five and says where to find the rest
    attempt = runner.invoke(app, ["plan", "solve", str(path), "--out", str(tmp_path / "p.json")])
    assert attempt.exit_code == 1
    assert f"(and 2 more); `medevac plan check {path}` lists them all" in " ".join(
        attempt.output.split()
    )


def test_check_validates_a_problem_and_checks_a_plan_against_it(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    valid = runner.invoke(app, ["plan", "check", str(problem_file)])
    assert valid.exit_code == 0, valid.output
    assert "a valid problem: 2 patients, 2 facilities" in " ".join(valid.output.split())
    out = solved(app, problem_file, tmp_path)
    good = runner.invoke(app, ["plan", "check", str(problem_file), str(out)])
    assert good.exit_code == 0, good.output
    assert "feasible for" in good.output
    assert "as the plan says" in good.output
    # a reported objective the checker does not recompute (its terms, bound and gap agree)
    document = json.loads(out.read_text())
    recomputed = document["objective"]
    out.write_text(json.dumps(costing(document, recomputed + 1.0)))
    wrong = runner.invoke(app, ["plan", "check", str(problem_file), str(out)])
    assert wrong.exit_code == 1
    assert "is not the" in wrong.output
    assert "the checker recomputes" in wrong.output
    # off by twice the tolerance: the two figures shown differ
    out.write_text(json.dumps(costing(document, recomputed + 2e-6 * max(1.0, abs(recomputed)))))
    close = runner.invoke(app, ["plan", "check", str(problem_file), str(out)])
    assert close.exit_code == 1
    said, checked = re.search(r"objective (\S+) is not the (\S+) the", close.output).groups()
    assert said != checked
    # the right objective, split into the wrong terms
    document["breakdown"]["travel"] += 1.0
    document["breakdown"]["wait"] -= 1.0
    out.write_text(json.dumps(document))
    split = runner.invoke(app, ["plan", "check", str(problem_file), str(out)])
    assert split.exit_code == 1
    text = " ".join(split.output.split())
    assert "feasible, but its breakdown is not the checker's: wait" in text
    assert "recomputed" in text
    assert "; travel" in text
    document["breakdown"]["travel"] -= 1.0
    document["breakdown"]["wait"] += 1.0
    # both patients in the one near bed on the same days
    near = next(a for a in document["assignments"] if a["facility"] == "NEAR")
    for assignment in document["assignments"]:
        assignment["facility"], assignment["day"] = "NEAR", near["day"]
    out.write_text(json.dumps(document))
    broken = runner.invoke(app, ["plan", "check", str(problem_file), str(out)])
    assert broken.exit_code == 1
    assert "rule(s) broken for" in " ".join(broken.output.split())


def costing(document: dict[str, Any], objective: float) -> dict[str, Any]:
    """A plan document said to cost ``objective``: its travel, bound and gap moved along, so
    that only the checker can tell."""
    shift = objective - document["objective"]
    breakdown = {**document["breakdown"], "travel": document["breakdown"]["travel"] + shift}
    bound = document["bound"] + shift
    gap = max(0.0, (objective - bound) / max(1.0, abs(objective)))
    return {**document, "objective": objective, "breakdown": breakdown, "bound": bound, "gap": gap}


def test_explaining_a_patient_the_plan_does_not_list_is_a_one_line_error(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = solved(app, problem_file, tmp_path)
    document = json.loads(out.read_text())
    document["assignments"] = [a for a in document["assignments"] if a["patient"] != "A"]
    document["unplaced"] = [u for u in document["unplaced"] if u["patient"] != "A"]
    out.write_text(json.dumps(costing(document, document["objective"])))
    result = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "A"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "the plan says nothing of 1 patient(s) of the problem: A" in said


def test_explaining_with_a_plan_of_another_problem_is_a_one_line_error(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = solved(app, problem_file, tmp_path)
    document = json.loads(out.read_text())
    document["assignments"].append({"patient": "Z9", "facility": "NEAR", "day": 0})
    out.write_text(json.dumps(document))
    result = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "A"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "the plan does not fit the problem: patient Z9 is not in the problem" in text
    assert "Traceback" not in result.output
    document["assignments"][-1] = {"patient": "B", "facility": "ELSEWHERE", "day": 0}
    out.write_text(json.dumps(document))
    result = runner.invoke(app, ["plan", "explain", str(problem_file), str(out), "A"])
    assert result.exit_code == 1
    assert "B is at facility ELSEWHERE, which is not in the problem" in " ".join(
        result.output.split()
    )


def test_objectives_are_shown_in_full_with_thousands_separated() -> None:
    from medevac.planning.plan import figure

    # `.6g` showed 2.15949e+06 for both of these, which the checker tells apart (1e-6 relative)
    assert figure(2_159_491.44) == "2,159,491.44"
    assert figure(2_159_497.44) == "2,159,497.44"
    assert (figure(227.115), figure(26_079.0), figure(0.0), figure(-1e-9)) == (
        "227.115",
        "26,079",
        "0",
        "0",
    )


def test_a_manifest_giving_a_key_twice_is_a_one_line_error(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    manifest = problem_file.with_name(f"{problem_file.stem}.registry.json")
    manifest.write_text('{"quotas": [], "quotas": []}')
    result = runner.invoke(
        app, ["plan", "solve", str(problem_file), "--out", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 1
    assert f"{manifest}: quotas: is given more than once in its object" in " ".join(
        result.output.split()
    )


def test_a_file_that_is_not_json_is_named_once_in_its_error(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    solved_out = runner.invoke(app, ["plan", "solve", str(path), "--out", str(tmp_path / "p")])
    checked_out = runner.invoke(app, ["plan", "check", str(path)])
    for result in (solved_out, checked_out):
        assert result.exit_code == 1
        said = " ".join(result.output.split())
        assert "is not valid JSON" in said
        assert f"{path}: {path}" not in said  # it read "bad.json: 1 error(s) ...: bad.json: is"
