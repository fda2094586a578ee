"""`medevac plan build / solve / check / approve` on the registry, with the files they read and
write: no file lost or left half-written, the manifest's rules checked wherever they bind, and
a wrong file named as what it is."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from medevac.cli.main import app
from medevac.config import get_settings
from tests.e2e.conftest import invoke
from tests.e2e.test_cli import academy_agreement_ends
from tests.manifest_edits import resealed_text

pytestmark = pytest.mark.e2e


def said(expected: str, output: str) -> bool:
    """Whether ``output`` says ``expected``, whitespace aside: the console wraps long lines,
    and temporary paths are long (it may break one)."""
    return "".join(expected.split()) in "".join(output.split())


def built(cli: CliRunner, tmp_path: Path) -> tuple[Path, Path]:
    """The demo's request closed and a problem built from its patients in tmp_path/p.json:
    the problem and its manifest."""
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    problem = tmp_path / "p.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    return problem, tmp_path / "p.registry.json"


def solved(cli: CliRunner, problem: Path, out: Path) -> Path:
    """``problem`` solved into ``out``, which it returns."""
    invoke(cli, "plan", "solve", str(problem), "--out", str(out), "--time-limit", "5")
    return out


def test_plan_build_writes_neither_file_when_the_manifest_cannot_be_written(
    cli: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "out"  # tmp_path holds the database
    (folder / "p.registry.json").mkdir(parents=True)  # where the manifest belongs
    result = cli.invoke(app, ["plan", "build", "--out", str(folder / "p.json")])
    assert result.exit_code == 1
    assert said(f"cannot write {folder / 'p.registry.json'}: Is a directory", result.output)
    assert "Traceback" not in result.output
    assert os.listdir(folder) == ["p.registry.json"]  # no problem without its manifest


def test_plan_build_of_one_day_says_day(cli: CliRunner, tmp_path: Path) -> None:
    out = invoke(cli, "plan", "build", "--out", str(tmp_path / "p.json"), "--horizon-days", "1")
    assert said("facilities, 1 day from day 0 = ", out)


def test_plan_build_replaces_an_earlier_build_but_no_other_file(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    invoke(cli, "plan", "build", "--out", str(out))
    invoke(cli, "plan", "build", "--out", str(out))  # an earlier build is replaced
    notes = tmp_path / "notes.json"
    notes.write_text("who flies on Tuesday\n")
    result = cli.invoke(app, ["plan", "build", "--out", str(notes)])
    assert result.exit_code == 1
    assert said(
        f"error: --out {notes} holds something that is not a JSON object, not a problem",
        result.output,
    )
    assert notes.read_text() == "who flies on Tuesday\n"
    assert not (tmp_path / "notes.registry.json").exists()
    # the manifest's place holding a plan (a slip when naming a plan): kept, nothing written
    other = tmp_path / "q.json"
    (tmp_path / "q.registry.json").write_text((tmp_path / "p.json").read_text())
    result = cli.invoke(app, ["plan", "build", "--out", str(other)])
    assert result.exit_code == 1
    assert said(
        "q.registry.json, the manifest's place, holds a problem, not a manifest", result.output
    )
    assert not other.exists()


def test_plan_build_replaces_a_manifest_written_before_manifests_had_a_digest(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    invoke(cli, "plan", "build", "--out", str(out))
    manifest = tmp_path / "p.registry.json"
    older = json.loads(manifest.read_text())
    del older["problem_sha256"]
    manifest.write_text(json.dumps(older))
    invoke(cli, "plan", "build", "--out", str(out))  # it was refused as "other JSON"
    assert "problem_sha256" in json.loads(manifest.read_text())


def test_plan_explain_and_show_give_the_date_of_day_0_of_a_built_problem(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, plan = tmp_path / "p.json", tmp_path / "s.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    invoke(cli, "plan", "solve", str(problem), "--out", str(plan), "--time-limit", "10")
    patient = json.loads(problem.read_text())["patients"][0]["id"]
    out = invoke(cli, "plan", "explain", str(problem), str(plan), patient)
    built = datetime.fromisoformat(
        json.loads((tmp_path / "p.registry.json").read_text())["built_at"]
    )
    assert said(f"day 0 is {built.date()} ({tmp_path / 'p.registry.json'})", out)
    shown = invoke(cli, "plan", "show", str(plan), "--problem", str(problem))
    assert said(f"day 0 is {built.date()}", shown)
    explained = json.loads(
        invoke(cli, "plan", "explain", "--json", str(problem), str(plan), patient)
    )
    assert explained["day_0"] == built.date().isoformat()
    # a problem edited since its build: its manifest's day 0 is not said to be the problem's
    edited = json.loads(problem.read_text())
    edited["horizon_days"] = 13
    for entry in edited["facilities"]:
        entry["beds"] = {k: v[:13] if isinstance(v, list) else v for k, v in entry["beds"].items()}
    problem.write_text(json.dumps(edited))
    assert "day 0 is" not in invoke(cli, "plan", "show", str(plan), "--problem", str(problem))
    (tmp_path / "p.registry.json").unlink()  # a problem of no build: days alone
    assert "day 0 is" not in invoke(cli, "plan", "explain", str(problem), str(plan), patient)
    alone = invoke(cli, "plan", "explain", "--json", str(problem), str(plan), patient)
    assert json.loads(alone)["day_0"] is None


def test_plan_build_names_day_0_in_the_cells_time_zone(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # UTC+14: from 10:00 UTC its date is a day ahead of UTC's; before, the same day (no
    # zone at UTC-12 is inhabited, so the other side is checked at UTC-11 in the services)
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Pacific/Kiritimati")
    get_settings.cache_clear()
    out = invoke(cli, "plan", "build", "--out", str(tmp_path / "p.json"))
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert said(f"from day 0 = {today} (Pacific/Kiritimati)", out)
    manifest = json.loads((tmp_path / "p.registry.json").read_text())
    assert datetime.fromisoformat(manifest["built_at"]).utcoffset() == timedelta(hours=14)


def test_plan_solve_refuses_to_write_over_the_manifest_plan_build_wrote(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, manifest = built(cli, tmp_path)
    before = manifest.read_bytes()
    result = cli.invoke(app, ["plan", "solve", str(problem), "--out", str(manifest)])
    assert result.exit_code == 1
    assert said(f"--out {manifest} is the manifest file {manifest}", result.output)
    assert manifest.read_bytes() == before  # had held the plan, and the problem no manifest


def test_plan_solve_of_a_mistyped_problem_keeps_the_plan_at_out(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, _ = built(cli, tmp_path)
    keep = solved(cli, problem, tmp_path / "keep.json")
    before = keep.read_bytes()
    typo = tmp_path / "typo.json"
    result = cli.invoke(app, ["plan", "solve", str(typo), "--out", str(keep)])
    assert result.exit_code == 1
    assert said(f"{typo}: cannot be read (No such file or directory)", result.output)
    assert said(f"nothing was written to {keep}", result.output)
    assert keep.read_bytes() == before


def test_plan_check_keeps_to_the_acceptance_ends_of_the_manifest_as_approve_does(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the academy takes the ministry's patients until day 1; solved without the manifest, a
    # plan admits some there later, which `plan approve` refuses: `plan check` refuses it too
    academy_agreement_ends(cli, 1)
    problem, manifest = tmp_path / "p.json", tmp_path / "p.registry.json"
    invoke(cli, "plan", "build", "--out", str(problem))
    alone = tmp_path / "alone" / "p.json"
    alone.parent.mkdir()
    alone.write_text(problem.read_text())
    unkept = solved(cli, alone, tmp_path / "unkept.json")
    assert any(a["day"] > 1 for a in json.loads(unkept.read_text())["assignments"])
    refused = cli.invoke(app, ["plan", "check", str(problem), str(unkept)])
    assert refused.exit_code == 1
    text = refused.output
    assert said(f"acceptance ends: 1 from {manifest}: FAC-LODZ-MMA admits ORG-ORIGIN-MOH", text)
    assert said(f"rule(s) broken for {problem} and its manifest {manifest}", text)
    approve = cli.invoke(app, ["plan", "approve", str(unkept), "--problem", str(problem)])
    assert approve.exit_code == 1
    assert "after the agreements they come under end" in " ".join(approve.output.split())
    # the plan solved beside the manifest passes both
    kept = solved(cli, problem, tmp_path / "kept.json")
    checked = invoke(cli, "plan", "check", str(problem), str(kept))
    assert said(f"{kept}: feasible for {problem} and its manifest {manifest}", checked)
    assert "admissions planned" in invoke(
        cli, "plan", "approve", str(kept), "--problem", str(problem)
    )


def test_plan_approve_names_a_missing_problem_and_files_given_the_wrong_way_round(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, _ = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    nope = tmp_path / "nope.json"
    missing = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(nope)])
    assert missing.exit_code == 1
    assert said(f"error: {nope}: no such file; give the problem JSON", missing.output)
    assert "registry.json" not in missing.output  # its manifest is missing as a consequence
    swapped = cli.invoke(app, ["plan", "approve", str(problem), "--problem", str(plan)])
    assert swapped.exit_code == 1
    assert said(
        f"error: {plan}: looks like a plan file, not a problem: were the problem and the plan "
        "given the wrong way round?",
        swapped.output,
    )
    twice = cli.invoke(app, ["plan", "approve", str(problem), "--problem", str(problem)])
    assert twice.exit_code == 1
    assert said(f"error: {problem}: looks like a problem file, not a plan", twice.output)


def test_plan_approve_of_a_plan_of_a_refused_problem_names_its_status_once(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, _ = built(cli, tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"patients": 1}))
    refused = tmp_path / "refused.json"
    assert cli.invoke(app, ["plan", "solve", str(broken), "--out", str(refused)]).exit_code == 1
    result = cli.invoke(app, ["plan", "approve", str(refused), "--problem", str(problem)])
    assert result.exit_code == 1
    assert "neither assigned nor listed" not in result.output  # one per patient, before
    assert said(
        f"error: {refused}: status infeasible_input: the plan of a problem `plan solve` "
        "refused (input refused: horizon_days: is missing;",
        result.output,
    )


def test_plan_approve_names_the_file_of_a_plan_that_does_not_fit_or_a_manifest_without_time(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem, manifest = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    cut = json.loads(plan.read_text())
    first = cut["assignments"].pop(0)["patient"]  # its figures still agree: only the checker sees
    short = tmp_path / "short.json"
    short.write_text(json.dumps(cut))
    result = cli.invoke(app, ["plan", "approve", str(short), "--problem", str(problem)])
    assert result.exit_code == 1
    assert said(
        f"error: {short}: it does not fit its problem: patient '{first}' is neither assigned "
        "nor listed as unplaced",
        result.output,
    )
    written = json.loads(manifest.read_text())
    del written["built_at"]
    manifest.write_text(json.dumps(written))
    result = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert result.exit_code == 1
    assert said(f"error: {manifest}: was changed after `medevac plan build` wrote", result.output)
    manifest.write_text(resealed_text(written))  # edited, its digest made anew
    result = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert result.exit_code == 1
    assert said(f"error: {manifest}: has no valid 'built_at' time", result.output)


def test_a_manifest_of_another_problem_is_not_applied_by_solve_check_or_explain(
    cli: CliRunner, tmp_path: Path
) -> None:
    # a problem edited by hand after the build (beds added): its manifest's quotas, ends and
    # admissions due were applied to it silently; only the approval compared the digest
    problem, manifest = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    data = json.loads(problem.read_text())
    data["facilities"][0]["daily_admission_limit"] = 99
    problem.write_text(json.dumps(data))
    for args in (
        ["plan", "solve", str(problem), "--out", str(tmp_path / "other.json")],
        ["plan", "check", str(problem), str(plan)],
        ["plan", "explain", str(problem), str(plan), data["patients"][0]["id"]],
    ):
        result = cli.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert said(f"{manifest} was written for another problem than {problem}", result.output)
    assert not (tmp_path / "other.json").exists()


def test_a_problem_with_a_byte_order_mark_is_read_beside_its_manifest(
    cli: CliRunner, tmp_path: Path
) -> None:
    # the loader took it alone, and the manifest's digest check refused it as not JSON
    problem, manifest = built(cli, tmp_path)
    problem.write_text("\ufeff" + problem.read_text(encoding="utf-8"), encoding="utf-8")
    checked = cli.invoke(app, ["plan", "check", str(problem)])
    assert checked.exit_code == 0, checked.output
    assert said(f"its manifest {manifest} fits it", checked.output)


def test_a_refused_problem_whose_file_name_is_not_utf8_is_no_traceback(tmp_path: Path) -> None:
    # the refusal quotes the name; writing it into the refused plan raised UnicodeEncodeError
    import subprocess
    import sys

    name = os.fsdecode(b"bad\xff.json")
    (tmp_path / name).write_text("{")
    result = subprocess.run(
        [sys.executable, "-m", "medevac.cli.main", "plan", "solve", name, "--out", "out.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert "is not valid JSON" in result.stderr
