"""`medevac plan build / approve / approved`: the regulating engine on the registry."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from medevac.cli.context import (
    UserError,
    actor,
    age_text,
    cell,
    console,
    inline,
    stale_after,
    tagged,
    unit_of_work,
    when,
)
from medevac.cli.interrupts import Interruption
from medevac.cli.plan_commands import (
    MANIFEST,
    build_manifest,
    file_to_write,
    is_manifest,
    json_object,
    looks_like,
    manifest_path,
    plan_app,
    plan_or_fail,
    refuse_other_file,
    refused_status,
    swapped,
)
from medevac.domain.errors import InvalidValue
from medevac.domain.plans import PlannedAdmission
from medevac.planning import (
    ChangeKind,
    CurrentPlacement,
    PlanStatus,
    ProblemError,
    changes_against,
)
from medevac.planning.plan import check_writable, write_documents
from medevac.services import regulating
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of, zone_name
from medevac.services.manifests import arrivals, document_digest, seal_fault
from medevac.services.regulating import (
    AdmittedAfterAgreementEnds,
    QuotaExceeded,
    build_problem,
    live_plans,
)

# `plan approved --details` shows a plan of at most this many admissions as a table, a larger
# one as tab-separated lines
TABLE_ROWS = 500
#: `plan build` names at most this many facilities where agreements leave a needed specialty out
SHOWN_GAPS = 20


def register(app: typer.Typer) -> None:
    """The commands attach to the `plan` sub-app registered by plan_commands."""


def _settings(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = json_object(path)
    if set(data) - {"precedences", "weights"}:
        raise UserError(f"{path}: expected an object with only 'precedences' and/or 'weights'")
    return data


@plan_app.command("build")
def build(
    out: Path = typer.Option(
        ...,
        "--out",
        help="Where to write the problem JSON.",
        parser=file_to_write,
        metavar="<path>",
    ),
    horizon_days: int = typer.Option(14, min=1, max=366, help="Days to plan ahead."),
    settings: Path = typer.Option(
        None,
        "--settings",
        readable=False,
        help="JSON with 'precedences' (replacing the defaults) and/or 'weights' (each "
        "overriding its default) for this operation (defaults: docs/architecture.md).",
    ),
    include_field_hospitals: bool = typer.Option(
        False, help="Also send patients to field hospitals (normally kept for local casualties)."
    ),
    ignore_quotas: bool = typer.Option(
        False,
        "--ignore-quotas",
        help="Keep agreements whose quota is used up, and carry no quota to the engines (a "
        "plan going beyond one is then approved only with --over-quota or --within-quotas).",
    ),
) -> None:
    """Turn the selected and referred patients and the latest capacity into a problem file.

    Beds of patients an earlier plan sent to a facility, accepted there after its report, are
    taken off that report ("held"), and their arrivals are listed ("arriving"); so are those
    of patients a request's answer accepted for a named facility (`requests respond --admit`,
    `requests admit`). Patients accepted with no facility on record are listed ("no
    destination"). Agreements whose quota the patients sent under them use up cover nobody
    ("quota used up"; --ignore-quotas keeps them). Where an agreement has room for fewer
    patients than the problem has who could go under it, the manifest carries its quota (the
    problem format has none): `plan solve` keeps to it, and the engine chooses who uses the
    room ("quota: ..."; agreements between the same organisations that cover some of the
    same specialties carry their rooms together where the sets of agreements covering each
    specialty nest or are apart, and not where they cross; none with --ignore-quotas). Where
    an agreement ends before the horizon's last day, the manifest carries the last day on
    which its receiver's facilities admit its patients, which `plan solve` keeps to
    ("agreement ends: ..."). An operator whose
    first agreement comes into force later is not bound yet: its facilities accept every
    sender until the day before, and the patients that agreement does not cover are admitted
    by then ("agreement begins: ..."). Also writes NAME.registry.json beside
    it: what the problem was built from, so that `plan approve` can refuse when the registry
    has changed since. The two files are written together or not at all (each to a temporary
    file beside it, then both renamed), never a new problem beside an older manifest. They
    replace an earlier build's problem and manifest (a problem is taken for an earlier
    build's only where its manifest is beside it and names it, by its digest); a file there
    holding anything else is refused, not overwritten.
    """
    extra = _settings(settings)
    files = (out, manifest_path(out))  # a folder for --out is refused before the registry is read
    # an earlier build's files are replaced; anything else is a slip of --out, and kept
    problem = refuse_other_file(out, ("a problem",), f"--out {out}", "the problem")
    manifest = refuse_other_file(
        files[1], (MANIFEST,), f"{files[1]}, the manifest's place,", "the manifest"
    )
    built_with = True if problem is None else _built_with(problem, manifest)
    if built_with is None:
        # an earlier build's problem edited since, or another put in its place (the refusals of
        # solve and approve send the user here to build again): not replaced unasked
        raise UserError(
            f"--out {out} holds a problem other than the one the build that wrote {files[1]} "
            "beside it wrote (edited since, or put there): it is not replaced unasked; remove "
            "it first (and its manifest), or give another --out"
        )
    if not built_with:
        # a problem written by hand or by another system (a partner's, say), not a build's
        raise UserError(
            f"--out {out} holds a problem that no manifest beside it names ({files[1]} is "
            "missing, or was written for another problem): not an earlier build's, which "
            "alone is replaced; give another --out, or remove the file first"
        )
    for path in files:
        try:
            check_writable(path)
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror or error}") from error
    now = utc_now()
    # seconds at national scale (1-2 s for 100,000 patients): say what is happening
    with console.status("reading patients, capacity and agreements from the registry..."):
        try:
            built = build_problem(
                unit_of_work(),
                now=now,
                stale_after=stale_after(),
                horizon_days=horizon_days,
                precedences=extra.get("precedences"),
                weights=extra.get("weights"),
                include_field_hospitals=include_field_hospitals,
                respect_quotas=not ignore_quotas,
            )
        except ProblemError as error:  # the settings' precedences or weights are wrong
            where = f"{settings}: " if settings is not None else ""
            raise UserError(f"{where}the problem would be refused: {error}") from error
        except InvalidValue as error:  # the settings' precedences leave out patients' levels
            if error.field != "precedences" or settings is None:
                raise
            raise UserError(f"{settings}: {error}") from error
    try:
        write_documents(list(zip(files, (built.problem, built.manifest), strict=True)))
    except OSError as error:  # it names the file meant, not its temporary one
        raise UserError(f"cannot write {error.filename}: {error.strerror or error}") from error
    problem = built.problem
    console.print(
        f"wrote {out}: {len(problem['patients'])} patients, {len(problem['facilities'])} "
        f"facilities, {horizon_days} day{'' if horizon_days == 1 else 's'} from day 0 = "
        f"{day_of(now)} ({zone_name()}); manifest {manifest_path(out)}",
        markup=False,
    )
    if built.skipped:
        table = Table("left out", "id", "why", title=f"{len(built.skipped)} left out")
        for item in built.skipped:
            table.add_row(cell(item.kind), cell(item.id), cell(item.reason))
        console.print(table)
    if built.uncarried:
        # `plan show` counts only the current places the problem holds: these went unsaid
        # until the approval said "without a place now"
        first = sorted(built.uncarried.items())[:SHOWN_GAPS]
        more = ", ..." if len(built.uncarried) > len(first) else ""
        line = (
            f"not carried at their approved place: {len(built.uncarried)} patient(s) (a plan "
            "that gives them no place supersedes their admission at approval): "
            + "; ".join(f"{p} ({why})" for p, why in first)
            + more
        )
        console.print(f"[yellow]{tagged(line)}[/]", highlight=False)
    for report in built.stale_reports:
        console.print(
            f"[red]stale capacity: {inline(report.facility_id)} {report.specialty} reported "
            f"{age_text(report.age(now))}[/]"
        )
    for line in built.quotas_full:
        console.print(
            f"[yellow]quota used up: {inline(line)}; it covers nobody in this problem "
            "(--ignore-quotas keeps it)[/]",
            highlight=False,
        )
    for line in built.quotas_tight:
        console.print(f"[yellow]quota: {tagged(line)}[/]", highlight=False)
    for line in built.ending:
        console.print(f"[yellow]agreement ends: {tagged(line)}[/]", highlight=False)
    for line in built.beginning:
        console.print(f"[yellow]agreement begins: {tagged(line)}[/]", highlight=False)
    for line in built.uncovered[:SHOWN_GAPS]:
        console.print(f"[yellow]not covered: {tagged(line)}[/]", highlight=False)
    if len(built.uncovered) > SHOWN_GAPS:
        console.print(f"[yellow]not covered: and {len(built.uncovered) - SHOWN_GAPS} more[/]")
    for line in built.held[:SHOWN_GAPS]:
        console.print(f"held: {line}", markup=False, highlight=False)
    if len(built.held) > SHOWN_GAPS:
        console.print(f"held: and {len(built.held) - SHOWN_GAPS} more facilities and specialties")
    if built.without_destination:
        shown = inline(", ".join(built.without_destination[:5]))
        more = ", ..." if len(built.without_destination) > 5 else ""
        console.print(
            f"[yellow]no destination: {len(built.without_destination)} patient(s) accepted and "
            f"not yet arrived with no facility on record ({shown}{more}); no bed is held for "
            "them: say where with `medevac requests admit`[/]",
            highlight=False,
        )
    limits = {f["id"]: f.get("daily_admission_limit") for f in problem["facilities"]}
    for facility, day, count in arrivals(built.manifest)[:SHOWN_GAPS]:
        limit = limits.get(facility)
        # arrivals named by requests' answers may pass the limit alone: said, not hidden
        over = (
            f"; {count - limit} more than its daily admission limit of {limit}: it admits "
            "nobody else that day"
            if limit is not None and count > limit
            else ""
        )
        console.print(
            f"arriving: {facility} day {day}: {count} patient(s) sent earlier; the problem's "
            "daily admission limit is one number, so the manifest keeps them and `plan solve` "
            f"counts them against it{over}",
            markup=False,
            highlight=False,
        )
    if not problem["patients"]:
        console.print(
            "[yellow]nothing to plan: no patient in the registry is selected or referred "
            "(or every one was left out, above)[/]"
        )
        return
    if not problem["facilities"]:
        console.print(
            "[yellow]no facility to plan for: none has a capacity report (or every one was "
            "left out, above); every patient would be left out. Report beds with `medevac "
            "facilities capacity report` (or import them), then build again[/]"
        )
        return
    plan = _as_argument(suggested_plan(out))
    console.print(  # one line, to be copied as it is
        f"next: medevac plan solve {_as_argument(out)} --out {plan}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def suggested_plan(problem: Path) -> Path:
    """Where the hint after `plan build` suggests writing the plan of ``problem``: beside it,
    `plan.json` for `problem.json`, else `NAME-plan.json` (a fixed `plan.json` in the current
    folder overwrote the plan of another problem when followed, found by a review)."""
    return problem.with_name(
        "plan.json" if problem.stem == "problem" else f"{problem.stem}-plan.json"
    )


def _as_argument(path: Path) -> str:
    """``path`` as a shell argument: quoted where needed, and a relative path beginning with
    "-" (which would be read as an option) as "./-p.json"."""
    text = str(path)
    return shlex.quote(f"./{text}" if text.startswith("-") else text)


def _built_with(problem: dict[str, Any], manifest: Any) -> bool | None:
    """Whether ``manifest`` (the document beside the problem, None where there is none) is the
    manifest `plan build` wrote with ``problem``: it names the problem by its digest
    ("problem_sha256"), or is a manifest written before manifests had one (which names no
    problem, and is replaced too). None where it is a build's manifest, as that build wrote
    it, naming another problem: the problem was edited since."""
    if not is_manifest(manifest):
        return False
    digest = manifest.get("problem_sha256")
    if digest is None or digest == document_digest(problem):
        return True
    return None if seal_fault(manifest) is None else False


@plan_app.command("approve")
def approve(
    plan_file: Path = typer.Argument(
        ..., help="Plan JSON written by `plan solve`.", readable=False
    ),
    problem_file: Path = typer.Option(
        ...,
        "--problem",
        help="The problem JSON written by `plan build` (its manifest beside it).",
        readable=False,
    ),
    by: str = typer.Option(None, "--actor", help="Who approves (audit trail)."),
    over_quota: str = typer.Option(
        None,
        "--over-quota",
        metavar="REASON",
        help="Approve even where the plan places more patients under an agreement than its "
        "quota allows; the reason and the overruns go into the audit trail.",
    ),
    within_quotas: bool = typer.Option(
        False,
        "--within-quotas",
        help="Where the plan places more patients under an agreement than its quota allows, "
        "approve it without the least urgent of them (selected for the next plan: referred "
        "ones go back to selected, but for those a live request holds, which stay referred); "
        "they are listed and go into the audit trail.",
    ),
) -> None:
    """Store a plan and refer its selected patients, in one transaction.

    Refused when the plan does not pass the checker against its problem (its stated objective
    included), when it would admit patients before today (its days count from the day of `plan
    build`), or when the registry changed since `plan build`: patients, capacity reports, the
    facilities in the problem or the agreements (every change is listed). A change that no
    problem reads (a facility renamed, a patient's triage or companions, an agreement's costs,
    an agreement whose receiver runs no facility of the problem)
    does not refuse it: it is listed after the approval and kept in its audit record. Refused
    too when the plan places more patients under an agreement in force than its quota allows,
    counting the patients sent under it before (by plans or accepted requests), unless
    `--over-quota` says why or `--within-quotas` leaves those patients out (the most urgent
    keep their places). Refused as well when it admits a patient after the agreements it
    comes under end (a plan solved without the manifest may). The checks and the writes run as
    one serialized transaction, so a change made while they run is caught too. Live treatment
    requests that ask another organisation to treat patients the plan admits elsewhere are
    named ("on request"). Admissions approved before that fall after the problem's horizon
    (`plan build` keeps them out of the problem) are carried into the new plan ("kept as
    approved before"), where they are still valid and under no agreement with a quota (the
    others come into the problem without their place, as `plan build` says: "not carried at
    their approved place"); referred patients the new plan gives no place, and no live request
    holds, go back to selected for the next plan ("back to selected").

    Interrupted (Ctrl-C), it exits with 130 and says whether the plan was approved: "nothing
    approved" before the transaction began; the approved plan's id once the transaction has
    committed (what it had yet to print is not printed); and, where the interrupt came while
    the transaction ran, that `medevac plan approved` shows whether the plan is live.
    """
    with Interruption("nothing approved") as said:
        _approve(plan_file, problem_file, by, over_quota, within_quotas, said)


def _approve(
    plan_file: Path,
    problem_file: Path,
    by: str | None,
    over_quota: str | None,
    within_quotas: bool,
    said: Interruption,
) -> None:
    """`plan approve`; ``said`` is what an interrupt leaves approved, kept up to date."""
    if over_quota is not None and not over_quota.strip():
        raise UserError(
            "--over-quota: the reason is blank; say why the plan may go beyond the quotas (the "
            "audit trail keeps it)"
        )
    manifest_file = manifest_path(problem_file)
    if not problem_file.exists():  # before its manifest: that is missing too, and says less
        raise UserError(
            f"{problem_file}: no such file; give the problem JSON written by `medevac plan build`"
        )
    problem = json_object(problem_file)
    if looks_like(problem) == "a plan":
        raise UserError(swapped(problem_file, "a problem", "a plan"))
    if is_manifest(problem):  # else "NAME.registry.registry.json is missing"
        raise UserError(build_manifest(problem_file))
    if not manifest_file.exists():
        raise UserError(
            f"{manifest_file} is missing: approve only problems written by `medevac plan build`"
        )
    plan = plan_or_fail(plan_file)
    if plan.status is PlanStatus.INFEASIBLE_INPUT:  # not one line per patient it leaves out
        raise UserError(refused_status(plan_file, plan))
    manifest = json_object(manifest_file)
    if seal_fault(manifest) is None and manifest["problem_sha256"] != document_digest(problem):
        # as `plan solve` and `plan check` say it (the service, which names only the problem,
        # had said the problem was changed after the build)
        raise UserError(
            f"{manifest_file} was written for another problem than {problem_file} (edited "
            "since `plan build` wrote it, or the manifest of another build): build the problem "
            "again"
        )
    who = actor(by)
    count = len(plan.assignments)
    with console.status(f"checking the plan and the registry, then referring {count} patients..."):
        said.left = (
            "the plan may or may not have been approved (the interrupt came while the "
            "approval's transaction ran): `medevac plan approved` shows whether it is live"
        )
        try:
            approval = regulating.approve(
                unit_of_work(),
                problem=problem,
                manifest=manifest,
                plan=plan,
                actor=who,
                over_quota=over_quota,
                within_quotas=within_quotas,
            )
        except QuotaExceeded as refusal:
            lines = "\n".join(f"  {line}" for line in refusal.overruns)
            raise UserError(
                f"not approved, nothing changed: the plan exceeds {len(refusal.overruns)} "
                f"agreement quota(s):\n{lines}\nto approve it all the same, give the reason "
                '(kept in the audit trail): --over-quota "..."; to approve it without the '
                "least urgent patients beyond the quotas: --within-quotas"
            ) from refusal
        except InvalidValue as error:  # the service names the file's role; the user, its path
            files = {"plan": plan_file, "problem": problem_file, "manifest": manifest_file}
            if error.field not in files:
                raise
            raise UserError(f"{files[error.field]}: {error.reason}") from error
        except AdmittedAfterAgreementEnds as refusal:
            lines = "\n".join(f"  {line}" for line in refusal.admissions)
            raise UserError(
                f"not approved, nothing changed: the plan admits {len(refusal.admissions)} "
                f"patient(s) after the agreements they come under end:\n{lines}\nsolve the "
                f"problem with its manifest beside it ({manifest_file}; `plan solve` keeps to "
                "the ends it carries), or extend the agreement and build the problem again"
            ) from refusal
    approved, plan = approval.plan, approval.solved
    said.left = (
        f"the plan was approved as {approved.id} (the approval had committed); `medevac plan "
        "approved --details` lists its admissions"
    )
    console.print(
        f"approved {approved.id}: {len(approved.admissions)} admissions planned "
        f"({approved.solver_status}, objective {approved.objective:.3f})",
        markup=False,
    )
    if approval.left_out:
        shown = sorted(approval.left_out.items())[:SHOWN_GAPS]
        # those a live request holds stay referred (listed "on request with no place"): the
        # line had said every referred one went back to selected
        held = len(approval.left_out.keys() & approval.on_request_unplaced.keys())
        console.print(
            f"[yellow]within quotas: {len(approval.left_out)} patient(s) left out of the plan, "
            "the least urgent beyond an agreement's quota; selected for the next plan (referred "
            "ones back to selected"
            + (f", but for {held} a live request holds, which stay referred" if held else "")
            + "): "
            + inline(", ".join(f"{p} ({a})" for p, a in shown))
            + (", ..." if len(approval.left_out) > len(shown) else "")
            + "[/]",
            highlight=False,
        )
    elif within_quotas:
        console.print("no quota is exceeded: nobody was left out")
    # the plan's unplaced besides those named below: a first approval had said nothing of them
    named = (
        approval.unreferred.keys() | approval.on_request_unplaced.keys() | approval.left_out.keys()
    )
    _listed(
        "without a place in this plan: {} patient(s), who keep their status for the next plan "
        "(`plan explain` says why)",
        {u.patient: "" for u in plan.unplaced if u.patient not in named},
    )
    _listed(
        "kept as approved before: {} admission(s) after the problem's horizon, carried into "
        "this plan",
        dict.fromkeys(approval.kept, ""),
        colour="",
    )
    _listed(
        "back to selected: {} referred patient(s) this plan gives no place (their earlier "
        "admissions are superseded), for the next plan",
        approval.unreferred,
    )
    _listed(
        "on request with no place: {} referred patient(s) this plan gives no place stay "
        "referred, as a live request holds them; answer or withdraw them there",
        approval.on_request_unplaced,
    )
    if approval.noted:
        console.print(
            "changed since the build, not in what the problem holds (approved all the same; "
            "kept in the audit record):",
            highlight=False,
        )
        for line in approval.noted[:SHOWN_GAPS]:
            console.print(f"  {line}", markup=False, highlight=False)
        if len(approval.noted) > SHOWN_GAPS:
            console.print(f"  and {len(approval.noted) - SHOWN_GAPS} more", highlight=False)
    for line in approval.requests_elsewhere:
        console.print(
            f"[yellow]on request: {inline(line)}; answer, close or withdraw them there[/]",
            highlight=False,
        )
    for line in approval.over_quota:  # as the approval found them and recorded them
        console.print(f"[yellow]over quota: {tagged(line)}[/]", highlight=False)
    if over_quota and over_quota.strip() and not approval.over_quota:
        console.print("no quota is exceeded: the --over-quota reason was not needed or kept")
    places = [  # the approval checked the problem: every "current" is a valid place
        (entry["id"], CurrentPlacement(**entry["current"]) if "current" in entry else None)
        for entry in problem["patients"]
    ]
    if any(place is not None for _, place in places):  # a re-plan
        changes = changes_against(places, plan)
        dropped = {c.patient for c in changes.changes if c.kind is ChangeKind.DROPPED}
        # approved after the problem's horizon, in it with no current place: dropped too
        beyond = (approval.unreferred.keys() | approval.on_request_unplaced.keys()) - dropped
        console.print(
            f"against the places approved before: {changes.kept} kept, "
            f"{changes.count(ChangeKind.DAY)} on another day, "
            f"{changes.count(ChangeKind.MOVED)} moved to another facility, "
            f"{len(dropped) + len(beyond)} without a place now; "
            f"{changes.newly_placed} placed for the first time"
        )


def _listed(head: str, patients: dict[str, str], colour: str = "yellow") -> None:
    """One line of `plan approve` naming ``patients`` (id -> the place each had, if any), the
    first SHOWN_GAPS of them in order of id: ``head`` with their number, then the names;
    nothing where there are none."""
    if not patients:
        return
    shown = sorted(patients.items())[:SHOWN_GAPS]
    names = ", ".join(f"{p} (was {place})" if place else p for p, place in shown)
    more = ", ..." if len(patients) > len(shown) else ""
    line = f"{head.format(len(patients))}: {names}{more}"
    if colour:
        console.print(f"[{colour}]{tagged(line)}[/]", highlight=False)
    else:
        console.print(line, markup=False, highlight=False)


@plan_app.command("approved")
def approved_plans(
    details: bool = typer.Option(
        False,
        help=f"List every planned admission (as tab-separated lines above {TABLE_ROWS}).",
    ),
) -> None:
    """The live approved plan(s) and their planned admissions.

    A patient accepted since whose request's answer named another facility or day goes there,
    not to the plan's admission: the "sent since" column says where (`patients show` too)."""
    plans = live_plans(unit_of_work())
    if not plans:
        console.print("no approved plan is live")
    for live in plans:
        plan, elsewhere = live.plan, live.sent_elsewhere
        open_ids = plan.open_patient_ids()
        console.print(
            f"[bold]{tagged(plan.id)}[/] approved {when(plan.approved_at)} by "
            f"{inline(plan.approved_by)}: "
            f"{len(open_ids)} of {len(plan.admissions)} admissions open, {plan.solver_status}, "
            f"objective {plan.objective:.3f}"
        )
        if elsewhere:
            has = "has" if len(elsewhere) == 1 else "have"
            console.print(
                f"[yellow]{len(elsewhere)} of the open admissions' patients {has} been sent to "
                "another facility or on another day since, by requests' answers (--details "
                "says where and when)[/]"
            )
        if not details:
            continue
        if len(plan.admissions) <= TABLE_ROWS:
            table = Table("patient", "facility", "admission", "withdrawn", "sent since")
            for a in plan.admissions:
                table.add_row(
                    cell(a.patient_id),
                    cell(a.facility_id),
                    a.admission_date.isoformat(),
                    cell(a.withdrawn_reason),
                    cell(_sent_since(elsewhere, a.patient_id)),
                )
            console.print(table)
            continue
        # A national plan has 100,000 admissions: laying them out as a table took Rich 41 s,
        # so they are written as tab-separated lines (for a pager, a file or a spreadsheet).
        typer.echo("patient\tfacility\tadmission\twithdrawn\tsent since")
        typer.echo(
            "\n".join(
                f"{a.patient_id}\t{a.facility_id}\t{a.admission_date.isoformat()}\t"
                f"{a.withdrawn_reason or ''}\t{_sent_since(elsewhere, a.patient_id)}"
                for a in plan.admissions
            )
        )


def _sent_since(elsewhere: dict[str, PlannedAdmission | None], patient_id: str) -> str:
    """Where a patient of the plan has been sent since, if not to the plan's admission."""
    if patient_id not in elsewhere:
        return ""
    there = elsewhere[patient_id]
    if there is None:
        return "accepted by another organisation, no facility named"
    return f"{there.facility_id} from {there.admission_date.isoformat()}"
