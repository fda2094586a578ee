"""`medevac plan solve / check / show` and `write_plan` with the files they read and write:
a mistyped or wrong path loses no file, and a file is written whole or not at all."""

from __future__ import annotations

import errno
import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from medevac.cli import plan_commands
from medevac.planning import Plan
from tests.fresh_python import run_python
from tests.manifest_edits import manifest_of, resealed_text
from tests.unit.planning.builders import facility, patient, problem_dict

runner = CliRunner()


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    data = problem_dict(
        [
            facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 2}),
            facility("FAR", 50.0, 10.0, beds={"orthopaedics": 2}),
        ],
        [patient("A", organisation="ORG-A"), patient("B", organisation="ORG-A")],
    )
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    return path


def solve(app: typer.Typer, problem: Path, out: Path) -> Any:
    """`plan solve` of ``problem`` into ``out`` (with a short time limit): the result."""
    return runner.invoke(
        app, ["plan", "solve", str(problem), "--out", str(out), "--time-limit", "5"]
    )


def said(expected: str, output: str) -> bool:
    """Whether ``output`` says ``expected``, whitespace aside: the console wraps long lines,
    and temporary paths are long (it may break one)."""
    return "".join(expected.split()) in "".join(output.split())


def a_plan(app: typer.Typer, problem_file: Path, tmp_path: Path) -> Path:
    """A feasible plan of ``problem_file`` in tmp_path/plan.json, which it returns."""
    out = tmp_path / "plan.json"
    result = solve(app, problem_file, out)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("given", ["typo.json", "folder"])
def test_solving_a_problem_file_that_cannot_be_read_writes_nothing(
    app: typer.Typer, problem_file: Path, tmp_path: Path, given: str
) -> None:
    kept = a_plan(app, problem_file, tmp_path)
    before = kept.read_bytes()
    (tmp_path / "folder").mkdir()
    missing = tmp_path / given
    result = solve(app, missing, kept)
    assert result.exit_code == 1
    text = result.output
    assert said(f"{missing}: cannot be read", text)
    assert said(f"nothing was written to {kept}", text)
    assert kept.read_bytes() == before  # had become an infeasible_input plan


def test_a_refused_problem_writes_its_infeasible_input_plan_over_a_plan(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"patients": 1}))
    plan = a_plan(app, problem_file, tmp_path)
    result = solve(app, bad, plan)
    assert result.exit_code == 1
    assert said(f"{bad}: 5 error(s) in problem: horizon_days: is missing", result.output)
    # an earlier plan is replaced: nobody is to use it for the refused problem
    assert said(f"the plan written to {plan} says so (status infeasible_input)", result.output)
    refused = json.loads(plan.read_text())
    assert refused["status"] == "infeasible_input"
    assert "horizon_days: is missing" in refused["solver"]


@pytest.mark.parametrize(
    ("content", "held"),
    [
        ("notes of the cell\n", "something that is not a JSON object"),
        ('{"patient": "P1", "note": "cannot fly"}', "other JSON"),
        ("[1, 2]", "something that is not a JSON object"),
        (b"\x89PNG\r\n\x1a\n", "something that is not a JSON object"),
    ],
)
def test_solve_refuses_an_out_that_holds_a_file_other_than_a_plan(
    app: typer.Typer, problem_file: Path, tmp_path: Path, content: str | bytes, held: str
) -> None:
    # --out mistyped (notes.txt for plan.json): the notes are kept, the problem is not solved
    other = tmp_path / "other.txt"
    data = content.encode() if isinstance(content, str) else content
    other.write_bytes(data)
    result = solve(app, problem_file, other)
    assert result.exit_code == 1
    assert said(
        f"--out {other} holds {held}, not a plan: the plan would overwrite it", result.output
    )
    assert other.read_bytes() == data
    # likewise when the problem is refused: no infeasible_input plan over the notes
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"patients": 1}))
    assert said(f"--out {other} holds {held}", solve(app, bad, other).output)
    assert other.read_bytes() == data


def test_solve_writes_over_an_empty_file(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    out.write_text("\n")  # made ready by `touch` or an editor
    assert solve(app, problem_file, out).exit_code == 0
    assert json.loads(out.read_text())["status"] == "optimal"


@pytest.mark.parametrize("target", ["problem", "manifest", "problem spelt otherwise", "link"])
def test_solve_refuses_an_out_that_is_its_problem_or_its_manifest(
    app: typer.Typer, problem_file: Path, tmp_path: Path, target: str
) -> None:
    manifest = tmp_path / "problem.registry.json"
    manifest.write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.json").symlink_to(problem_file)
    out = {
        "problem": problem_file,
        "manifest": manifest,
        "problem spelt otherwise": tmp_path / "sub" / ".." / "problem.json",
        "link": tmp_path / "link.json",
    }[target]
    before = (problem_file.read_bytes(), manifest.read_bytes())
    result = solve(app, problem_file, out)
    assert result.exit_code == 1
    what = "manifest" if target == "manifest" else "problem"
    assert said(f"--out {out} is the {what} file", result.output)
    assert said("the plan would overwrite it; give another --out", result.output)
    assert (problem_file.read_bytes(), manifest.read_bytes()) == before


@pytest.mark.parametrize("where", ["a folder", "a missing folder"])
def test_solve_checks_that_out_can_be_written_before_it_solves(
    app: typer.Typer,
    problem_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    solved: list[object] = []

    def counted_solve(*args: Any) -> Plan:
        solved.append(args)
        raise AssertionError("solved before --out was checked")

    monkeypatch.setattr(plan_commands, "solve", counted_solve)
    out = tmp_path if where == "a folder" else tmp_path / "missing" / "plan.json"
    result = solve(app, problem_file, out)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a one-line error, not the assertion
    text = result.output
    assert said(f"{out}: cannot be written (", text)
    assert said("nothing was solved", text)
    assert solved == []


def test_check_keeps_to_the_quotas_of_the_manifest_beside_the_problem(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    plan = a_plan(app, problem_file, tmp_path)  # solved before the manifest came: A and B placed
    assert len(json.loads(plan.read_text())["assignments"]) == 2
    manifest = tmp_path / "problem.registry.json"
    quota = {
        "id": "AGR-1",
        "room": 1,
        "organisations": ["ORG-A"],
        "facilities": ["NEAR", "FAR"],
        "specialties": None,
    }
    manifest.write_text(manifest_of(problem_file, quotas=[quota]))
    result = runner.invoke(app, ["plan", "check", str(problem_file), str(plan)])
    assert result.exit_code == 1
    text = result.output
    assert said(f"quotas: 1 agreement quota(s) from {manifest}: AGR-1 (room 1)", text)
    assert said(f"{plan}: quota AGR-1: 2 patients placed under it, room 1", text)
    assert said(f"rule(s) broken for {problem_file} and its manifest {manifest}", text)
    # the plan `plan solve` writes beside the manifest keeps to it
    again = a_plan(app, problem_file, tmp_path)
    result = runner.invoke(app, ["plan", "check", str(problem_file), str(again)])
    assert result.exit_code == 0, result.output
    assert said(f"feasible for {problem_file} and its manifest {manifest}", result.output)
    alone = runner.invoke(app, ["plan", "check", str(problem_file)])
    assert alone.exit_code == 0, alone.output
    assert said(f"its manifest {manifest} fits it", alone.output)


def test_check_refuses_a_manifest_that_does_not_fit_the_problem(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "problem.registry.json"
    ends = [{"facility": "ELSEWHERE", "organisation": "ORG-A", "last_day": 1}]
    manifest.write_text(manifest_of(problem_file, acceptance_ends=ends))
    result = runner.invoke(app, ["plan", "check", str(problem_file)])
    assert result.exit_code == 1
    assert said(f"{manifest}: ", result.output)
    assert said("the manifest does not fit", result.output)


@pytest.mark.parametrize("command", ["check", "explain"])
def test_a_plan_and_a_problem_given_the_wrong_way_round_are_named_so(
    app: typer.Typer, problem_file: Path, tmp_path: Path, command: str
) -> None:
    plan = a_plan(app, problem_file, tmp_path)
    arguments = ["plan", command, str(plan), str(problem_file)]
    result = runner.invoke(app, [*arguments, "A"] if command == "explain" else arguments)
    assert result.exit_code == 1
    assert said(
        f"{plan}: looks like a plan file, not a problem: were the problem and the plan given "
        "the wrong way round?",
        result.output,
    )
    shown = runner.invoke(app, ["plan", "show", str(problem_file)])
    assert shown.exit_code == 1
    assert said(f"{problem_file}: looks like a problem file, not a plan", shown.output)


def test_check_names_the_status_of_a_plan_of_a_refused_problem_once(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"patients": 1}))
    refused = tmp_path / "refused.json"
    assert solve(app, bad, refused).exit_code == 1
    result = runner.invoke(app, ["plan", "check", str(problem_file), str(refused)])
    assert result.exit_code == 1
    assert "neither assigned nor listed" not in result.output  # one line per patient, before
    assert said(
        f"{refused}: status infeasible_input: the plan of a problem `plan solve` refused",
        result.output,
    )


def test_the_summary_lists_precedences_by_weight_then_deadline_then_as_the_problem_does(
    app: typer.Typer, tmp_path: Path
) -> None:
    precedences = {
        "later": {"weight": 1, "deadline_day": 1},  # the same as "first"; listed after it
        "convenience": {"weight": 1, "deadline_day": 4},
        "routine": {"weight": 1, "deadline_day": 3},
        "first": {"weight": 1, "deadline_day": 1},
        "priority": {"weight": 10, "deadline_day": 2},
    }
    data = problem_dict(
        [facility("F", 50.0, 30.0, beds={"orthopaedics": 5})],
        [  # the first patients are of the least urgent precedences
            patient(name, precedence=name)
            for name in ("convenience", "routine", "later", "first", "priority")
        ],
        precedences=precedences,
    )
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    result = solve(app, path, tmp_path / "plan.json")
    assert result.exit_code == 0, result.output
    rows = [line.split()[2] for line in result.output.splitlines() if "  placed " in line]
    assert rows == ["priority", "later", "first", "routine", "convenience"]


BIG_PLAN = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from medevac.planning import Assignment, Breakdown, Plan, PlanStatus, write_plan

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    placed = tuple(Assignment(f"PATIENT-{k:05d}", "FACILITY", 0) for k in range(500))
    plan = Plan(PlanStatus.FEASIBLE, 0.0, 0.0, 0.0, "test", 0.0, Breakdown(), placed, ())
    try:
        write_plan(plan, Path(sys.argv[1]))
    except OSError as error:
        print(f"refused: {error.filename}: {error.strerror}")
    """
)


def test_a_plan_is_written_whole_or_not_at_all(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    plan = a_plan(app, problem_file, tmp_path)
    before = plan.read_text()
    # too large for the file size allowed: the write fails part way, as on a full disk
    result = run_python(BIG_PLAN, str(plan))
    assert result.stdout.startswith(f"refused: {plan}: File too large"), result.stdout
    assert plan.read_text() == before  # had been cut short at 4,096 bytes
    assert sorted(os.listdir(tmp_path)) == ["plan.json", "problem.json"]  # no temporary file


PROBLEM_AND_BIG_MANIFEST = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from medevac.planning.plan import write_documents

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    problem, manifest = Path(sys.argv[1]), Path(sys.argv[2])
    big = {"patients": {f"PATIENT-{k:05d}": 1 for k in range(500)}}
    try:
        write_documents([(problem, {"horizon_days": 2}), (manifest, big)])
    except OSError as error:
        print(f"refused: {error.filename}: {error.strerror}")
    """
)


def test_a_problem_and_its_manifest_are_written_both_or_neither(tmp_path: Path) -> None:
    problem, manifest = tmp_path / "p.json", tmp_path / "p.registry.json"
    problem.write_text('{"horizon_days": 1}\n')
    manifest.write_text('{"patients": {}}\n')
    # the manifest fails part way, after the new problem was written in full beside its path
    result = run_python(PROBLEM_AND_BIG_MANIFEST, str(problem), str(manifest))
    assert result.stdout.startswith(f"refused: {manifest}: File too large"), result.stdout
    assert problem.read_text() == '{"horizon_days": 1}\n'  # not a new problem beside the old
    assert manifest.read_text() == '{"patients": {}}\n'
    assert sorted(os.listdir(tmp_path)) == ["p.json", "p.registry.json"]


def test_documents_and_their_folders_are_synced_to_the_disk_before_the_write_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a power cut just after `plan build` or `plan solve` said "wrote" could have left the old
    # files, or empty new ones (renamed before their data reached the disk)
    from medevac.planning import plan as plan_module

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(handle: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{handle}"))
        real_fsync(handle)

    monkeypatch.setattr(plan_module.os, "fsync", fsync)
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir()
    two.mkdir()
    plan_module.write_documents([(one / "p.json", {"x": 1}), (two / "p.registry.json", {"y": 2})])
    files = [Path(name) for name in synced[:2]]
    assert [f.parent for f in files] == [one, two]  # the temporary files, before their renames
    assert all(f.name.endswith(".tmp") for f in files)
    assert sorted(synced[2:]) == [str(one), str(two)]  # then the folders, after them
    assert json.loads((two / "p.registry.json").read_text()) == {"y": 2}


def test_a_plan_written_to_a_symbolic_link_replaces_the_file_it_links_to(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "plan.json").write_text('{"status": "optimal", "assignments": []}')  # a plan before
    link = tmp_path / "plan.json"
    link.symlink_to(shared / "plan.json")
    result = solve(app, problem_file, link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink()  # as when the plan was written in place
    assert json.loads((shared / "plan.json").read_text())["status"] == "optimal"
    assert os.listdir(shared) == ["plan.json"]


def test_a_plan_written_over_a_file_keeps_its_permissions(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    # patient data: a 0600 plan had come back 0644 (the umask's) after a re-solve
    out = a_plan(app, problem_file, tmp_path)
    out.chmod(0o600)
    assert solve(app, problem_file, out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_plan_written_to_a_pipe_is_written_into_it_not_over_it(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    # a rename had put a regular file where the pipe (or /dev/stdout, a device) was
    import threading

    pipe = tmp_path / "plan.fifo"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    result = solve(app, problem_file, pipe)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert json.loads(received[0])["status"] == "optimal"
    assert not pipe.is_file()
    assert sorted(os.listdir(tmp_path)) == ["plan.fifo", "problem.json"]


def test_solve_refuses_an_out_that_holds_another_problem(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    # a slip of the keyboard (p2.json for plan2.json) replaced another problem with the plan
    other = tmp_path / "other-problem.json"
    other.write_text(problem_file.read_text())
    result = solve(app, problem_file, other)
    assert result.exit_code == 1
    assert said(f"--out {other} holds a problem, not a plan", result.output)
    assert other.read_text() == problem_file.read_text()
    plan = a_plan(app, problem_file, tmp_path)
    assert solve(app, problem_file, plan).exit_code == 0  # a plan is replaced, as before


def test_check_and_solve_warn_of_likely_slips_and_go_on(app: typer.Typer, tmp_path: Path) -> None:
    beds = {"orthopaedics": 1, "orthopedics": 5}  # the five beds meant for orthopaedics
    data = problem_dict([facility("F1", 50.0, 30.0, beds=beds)], [patient("P1"), patient("P2")])
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(data))
    warning = f'warning: {problem}: facilities[0].beds: "orthopedics" is not a known specialty'
    checked = runner.invoke(app, ["plan", "check", str(problem)])
    assert checked.exit_code == 0, checked.output
    assert said(warning, checked.output)
    assert said(f"{problem}: a valid problem: 2 patients", checked.output)
    solved = solve(app, problem, tmp_path / "plan.json")
    assert solved.exit_code == 0, solved.output
    assert said(warning, solved.output)
    assert json.loads((tmp_path / "plan.json").read_text())["status"] == "optimal"


def test_a_refused_problem_writes_its_plan_over_an_empty_file(
    app: typer.Typer, tmp_path: Path
) -> None:
    bad, out = tmp_path / "bad.json", tmp_path / "plan.json"
    bad.write_text(json.dumps({"patients": 1}))
    out.write_text("")
    result = solve(app, bad, out)
    assert result.exit_code == 1
    assert said(f"the plan written to {out} says so (status infeasible_input)", result.output)
    assert json.loads(out.read_text())["status"] == "infeasible_input"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", None),
        (b" \n", None),
        (b"null", "something that is not a JSON object"),
        (b"42\n", "something that is not a JSON object"),
        (b"2026-12-06 17:00 log line\n", "something that is not a JSON object"),
        (b"\n" * 5000 + b"the cell's notes\n", "something that is not a JSON object"),
        (b"\xbb\xbf{}", "something that is not a JSON object"),  # no byte order mark
        (b"[1, 2]", "something that is not a JSON object"),
        (b"[INFO] started\n", "something that is not a JSON object"),
        (b"\x0b{}", "something that is not a JSON object"),  # not JSON's white space
        (b'\xef\xbb\xbf{"status": "optimal", "assignments": []}', "a plan"),
        (
            b'{"built_at": "2026-12-01T00:00:00+00:00", "patients": {}}',
            "a manifest of `plan build`",
        ),
        (b'{"a": 1, "a": 2}', "other JSON"),  # a repeated key: still JSON
        (b"\xff\xfe binary", "something that is not a JSON object"),
        (b'{"a": "\xff"}', "something that is not JSON"),  # not UTF-8
        (b"{ not json", "something that is not JSON"),
        (b"id,name\nP1,x\n", "something that is not a JSON object"),
        (b"{" + b" " * 5000 + b"}", "other JSON"),
        (b"\xef\xbb\xbf" + b"\n" * 5000, None),
    ],
)
def test_file_kind_tells_what_a_file_at_out_holds(
    tmp_path: Path, content: bytes, kind: str | None
) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(content)
    assert plan_commands.file_kind(path) == kind


def test_file_kind_of_a_path_it_may_not_reach_leaves_the_verdict_to_the_write_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a folder one may not enter: Path.is_file raised PermissionError, a traceback in
    # `plan build` (the write check then says "cannot write ...: Permission denied")
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", refused)
    assert plan_commands.file_kind(tmp_path / "locked" / "p.json") is None


def test_a_file_system_that_cannot_sync_still_gets_the_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # some network and FUSE file systems answer fsync with EINVAL: writing had failed there
    from medevac.planning import plan as plan_module

    def cannot(handle: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(plan_module.os, "fsync", cannot)
    plan_module.write_documents([(tmp_path / "p.json", {"x": 1})])
    assert json.loads((tmp_path / "p.json").read_text()) == {"x": 1}

    def failed(handle: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(plan_module.os, "fsync", failed)
    with pytest.raises(OSError, match="Input/output error"):
        plan_module.write_documents([(tmp_path / "p.json", {"x": 2})])
    assert json.loads((tmp_path / "p.json").read_text()) == {"x": 1}  # the old one stands
    assert sorted(os.listdir(tmp_path)) == ["p.json"]


def test_file_kind_does_not_read_a_file_larger_than_any_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 400-MB log beginning with "[" was read whole (1 GB of memory; a MemoryError traceback
    # where memory was limited); now only an object is read, and not past the limit
    monkeypatch.setattr(plan_commands, "MAX_DOCUMENT_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text('{"log": [' + '"started", ' * 100 + '"done"]}')
    assert plan_commands.file_kind(path) == plan_commands.TOO_LARGE
    path.write_text('{"status": "optimal", "assignments": []}')  # a plan is read as before
    assert plan_commands.file_kind(path) == "a plan"


def test_a_folder_that_cannot_be_synced_leaves_the_documents_written_and_says_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # raised, it made `plan build` say "cannot write None" of files it had written
    from medevac.planning import plan as plan_module

    real_fsync = os.fsync
    synced: list[bool] = []

    def folders_fail(handle: int) -> None:
        folder = stat.S_ISDIR(os.fstat(handle).st_mode)
        synced.append(folder)
        if folder:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(handle)

    monkeypatch.setattr(plan_module.os, "fsync", folders_fail)
    plan_module.write_documents([(tmp_path / "p.json", {"x": 1})])
    assert synced == [False, True]  # the file's data, then its folder (which failed)
    assert json.loads((tmp_path / "p.json").read_text()) == {"x": 1}


def test_file_kind_says_too_large_where_reading_runs_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a MemoryError in the parse was a traceback under a memory limit
    def no_memory(text: str) -> Any:
        raise MemoryError

    path = tmp_path / "dicts.json"
    path.write_text('{"a": [{}, {}]}')
    monkeypatch.setattr(plan_commands.json, "loads", no_memory)
    assert plan_commands.file_kind(path) == plan_commands.TOO_LARGE


def day_0(problem_file: Path, document: Any) -> str | None:
    """The date of day 0 `plan show` gives for ``problem_file`` read as ``document``."""
    return plan_commands._day_0(plan_commands._built(problem_file, document))


def test_day_0_is_named_only_from_a_manifest_of_that_problem(
    problem_file: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "problem.registry.json"
    built = {"built_at": "2026-12-07T01:00:00+02:00", "patients": {}}
    manifest.write_text(manifest_of(problem_file, **built))
    document = json.loads(problem_file.read_text())  # the problem as the command read it
    assert day_0(problem_file, document) == "2026-12-07"
    manifest.write_text(json.dumps(built))  # an older manifest, without digests
    assert day_0(problem_file, document) is None
    edited = json.loads(manifest_of(problem_file, **built)) | {"built_at": "2026-12-09T01:00+02:00"}
    manifest.write_text(json.dumps(edited))  # day 0 moved by hand: approve refuses it
    assert day_0(problem_file, document) is None
    manifest.write_text(json.dumps(built | {"problem_sha256": 123}))
    assert day_0(problem_file, document) is None
    manifest.write_text(resealed_text(built | {"problem_sha256": "0" * 64}))  # another problem's
    assert day_0(problem_file, document) is None
    assert day_0(problem_file, None) == "2026-12-07"  # compared by the caller
    # the problem is not read again for its digest: a pipe, read once by the command, had
    # waited for a writer for ever
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    (tmp_path / "pipe.registry.json").write_text(resealed_text(built | {"problem_sha256": "0"}))
    assert day_0(pipe, document) is None


def test_a_loop_of_links_at_out_is_refused_and_a_link_to_a_file_yet_to_be_made_makes_it(
    app: typer.Typer, problem_file: Path, tmp_path: Path
) -> None:
    # the loop's last link had been replaced by the plan, a regular file
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.symlink_to(two)
    two.symlink_to(one)
    result = solve(app, problem_file, one)
    assert result.exit_code == 1
    assert said(f"{one}: cannot be written (Too many levels of symbolic links)", result.output)
    assert one.is_symlink()
    assert two.is_symlink()
    ahead = tmp_path / "ahead.json"
    ahead.symlink_to("plan.json")  # dangling until the plan is written through it
    assert solve(app, problem_file, ahead).exit_code == 0
    assert ahead.is_symlink()
    assert json.loads((tmp_path / "plan.json").read_text())["status"] == "optimal"


def test_ctrl_c_between_the_renames_comes_once_both_files_are_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it had left the new problem beside the old manifest, which the next build then refused
    import signal

    from medevac.planning import plan as plan_module

    problem, manifest = tmp_path / "p.json", tmp_path / "p.registry.json"
    plan_module.write_documents([(problem, {"old": 1}), (manifest, {"old": 2})])
    real_replace = os.replace
    renamed: list[str] = []

    def replace(source: Path, target: Path) -> None:
        real_replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the problem's rename

    monkeypatch.setattr(plan_module.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        plan_module.write_documents([(problem, {"new": 1}), (manifest, {"new": 2})])
    assert renamed == ["p.json", "p.registry.json"]
    assert json.loads(problem.read_text()) == {"new": 1}
    assert json.loads(manifest.read_text()) == {"new": 2}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
