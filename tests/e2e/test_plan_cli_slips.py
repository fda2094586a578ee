"""Findings of the review of `medevac plan` on 2026-12-07, through the command line: Ctrl-C
while a command runs or loads, an approval interrupted, files that are not what their place
asks for (a partner's problem at `build --out`, a plan or a manifest given to `solve` as the
problem, a manifest of another build), a per-patient MIP that found no plan, files that may
not be read, and the small slips of paths and numbers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from benchmarks.generators.allocation_instances import generate_problem
from typer.testing import CliRunner

from medevac.cli import context, plan_commands, plan_registry_commands
from medevac.cli.main import app
from tests.e2e.conftest import invoke

pytestmark = pytest.mark.e2e


def said(expected: str, output: str) -> bool:
    """Whether ``output`` says ``expected``, whitespace aside (the console wraps long lines)."""
    return "".join(expected.split()) in "".join(output.split())


def built(cli: CliRunner, tmp_path: Path, name: str = "p.json", *args: str) -> Path:
    """A problem built from the demo's patients (its request closed) in tmp_path/``name``."""
    # the request is closed once (a second time is refused, and changes nothing)
    cli.invoke(app, ["requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally"])
    problem = tmp_path / name
    invoke(cli, "plan", "build", "--out", str(problem), *args)
    return problem


def solved(cli: CliRunner, problem: Path, out: Path) -> Path:
    invoke(cli, "plan", "solve", str(problem), "--out", str(out), "--time-limit", "5")
    return out


def live_plan_ids() -> list[str]:
    with context.unit_of_work() as uow:
        return [plan.id for plan in uow.plans.live()]


def environment(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "MEDEVAC_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "COLUMNS": "200",
    }


def medevac(*args: str) -> list[str]:
    return [sys.executable, "-m", "medevac.cli.main", *args]


def children(pid: int) -> list[str]:
    """The ids of the processes ``pid`` started (Linux's /proc), or [] where it cannot say."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)


def finished(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# 1. Ctrl-C


def test_ctrl_c_while_solving_is_one_line_with_exit_code_130_and_the_plan_at_out_kept(
    tmp_path: Path,
) -> None:
    # numba's kernels had wrapped the KeyboardInterrupt in a SystemError (traceback, exit 1),
    # and the MIP worker, interrupted while it loaded, printed a traceback of its own
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("no /proc/PID/task/TID/children to see the MIP worker start by")
    problem = tmp_path / "big.json"
    problem.write_text(json.dumps(generate_problem(1_000, 50)))
    keep = tmp_path / "keep.json"
    env = environment(tmp_path)
    greedy = medevac("plan", "solve", str(problem), "--out", str(keep), "--engine", "greedy")
    subprocess.run(greedy, env=env, check=True, capture_output=True)
    before = keep.read_bytes()
    command = medevac("plan", "solve", str(problem), "--out", str(keep), "--engine", "mip")
    process = subprocess.Popen(
        [*command, "--time-limit", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job has
    )
    # Ctrl-C at a terminal reaches the whole group: sent as the MIP worker starts, it finds
    # the planner in its solve and the worker loading its modules
    wait_for(lambda: any("mip_process" in command_line(c) for c in children(process.pid)), 60)
    time.sleep(0.1)  # past the interpreter's own start
    os.killpg(process.pid, signal.SIGINT)
    _, err = finished(process)
    assert process.returncode == 130, err
    assert err == f"interrupted: nothing written to {keep}\n"
    assert keep.read_bytes() == before


def test_ctrl_c_in_a_compiled_kernel_is_one_line_with_exit_code_130(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numba raises a SystemError with the KeyboardInterrupt as its cause: a traceback, exit 1
    problem = built(cli, tmp_path)
    keep = solved(cli, problem, tmp_path / "keep.json")
    before = keep.read_bytes()

    def kernel(*args: Any) -> Any:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as error:
            message = (
                "CPUDispatcher(<function price_units>) returned a result with an exception set"
            )
            raise SystemError(message) from error

    monkeypatch.setattr(plan_commands, "solve", kernel)
    result = cli.invoke(app, ["plan", "solve", str(problem), "--out", str(keep)])
    assert result.exit_code == 130
    assert result.stderr == f"interrupted: nothing written to {keep}\n"
    assert keep.read_bytes() == before
    # a command that says nothing of its own: one line all the same
    monkeypatch.setattr(plan_commands, "check_plan", kernel)
    checked = cli.invoke(app, ["plan", "check", str(problem), str(keep)])
    assert checked.exit_code == 130
    assert checked.stderr == "interrupted\n"


def test_ctrl_c_while_the_commands_load_is_one_line_with_exit_code_130(tmp_path: Path) -> None:
    # the modules take over half a second to load: Ctrl-C then had printed a traceback
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "medevac.cli.main", "plan", "show", "x.json"],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # each module's line as its loading ends
        if line.rsplit("|", 1)[-1].strip() == "typer":  # more than the database's are to come
            os.killpg(process.pid, signal.SIGINT)
            break
    _, err = finished(process)
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert lines == ["interrupted"]
    assert process.returncode == 130


# 2. Ctrl-C during `plan approve`


def interrupt(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize("when", ["before", "during", "after"])
def test_ctrl_c_during_plan_approve_says_whether_the_plan_was_approved(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    # it had exited with 130 saying nothing
    problem = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    earlier = live_plan_ids()
    if when == "before":  # while the files are read
        monkeypatch.setattr(plan_registry_commands, "plan_or_fail", interrupt)
    elif when == "during":  # the transaction may or may not have committed
        monkeypatch.setattr(plan_registry_commands.regulating, "approve", interrupt)
    else:  # committed, while its outcome is printed
        printed = plan_registry_commands.console.print

        def print_until_approved(*args: Any, **kwargs: Any) -> None:
            if str(args[0]).startswith("approved "):
                raise KeyboardInterrupt
            printed(*args, **kwargs)

        monkeypatch.setattr(plan_registry_commands.console, "print", print_until_approved)
    result = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert result.exit_code == 130
    now = live_plan_ids()
    if when == "before":
        assert result.stderr == "interrupted: nothing approved\n"
        assert now == earlier
    elif when == "during":
        assert result.stderr == (
            "interrupted: the plan may or may not have been approved (the interrupt came while "
            "the approval's transaction ran): `medevac plan approved` shows whether it is live\n"
        )
    else:
        [approved] = [plan_id for plan_id in now if plan_id not in earlier]
        assert result.stderr == (
            f"interrupted: the plan was approved as {approved} (the approval had committed); "
            "`medevac plan approved --details` lists its admissions\n"
        )


# 3. `plan build --out` onto a problem no build wrote


def test_plan_build_refuses_a_problem_without_its_manifest_at_out(
    cli: CliRunner, tmp_path: Path
) -> None:
    # a problem a partner sent, with no manifest: it had been replaced without a word
    problem = built(cli, tmp_path)
    partner = tmp_path / "partner.json"
    shutil.copy(problem, partner)
    before = partner.read_bytes()
    result = cli.invoke(app, ["plan", "build", "--out", str(partner)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --out {partner} holds a problem that no manifest beside it names "
        f"({tmp_path / 'partner.registry.json'} is missing, or was written for another "
        "problem): not an earlier build's, which alone is replaced; give another --out, or "
        "remove the file first\n"
    )
    assert partner.read_bytes() == before
    assert not (tmp_path / "partner.registry.json").exists()
    # beside the manifest of another build: refused as well
    other = built(cli, tmp_path, "other.json", "--horizon-days", "7")
    shutil.copy(tmp_path / "other.registry.json", tmp_path / "partner.registry.json")
    again = cli.invoke(app, ["plan", "build", "--out", str(partner)])
    assert again.exit_code == 1
    assert said(
        f"--out {partner} holds a problem other than the one the build that wrote "
        f"{tmp_path / 'partner.registry.json'} beside it wrote (edited since, or put there)",
        again.output,
    )
    assert partner.read_bytes() == before
    # an earlier build, its manifest beside it, is replaced
    invoke(cli, "plan", "build", "--out", str(other))


def test_plan_build_says_its_own_problem_was_edited_and_reads_a_manifest_with_a_bom(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem = built(cli, tmp_path)
    manifest = tmp_path / "p.registry.json"
    # a byte-order mark on the manifest, as some editors write one: still the build's (it had
    # been refused as "no manifest beside it names" it, which solve and approve accept)
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    invoke(cli, "plan", "build", "--out", str(problem))
    # edited by hand since: refused for what it is (the solve's refusal sends the user to build
    # again, and "no manifest names it" had sent the user round in a loop)
    document = json.loads(problem.read_text(encoding="utf-8"))
    document["patients"] = document["patients"][1:]
    problem.write_text(json.dumps(document), encoding="utf-8")
    before = problem.read_bytes()
    result = cli.invoke(app, ["plan", "build", "--out", str(problem)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --out {problem} holds a problem other than the one the build that wrote "
        f"{manifest} beside it wrote (edited since, or put there): it is not replaced unasked; "
        "remove it first (and its manifest), or give another --out\n"
    )
    assert problem.read_bytes() == before


def test_ctrl_c_while_a_refused_problem_s_plan_is_written_does_not_say_nothing_was(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the infeasible_input plan may already be in place: "nothing written" had been said
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json", encoding="utf-8")
    out = tmp_path / "out.json"
    monkeypatch.setattr(plan_commands, "_refused_plan_written", interrupt)
    result = cli.invoke(app, ["plan", "solve", str(bad), "--out", str(out)])
    assert result.exit_code == 130
    assert result.stderr == (
        f"interrupted: {out} holds either the refused problem's plan (infeasible_input) or "
        "what it held before\n"
    )


# 4. a plan or a manifest given to `plan solve` as the problem


@pytest.mark.parametrize("given", ["plan", "manifest"])
def test_plan_solve_refuses_a_plan_or_a_manifest_as_the_problem_and_writes_nothing(
    cli: CliRunner, tmp_path: Path, given: str
) -> None:
    # it had written a plan with status infeasible_input over the good plan at --out
    problem = built(cli, tmp_path)
    good = solved(cli, problem, tmp_path / "good.json")
    before = good.read_bytes()
    wrong = tmp_path / "p.registry.json"
    if given == "plan":
        wrong = solved(cli, problem, tmp_path / "other-plan.json")
        expected = (
            f"error: {wrong}: looks like a plan file, not a problem: were the problem and the "
            f"plan given the wrong way round?; nothing was written to {good}\n"
        )
    else:
        expected = (
            f"error: {wrong}: looks like the manifest of a build, not a problem: give the "
            f"problem file that `plan build` wrote with it ({problem}, beside it); nothing was "
            f"written to {good}\n"
        )
    result = cli.invoke(app, ["plan", "solve", str(wrong), "--out", str(good)])
    assert result.exit_code == 1
    assert result.stderr == expected
    assert good.read_bytes() == before


# 5. a per-patient MIP that found no plan in time


def test_plan_solve_says_when_the_per_patient_mip_found_no_plan_in_time(
    cli: CliRunner, tmp_path: Path
) -> None:
    # a plan placing nobody, exit 0 and no word of it
    problem = tmp_path / "big.json"
    problem.write_text(json.dumps(generate_problem(1_000, 50)))
    out = tmp_path / "plan.json"
    result = cli.invoke(
        app,
        [
            "plan",
            "solve",
            str(problem),
            "--out",
            str(out),
            "--engine",
            "mip",
            "--time-limit",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    assert (plan["status"], plan["assignments"]) == ("feasible", [])  # written, as it was
    assert said(
        "warning: the per-patient MIP found no plan within 0.1 s: nobody is placed; the exact "
        "engine (`--engine exact`) solves problems of this size",
        result.stderr,
    )


def test_plan_solve_gives_no_such_warning_where_the_mip_placed_patients(
    cli: CliRunner, tmp_path: Path
) -> None:
    problem = built(cli, tmp_path)
    out = tmp_path / "plan.json"
    text = invoke(cli, "plan", "solve", str(problem), "--out", str(out), "--engine", "mip")
    assert "found no plan" not in text
    assert json.loads(out.read_text())["assignments"]


# 6. files that may not be read


def unreadable_command() -> list[str]:
    """What runs a command where files of mode 000 may not be read: as it is for a user, and
    for root without the capabilities that pass over file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, with no setpriv to drop the capability to read any file")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_files_that_may_not_be_read_are_one_line_errors_with_exit_code_1(
    cli: CliRunner, tmp_path: Path
) -> None:
    # Typer's box said "is not readable", a usage error (exit 2)
    problem = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    locked = tmp_path / "locked"
    locked.mkdir()
    secret_problem, secret_plan = locked / "p.json", locked / "plan.json"
    shutil.copy(problem, secret_problem)
    shutil.copy(plan, secret_plan)
    settings = locked / "settings.json"
    settings.write_text("{}")
    for path in (secret_problem, secret_plan, settings):
        path.chmod(0)
    prefix = unreadable_command()
    env = os.environ | {"COLUMNS": "200"}  # the fixture's database
    cases = [
        (["plan", "solve", str(secret_problem), "--out", str(tmp_path / "o.json")], secret_problem),
        (["plan", "check", str(secret_problem)], secret_problem),
        (["plan", "check", str(problem), str(secret_plan)], secret_plan),
        (["plan", "show", str(secret_plan)], secret_plan),
        (["plan", "show", str(plan), "--problem", str(secret_problem)], secret_problem),
        (["plan", "explain", str(secret_problem), str(plan), "PT-0001"], secret_problem),
        (["plan", "explain", str(problem), str(secret_plan), "PT-0001"], secret_plan),
        (["plan", "approve", str(plan), "--problem", str(secret_problem)], secret_problem),
        (["plan", "approve", str(secret_plan), "--problem", str(problem)], secret_plan),
        (
            ["plan", "build", "--out", str(tmp_path / "b.json"), "--settings", str(settings)],
            settings,
        ),
    ]
    for args, named in cases:
        result = subprocess.run(
            [*prefix, *medevac(*args)], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 1, (args, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: {named}: cannot be read"), (args, line)
        assert "Permission denied" in line, (args, line)
    assert not (tmp_path / "o.json").exists()
    assert not (tmp_path / "b.json").exists()


# 7. `plan show --problem` beside a manifest it cannot use


@pytest.mark.parametrize("fault", ["another build", "not JSON"])
def test_plan_show_warns_of_a_manifest_it_cannot_use_and_shows_the_plan(
    cli: CliRunner, tmp_path: Path, fault: str
) -> None:
    # the line with the date of day 0 had gone missing without a word
    problem = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    manifest = tmp_path / "p.registry.json"
    if fault == "another build":
        built(cli, tmp_path, "other.json", "--horizon-days", "7")
        shutil.copy(tmp_path / "other.registry.json", manifest)
        why = (
            f"{manifest} was written for another problem than {problem} (edited since `plan "
            "build` wrote it, or the manifest of another build)"
        )
    else:
        manifest.write_text("{")
        why = f"{manifest}: is not valid JSON ("
    result = cli.invoke(app, ["plan", "show", str(plan), "--problem", str(problem)])
    assert result.exit_code == 0, result.output
    assert said("placed", result.stdout)
    assert "day 0 is" not in result.stdout
    assert result.stderr.startswith(f"warning: {why}")
    assert result.stderr.endswith(
        "; day 0's date and the approved places the problem does not carry are not shown\n"
    )
    assert len(result.stderr.splitlines()) == 1


# 8. `plan approve` beside the manifest of another problem


def test_plan_approve_names_a_manifest_written_for_another_problem_as_solve_does(
    cli: CliRunner, tmp_path: Path
) -> None:
    # it had said the problem "was changed after `medevac plan build` wrote it"
    problem = built(cli, tmp_path, "a.json")
    plan = solved(cli, problem, tmp_path / "plan.json")
    built(cli, tmp_path, "b.json", "--horizon-days", "7")
    manifest = tmp_path / "a.registry.json"
    shutil.copy(tmp_path / "b.registry.json", manifest)
    result = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(problem)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {manifest} was written for another problem than {problem} (edited since "
        "`plan build` wrote it, or the manifest of another build): build the problem again\n"
    )
    solve = cli.invoke(app, ["plan", "solve", str(problem), "--out", str(tmp_path / "o.json")])
    assert said(f"{manifest} was written for another problem than {problem}", solve.output)


# 9. --time-limit nan


def test_a_time_limit_that_is_not_a_number_is_called_so(cli: CliRunner, tmp_path: Path) -> None:
    # "Input should be less than or equal to 86400"
    problem = tmp_path / "p.json"
    for text in ("nan", "NaN", "soon"):
        result = cli.invoke(
            app, ["plan", "solve", str(problem), "--out", "o.json", "--time-limit", text]
        )
        assert result.exit_code == 2
        assert said(f"'{text}' is not a number", result.output)
        assert "less than" not in result.output
    # the range holds as before
    for text, bound in (("0.05", "greater than or equal to 0.1"), ("inf", "less than or equal to")):
        result = cli.invoke(
            app, ["plan", "solve", str(problem), "--out", "o.json", "--time-limit", text]
        )
        assert result.exit_code == 2
        assert said(f"Input should be {bound}", result.output)


def test_deploy_s_time_limit_that_is_not_a_number_is_called_so_too(
    cli: CliRunner, tmp_path: Path
) -> None:
    # it had said "Input should be less than or equal to 86400" as plan solve had
    out = tmp_path / "d.json"
    result = cli.invoke(
        app, ["deploy", "deployment-example", "--out", str(out), "--time-limit", "nan"]
    )
    assert result.exit_code == 2
    assert said("'nan' is not a number", result.output)
    assert not out.exists()


# 10. small slips of paths


def test_the_hint_after_plan_build_quotes_a_path_with_a_space(
    cli: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "two words"
    folder.mkdir()
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    text = invoke(cli, "plan", "build", "--out", str(folder / "p.json"))
    assert (
        f"next: medevac plan solve '{folder / 'p.json'}' --out '{folder / 'p-plan.json'}'" in text
    )


def test_a_missing_plan_file_is_named_once(cli: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = cli.invoke(app, ["plan", "show", str(missing)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {missing}: no such file\n"


@pytest.mark.parametrize("command", ["solve", "build"])
def test_an_out_ending_with_a_slash_is_not_a_file_name(
    cli: CliRunner, tmp_path: Path, command: str
) -> None:
    # `--out x.json/` had written x.json
    problem = built(cli, tmp_path)
    out = f"{tmp_path / 'x.json'}/"
    args = ["plan", "solve", str(problem)] if command == "solve" else ["plan", "build"]
    result = cli.invoke(app, [*args, "--out", out])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --out '{out}' is not a file name (it ends with '/'): name the file to write\n"
    )
    assert not (tmp_path / "x.json").exists()
    assert not (tmp_path / "x.registry.json").exists()


def test_a_per_patient_mip_whose_worker_ended_early_is_not_said_to_have_run_out_of_time(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the warning said "found no plan within 30 s" of a worker that had died after a moment
    from medevac.planning import patient_mip
    from medevac.planning.highs_model import SolveResult
    from medevac.planning.mip_process import MipOutcome

    def ended(*args: Any, **kwargs: Any) -> MipOutcome:
        return MipOutcome(SolveResult(False, None, float("inf"), float("-inf"), None), True, 0.1)

    monkeypatch.setattr(patient_mip, "solve_mip", ended)
    problem = built(cli, tmp_path)
    out = tmp_path / "plan.json"
    args = ["plan", "solve", str(problem), "--out", str(out), "--engine", "mip"]
    result = cli.invoke(app, [*args, "--time-limit", "30"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["assignments"] == []
    assert "within 30 s" not in result.stderr
    assert said("warning: the per-patient MIP found no plan and stopped after", result.stderr)
    assert said(
        "s, before its 30-s limit (its solver process ended or failed): nobody is placed",
        result.stderr,
    )


def test_the_hint_after_plan_build_gives_a_path_beginning_with_a_dash_as_a_path(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "medevac plan solve -p.json --out plan.json" reads -p.json as an option
    monkeypatch.chdir(tmp_path)
    invoke(cli, "requests", "close", "REQ-DEMO-001", "--reason", "regulate centrally")
    text = invoke(cli, "plan", "build", "--out", "-p.json")
    assert "next: medevac plan solve ./-p.json --out ./-p-plan.json" in text
    # the hint works as it is written
    invoke(cli, "plan", "solve", "./-p.json", "--out", "./-p-plan.json", "--engine", "greedy")
    assert (tmp_path / "-p-plan.json").exists()
    assert json.loads((tmp_path / "-p-plan.json").read_text())["assignments"]


def test_plan_approve_given_the_manifest_as_the_problem_says_so(
    cli: CliRunner, tmp_path: Path
) -> None:
    # it said "p.registry.registry.json is missing", a file nobody named
    problem = built(cli, tmp_path)
    plan = solved(cli, problem, tmp_path / "plan.json")
    manifest = tmp_path / "p.registry.json"
    result = cli.invoke(app, ["plan", "approve", str(plan), "--problem", str(manifest)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {manifest}: looks like the manifest of a build, not a problem: give the "
        f"problem file that `plan build` wrote with it ({problem}, beside it)\n"
    )
