"""CLI commands for the regulating engine: ``plan solve``, ``plan show`` and ``plan explain``."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Column, Table
from rich.text import Text

from medevac.cli.context import cell, inline, tagged
from medevac.cli.interrupts import Interruption
from medevac.domain.errors import InvalidValue, json_error
from medevac.planning import (
    ChangeKind,
    CheckReport,
    Engine,
    ModelTooLarge,
    Plan,
    PlanChanges,
    PlanFormatError,
    PlanMismatch,
    PlanStatus,
    Problem,
    ProblemError,
    check_plan,
    explain,
    json_text,
    load_plan,
    parse_problem,
    plan_changes,
    plan_mismatch,
    refused_plan,
    solve,
    write_plan,
)
from medevac.planning.engines import MAX_TIME_LIMIT, prepare
from medevac.planning.lint import problem_warnings
from medevac.planning.loader import read_problem_file
from medevac.planning.plan import check_writable, day_ranges, figure
from medevac.services import manifests
from medevac.services.manifests import arrivals, document_digest

EXIT_BAD_INPUT = 1
#: `plan show --problem` lists at most this many changed places, most serious first
SHOWN_CHANGES = 20
SHOWN_WARNINGS = 10
# ids, names and paths from the files are printed as they are (no ":name:" emoji codes)
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

plan_app = typer.Typer(
    help="Regulating engine: assign patients to facilities and days.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``plan`` sub-commands to ``app``."""
    app.add_typer(plan_app, name="plan")


def _fail(message: str) -> NoReturn:
    """Print ``message`` as a one-line error and exit with 1. The characters of the message
    that are not printable are escaped (`json_text.printable`): the paths it names may hold
    an ESC or a newline, which would reach the terminal or break the line."""
    err_console.print(
        f"error: {json_text.printable(message)}", markup=False, highlight=False, soft_wrap=True
    )
    raise typer.Exit(EXIT_BAD_INPUT)


def _refusal(path: Path, error: ProblemError) -> str:
    """The one-line error of a refused problem file; where it could not name every error, how
    to list them all. Characters of the file's name that are not printable are escaped, as
    the errors' own are (an ESC would reach the terminal)."""
    message = f"{path}: {ProblemError(_in_file(path, error))}"
    if len(error.errors) > ProblemError.SHOWN:
        message += f"; `medevac plan check {path}` lists them all"
    return json_text.printable(message)


def _in_file(path: Path, error: ProblemError) -> list[str]:
    """The errors of a refused problem file without the file's name where one starts with it
    (the file as a whole: not JSON, not readable), which the line names already. The lines
    come back with their characters that are not printable escaped, and are compared so,
    whether the loader named the file as it is or escaped."""
    named = json_text.printable(f"{path}: ")
    return [json_text.printable(line).removeprefix(named) for line in error.errors]


def _problem(path: Path) -> tuple[Problem, Any]:
    """The problem in ``path`` and the JSON it was read from (for its manifest's digest), or
    a one-line error (exit 1)."""
    try:
        document = read_problem_file(path)
        return parse_problem(document), document
    except ProblemError as error:
        if isinstance(error.__cause__, OSError):  # missing, a folder, not readable: one line
            _fail(error.errors[0])
        _refuse_swapped(path, "a problem")
        _fail(_refusal(path, error))


def looks_like(data: Any) -> str | None:
    """Which file ``data`` (a file's JSON) looks like: "a plan" or "a problem" where it has
    the keys of that format's object and not the other's, else None. For saying that two files
    were given the wrong way round, rather than list what the one lacks to be the other."""
    if not isinstance(data, dict):
        return None
    if {"status", "assignments"} <= data.keys() and "patients" not in data:
        return "a plan"
    if {"patients", "facilities"} <= data.keys() and "assignments" not in data:
        # a manifest has patients and facilities too (their versions)
        return None if is_manifest(data) else "a problem"
    return None


def is_manifest(data: Any) -> bool:
    """Whether ``data`` (a file's JSON) is a manifest of `plan build`: every one has these
    keys, the oldest (without a digest) too."""
    return isinstance(data, dict) and {"built_at", "patients"} <= data.keys()


def swapped(path: Path, expected: str, found: str) -> str:
    """The one-line error of a file given where ``expected`` belongs that is ``found``, its
    path's characters that are not printable escaped."""
    return json_text.printable(
        f"{path}: looks like {found} file, not {expected}: were the problem and the plan "
        "given the wrong way round?"
    )


def _refuse_swapped(path: Path, expected: str, then: str = "") -> None:
    """Fail with `swapped` where ``path``, refused as ``expected``, holds the other kind of
    file, or (`build_manifest`) the manifest of a build where a problem belongs; ``then`` ends
    the line ("; nothing was written to ..."). Read again only on this path of refusal."""
    data = _json_if_any(path)
    if expected == "a problem" and is_manifest(data):
        _fail(build_manifest(path) + then)
    found = looks_like(data)
    if found is not None and found != expected:
        _fail(swapped(path, expected, found) + then)


def build_manifest(path: Path) -> str:
    """The one-line error of the manifest of a build (`NAME.registry.json`) given where its
    problem belongs, naming the problem beside it."""
    problem = path.with_name(path.name.removesuffix(".registry.json") + ".json")
    beside = f" ({problem}, beside it)" if path.name.endswith(".registry.json") else ""
    return json_text.printable(
        f"{path}: looks like the manifest of a build, not a problem: give the problem file "
        f"that `plan build` wrote with it{beside}"
    )


def _json_if_any(path: Path) -> Any:
    """The JSON in ``path`` (after a byte order mark, as the problem loader reads it), or None
    where it cannot be read as JSON: for guessing what a file is, never for using it
    (`json_object` says why a file cannot be used)."""
    try:
        return json_text.loads(json_text.read_text(path))
    except (OSError, ValueError, RecursionError, json_text.FileTooLarge):
        return None  # UnicodeDecodeError is a ValueError


def warn(problem_file: Path, problem: Problem) -> None:
    """Print the problem's likely slips (`problem_warnings`), the first `SHOWN_WARNINGS`."""
    warnings = problem_warnings(problem)
    for line in warnings[:SHOWN_WARNINGS]:
        console.print(
            f"[yellow]warning: {inline(json_text.printable(str(problem_file)))}: {tagged(line)}[/]",
            highlight=False,
            soft_wrap=True,
        )
    if len(warnings) > SHOWN_WARNINGS:
        console.print(f"[yellow]warning: and {len(warnings) - SHOWN_WARNINGS:,} more[/]")


def manifest_path(problem_file: Path) -> Path:
    """Where the manifest of a problem file lives: beside it, `NAME.registry.json`."""
    if not problem_file.name:  # "" or "/" ("." and ".." have names but are folders anyway)
        _fail(f"{str(problem_file)!r} is not a file name: give the problem's JSON file")
    return problem_file.with_name(f"{problem_file.stem}.registry.json")


def json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or a one-line error naming the file (exit 1)."""
    text = None
    try:
        # a byte order mark, as the problem loader takes it (a problem with one was valid
        # alone, and refused beside its manifest)
        text = json_text.read_text(path)
        data = json_text.loads(text)
    except OSError as error:
        _fail(unreadable(path, error))
    except json_text.FileTooLarge as error:
        _fail(f"{path}: {error}")
    except UnicodeDecodeError as error:
        _fail(f"{path}: cannot be read as JSON ({error})")
    except json_text.RepeatedKeys as error:
        _fail(f"{path}: {error.lines()[0]}")
    except (ValueError, RecursionError) as error:
        _fail(f"{path}: is not valid JSON ({json_error(error, text)})")
    if not isinstance(data, dict):
        _fail(f"{path}: expected a JSON object")
    return data


def unreadable(path: Path, error: OSError) -> str:
    """The one-line error of a file that cannot be read: "no such file" where it is missing,
    else the error's reason alone (its whole text would name the file a second time)."""
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file"
    return f"{path}: cannot be read as JSON ({error.strerror or error})"


def with_manifest(
    problem_file: Path, problem: Problem, document: Any, *, say: bool = False
) -> Problem:
    """``problem`` with what the manifest beside it keeps that the exchange format cannot say
    (`manifests.with_manifest`): the admissions already due (patients sent earlier arriving
    on its days, "held_admissions"; the format's daily admission limit is one number for every
    day), the agreements' quotas ("quotas") and the last days on which facilities admit the
    patients of agreements that end within the horizon ("acceptance_ends"). The engines, the
    checker and the explanations count the first against the limits and keep to the others.
    A problem without a manifest is taken as it is; a manifest that is malformed, does not
    fit the problem or was written for another one (its "problem_sha256", which `plan approve`
    compares too, with ``document``, the JSON ``problem`` was read from) is a one-line error
    naming it. With ``say``, prints what was counted."""
    manifest_file = manifest_path(problem_file)
    if not manifest_file.exists():
        return problem
    manifest = json_object(manifest_file)
    fault = manifests.seal_fault(manifest)
    if fault is not None:  # its quotas, ends and admissions due are not to be believed
        _fail(f"{manifest_file} {fault}, or move it away to use the problem without it")
    if document_digest(document) != manifest["problem_sha256"]:
        _fail(
            f"{manifest_file} was written for another problem than {problem_file} (edited "
            "since `plan build` wrote it, or the manifest of another build): its quotas, "
            "agreements' ends and admissions due would not fit; build the problem again, or "
            "move the manifest away to use the problem without them"
        )
    try:
        due = arrivals(manifest)
        counted = manifests.with_manifest(problem, manifest)
    except InvalidValue as error:
        _fail(f"{manifest_file}: {error}")
    except ValueError as error:  # a facility, quota or end of the manifest the problem lacks
        _fail(
            f"{manifest_file}: {error}; the manifest does not fit {problem_file}: build the "
            "problem again"
        )
    if not say:
        return counted
    if due:
        where = sorted({facility for facility, _, _ in due})
        console.print(
            json_text.printable(
                f"admissions already due: {sum(count for _, _, count in due)} patient(s) sent "
                f"earlier arrive at {_some(where)} on days of this problem ({manifest_file}); "
                "they count against the daily admission limits"
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,  # no path broken across lines
        )
    if counted.quotas:
        shown = _some(
            [
                f"{q.id} (room {q.room}"
                + ("" if q.days is None else f", admissions on day(s) {day_ranges(q.days)}")
                + ")"
                for q in counted.quotas
            ]
        )
        console.print(
            json_text.printable(
                f"quotas: {len(counted.quotas)} agreement quota(s) from {manifest_file}: "
                f"{shown}; the plan keeps to them and the engine chooses who uses their room"
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    ends = sorted(
        (facility.id, organisation, last)
        for facility in counted.facilities
        for organisation, last in facility.accepts_until.items()
    )
    if ends:
        shown = _some([f"{f} admits {o} until day {last}" for f, o, last in ends])
        console.print(
            json_text.printable(
                f"acceptance ends: {len(ends)} from {manifest_file}: {shown}; agreements end "
                "there, and the plan admits none of their patients later"
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return counted


def _some(texts: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``texts``, comma-separated, with ", ..." where there are more."""
    return ", ".join(texts[:shown]) + (", ..." if len(texts) > shown else "")


def _located(path: Path, error: Exception) -> str:
    """``error``'s message, led by the file's path unless it already names it (the plan reader
    does where the file cannot be read or is not JSON). Both are compared with their
    characters that are not printable escaped, as the result has them: the path is named
    once, whether the message named it as it is or escaped."""
    message = json_text.printable(str(error))
    named = json_text.printable(str(path))
    return message if message.startswith(f"{named}:") else f"{named}: {message}"


def plan_or_fail(path: Path) -> Plan:
    """The plan in ``path``, or a one-line error naming the file (exit 1); for a problem
    file, that it is one."""
    try:
        return load_plan(path)
    except PlanFormatError as error:
        if isinstance(error.__cause__, OSError):  # missing, a folder, not readable
            _fail(unreadable(path, error.__cause__))
        _refuse_swapped(path, "a plan")
        _fail(_located(path, error))


# `plan solve` says so when the engine overran its time limit by more than this (HiGHS and
# the large engine's last steps may end up to a few tenths of a second late)
OVERRUN_SECONDS = 0.5
OVERRUN_SHARE = 0.05
# what `plan solve`'s progress line shows before the engine's message: spinner, engine, bar and
# seconds ("⠋ exact: ━━━━━━━━━━━━━━━━━━━━ 12 of 60 s ")
PROGRESS_PREFIX_WIDTH = 44


MIN_TIME_LIMIT = 0.1


def time_limit_seconds(text: str) -> float:
    """--time-limit's seconds; a usage error where the text is not a number ("nan" among them:
    every comparison with it fails, and it had been called more than a day) or lies outside
    `MIN_TIME_LIMIT` to `MAX_TIME_LIMIT`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise typer.BadParameter(f"{text!r} is not a number: give the seconds the engine may take")
    if value < MIN_TIME_LIMIT:
        raise typer.BadParameter(f"Input should be greater than or equal to {MIN_TIME_LIMIT:g}")
    if value > MAX_TIME_LIMIT:
        raise typer.BadParameter(f"Input should be less than or equal to {MAX_TIME_LIMIT:g}")
    return value


def file_to_write(text: str) -> Path:
    """An --out path, refused (one line, exit 1) where a name ends with a slash: a folder's,
    which the path would drop (`--out x.json/` had written x.json). "/" alone is left to the
    command, which says it is a folder."""
    path = Path(text)
    if text.endswith("/") and path.name:
        _fail(f"--out {text!r} is not a file name (it ends with '/'): name the file to write")
    return path


@plan_app.command("solve")
def solve_command(
    problem_file: Path = typer.Argument(..., help="Problem JSON (docs/formats).", readable=False),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Where to write the plan JSON.",
        parser=file_to_write,
        metavar="<path>",
    ),
    engine: Engine = typer.Option(Engine.EXACT, "--engine", help="exact, greedy or mip."),
    time_limit: float = typer.Option(
        60.0,
        "--time-limit",
        parser=time_limit_seconds,
        help=f"Seconds the engine may take, {MIN_TIME_LIMIT:g} to {MAX_TIME_LIMIT:g} (a day); "
        "it stops only once it has a first plan.",
    ),
) -> None:
    """Solve a problem file and write the plan.

    --out is checked before the solve: it may be neither the problem file nor its manifest,
    and a file there must be empty or hold a plan (an earlier solve's, replaced); anything else
    is refused, not overwritten. Its folder must take a file. The plan is written whole or not
    at all (a temporary file beside it, then renamed). A problem file that cannot be read at
    all (missing, a folder, not readable) writes nothing. One that is read but refused (not
    JSON, or not a valid problem) writes a plan with status infeasible_input saying why, as the
    exchange format asks. Either way the command exits with 1.

    Where `plan build` wrote the problem, its manifest beside it (`NAME.registry.json`) may
    record patients sent earlier who arrive on the problem's days at facilities with a daily
    admission limit; the plan counts them against those limits (the problem format has one
    limit for every day), and its checker does too. It may also carry the quotas of
    agreements with room for fewer patients than could go under them; the plan keeps to them,
    the engine choosing who uses the room. And the last days on which facilities admit the
    patients of agreements that end within the horizon; the plan admits none later.

    A plan of the per-patient MIP (`--engine mip`) that places nobody because HiGHS found no
    plan within the time limit is written, with a warning on stderr.

    Interrupted (Ctrl-C), it says in one line whether the plan was written and exits with
    130; --out is left as it was unless the plan was written."""
    with Interruption(f"nothing written to {out}") as said:
        _solve(problem_file, out, engine, time_limit, said)


def _solve(
    problem_file: Path, out: Path, engine: Engine, time_limit: float, said: Interruption
) -> None:
    """`plan solve`; ``said`` is what an interrupt leaves of --out, kept up to date."""
    prepare(engine)  # the exact engine's kernels load while the file is read
    for what, path in (("problem", problem_file), ("manifest", manifest_path(problem_file))):
        if _same_file(out, path):
            _fail(
                f"--out {out} is the {what} file {path}: the plan would overwrite it; give "
                "another --out"
            )
    refuse_other_file(out, ("a plan",), f"--out {out}", "the plan")
    try:
        check_writable(out)
    except OSError as error:
        _fail(f"{out}: cannot be written ({error.strerror or error}); nothing was solved")
    try:
        document = read_problem_file(problem_file)
        problem = parse_problem(document)
    except ProblemError as error:
        if isinstance(error.__cause__, OSError):  # missing, a folder, unreadable: not read
            _fail(f"{error.errors[0]}; nothing was written to {out}")
        # a plan or a manifest given as the problem is a slip: no infeasible_input plan over
        # what --out holds
        _refuse_swapped(problem_file, "a problem", f"; nothing was written to {out}")
        said.left = (
            f"{out} holds either the refused problem's plan (infeasible_input) or what it "
            "held before"
        )
        _fail(f"{_refusal(problem_file, error)}; {_refused_plan_written(error.errors, out)}")
    problem = with_manifest(problem_file, problem, document, say=True)
    warn(problem_file, problem)
    limit = None if engine is Engine.GREEDY else time_limit  # greedy has no time limit
    with _solve_progress(limit) as bar:
        task = bar.add_task(f"{engine.value}:", message=f"{len(problem.patients):,} patients")

        def progress(message: str) -> None:
            # the engine's messages run long: one line, cut short of the terminal's edge
            room = max(20, console.width - PROGRESS_PREFIX_WIDTH)
            if len(message) > room:
                message = message[: room - 1] + "…"
            bar.update(task, message=message)

        try:
            plan = solve(problem, engine, time_limit, progress)
        except ModelTooLarge as error:
            _fail(f"{problem_file}: {error}")
    said.left = f"{out} holds either the new plan or what it held before"
    try:
        write_plan(plan, out)
    except OSError as error:
        _fail(f"{out}: cannot be written ({error.strerror or error})")
    said.left = f"the plan was written to {out}"
    if engine is Engine.MIP and plan.status is PlanStatus.FEASIBLE and not plan.assignments:
        # HiGHS stopped before it had any plan (2,000 patients in 20 s): not the best plan;
        # or its worker ended well before the limit (killed, out of memory): not for want of time
        early = plan.wall_seconds < EARLY_SHARE * time_limit
        when = (
            f"and stopped after {plan.wall_seconds:.1f} s, before its {time_limit:g}-s limit "
            "(its solver process ended or failed)"
            if early
            else f"within {time_limit:g} s"
        )
        err_console.print(
            f"warning: the per-patient MIP found no plan {when}: nobody is placed; the exact "
            "engine (`--engine exact`) solves problems of this size",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    report = check_plan(problem, plan)
    _summary(plan, problem)
    if plan.wall_seconds > time_limit + max(OVERRUN_SECONDS, OVERRUN_SHARE * time_limit):
        why = (
            "the per-patient model is built whole before HiGHS starts, and HiGHS is stopped "
            "from outside only a little after its limit"
            if engine is Engine.MIP
            else "the engine stops only once it has a first plan, and for "
            f"{len(problem.patients):,} patients that took longer"
        )
        console.print(
            f"[yellow]note:[/yellow] the solve took {plan.wall_seconds:.1f} s, more than the "
            f"{time_limit:g} s limit: {why}"
        )
    if not report.feasible:
        _fail(f"the plan fails the checker: {report.violations[0]}")
    disagreement = checker_disagrees(report, plan)
    if disagreement is not None:  # an engine's fault: the plan is written, to be looked into
        _fail(f"the plan written to {out} is feasible, but {disagreement}")
    console.print(
        json_text.printable(
            f"plan written to {out}; checker: feasible, objective {figure(report.objective)}"
        ),
        markup=False,
    )


def checker_disagrees(report: CheckReport, plan: Plan) -> str | None:
    """Where a feasible plan's stated objective or breakdown is not what the checker
    recomputes (`CheckReport.objective_matches`, `terms_apart`), what to say of it; else None."""
    if not report.objective_matches(plan.objective):
        said, recomputed = figure(plan.objective), figure(report.objective)
        if said == recomputed:  # apart by less than the six decimals show
            said, recomputed = repr(plan.objective), repr(report.objective)
        return f"its objective {said} is not the {recomputed} the checker recomputes"
    apart = report.terms_apart(plan.breakdown)
    if apart:
        return f"its breakdown is not the checker's: {'; '.join(apart)}"
    return None


MANIFEST = "a manifest of `plan build`"
_SNIFF_BYTES = 4096  # enough to pass blanks and a byte order mark to a document's first sign
_BLANKS = b" \t\r\n"  # JSON's white space
#: a file at --out larger than this is not read to see what it holds (a plan of 100,000
#: patients is about 10 MB, their problem about 17 MB): it is refused as `TOO_LARGE`
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
TOO_LARGE = "a file too large to read here (no plan or problem is)"


def file_kind(path: Path) -> str | None:
    """What the file at ``path`` holds (`read_document`'s kind)."""
    return read_document(path)[0]


def read_document(path: Path) -> tuple[str | None, Any]:
    """What the file at ``path`` holds, for refusing to write over something else, with the
    JSON it holds where it was read whole (else None): "a plan",
    "a problem", `MANIFEST`, "other JSON", "something that is not JSON", "something that is
    not a JSON object" or `TOO_LARGE`; None
    where there is nothing to lose: no file, an empty or blank one, no regular file (a pipe or
    a device, written in place), or one that cannot be read or reached (whether it can be
    written is checked next, and says why not). Only an object can be a document of the
    workflow, so a file that begins otherwise is not read past its first block, and one
    larger than `MAX_DOCUMENT_BYTES` is not read whole. Read once: `plan build` looks into
    the problem and the manifest it would replace with what this returns (a problem of
    100,000 patients is 17 MB, about a second to read)."""
    try:
        if not path.is_file():
            return None, None
        with path.open("rb") as file:
            start = file.read(_SNIFF_BYTES)
            start = start.removeprefix(b"\xef\xbb\xbf").lstrip(_BLANKS)  # a byte order mark
            while not start:  # blanks past the first block: read on, a block at a time
                block = file.read(_SNIFF_BYTES)
                if not block:
                    return None, None  # blank throughout
                start = block.lstrip(_BLANKS)
            if start[:1] != b"{":  # a log, notes, a CSV, a list: no document of the workflow
                return "something that is not a JSON object", None
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                return TOO_LARGE, None
            text = (start + file.read()).decode("utf-8")
        data = json.loads(text)  # a repeated key does not change what the file is
    except OSError:  # not allowed into its folder, say: check_writable names it
        return None, None
    except MemoryError:
        return TOO_LARGE, None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return "something that is not JSON", None
    if is_manifest(data):
        return MANIFEST, data
    return looks_like(data) or "other JSON", data


def refuse_other_file(path: Path, kinds: tuple[str, ...], name: str, written: str) -> Any:
    """Fail where ``path`` holds a file other than one of ``kinds`` (`read_document`), which
    writing ``written`` there would destroy (a typing slip in --out); ``name`` is how the
    error names the path ("--out plan.json"). Else the document there (None where there is
    none)."""
    held, document = read_document(path)
    if held is not None and held not in kinds:
        _fail(
            f"{name} holds {held}, not {' or '.join(kinds)}: {written} would overwrite it; "
            "give another --out, or remove the file first"
        )
    return document


def _same_file(one: Path, other: Path) -> bool:
    """Whether the two paths name one file: the same once resolved (links followed), or two
    names (hard links) of an existing file."""
    try:
        return one.resolve() == other.resolve() or (
            one.exists() and other.exists() and os.path.samefile(one, other)
        )
    except (OSError, RuntimeError):  # a loop of symbolic links: no file to overwrite
        return False


def _refused_plan_written(errors: list[str], out: Path) -> str:
    """Write the plan of a refused problem (status infeasible_input, and why) to ``out``, as
    the exchange format asks, unless ``out`` holds something other than a plan, which is left
    as it is (`file_kind`, as --out was checked before the problem was read): the error of a
    mistyped --out is no cause to lose a file. What became of ``out``, to end the error's
    line."""
    if file_kind(out) not in (None, "a plan"):  # changed since it was checked
        return f"{out} was left as it is: it holds no plan"
    try:
        write_plan(refused_plan(errors), out)
    except OSError as error:
        return f"{out}: cannot be written ({error.strerror or error})"
    except UnicodeError:  # a file name that is not UTF-8, quoted in the errors
        return f"{out}: not written: the refusal names a file whose name is not UTF-8 text"
    return f"the plan written to {out} says so (status infeasible_input)"


#: a per-patient MIP without a plan that used less than this share of its time limit did not
#: run out of time: its worker ended early (`solve`'s warning says so)
EARLY_SHARE = 0.5


class TimeUsed(ProgressColumn):
    """A bar that fills as the solve uses its time limit, then the seconds used of it."""

    BAR_WIDTH = 20

    def __init__(self, limit: float | None, table_column: Column | None = None) -> None:
        super().__init__(table_column)
        self.limit = limit

    def render(self, task: Task) -> RenderableType:
        elapsed = task.elapsed or 0.0
        if self.limit is None:
            return Text(f"{elapsed:.0f} s")
        used = min(elapsed, self.limit)
        bar = ProgressBar(total=self.limit, completed=used, width=self.BAR_WIDTH)
        grid = Table.grid(padding=(0, 1))
        grid.add_row(bar, Text(f"{elapsed:.0f} of {self.limit:g} s"))
        return grid


def _solve_progress(limit: float | None) -> Progress:
    """What `plan solve` shows while the engine works: the time used of the limit and the
    engine's last word (its bound, plan and gap as they improve)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeUsed(limit, table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[message]}", markup=False, table_column=Column(no_wrap=True)),
        console=console,
        transient=True,
    )


@plan_app.command("show")
def show_command(
    plan_file: Path = typer.Argument(..., help="Plan JSON.", readable=False),
    problem_file: Path | None = typer.Option(
        None,
        "--problem",
        readable=False,
        help="The plan's problem: adds the patients placed per precedence and, for patients "
        "with a current place, who keeps it, who moves and who loses it.",
    ),
) -> None:
    """Summarise a plan file; with its problem, also what it changes against current places.

    Where `plan build` wrote the problem, it adds the date of day 0 and the patients whose
    approved place the problem does not carry (after its horizon and not kept, at a facility not
    in it, or left out), with where this plan puts them: approving it supersedes those places.
    A manifest beside the problem that cannot be used (not readable, edited, of another build)
    is named in a warning on stderr, and the plan shown without them."""
    plan = plan_or_fail(plan_file)
    read = None if problem_file is None else _problem(problem_file)
    problem = None if read is None else read[0]
    if problem is not None:
        wrong = plan_mismatch(problem, plan)
        if wrong is not None:
            _fail(f"{plan_file}: the plan does not fit the problem: {wrong} ({problem_file})")
    _summary(plan, problem)
    per_facility = Counter(a.facility for a in plan.assignments)
    if per_facility:
        table = Table(title="Busiest facilities")
        table.add_column("facility")
        table.add_column("admissions", justify="right")
        for facility, count in per_facility.most_common(10):
            table.add_row(cell(facility), str(count))
        console.print(table)
    if problem is not None:
        _changes(plan_changes(problem, plan))
        manifest = None if problem_file is None or read is None else _built(problem_file, read[1])
        _not_carried_lines(plan, _not_carried(manifest))
        built = _day_0(manifest)
        if built is not None:
            console.print(f"day 0 is {built}", markup=False, highlight=False)
        elif problem_file is not None and read is not None:
            fault = manifest_fault(problem_file, read[1])
            if fault is not None:
                err_console.print(
                    json_text.printable(
                        f"warning: {fault}; day 0's date and the approved places the problem "
                        "does not carry are not shown"
                    ),
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )


def _not_carried(manifest: dict[str, Any] | None) -> dict[str, str]:
    """The patients whose admission in the live plan the problem does not carry as their
    current place, and why (where it was, and the reason), as the ``manifest`` of its build
    (`_built`) records them; empty without one."""
    found = None if manifest is None else manifest.get("not_carried")
    if not isinstance(found, dict):  # written before 2026-12-08
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def _left_out(manifest: dict[str, Any] | None, patient: str) -> str:
    """Why `plan build` left ``patient`` out of the problem, as the ``manifest`` of its build
    records it, after "; " (its approved place, kept as approved or not carried), or ""."""
    approved = _not_carried(manifest).get(patient)
    if approved is not None:
        return (
            f"; plan build left it out: approved for {approved}; approving a plan of this "
            "problem supersedes that place"
        )
    kept = None if manifest is None else manifest.get("kept")
    if isinstance(kept, dict) and isinstance(kept.get(patient), str):
        return (
            f"; plan build left it out: its approved admission {kept[patient]} falls after the "
            "horizon and is kept as approved"
        )
    return ""


def _not_carried_lines(plan: Plan, not_carried: dict[str, str]) -> None:
    """`plan show`: the patients whose approved admission the problem did not carry (they
    are not among those who keep or lose a current place), and where this plan puts them;
    approving it supersedes those admissions. The first `SHOWN_CHANGES`."""
    if not not_carried:
        return
    places = {a.patient: f"{a.facility} day {a.day}" for a in plan.assignments}
    unplaced = {u.patient for u in plan.unplaced}
    console.print(
        f"approved places not carried into the problem: {len(not_carried)} patient(s); "
        "approving this plan supersedes their admissions:",
        markup=False,
        highlight=False,
    )
    for patient, why in sorted(not_carried.items())[:SHOWN_CHANGES]:
        where = (
            f"placed at {places[patient]}"
            if patient in places
            else "no place in this plan"
            if patient in unplaced
            else "not in the problem"
        )
        console.print(
            json_text.printable(f"  {patient}: {where} (approved for {why})"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if len(not_carried) > SHOWN_CHANGES:
        console.print(f"  and {len(not_carried) - SHOWN_CHANGES} more")


def _changes(changes: PlanChanges) -> None:
    """Against current places: counts, then the first `SHOWN_CHANGES` changes."""
    if not changes.with_current:
        console.print("no patient of the problem has a current place: nothing is changed")
        return
    table = Table(title="Against current places", show_header=False)
    table.add_column("what")
    table.add_column("patients", justify="right")
    table.add_row("keep their place", str(changes.kept))
    table.add_row("same facility, another day", str(changes.count(ChangeKind.DAY)))
    table.add_row("move to another facility", str(changes.count(ChangeKind.MOVED)))
    table.add_row("lose their place", str(changes.count(ChangeKind.DROPPED)))
    table.add_row("placed without a current place", str(changes.newly_placed))
    console.print(table)
    for change in changes.changes[:SHOWN_CHANGES]:
        console.print(f"  {change.line()}", markup=False, highlight=False)
    if len(changes.changes) > SHOWN_CHANGES:
        console.print(f"  and {len(changes.changes) - SHOWN_CHANGES} more changes")


@plan_app.command("check")
def check_command(
    problem_file: Path = typer.Argument(..., help="Problem JSON.", readable=False),
    plan_file: Path | None = typer.Argument(
        None, help="A plan JSON to check against the problem (optional).", readable=False
    ),
) -> None:
    """Validate a problem file, listing every error; with a plan, check the plan against it.

    Errors and violations are printed one per line (`FILE: path: reason`), all of them, and the
    command exits with 1. Likely slips the format allows (a misspelt specialty on a facility,
    look-alike ids) are printed as warnings and change nothing (`plan solve` prints them too).
    A plan is checked by the independent checker: every feasibility rule,
    the objective and each of its terms, recomputed from the files alone. A plan
    whose own figures disagree (terms that do not add up to its objective, a gap that is not
    (objective - bound) / max(1, |objective|), a bound above its objective, an optimal plan with
    a gap) is refused as it is read.

    Where `plan build` wrote the problem, its manifest beside it (`NAME.registry.json`) is
    read and applied as `plan solve`, `plan explain` and `plan approve` apply it: the
    admissions already due count against the daily admission limits, and the agreements'
    quotas and ends bind. The output names the manifest and what of it was checked.
    """
    try:
        document = read_problem_file(problem_file)
        problem = parse_problem(document)
    except ProblemError as error:
        if isinstance(error.__cause__, OSError):  # missing, a folder, not readable: one line
            _fail(error.errors[0])
        _refuse_swapped(problem_file, "a problem")
        shown = json_text.printable(str(problem_file))  # an ESC in its name, say
        for line in _in_file(problem_file, error):
            text = json_text.printable(f"{shown}: {line}")
            console.print(text, markup=False, highlight=False, soft_wrap=True)
        _fail(f"{shown}: {len(error.errors)} error(s); the engines refuse this file")
    manifest_file = manifest_path(problem_file)
    # its rules bind here as they do in `plan solve`, `plan explain` and `plan approve`
    and_manifest = f" and its manifest {manifest_file}" if manifest_file.exists() else ""
    problem = with_manifest(problem_file, problem, document, say=True)
    warn(problem_file, problem)
    if plan_file is None:
        console.print(
            json_text.printable(
                f"{problem_file}: a valid problem: {len(problem.patients):,} patients, "
                f"{len(problem.facilities):,} facilities, {problem.horizon_days} days"
                + (f"; its manifest {manifest_file} fits it" if and_manifest else "")
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    plan = plan_or_fail(plan_file)
    if plan.status is PlanStatus.INFEASIBLE_INPUT:
        _fail(refused_status(plan_file, plan))
    report = check_plan(problem, plan)
    for violation in report.violations:
        line = json_text.printable(f"{plan_file}: {violation}")
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not report.feasible:
        _fail(
            f"{plan_file}: {len(report.violations)} rule(s) broken for {problem_file}{and_manifest}"
        )
    disagreement = checker_disagrees(report, plan)
    if disagreement is not None:
        _fail(f"{plan_file}: feasible, but {disagreement}")
    console.print(
        json_text.printable(
            f"{plan_file}: feasible for {problem_file}{and_manifest}; objective "
            f"{figure(report.objective)}, as the plan says"
        ),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def refused_status(path: Path, plan: Plan) -> str:
    """The one-line error of a plan with status infeasible_input where a plan to use belongs:
    it places nobody, and its solver field says why its problem was refused. Characters of
    the path that are not printable are escaped."""
    return json_text.printable(
        f"{path}: status infeasible_input: the plan of a problem `plan solve` refused "
        f"({plan.solver}); fix the problem and solve it again"
    )


@plan_app.command("explain")
def explain_command(
    problem_file: Path = typer.Argument(..., help="Problem JSON.", readable=False),
    plan_file: Path = typer.Argument(..., help="Plan JSON.", readable=False),
    patient: str = typer.Argument(..., help="Patient id."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the explanation as JSON (rule codes, facilities, days and distances, and "
        'the sentences under "text") for other systems.',
    ),
) -> None:
    """Explain why a patient is where the plan puts it (or why it is unplaced).

    Where `plan build` wrote the problem, the admissions already due that its manifest records
    count against the daily admission limits, and the agreements' quotas and ends it carries
    bind, as in `plan solve`; a patient whose approved place the problem does not carry gets a
    line naming that place and why ("not_carried" in the JSON), and the last line gives the
    date of day 0 ("day_0")."""
    problem = with_manifest(problem_file, *_problem(problem_file))
    plan = plan_or_fail(plan_file)
    if plan.status is PlanStatus.INFEASIBLE_INPUT:
        # as `plan check` says it: the plan of a refused problem places nobody (it had been
        # called a plan that does not fit the problem)
        _fail(refused_status(plan_file, plan))
    manifest = _built(problem_file, None)  # with_manifest compared its digest
    if patient not in problem.patient_index:
        _fail(f"patient {patient!r} is not in {problem_file}{_left_out(manifest, patient)}")
    try:
        explanation = explain(problem, plan, patient)
    except PlanMismatch as error:
        _fail(f"{plan_file}: {error} ({problem_file})")
    built = _day_0(manifest)
    approved = _not_carried(manifest).get(patient)
    if as_json:
        # null where no build wrote the problem, or it carried the patient's place
        data = explanation.as_dict() | {"day_0": built, "not_carried": approved}
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    for line in explanation.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if approved is not None:
        console.print(
            json_text.printable(
                f"  approved for {approved}; the problem does not carry that place: approving "
                "this plan supersedes it"
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if built is not None:
        console.print(
            json_text.printable(f"day 0 is {built} ({manifest_path(problem_file)})"),
            markup=False,
            highlight=False,
        )


def _built(problem_file: Path, document: Any) -> dict[str, Any] | None:
    """The manifest beside ``problem_file``, where `plan build` wrote the problem: read once
    for what `plan show` and `plan explain` say of the build (day 0, the approved places not
    carried). None where there is none, or one without a day 0 or edited or written for
    another problem than ``document`` (the JSON of the problem file as read; None where the
    digests were compared already)."""
    manifest = _json_if_any(manifest_path(problem_file))
    if not isinstance(manifest, dict) or _day_0(manifest) is None:
        return None
    if document is None:
        return manifest
    if manifests.seal_fault(manifest) is not None:
        return None  # edited, or older
    return manifest if document_digest(document) == manifest["problem_sha256"] else None


def _day_0(manifest: Any) -> str | None:
    """The date of the problem's day 0 in the ``manifest`` of its build (`_built`): its
    "built_at", in the cell's time zone as it was built ("2026-12-07"); None without one."""
    try:
        return datetime.fromisoformat(manifest["built_at"]).date().isoformat()
    except (TypeError, KeyError, ValueError):
        return None


def manifest_fault(problem_file: Path, document: Any) -> str | None:
    """Why the manifest beside ``problem_file`` cannot be used with the problem (``document``,
    its JSON as read), naming it, as `with_manifest` refuses it; None where there is none or
    it fits."""
    manifest_file = manifest_path(problem_file)
    if not manifest_file.exists():
        return None
    try:
        text = json_text.read_text(manifest_file)
    except OSError as error:
        return unreadable(manifest_file, error)
    except UnicodeDecodeError:
        return f"{manifest_file}: is not UTF-8 text"
    except json_text.FileTooLarge as error:
        return f"{manifest_file}: {error}"
    try:
        manifest = json_text.loads(text)
    except json_text.RepeatedKeys as error:
        return f"{manifest_file}: {error.lines()[0]}"
    except (ValueError, RecursionError) as error:
        return f"{manifest_file}: is not valid JSON ({json_error(error, text)})"
    if not isinstance(manifest, dict):
        return f"{manifest_file}: expected a JSON object"
    fault = manifests.seal_fault(manifest)
    if fault is not None:
        return f"{manifest_file} {fault}"
    if document_digest(document) != manifest["problem_sha256"]:
        return (
            f"{manifest_file} was written for another problem than {problem_file} (edited "
            "since `plan build` wrote it, or the manifest of another build)"
        )
    return None


def _summary(plan: Plan, problem: Problem | None) -> None:
    table = Table(title="Plan", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("status", plan.status.value)
    table.add_row("objective", f"{plan.objective:,.2f}")
    table.add_row("bound", f"{plan.bound:,.2f}")
    table.add_row("gap", f"{plan.gap:.4%}")
    table.add_row("solver", cell(plan.solver))
    table.add_row("wall time (s)", f"{plan.wall_seconds:.2f}")
    table.add_row("placed", str(len(plan.assignments)))
    table.add_row("unplaced", str(len(plan.unplaced)))
    if problem is not None:
        placed = {a.patient for a in plan.assignments}
        totals: Counter[str] = Counter(p.precedence for p in problem.patients)
        done: Counter[str] = Counter(p.precedence for p in problem.patients if p.id in placed)
        for name in _precedence_order(problem):
            if name in totals:
                table.add_row(f"  placed {inline(name)}", f"{done[name]} of {totals[name]}")
    for key, value in plan.breakdown.as_dict().items():
        table.add_row(f"  cost {key}", f"{value:,.2f}")
    console.print(table)


def _precedence_order(problem: Problem) -> list[str]:
    """The problem's precedences, most urgent first: by weight (highest first), then deadline
    (earliest first), then as the problem lists them (the sort is stable). By weight alone,
    ties had come in the order of their first patients (convenience before routine)."""
    rules = problem.precedences
    return sorted(rules, key=lambda name: (-rules[name].weight, rules[name].deadline_day))
