"""From the registry to the regulating engine: build an allocation problem from the database.

The problem follows the exchange format of docs/planning.md. Alongside it we keep a manifest
of what it was built from (patient versions, capacity report times), so that approving a plan
can refuse when the registry changed in between and say what changed. The manifest's format
is in manifests.py, the beds held by patients sent earlier in holds.py, what the agreements
in force allow in agreement_terms.py and the count against their quotas in quota_count.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord
from medevac.domain.errors import DomainError, InvalidValue, NotFound, TransactionConflict
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.limits import MAX_COUNT
from medevac.domain.patients import Patient, PlanningPatient
from medevac.domain.plans import ApprovedPlan, PlannedAdmission
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Precedence, Specialty
from medevac.memory import garbage_collection_paused
from medevac.planning import (
    Plan,
    Problem,
    UnplacedReason,
    check_plan,
    parse_problem,
    with_admissions_taken,
)
from medevac.planning.checker import without_patients
from medevac.planning.loader import MAX_HORIZON_DAYS, ProblemError
from medevac.planning.problem import DEFAULT_WEIGHTS
from medevac.planning.problem import Facility as ProblemFacility
from medevac.planning.problem import Patient as ProblemPatient
from medevac.services.agreement_terms import (
    COVERAGE_SEPARATOR,
    AcceptanceDays,
    acceptance_days,
    after_ends,
    agreement_coverage,
    agreement_ends,
    agreements_beginning,
    agreements_ending,
    encode_coverage,
    senders_turned_away,
)
from medevac.services.auditing import audit, utc_now
from medevac.services.changed_fields import changed_since
from medevac.services.clock import day_of, local, shown, zone_name
from medevac.services.conflicts import retried
from medevac.services.holds import (
    DEFAULT_LENGTH_OF_STAY_DAYS,
    HOLDING_STATUSES,
    SentEarlier,
    arriving_patients,
    beyond_free_beds,
    held_admissions,
    held_beds,
    holds,
    patients_sent_earlier,
    sent_destinations,
)
from medevac.services.manifests import (
    Hold,
    arrival_key,
    arrivals,
    check_manifest,
    document_digest,
    manifest_patients,
    seal,
    with_manifest,
)
from medevac.services.patients import apply_moves, audit_withdrawals
from medevac.services.quota_count import (
    QuotaBook,
    carried_room_changes,
    carry_quotas,
    keep_within,
    overrun_lines,
    placements,
    sent_book,
    sent_under_agreements,
)
from medevac.store.repositories import StorageConflict
from medevac.store.tables import ONE_LIVE_PLAN

#: Patients the engine places: selected by screening, or referred to a partner.
PLANNED_STATUSES = (PatientStatus.SELECTED, PatientStatus.REFERRED)

#: Strategic windows in days (configurable per operation with `precedences`).
DEFAULT_PRECEDENCES: dict[str, dict[str, float | int]] = {
    Precedence.URGENT: {"weight": 100, "deadline_day": 0},
    Precedence.URGENT_SURGICAL: {"weight": 100, "deadline_day": 0},
    Precedence.PRIORITY: {"weight": 10, "deadline_day": 2},
    Precedence.ROUTINE: {"weight": 1, "deadline_day": 6},
    Precedence.CONVENIENCE: {"weight": 1, "deadline_day": 13},
}
#: Serialized approval attempts before giving up on a registry that keeps changing.
APPROVAL_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Skipped:
    """A patient or facility left out of the problem, and why."""

    kind: str
    id: str
    reason: str


@dataclass(slots=True)
class BuiltProblem:
    """A problem in the exchange format, what it was built from, and what was left out."""

    problem: dict[str, Any]
    manifest: dict[str, Any]
    skipped: list[Skipped] = field(default_factory=list)
    stale_reports: list[CapacityReport] = field(default_factory=list)
    #: where a sender's patients need a specialty a facility offers but no agreement covers
    uncovered: list[str] = field(default_factory=list)
    #: beds taken off a facility's report for patients sent there since it reported
    held: list[str] = field(default_factory=list)
    #: patients accepted and not yet arrived whose facility nobody recorded (accepted by a
    #: request whose answer named none, or moved to accepted by hand): no bed is held for them
    without_destination: list[str] = field(default_factory=list)
    #: agreements left out because the patients sent under them use up their quotas
    quotas_full: list[str] = field(default_factory=list)
    #: agreements with room under their quotas for fewer patients than the problem has who
    #: could go under them, a line each: carried to the engines as quotas, or why not
    #: (`carry_quotas`)
    quotas_tight: list[str] = field(default_factory=list)
    #: the ids of those carried as quotas (the manifest's "quotas"): no plan solved with the
    #: manifest goes beyond them
    quotas_held: list[str] = field(default_factory=list)
    #: agreements of the problem's senders and receivers that end within its horizon, a line
    #: each: the problem cannot say so, and the manifest carries their ends to the engines
    #: ("acceptance_ends", `agreement_ends`)
    ending: list[str] = field(default_factory=list)
    #: receivers bound by no agreement yet whose first comes into force within the horizon, a
    #: line each (`agreements_beginning`; the manifest carries the ends it sets)
    beginning: list[str] = field(default_factory=list)
    #: patients whose admission in the live plan the problem does not carry as their current
    #: place, by id: where it was and why (after the horizon and not kept, at a facility not in
    #: the problem, or the patient left out); a plan that gives them no place supersedes it
    #: (`plan show` cannot count them among those who lose their place)
    uncarried: dict[str, str] = field(default_factory=dict)

    def for_engines(self) -> Problem:
        """The problem as the engines solve it: parsed, with the admissions already due that
        the manifest keeps counted against the daily limits, and the agreements' quotas and
        ends it carries (what `plan solve` does with the files; `with_manifest`)."""
        return with_manifest(parse_problem(self.problem), self.manifest)


def beds_by_day(report: CapacityReport, horizon_days: int, now: datetime) -> list[int]:
    """Free beds per planning day from one report: its available figure, then its +24 h and
    +72 h figures, each from so many hours after the report was made (day d is ``now`` plus d
    days, so a report made 30 hours before ``now`` gives its +24 h figure from day 0). Each
    is at most MAX_COUNT (the registry limits each figure, not their sums; a problem above
    the limit would be refused by its own loader). A report stamped after ``now`` counts from
    ``now``."""
    since = max(0, int((now - report.reported_at).total_seconds() // 3600))
    return [
        min(MAX_COUNT, report.expected_available(min(72, since + 24 * day)))
        for day in range(horizon_days)
    ]


def facility_entry(
    facility: Facility, reports: list[CapacityReport], horizon_days: int, now: datetime
) -> dict[str, Any]:
    """A facility as a problem built at ``now`` gives it, from its latest capacity reports
    (``reports``): its place, free beds per specialty it offers and day (`beds_by_day`; before
    beds held for patients sent earlier are taken off, `held_beds`), capabilities and daily
    admission limit; without `accepts_from`, which the agreements set (`encode_coverage`).
    `plan build` writes it, and the approval makes it again to compare (`problem_mismatches`)."""
    entry: dict[str, Any] = {
        "id": facility.id,
        "lat": facility.location.lat,
        "lon": facility.location.lon,
        "beds": {
            r.specialty.value: beds_by_day(r, horizon_days, now)
            for r in sorted(reports, key=lambda r: r.specialty)
            if facility.offers(r.specialty)
        },
    }
    if facility.capabilities:
        entry["capabilities"] = sorted(c.value for c in facility.capabilities)
    if facility.daily_admission_limit is not None:
        entry["daily_admission_limit"] = facility.daily_admission_limit
    return entry


def _patient_entry(patient: PlanningPatient, origin: Facility) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": patient.id,
        "lat": origin.location.lat,
        "lon": origin.location.lon,
        "specialty": patient.primary_specialty.value,
        "precedence": patient.precedence.value,
        "length_of_stay_days": patient.expected_length_of_stay_days or DEFAULT_LENGTH_OF_STAY_DAYS,
        "organisation": patient.organisation_id,
    }
    if patient.special_needs:
        entry["needs"] = sorted(n.value for n in patient.special_needs)
    return entry


def _check_settings(precedences: Any, weights: Any) -> None:
    """Refuse precedences or weights the problem's loader would refuse (ProblemError, every
    error with its path: ``precedences.urgent.deadline_day: is missing``), before the registry
    is read; a deadline beyond the horizon is fine (it is cut to the horizon's last day)."""
    given = DEFAULT_WEIGHTS if weights is None else weights  # not an object: said as such
    parse_problem(
        {
            "horizon_days": MAX_HORIZON_DAYS,
            "precedences": DEFAULT_PRECEDENCES if precedences is None else precedences,
            "weights": {**DEFAULT_WEIGHTS, **given} if isinstance(given, dict) else given,
            "facilities": [],
            "patients": [],
        }
    )


def _check_precedences_given(rules: dict[str, Any], patient_entries: list[dict[str, Any]]) -> None:
    """Refuse precedences that leave out a level some patient of the registry has, naming the
    levels and their patients (the problem's loader names positions in a problem that is
    never written: `patients[2].precedence`)."""
    missing: dict[str, list[str]] = defaultdict(list)
    for entry in patient_entries:
        if entry["precedence"] not in rules:
            missing[entry["precedence"]].append(entry["id"])
    if missing:
        lines = [
            f"{level} ({len(ids)} patient(s): {', '.join(ids[:5])}{', ...' * (len(ids) > 5)})"
            for level, ids in sorted(missing.items())
        ]
        raise InvalidValue(
            "precedences",
            f"no rule for {'; '.join(lines)}: the precedences given must define every level "
            f"the planned patients have (they define {', '.join(sorted(rules))})",
        )


def build_problem(
    uow: UnitOfWork,
    *,
    now: datetime,
    stale_after: timedelta,
    horizon_days: int = 14,
    precedences: dict[str, dict[str, float | int]] | None = None,
    weights: dict[str, float] | None = None,
    include_field_hospitals: bool = False,
    respect_quotas: bool = True,
) -> BuiltProblem:
    """Build the allocation problem for the selected and referred patients of the registry.

    Facilities come in with the beds of their latest capacity report per specialty; field
    hospitals, which serve local casualties, only when asked. Patients who are not fit to
    transport or whose location is unknown are left out, and every omission is listed. An
    agreement whose quota the patients sent under it before use up covers nobody in the
    problem (the approval would refuse any plan placing someone under it), and one with room
    for fewer patients than could go under it is carried in the manifest as a quota the
    engines keep to (`carry_quotas`; the exchange format has no quotas), unless
    ``respect_quotas`` is False. Where the agreements under which a facility admits a sender's
    patients end before the horizon's last day, the manifest carries the last admission day to
    the engines ("acceptance_ends", `agreement_ends`; the format's acceptance holds on every
    day), qualifying the sender as "ORG/specialty" where its specialties there end apart.
    """
    _check_settings(precedences, weights)
    rules = {
        str(name): {**rule, "deadline_day": min(int(rule["deadline_day"]), horizon_days - 1)}
        for name, rule in (precedences or DEFAULT_PRECEDENCES).items()
    }
    today = day_of(now)  # day 0 of the problem
    with uow:
        patients = uow.patients.for_planning(PLANNED_STATUSES)
        reports = uow.capacity.latest()
        facilities = {f.id: f for f in uow.facilities.list()}
        agreements = uow.agreements.list()
        live = uow.plans.live()
        planned = _open_admissions(live)
        sent = patients_sent_earlier(uow, {r.facility_id for r in reports})
        # the facilities the problem takes in: every one reported, field hospitals if asked
        in_problem = {
            r.facility_id
            for r in reports
            if include_field_hospitals or not facilities[r.facility_id].kind.is_field_hospital
        }
        # patients whose place in the live plan is after the horizon: kept as approved
        not_kept = {
            p.id: _keep_fault(p, planned[p.id], in_problem, facilities, agreements, today)
            for p in patients
            if _after_horizon(planned.get(p.id), (today, horizon_days), in_problem)
        }
        kept_places = {pid: planned[pid] for pid, fault in not_kept.items() if fault is None}
        book = QuotaBook(agreements, today)
        if respect_quotas and book.has_quotas:
            sent_under_agreements(uow, book, set(), known=sent.destinations)
        full = book.full() if respect_quotas else []

    skipped: list[Skipped] = []
    by_facility: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in reports:
        by_facility[report.facility_id].append(report)
    # of the reports the problem takes (a facility it leaves out, or a specialty no longer
    # offered, had been warned of though nobody could report it again)
    stale = [
        r
        for r in reports
        if r.is_stale(now, stale_after)
        and r.facility_id in in_problem
        and facilities[r.facility_id].offers(r.specialty)
    ]

    facility_entries = []
    coverage: dict[str, dict[str, frozenset[Specialty]]] = {}
    last_days: dict[str, AcceptanceDays] = {}
    full_ids = frozenset(a.id for a in full)
    sending = sorted({p.organisation_id for p in patients})
    for facility_id in sorted(by_facility):
        facility = facilities[facility_id]
        if facility_id not in in_problem:  # a field hospital, not asked for
            skipped.append(Skipped("facility", facility.id, "field hospital for local casualties"))
            continue
        entry = facility_entry(facility, by_facility[facility_id], horizon_days, now)
        accepts = agreement_coverage(facility, agreements, now, full_ids, sending)
        if accepts is not None:
            coverage[facility.id] = accepts
            last_days[facility.id] = agreement_ends(
                facility, agreements, today, horizon_days, full_ids, sending
            )
        facility_entries.append(entry)
    held_now = holds(
        {e["id"]: e["beds"].keys() for e in facility_entries}, by_facility, sent, today
    )
    held = held_beds(facility_entries, held_now, today)
    arriving = held_admissions(facility_entries, sent, today, horizon_days)

    patient_entries = []
    versions: dict[str, int] = {}
    left_out: dict[str, int] = {}
    kept: dict[str, str] = {}  # patients whose approved admission falls after the horizon
    uncarried: dict[str, str] = {}  # patients whose approved admission is not their current
    for patient in patients:
        admission = kept_places.get(patient.id)
        if admission is not None:
            # its place is none of the problem's days: kept as approved, and the approval
            # carries its admission into the new plan (dropped, it went unsaid: `kept`)
            kept[patient.id] = f"{admission.facility_id}@{admission.admission_date.isoformat()}"
            skipped.append(Skipped("patient", patient.id, _kept_reason(admission)))
            left_out[patient.id] = patient.version
            continue
        origin = facilities.get(patient.location_id or "")
        approved = planned.get(patient.id)
        if origin is None or not patient.fit_to_transport:
            reason = "current location unknown" if origin is None else "not fit to transport"
            skipped.append(Skipped("patient", patient.id, reason))
            left_out[patient.id] = patient.version
            if approved is not None:
                uncarried[patient.id] = f"{approved.place}, left out: {reason}"
            continue
        entry = _patient_entry(patient, origin)
        current = _current(approved, today, horizon_days, in_problem)
        if current is not None:
            entry["current"] = current
        elif approved is not None:
            uncarried[patient.id] = approved.place + (
                ", a facility not in the problem"
                if approved.facility_id not in in_problem
                else f", after the horizon, not kept: {not_kept.get(patient.id)}"
            )
        patient_entries.append(entry)
        versions[patient.id] = patient.version
    opening = {fid: days.first for fid, days in last_days.items() if days.first}
    uncovered, ends = encode_coverage(
        facility_entries, coverage, patient_entries, last_days, opening
    )
    in_plan = [p for p in patients if p.id in versions]
    operators = {e["id"]: facilities[e["id"]].operator_id for e in facility_entries}
    uncovered += senders_turned_away(facility_entries, coverage, in_plan, operators, agreements)
    tight, carried, quotas_kept = (
        carry_quotas(book, in_plan, (facility_entries, patient_entries), facilities, now)
        if respect_quotas
        else ([], [], [])
    )

    _check_precedences_given(rules, patient_entries)
    problem: dict[str, Any] = {
        "horizon_days": horizon_days,
        "precedences": rules,
        # given weights override the defaults one by one (a cell that raises the cost of a
        # change need not restate the rest); precedences, a set of levels, replace them whole
        "weights": {**DEFAULT_WEIGHTS, **(weights or {})},
        "facilities": facility_entries,
        "patients": patient_entries,
    }
    parse_problem(problem)  # the registry must always give a valid problem
    # facilities the problem describes or could: every one with a capacity report (one left
    # out, a field hospital say, could come in when changed) and the origins of its patients
    described = set(by_facility) | {
        str(p.location_id) for p in patients if p.id in versions and p.location_id is not None
    }
    excluded = {s.id for s in skipped if s.kind == "facility"}
    # facilities that could treat the problem's patients but never reported their beds: named,
    # not excluded (a first report is a change the approval refuses for); they had been left
    # out unsaid, where the build is to list every omission
    wanted = {p.primary_specialty for p in in_plan}
    for f in sorted(facilities.values(), key=lambda f: f.id):
        if f.kind.is_field_hospital and not include_field_hospitals:  # the excluded among them
            continue
        reported = {r.specialty for r in by_facility.get(f.id, [])}
        unknown = sorted(s.value for s in wanted if f.offers(s) and s not in reported)
        if not unknown:
            continue
        # a facility that reported some specialties and not others the patients need had been
        # left out of this list (found by a review)
        skipped.append(
            Skipped(
                "facility",
                f.id,
                "no capacity report: its free beds are not known"
                if not reported
                else f"no capacity report for {', '.join(unknown)}: those beds are not known",
            )
        )
    manifest = seal({  # an edit of it shows, as one of the problem does (`seal_fault`)
        "built_at": local(now).isoformat(),  # its date is day 0
        "patients": versions,
        "left_out": left_out,
        # of them, those kept where a live plan admits them after the horizon's last day
        "kept": kept,
        # patients whose admission in the live plan the problem does not carry, and why
        # (`plan show` and `plan explain` say it: a plan that gives them no place supersedes
        # it, and the change of places cannot count them)
        "not_carried": uncarried,
        # field hospitals left out: their reports cannot change the problem (their facilities'
        # versions are compared, a change of kind included)
        "capacity": _capacity_stamps([r for r in reports if r.facility_id not in excluded]),
        "excluded": {fid: facilities[fid].version for fid in sorted(excluded)},
        "field_hospitals": include_field_hospitals,  # whether a facility's kind is read
        "facilities": {fid: facilities[fid].version for fid in sorted(described)},
        "agreements": {a.id: a.version for a in sorted(agreements, key=lambda a: a.id)},
        "problem_sha256": document_digest(problem),
        "held_admissions": arriving,
        "held": {patient_id: hold.key() for patient_id, hold in sorted(held_now.items())},
        "quotas": quotas_kept,
        "acceptance_ends": ends,
        # the live plans the patients' current places come from: a plan approved since (or
        # this one approved a second time) changes them
        "live_plans": {plan.id: plan.version for plan in live},
    })  # fmt: skip
    quotas_full = [_quota_used(a, book) for a in full]
    needed: dict[str, set[Specialty]] = defaultdict(set)  # per sender, its patients' specialties
    for patient in in_plan:
        needed[patient.organisation_id].add(patient.primary_specialty)
    senders = set(needed)
    receivers = {facilities[e["id"]].operator_id for e in facility_entries}
    return BuiltProblem(
        problem,
        manifest,
        skipped,
        stale,
        uncovered,
        held,
        sent.nowhere,
        quotas_full,
        tight,
        carried,
        agreements_ending(agreements, senders, receivers, today, horizon_days, full),
        agreements_beginning(agreements, needed, receivers, today, horizon_days, full_ids),
        uncarried,
    )


def _when(stamp: str) -> str:
    """A report's time stamp as the manifest keeps it, as people read it (`shown`)."""
    return shown(datetime.fromisoformat(stamp))


def _capacity_stamps(reports: list[CapacityReport]) -> dict[str, str]:
    return {f"{r.facility_id}/{r.specialty.value}": r.reported_at.isoformat() for r in reports}


def _open_admissions(live: list[ApprovedPlan]) -> dict[str, PlannedAdmission]:
    """The open admissions of the live plans, by patient: where the patients' current places
    come from (`_current`)."""
    return {a.patient_id: a for plan in live for a in plan.admissions if a.is_open}


def _after_horizon(
    admission: PlannedAdmission | None, days: tuple[date, int], in_problem: set[str]
) -> bool:
    """Whether ``admission`` (a patient's open one in the live plan) falls after the horizon
    (``days``: its day 0 and horizon) at a facility of the problem: no current place of the
    problem can say it (`_keep_fault` says whether `plan build` keeps it as approved)."""
    if admission is None or admission.facility_id not in in_problem:
        return False
    today, horizon_days = days
    return (admission.admission_date - today).days >= horizon_days


def _keep_fault(
    patient: PlanningPatient,
    admission: PlannedAdmission,
    in_problem: set[str],
    facilities: dict[str, Facility],
    agreements: list[Agreement],
    today: date,
) -> str | None:
    """None where `plan build` keeps ``patient``'s ``admission``, after the horizon at a
    facility of the problem (`_after_horizon`), as approved, out of the problem (the patient
    put in the problem without it could be placed anywhere, or nowhere, at no cost of change:
    the approval then dropped the admission unsaid, found by a review); else why not, as the
    build's "not carried" list and the manifest say it. It is kept where it is still a place
    the problem would allow it: the patient fit to transport from a known place, the facility
    offering its specialty and meeting its needs, and the agreements admitting its
    organisation's patients there on that day (`acceptance_days`), none of them with a quota
    (kept, it would take a quota's room ahead of the patients planned, however urgent: found
    by a review). Any other such patient comes into the problem without a current place; a
    re-plan that gives it none sends it back to selected at approval (`_unreferred`)."""
    facility = facilities[admission.facility_id]
    if not patient.fit_to_transport or patient.location_id not in facilities:
        return "the patient's place now is not known or it is not fit to transport"
    specialty = patient.primary_specialty
    if not facility.offers(specialty):
        return f"{facility.id} no longer offers {specialty.value}"
    if not {n.value for n in patient.special_needs} <= {c.value for c in facility.capabilities}:
        return f"{facility.id} no longer meets its needs"
    sender, operator = patient.organisation_id, facility.operator_id
    day = (admission.admission_date - today).days
    open_days = acceptance_days(operator, sender, specialty, agreements, today, day + 1)
    if open_days is None or open_days[0] > day or (open_days[1] is not None and open_days[1] < day):
        return f"no agreement admits its organisation's patients at {facility.id} that day"
    quota = next(
        (
            a
            for a in sorted(agreements, key=lambda a: a.id)
            if a.quota is not None
            and (a.sending_organisation_id, a.receiving_organisation_id) == (sender, operator)
            and specialty in a.specialties
        ),
        None,
    )
    if quota is not None:
        return f"it comes under {quota.id}, an agreement with a quota"
    return None


def _kept_reason(admission: PlannedAdmission) -> str:
    return (
        f"approved for {admission.place}, after the "
        "horizon's last day: kept as approved (the approval carries its admission into the "
        "new plan)"
    )


def _current(
    admission: PlannedAdmission | None, today: date, horizon_days: int, facilities: set[str]
) -> dict[str, Any] | None:
    """An approved admission as the problem's `current`, when it falls before the horizon ends.

    An admission whose day has passed is the place of a patient still waiting for it (the
    problem holds only selected and referred patients, none admitted): it keeps its facility,
    on day 0, the problem's earliest day. Dropped, it made the re-plan count the patient as
    placed for the first time and move it elsewhere with no change penalty. ``today`` is the
    problem's day 0: the day it is built, or was built (`_currents_as_built`)."""
    if admission is None or admission.facility_id not in facilities:
        return None
    day = max(0, (admission.admission_date - today).days)
    if day >= horizon_days:
        return None
    return {"facility": admission.facility_id, "day": day}


#: changes a refusal names (the rest are counted)
SHOWN_CHANGES = 20


class RegistryChanged(DomainError):
    """The registry changed since the problem behind a plan was built."""

    def __init__(self, changes: list[str], approved_already: str | None = None) -> None:
        shown = "; ".join(changes[:SHOWN_CHANGES]) + (
            f"; and {len(changes) - SHOWN_CHANGES} more" if len(changes) > SHOWN_CHANGES else ""
        )
        # a plan approved a second time: the registry changed by its first approval (and maybe
        # more), and the user is to hear first that it is in force
        first = f"this plan {approved_already}; " if approved_already else ""
        then = (
            "there is nothing to approve again; to change it, run `medevac plan build` and "
            "solve again"
            if approved_already
            else "run `medevac plan build` and solve again"
        )
        super().__init__(
            f"{first}the registry changed since the plan was built ({len(changes)} change(s)): "
            f"{shown}; {then}"
        )
        self.changes = changes
        self.approved_already = approved_already


class QuotaExceeded(DomainError):
    """A plan places more patients under an agreement than its quota allows."""

    def __init__(self, overruns: list[str]) -> None:
        super().__init__(
            f"the plan exceeds {len(overruns)} agreement quota(s): " + "; ".join(overruns)
        )
        self.overruns = overruns


class AdmittedAfterAgreementEnds(DomainError):
    """A plan admits patients after the agreements they come under end."""

    def __init__(self, admissions: list[str]) -> None:
        shown = "; ".join(admissions[:20]) + (
            f"; and {len(admissions) - 20} more" if len(admissions) > 20 else ""
        )
        super().__init__(
            f"the plan admits {len(admissions)} patient(s) after the agreements they come "
            f"under end: {shown}"
        )
        self.admissions = admissions


def registry_changes(
    uow: UnitOfWork,
    manifest: dict[str, Any],
    stored: Mapping[str, Patient],
    problem: dict[str, Any] | None = None,
    resolved: dict[str, PlannedAdmission] | None = None,
    noted: list[str] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """What differs between the registry at ``now`` (the clock's time when not given) and the
    manifest of a problem (read in `uow`).

    ``stored`` are the manifest's patients as read in `uow` (the approval moves them next).
    With the ``problem``, the beds held for patients sent earlier are compared too (where the
    manifest records them); ``resolved`` then receives where those patients are to be
    admitted (`sent_destinations`), for the caller to use again. With ``noted``, changes that
    cannot alter the problem are not returned but appended there, one line each: facilities,
    patients and agreements whose audit trail shows only fields changed that no problem reads
    (`changed_fields`: a facility renamed, a patient's triage), and, with the ``problem``,
    agreements whose receiver runs none of its facilities.
    """
    now = now or utc_now()  # one moment: the checks do not differ across midnight
    changes: list[str] = []
    known = manifest_patients(manifest)
    entries = {e["id"]: e for e in problem["patients"]} if problem is not None else {}
    described = 0

    def patient_detail(patient: Patient) -> str:
        nonlocal described
        described += 1  # the refusal shows 20 changes: only those are looked up
        if described > SHOWN_CHANGES:
            return ""
        return _patient_detail(uow, patient, entries.get(patient.id))

    built_at = datetime.fromisoformat(manifest["built_at"])
    fields = _Fields(uow, noted, built_at) if noted is not None else None
    # plans approved or changed since come first: one such plan moves many patients, whose
    # changes would otherwise fill the lines shown before it
    changes += _live_plan_changes(uow, manifest, problem)
    changes += _version_changes(
        "patient", known, stored, lambda p: f"now {p.status}, ", patient_detail, fields
    )
    # patients who joined the planned pool since: as many as the pool holds beyond the known
    # patients in it now (counted first, so that the pool is listed only when it grew)
    counts = uow.patients.count_by_status()
    in_pool = sum(counts.get(status, 0) for status in PLANNED_STATUSES)
    if in_pool > sum(1 for p in stored.values() if p.status in PLANNED_STATUSES):
        for entry in uow.patients.for_planning(PLANNED_STATUSES):
            if entry.id not in known:
                changes.append(f"patient {entry.id} became {entry.status} after the plan was built")
    changes += _facility_and_agreement_changes(uow, manifest, day_of(now), problem, noted)
    then: dict[str, str] = manifest["capacity"]
    latest = uow.capacity.latest()
    excluded = manifest.get("excluded", {})
    stamps = _capacity_stamps([r for r in latest if r.facility_id not in excluded])
    # field hospitals that reported first since, which the build would leave out all the same
    first = {key.rpartition("/")[0] for key in stamps.keys() - then.keys()}
    anyway = _left_out_anyway(uow, manifest, first) if noted is not None else set()
    for key in sorted(then.keys() | stamps.keys()):
        if key not in stamps:
            changes.append(f"capacity report {key} is gone")
        elif key not in then:
            said = f"capacity of {key} was first reported at {_when(stamps[key])}"
            if key.rpartition("/")[0] in anyway:
                assert noted is not None
                noted.append(f"{said}: a field hospital, which the build left out")
            else:
                changes.append(said)
        elif stamps[key] != then[key]:
            # the report's own time, which may be before the build if it was entered late
            changes.append(
                f"capacity of {key} was reported again since the build (a report of "
                f"{_when(stamps[key])})"
            )
    if problem is not None:
        sent = patients_sent_earlier(uow, {r.facility_id for r in latest})
        if resolved is not None:
            resolved.update(sent.destinations)
        # as of today: approved on a later day than the build, the patients due before today
        # who have not arrived arrive today at the earliest, and hold their beds from today
        today = max(day_of(now), _built_on(manifest))
        changes += _hold_changes(manifest["held"], problem, manifest, latest, sent, today)
        changes += _arrival_changes(manifest["held_admissions"], problem, manifest, sent, today)
    return changes


def _built_on(manifest: dict[str, Any]) -> date:
    """The date of the problem's day 0: the day it was built, in the zone it was built in."""
    return datetime.fromisoformat(manifest["built_at"]).date()


def _arrival_changes(
    seen: dict[str, int],
    problem: dict[str, Any],
    manifest: dict[str, Any],
    sent: SentEarlier,
    today: date,
) -> list[str]:
    """Admissions of patients sent earlier that a problem's admission limits must count, more
    on some facility's day now than when the problem was built ("held_admissions"): an
    admission named or moved to that day since, or, approved on a later day than the build
    (``today``), patients due before today who have not arrived and so arrive today at the
    earliest (the build counted them on their own day). The plan may then pass the limit
    with them. Days before ``today`` are past: no plan admits anyone on them."""
    built = _built_on(manifest)  # day 0, as the build saw it
    gone = (today - built).days  # problem days before today's
    horizon = int(problem["horizon_days"])
    if gone >= horizon:
        return []
    now = arriving_patients(problem["facilities"], sent, today, horizon - gone)
    changes = []
    for key, patients in now.items():
        facility, _, day_now = key.rpartition("/")  # as `arrival_key` writes it, from today
        day = int(day_now) + gone
        before = seen.get(arrival_key(facility, day), 0)
        if len(patients) <= before:
            continue
        named = ", ".join(patients[:10]) + (" ..." if len(patients) > 10 else "")
        late = [
            p for p in patients if gone and sent.destinations[p].admission_date < today
        ]  # due on a day of the problem now past
        why = (
            f"{len(late)} of them due before today ({today}) and not arrived"
            if late
            else "an admission named or moved since"
        )
        changes.append(
            f"{len(patients)} patient(s) sent earlier now arrive at {facility} on day {day} "
            f"of the problem ({named}), {before} when it was built ({why}): they count "
            "against its daily admission limit"
        )
    return changes


def _hold_changes(
    seen: dict[str, str],
    problem: dict[str, Any],
    manifest: dict[str, Any],
    latest: list[CapacityReport],
    sent: SentEarlier,
    today: date,
) -> list[str]:
    """Patients sent earlier who hold beds now that the problem was built without: a
    destination named or moved since, a stay made longer, an admission earlier than planned,
    or, approved on a later day than the build (``today``), a patient due before today who
    has not arrived and so holds its bed from today, later than the build counted.
    Holds dropped or shrunk since only free beds, which a plan may leave unused: no change;
    so are days before ``today``, past. ``latest`` are the latest capacity reports, ``sent``
    the patients sent earlier to their facilities."""
    reports: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in latest:
        reports[report.facility_id].append(report)
    beds = {f["id"]: f["beds"].keys() for f in problem["facilities"]}
    # the problem's days still to come: from today to the end of its horizon
    start = today
    end = _built_on(manifest) + timedelta(days=int(problem["horizon_days"]))
    changes = []
    for patient_id, hold in sorted(holds(beds, reports, sent, start).items()):
        key = seen.get(patient_id)
        before = None if key is None else Hold.parse(key)
        if before is None:
            first, last = hold.days(start, end)
            if first == last:
                continue  # only days outside the problem
            changes.append(
                f"patient {patient_id} now holds {hold.said()}, which the plan did not see"
            )
        elif not hold.within(before, start, end):
            changes.append(
                f"patient {patient_id} holds another bed, {hold.said()} (the plan saw "
                f"{before.said()})"
            )
    return changes


#: differences `problem_mismatches` names (the rest are counted)
SHOWN_MISMATCHES = 10


class ProblemNotAsBuilt(InvalidValue):
    """A problem says of its facilities or patients what the registry did not when the
    problem was built: edited by hand, its digests made anew (they have no key). An
    InvalidValue of the "problem", each difference in ``mismatches``."""

    def __init__(self, built_at: str, mismatches: list[str]) -> None:
        shown = "; ".join(mismatches[:SHOWN_MISMATCHES]) + (
            f"; and {len(mismatches) - SHOWN_MISMATCHES} more"
            if len(mismatches) > SHOWN_MISMATCHES
            else ""
        )
        super().__init__(
            "problem",
            f"is not what `medevac plan build` made of the registry at {_when(built_at)} "
            f"({len(mismatches)} difference(s)): {shown}; it was edited after the build (its "
            "digests made anew): build the problem again",
        )
        self.mismatches = mismatches


def problem_mismatches(
    uow: UnitOfWork,
    problem: Problem,
    manifest: dict[str, Any],
    stored: Mapping[str, Patient],
    today: date,
) -> list[str]:
    """What ``problem`` (as parsed) says of its facilities and patients that the registry does
    not say as of the build (the manifest's "built_at"), one line each, naming the facility
    or patient and the field; empty for a problem as `plan build` wrote it.

    The manifest's digests have no key: a problem edited by hand (beds added, an admission
    limit taken out) passes them once they are made anew. Capacity reports are kept and
    stamped, so each facility's entry is made again as the build made it (`facility_entry`,
    from the reports the registry holds, which `registry_changes` has found to be those the
    build read, less the beds the manifest records as held: `_hold_changes` has found every
    bed held now among them). A problem may have fewer beds than that, on days before
    ``today`` any number: holds dropped since free beds, and past days admit nobody.
    Acceptance is compared for the organisations and specialties of the problem's patients:
    a facility may not take in patients whom no agreement covers within the horizon, nor
    before the day from which the agreements admit them (their `earliest_day`;
    `acceptance_days`), quotas left aside (a quota used up since, or before, is the
    approval's to count; ends of acceptance, `after_ends`'s).
    Patients (``stored``, read for the approval) are made again as the build made them
    (`_patient_entry`), and so are their current places, from the live plans (those the build
    read: `_live_plan_changes` refuses where they changed). Left unchecked: the precedences
    and weights (`plan build --settings` chooses them).
    """
    built_at = datetime.fromisoformat(manifest["built_at"])
    built = built_at.date()
    gone = max(0, (today - built).days)  # days of the problem before today's
    latest = uow.capacity.latest()
    # the field hospitals left out, and those that first reported since, which the build would
    # leave out all the same (`registry_changes` noted their reports)
    excluded = set(manifest.get("excluded", {}))
    excluded |= _left_out_anyway(
        uow, manifest, {r.facility_id for r in latest} - _reported(manifest) - excluded
    )
    reports: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in latest:
        if report.facility_id not in excluded:
            reports[report.facility_id].append(report)
    origins = {p.location_id for p in stored.values() if p.location_id is not None}
    facilities = uow.facilities.get_many(list(reports.keys() | origins))
    expected = {
        fid: facility_entry(facilities[fid], reports[fid], problem.horizon_days, built_at)
        for fid in sorted(reports)
        if fid in facilities
    }
    held: dict[str, Hold] = {}
    for patient_id, key in manifest["held"].items():
        hold = Hold.parse(key)  # every key parses: `check_manifest`
        if hold is not None and hold.specialty in expected.get(hold.facility_id, {}).get(
            "beds", {}
        ):
            held[patient_id] = hold
    held_beds(list(expected.values()), held, built)
    planned = manifest["patients"]
    lines: list[str] = []
    senders: dict[str, str] = {}  # the registry's organisation of each patient of the problem
    for patient in problem.patients:
        entry = _registry_entry(patient.id, stored, planned, facilities)
        if isinstance(entry, str):
            lines.append(f"patient {patient.id}: {entry}")
            continue
        lines += [f"patient {patient.id}: {said}" for said in _patient_differences(patient, entry)]
        senders[patient.id] = entry["organisation"]
    # current places as the live plans give them from day 0: those the build read, unless
    # `_live_plan_changes` found them changed (refused before this is asked)
    admissions = _open_admissions(uow.plans.live())
    in_problem = set(expected)
    for patient in problem.patients:
        found = _current(admissions.get(patient.id), built, problem.horizon_days, in_problem)
        place = None if found is None else (str(found["facility"]), int(found["day"]))
        at = None if patient.current is None else (patient.current.facility, patient.current.day)
        if at != place:
            lines.append(
                f"patient {patient.id}: current {_placed(at)}, {_placed(place)} in the live plans"
            )
    # per organisation as written, specialty and sender: the earliest day of its patients
    groups: dict[tuple[str, str, str], int] = {}
    for patient in problem.patients:
        sender = senders.get(patient.id)
        if sender is not None and patient.specialty in _SPECIALTY_CODES:
            key = (patient.organisation or "", patient.specialty, sender)
            groups[key] = min(groups.get(key, patient.earliest_day), patient.earliest_day)
    admits = _acceptance(uow.agreements.list(), built, problem.horizon_days)
    for facility in problem.facilities:
        if facility.id not in expected:
            why = "left out of it" if facility.id in excluded else "with no capacity report"
            lines.append(f"facility {facility.id}: the registry gives the problem none ({why})")
            continue
        entry = expected[facility.id]
        lines += [
            f"facility {facility.id}: {said}"
            for said in _facility_differences(facility, entry, gone)
        ]
        operator = facilities[facility.id].operator_id
        for (written, specialty, sender), earliest in sorted(groups.items()):
            if specialty not in facility.beds or not facility.accepts(written):
                continue
            days = admits(operator, sender, specialty)
            if days is None:
                lines.append(
                    f"facility {facility.id}: accepts_from takes in {written} for {specialty}, "
                    f"which no agreement within the horizon from {built} covers for {sender}"
                )
            elif days[0] > earliest:
                lines.append(
                    f"facility {facility.id}: accepts_from takes in {written} for {specialty} "
                    f"from day {earliest} (the patients' earliest_day), where the agreements "
                    f"admit {sender}'s patients only from day {days[0]} "
                    f"({built + timedelta(days=days[0])})"
                )
    given = {f.id for f in problem.facilities}
    lines += [
        f"facility {fid}: left out of the problem, which the registry gives it"
        for fid in sorted(expected.keys() - given)
    ]
    return lines


_SPECIALTY_CODES = frozenset(s.value for s in Specialty)


def _placed(place: tuple[str, int] | None) -> str:
    return "none" if place is None else f"{place[0]} on day {place[1]}"


def _acceptance(
    agreements: list[Agreement], built: date, horizon_days: int
) -> Callable[[str, str, str], tuple[int, int | None] | None]:
    """The first and last day of the problem (day 0 = ``built``) on which an operator's
    facilities admit a sender's patients in a specialty (`acceptance_days`, quotas left
    aside: one used up is the approval's to count), as a function of (operator, sender,
    specialty code), each answer worked out once."""
    by_operator: dict[str, list[Agreement]] = defaultdict(list)
    for agreement in agreements:
        by_operator[agreement.receiving_organisation_id].append(agreement)
    known: dict[tuple[str, str, str], tuple[int, int | None] | None] = {}

    def admits(operator: str, sender: str, specialty: str) -> tuple[int, int | None] | None:
        key = (operator, sender, specialty)
        if key not in known:
            known[key] = acceptance_days(
                operator, sender, Specialty(specialty), by_operator[operator], built, horizon_days
            )
        return known[key]

    return admits


def _registry_entry(
    patient_id: str,
    stored: Mapping[str, Patient],
    planned: Mapping[str, int],
    facilities: Mapping[str, Facility],
) -> dict[str, Any] | str:
    """The problem's entry the build made of a patient from the registry (`_patient_entry`),
    or why the build made none."""
    patient = stored.get(patient_id)
    if patient is None or patient_id not in planned:
        return "not one of the patients the problem was built for (its manifest's)"
    origin = facilities.get(patient.location_id or "")
    if origin is None:
        return "its location is no facility of the registry: the build left it out"
    return _patient_entry(PlanningPatient.of(patient), origin)


def _patient_differences(patient: ProblemPatient, entry: dict[str, Any]) -> list[str]:
    """The fields of a problem's ``patient`` (as parsed) that differ from the build's
    ``entry`` for it, and those the build never writes."""
    said = []
    for name in ("lat", "lon", "specialty", "precedence", "length_of_stay_days"):
        if getattr(patient, name) != entry[name]:
            said.append(f"{name} {getattr(patient, name)!r}, {entry[name]!r} in the registry")
    if sorted(patient.needs) != entry.get("needs", []):
        said.append(f"needs {sorted(patient.needs)}, {entry.get('needs', [])} in the registry")
    written = patient.organisation or ""
    if written.removesuffix(f"{COVERAGE_SEPARATOR}{patient.specialty}") != entry["organisation"]:
        said.append(f"organisation {written!r}, {entry['organisation']!r} in the registry")
    # an earliest day the build writes where the agreements admit a sender's patients only
    # from a later day: compared with them (`problem_mismatches`); a later one only delays
    for name, unset in (("group", None), ("max_distance_km", None)):
        if getattr(patient, name) != unset:
            said.append(f"{name} {getattr(patient, name)!r}, which `plan build` never writes")
    return said


def _facility_differences(facility: ProblemFacility, entry: dict[str, Any], gone: int) -> list[str]:
    """The fields of a problem's ``facility`` (as parsed) that differ from the build's
    ``entry`` for it (`facility_entry`, held beds taken off), beds only where the problem
    has more on a day from ``gone`` on."""
    said = []
    for name in ("lat", "lon"):
        if getattr(facility, name) != entry[name]:
            said.append(f"{name} {getattr(facility, name)!r}, {entry[name]!r} in the registry")
    limit, registry_limit = facility.daily_admission_limit, entry.get("daily_admission_limit")
    if limit != registry_limit:
        said.append(
            f"daily_admission_limit {'none' if limit is None else limit}, "
            f"{'none' if registry_limit is None else registry_limit} in the registry"
        )
    if sorted(facility.capabilities) != entry.get("capabilities", []):
        said.append(
            f"capabilities {sorted(facility.capabilities)}, {entry.get('capabilities', [])} "
            "in the registry"
        )
    for specialty, beds in sorted(facility.beds.items()):
        reported = entry["beds"].get(specialty)
        if reported is None:
            said.append(f"beds {specialty}: the registry has no report of them")
            continue
        over = [d for d in range(gone, len(beds)) if beds[d] > reported[d]]
        if over:
            d = over[0]
            said.append(
                f"beds {specialty} on {len(over)} day(s), day {d} the first: {beds[d]}, "
                f"{reported[d]} from its capacity report (less beds held)"
            )
    return said


@dataclass(frozen=True, slots=True)
class _Fields:
    """Where `_version_changes` reads what changed of an entity (``uow``, the problem built at
    ``built_at``) and notes the changes no problem reads (``noted``)."""

    uow: UnitOfWork
    noted: list[str]
    built_at: datetime
    unread: Mapping[str, frozenset[str]] = field(default_factory=dict)  # `changed_since`


def _version_changes(
    kind: str,
    seen: dict[str, int],
    stored: Mapping[str, Any],
    state: Callable[[Any], str],
    detail: Callable[[Any], str] | None = None,
    fields: _Fields | None = None,
) -> list[str]:
    """Entities of the manifest (id -> version) that are gone or at another version now;
    ``detail`` says what changed of one (or ""). With ``fields``, an entity whose audit trail
    shows only fields changed that no problem reads (`changed_since`) is noted instead
    ("facility F-1: name, city"), and one whose changed fields it shows has them said where
    ``detail`` is not given."""
    changes: list[str] = []
    moved = {
        key: (stored[key], version)
        for key, version in seen.items()
        if key in stored and stored[key].version != version
    }
    read = changed_since(fields.uow, kind, moved, fields.built_at, fields.unread) if fields else {}
    for key, version in sorted(seen.items()):
        entity = stored.get(key)
        if entity is None:
            changes.append(f"{kind} {key} no longer exists")
        elif entity.version != version:
            found = read.get(key)
            if fields is not None and found is not None and not found.planned:
                said = ", ".join(found.unplanned) or (
                    f"changed and changed back (version {entity.version}, as version {version})"
                )
                fields.noted.append(f"{kind} {key}: {said}")
                continue
            if detail is not None:
                said = detail(entity)
            else:
                said = "; ".join(found.planned) if found is not None else ""
            changes.append(
                f"{kind} {key} changed ({state(entity)}version {entity.version}; the plan saw "
                f"version {version})" + (f": {said}" if said else "")
            )
    return changes


def _patient_detail(uow: UnitOfWork, patient: Patient, entry: dict[str, Any] | None) -> str:
    """What changed of ``patient`` since the problem's ``entry`` for it was written (None: the
    problem left it out): each of the problem's fields it now has otherwise, and the newest
    change of its audit trail (a status move and back leaves the fields as they were)."""
    parts = []
    if entry is not None:
        try:
            origin: Facility | None = uow.facilities.get(patient.location_id or "")
        except NotFound:
            origin = None
        if origin is None:
            parts.append("its location is no longer a known facility")
        else:
            now = _patient_entry(PlanningPatient.of(patient), origin)
            for name in ("specialty", "precedence", "length_of_stay_days", "organisation"):
                if now.get(name) != entry.get(name):
                    parts.append(f"{name} {entry.get(name)} -> {now.get(name)}")
            if now.get("needs", []) != entry.get("needs", []):
                parts.append(f"needs {entry.get('needs', [])} -> {now.get('needs', [])}")
            if (now["lat"], now["lon"]) != (entry["lat"], entry["lon"]):
                parts.append(f"location now {patient.location_id}")
        if not patient.fit_to_transport:
            parts.append("no longer fit to transport")
    trail = uow.audit.list(entity_type="patient", entity_id=patient.id, limit=1)
    if trail:
        last = trail[0]
        # long enough for "regulated to FACILITY on DATE by plan PLAN-..." whole
        why = last.reason if len(last.reason) <= 120 else last.reason[:117] + "..."
        reason = f" ({why})" if why else ""
        parts.append(f"last change {last.action!r} by {last.actor} at {shown(last.at)}{reason}")
    return ", ".join(parts)


def _live_plan_changes(
    uow: UnitOfWork, manifest: dict[str, Any], problem: dict[str, Any] | None = None
) -> list[str]:
    """Plans approved, superseded or changed (an admission withdrawn) since the problem was
    built: the current places the problem gave its patients are no longer theirs. With the
    ``problem``, a plan changed only for patients outside it (one sent earlier cancelled, say)
    is no change: its patients' current places are as the problem has them (such a change
    refused the approval)."""
    seen: dict[str, int] = manifest["live_plans"]
    changes: list[str] = []
    live = {plan.id: plan for plan in uow.plans.live()}
    if (
        problem is not None
        and live.keys() == seen.keys()
        and _currents_as_built(problem, manifest, list(live.values()))
    ):
        return []
    for plan_id, plan in sorted(live.items()):
        if plan_id not in seen:
            changes.append(
                f"plan {plan_id} was approved at {shown(plan.approved_at)} by "
                f"{plan.approved_by}, after the problem was built"
            )
        elif plan.version != seen[plan_id]:
            changes.append(
                f"plan {plan_id} changed (version {plan.version}; the problem saw version "
                f"{seen[plan_id]})"
            )
    changes += [
        f"plan {plan_id}, live when the problem was built, is no longer live"
        for plan_id in sorted(seen.keys() - live.keys())
    ]
    return changes


def _currents_as_built(
    problem: dict[str, Any], manifest: dict[str, Any], live: list[ApprovedPlan]
) -> bool:
    """Whether the ``live`` plans give every patient of the problem the current place the
    problem gives it (`_current`, counted from the day it was built), and no other."""
    planned = _open_admissions(live)
    built = _built_on(manifest)
    horizon = int(problem["horizon_days"])
    facilities = {f["id"] for f in problem["facilities"]}
    return all(
        _current(planned.get(p["id"]), built, horizon, facilities) == p.get("current")
        for p in problem["patients"]
    )


def _facility_and_agreement_changes(
    uow: UnitOfWork,
    manifest: dict[str, Any],
    today: date,
    problem: dict[str, Any] | None = None,
    noted: list[str] | None = None,
) -> list[str]:
    """Facilities the problem describes and agreements (which set `accepts_from`) that changed,
    appeared or went, and agreements that came into force or lapsed between the build and
    ``today``. With ``noted`` (see `registry_changes`), those changes that cannot alter the
    problem go there instead."""
    built_at = datetime.fromisoformat(manifest["built_at"])
    seen: dict[str, int] = manifest["facilities"]
    unread = _unread_fields(manifest)
    fields = _Fields(uow, noted, built_at, unread) if noted is not None else None
    facilities = uow.facilities.get_many(list(seen))
    changes = _version_changes("facility", seen, facilities, lambda _: "", None, fields)
    fields = _Fields(uow, noted, built_at) if noted is not None else None
    known: dict[str, int] = manifest["agreements"]
    built_on = _built_on(manifest)
    now = {a.id: a for a in uow.agreements.list()}
    apart = _apart_from(uow, problem, facilities) if noted is not None else None
    # changed, and apart from the problem now: apart as built too, their trails say
    apart_now = {
        agreement_id: (agreement, known[agreement_id])
        for agreement_id, agreement in now.items()
        if apart is not None
        and known.get(agreement_id, agreement.version) != agreement.version
        and apart(agreement)
    }
    unrelated = set()
    for agreement_id, found in changed_since(uow, "agreement", apart_now, built_at).items():
        receiver = (found.then if found is not None else {}).get("receiving_organisation_id")
        if apart is not None and isinstance(receiver, str) and apart.between(receiver):
            unrelated.add(agreement_id)
    changes += _version_changes(
        "agreement",
        {k: v for k, v in known.items() if k not in unrelated},
        now,
        lambda _: "",
        None,
        fields,
    )
    for agreement_id, agreement in sorted(now.items()):
        said = []
        if agreement_id not in known:
            said.append(f"agreement {agreement_id} was registered after the plan was built")
        elif agreement_id in unrelated:
            said.append(f"agreement {agreement_id} changed since the plan was built")
        # whatever its version (one changed in its costs alone is noted above, not this)
        in_force = agreement.in_force(today)
        if agreement_id in known and in_force != agreement.in_force(built_on):
            state = "came into force" if in_force else "lapsed"
            said.append(f"agreement {agreement_id} {state} since the plan was built")
        if noted is not None and apart is not None and apart(agreement):
            noted += [
                f"{line}: {agreement.receiving_organisation_id} runs no facility of the problem"
                for line in said
            ]
        else:
            changes += said
    return changes


def _kind_unread(manifest: dict[str, Any]) -> set[str]:
    """The facilities of the manifest whose kind the problem does not read: every one where
    the build took field hospitals in (the manifest's "field_hospitals"; not said by a
    manifest written before it was kept), else those without a capacity report (an origin
    only: a report made since is a change of its own). A field hospital left out, or a
    hospital of the problem, made the other kind comes in or goes out of the problem."""
    if manifest.get("field_hospitals") is True:
        return set(manifest["facilities"])
    return set(manifest["facilities"]) - _reported(manifest) - set(manifest.get("excluded", {}))


def _reported(manifest: dict[str, Any]) -> set[str]:
    """The facilities of the problem: those whose capacity reports the manifest keeps (every
    facility with a report but the field hospitals left out, "excluded", which `build_problem`
    gives an entry, `facility_entry`)."""
    # "FACILITY/specialty": a facility's id may hold "/", a specialty's code none
    return {key.rpartition("/")[0] for key in manifest["capacity"]}


#: The fields of a facility that only its entry in the problem holds (`facility_entry`: its
#: capabilities, daily admission limit and the specialties its beds are of) or that bear on the
#: problem's facilities only (its operator: the agreements it accepts under,
#: `agreement_coverage`, and the quotas, `carry_quotas`). A facility of the manifest without an
#: entry (the origin of patients only, or a field hospital left out) gives the problem nothing
#: of them: its patients' place, its location, alone (`_patient_entry`), and, left out, whether
#: it is a field hospital. Its operator counts the patients sent there earlier against the
#: agreements' quotas, which the approval counts again from the registry (`sent_book`,
#: `carried_room_changes`, the overruns), as it does for every facility they were sent to.
_ENTRY_FIELDS = frozenset({"specialties", "capabilities", "daily_admission_limit", "operator_id"})


def _unread_fields(manifest: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Per facility of the manifest, the fields the problem does not read of it besides those
    of `UNPLANNED_FIELDS` (`changed_since`'s ``unread``): its kind where `_kind_unread` says
    so, and those of `_ENTRY_FIELDS` where the problem has no entry for it (no capacity report
    kept, `_reported`). Its location is read: an origin's is its patients' place, and a field
    hospital left out may be one too (the manifest does not say)."""
    kind = _kind_unread(manifest)
    entered = _reported(manifest)
    unread: dict[str, frozenset[str]] = {}
    for fid in manifest["facilities"]:
        fields = (frozenset({"kind"}) if fid in kind else frozenset()) | (
            frozenset() if fid in entered else _ENTRY_FIELDS
        )
        if fields:
            unread[fid] = fields
    return unread


def _field_hospitals_left_out(manifest: dict[str, Any]) -> bool:
    """Whether the build left the field hospitals out (the manifest's "field_hospitals"; one
    written before it was kept says so only by those it left out, "excluded")."""
    taken_in = manifest.get("field_hospitals")
    return taken_in is False or (taken_in is None and bool(manifest.get("excluded")))


def _left_out_anyway(uow: UnitOfWork, manifest: dict[str, Any], facility_ids: set[str]) -> set[str]:
    """Those of ``facility_ids`` (facilities whose capacity was first reported since the build)
    that a build like this one would leave out all the same: field hospitals, as they are now,
    where it left the field hospitals out. Their reports cannot alter the problem (as those of
    the field hospitals it left out, "excluded", cannot); a hospital's bring it in."""
    if not facility_ids or not _field_hospitals_left_out(manifest):
        return set()
    found = uow.facilities.get_many(list(facility_ids))
    return {fid for fid, facility in found.items() if facility.kind.is_field_hospital}


@dataclass(frozen=True, slots=True)
class _Apart:
    """The operators of a problem's facilities (``receivers``). An agreement whose receiver is
    none of them covers nobody at a facility of the problem, and its quota counts nobody the
    problem places. One whose sender has no patient in the problem is not apart: the first
    agreement of an operator binds its facilities for every sender (`bound_from`: until
    then they accept everyone)."""

    receivers: frozenset[str]

    def between(self, receiver: str) -> bool:
        """Whether an agreement received by ``receiver`` is apart from the problem."""
        return receiver not in self.receivers

    def __call__(self, agreement: Agreement) -> bool:
        return self.between(agreement.receiving_organisation_id)


def _apart_from(
    uow: UnitOfWork, problem: dict[str, Any] | None, facilities: Mapping[str, Facility]
) -> _Apart | None:
    """The operators of the ``problem``'s facilities; None without the problem, or where one
    of its facilities is no longer in the registry (its operator is not known)."""
    if problem is None:
        return None
    ids = [entry["id"] for entry in problem["facilities"]]
    known = {fid: facilities[fid] for fid in ids if fid in facilities}
    known |= uow.facilities.get_many([fid for fid in ids if fid not in known])
    if len(known) < len(set(ids)):
        return None
    return _Apart(frozenset(f.operator_id for f in known.values()))


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved plan, the quota overruns it was approved over (empty when none), and the
    live treatment requests that ask another organisation to treat patients it admits
    elsewhere (one line a request; see `requests_elsewhere`). ``solved`` is the plan as
    approved: the one given, less the patients ``left_out`` to keep within the quotas
    (patient -> the agreement it would have taken beyond its quota; `keep_within`).
    ``noted`` are the registry's changes since the build that cannot alter the problem (one
    line each; `registry_changes`), approved over and kept in the audit record."""

    plan: ApprovedPlan
    solved: Plan
    over_quota: list[str]
    requests_elsewhere: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    noted: list[str] = field(default_factory=list)
    #: patients whose admission after the build's horizon the plan carries as approved
    kept: list[str] = field(default_factory=list)
    #: referred patients the plan gives no place, moved back to selected: the place they had
    unreferred: dict[str, str] = field(default_factory=dict)
    #: referred patients the plan gives no place whom a live request holds: left referred
    on_request_unplaced: dict[str, str] = field(default_factory=dict)


def approve_plan(
    uow: UnitOfWork,
    *,
    problem: dict[str, Any],
    manifest: dict[str, Any],
    plan: Plan,
    actor: str,
    plan_id: str | None = None,
    over_quota: str | None = None,
    within_quotas: bool = False,
) -> ApprovedPlan:
    """Store a plan and refer its patients, in one serialized transaction (`approve`, for
    callers that need only the stored plan)."""
    return approve(
        uow,
        problem=problem,
        manifest=manifest,
        plan=plan,
        actor=actor,
        plan_id=plan_id,
        over_quota=over_quota,
        within_quotas=within_quotas,
    ).plan


def approve(
    uow: UnitOfWork,
    *,
    problem: dict[str, Any],
    manifest: dict[str, Any],
    plan: Plan,
    actor: str,
    plan_id: str | None = None,
    over_quota: str | None = None,
    within_quotas: bool = False,
) -> Approval:
    """Store a plan and refer its patients, in one serialized transaction.

    Refused when the plan does not pass the independent checker against its problem with the
    admissions already due that the manifest keeps (as `plan check` counts them), when the
    registry changed since the problem was built (approved on a later day, with the patients
    sent earlier who were due before today and have not arrived counted from today), or
    (`ProblemNotAsBuilt`) when the problem says of its facilities or patients what the
    registry did not when it was built (`problem_mismatches`: edited by hand, its unkeyed
    digests made anew). Refused (`AdmittedAfterAgreementEnds`)
    when it admits a patient after every agreement under which its facility admits the
    patient's organisation and specialty has ended (`admissions_after_agreement_ends`; the
    engines keep to the ends the manifest carries, a plan solved without it may not).
    Refused too (`QuotaExceeded`) when it
    places more patients under an agreement in force than the agreement's quota allows
    (`quota_overruns`), unless `over_quota` gives the reason to go beyond it: the reason and
    every overrun then go into the approval's audit record. With `within_quotas` instead, the
    patients beyond the quotas are left out of the plan (`keep_within`: the most urgent keep
    their places), are selected for the next plan (selected patients stay so, referred ones,
    whose earlier admissions the plan supersedes, go back: `_unreferred`), and are named in
    the audit record; the stored plan's objective is the checker's for what is
    approved, no longer called optimal. Selected patients with an assignment
    become referred; earlier live plans are superseded. The admissions the build kept as
    approved, after its horizon (the manifest's "kept"), are carried into the new plan
    (`_kept_admissions`); referred patients of the superseded plans whom the new one gives no
    place go back to selected (`_unreferred`). The checks and the writes run as if
    alone (`UnitOfWork.serialized`): a change committed by someone else while they run makes
    the attempt fail unwritten, and the next attempt's checks name that change. Returns the
    stored plan and the overruns the transaction found and recorded.
    """
    check_manifest(manifest)  # as built, by its digest, before anything in it is believed
    try:
        built_at = datetime.fromisoformat(manifest["built_at"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidValue("manifest", "has no valid 'built_at' time") from error
    if built_at.tzinfo is None:
        raise InvalidValue(
            "manifest", f"'built_at' {manifest['built_at']!r} has no time zone; `plan build` "
            "writes one: build the problem again",
        )  # fmt: skip
    if local(built_at).utcoffset() != built_at.utcoffset():
        # day 0 is the build's date in its zone; in another, agreements and holds would be
        # compared on other days ("came into force since the plan was built", nothing changed)
        raise InvalidValue(
            "manifest",
            f"the problem was built at {manifest['built_at']} (UTC{_offset(built_at)}; its day "
            f"0 is {built_at.date()}), where the time zone in use now ({zone_name()}; "
            f"MEDEVAC_TIME_ZONE sets it) is at UTC{_offset(local(built_at))}: approve it in the "
            "zone it was built in, or build the problem again",
        )
    if manifest["problem_sha256"] != document_digest(problem):
        # beds added by hand, say: the plan would be checked against beds the registry lacks
        raise InvalidValue(
            "problem",
            "was changed after `medevac plan build` wrote it (its content is not what the "
            "manifest records): build the problem again",
        )
    if within_quotas and (over_quota or "").strip():
        raise InvalidValue(
            "approval", "either go beyond the quotas with a reason or keep within them, not both"
        )
    try:
        checked_problem = parse_problem(problem)
    except ProblemError as error:  # not a problem as built: a caller's own, say
        raise InvalidValue("problem", f"is not a valid problem: {error}") from error
    if not checked_problem.patients:
        # it would only supersede the live plan, withdrawing what it still plans (found by
        # following the README, whose examples had answered every patient's request first)
        raise InvalidValue(
            "problem",
            "has no patients: there is nothing to approve (approving it would only supersede "
            "the live plan); select or refer patients and build again",
        )
    # as `plan check` and `plan explain` check it: the admissions already due that the manifest
    # keeps count against the daily limits (a plan solved without them passed one, approved
    # with a warning only). Its quotas and ends of acceptance are not taken in here: the
    # approval counts quotas and ends from the registry below, with their own refusals and
    # ways through (--over-quota, --within-quotas)
    try:
        with_due = with_admissions_taken(checked_problem, arrivals(manifest))
    except ValueError as error:  # a facility or day the problem lacks
        raise InvalidValue(
            "manifest", f"does not fit its problem: {error}; build the problem again"
        ) from error
    report = check_plan(with_due, plan)
    if not report.feasible:
        due = " (the admissions already due that its manifest keeps counted)" * any(
            f.admissions_taken for f in with_due.facilities
        )
        raise InvalidValue(
            "plan",
            f"it does not fit its problem{due}: "
            + "; ".join(report.violations[:10])
            + (f"; and {len(report.violations) - 10} more" if len(report.violations) > 10 else ""),
        )
    if not report.objective_matches(plan.objective):
        # the approved plan keeps the objective and status it states: they must be true
        raise InvalidValue(
            "plan",
            f"its objective {plan.objective:,.6f} is not what the checker recomputes from the "
            f"problem ({report.objective:,.6f}): it was changed after it was solved, or solved "
            "for another problem; solve again",
        )

    def attempt() -> Approval:
        with garbage_collection_paused():  # many patients, snapshots and audit records
            return _approve_checked(
                uow,
                (problem, checked_problem, manifest),
                plan,
                built_at,
                actor,
                plan_id,
                over_quota,
                within_quotas,
            )

    try:
        # another transaction changed what the checks read: check again, now seeing it
        return retried(attempt, APPROVAL_ATTEMPTS)
    except TransactionConflict as conflict:
        raise RegistryChanged(
            [
                f"the registry kept changing during {APPROVAL_ATTEMPTS} attempts to approve: "
                f"{conflict}"
            ]
        ) from conflict


def _approve_checked(
    uow: UnitOfWork,
    files: tuple[dict[str, Any], Problem, dict[str, Any]],
    plan: Plan,
    built_at: datetime,
    actor: str,
    plan_id: str | None,
    over_quota: str | None,
    within_quotas: bool,
) -> Approval:
    """One serialized attempt: check the registry against the manifest, the agreements' ends
    and their quotas, then store and refer. ``files`` are the problem (as written and as parsed) and
    the manifest."""
    problem, checked_problem, manifest = files
    now = utc_now()
    with uow.serialized():
        stored = uow.patients.get_many(list(manifest_patients(manifest)))
        resolved: dict[str, PlannedAdmission] = {}
        noted: list[str] = []  # changed since the build, but not in what the problem holds
        changes = registry_changes(uow, manifest, stored, problem, resolved, noted, now)
        # the patients sent earlier are counted once, for the rooms of the carried quotas, the
        # choice and the overruns, from the destinations the comparison of held beds resolved
        counted = plan.assignments or manifest.get("quotas")
        book = sent_book(uow, problem, now, resolved) if counted else None
        changes += carried_room_changes(manifest, book)
        if changes:
            carried_ids = set(manifest.get("kept", {}))
            raise RegistryChanged(changes, _approved_already(uow, plan, built_at, carried_ids))
        # the registry is as the build read it: what the problem says of it must be so too
        approval_day = max(day_of(now), built_at.date())
        mismatches = problem_mismatches(uow, checked_problem, manifest, stored, approval_day)
        if mismatches:
            raise ProblemNotAsBuilt(manifest["built_at"], mismatches)
        ended = after_ends(uow, problem, plan, built_at.date())
        if ended:
            raise AdmittedAfterAgreementEnds(ended)
        past = admitted_before(plan, built_at, now)
        if past:
            raise InvalidValue("plan", past)
        placed = [] if book is None else placements(uow, problem, plan)
        # each admission counts on its own day: the plan's day 0 is the day it was built
        day0 = built_at.date()
        left = keep_within(book, placed, day0) if book and within_quotas else {}
        plan = without_patients(
            checked_problem,
            plan,
            {p: f"left out at approval: the quota of {a} is used up" for p, a in left.items()},
            UnplacedReason.NO_AGREEMENT,
        )
        kept = [p for p in placed if p.patient not in left]
        overruns = [] if book is None else overrun_lines(book, kept, day0)
        why = (over_quota or "").strip()
        if overruns and not why:
            raise QuotaExceeded(overruns)
        earlier_plans = uow.plans.live()  # the build's: `registry_changes` found them so
        open_before = _open_admissions(earlier_plans)
        carried = _kept_admissions(manifest, open_before)
        approved = ApprovedPlan(
            id=plan_id or f"PLAN-{uuid.uuid4().hex[:8].upper()}",
            approved_at=now,
            approved_by=actor,
            built_at=built_at,
            objective=plan.objective,
            solver=plan.solver,
            solver_status=plan.status.value,
            admissions=sorted(
                [
                    PlannedAdmission(a.patient, a.facility, built_at.date() + timedelta(days=a.day))
                    for a in plan.assignments
                ]
                + carried,
                key=lambda a: a.patient_id,
            ),
        )
        for earlier in earlier_plans:
            # the status alone changes: the audit record holds it, not the whole plan twice
            # (two snapshots of 100,000 admissions, and every admission rewritten)
            before = {"status": earlier.status.value, "version": earlier.version}
            uow.plans.supersede(earlier)
            uow.audit.add(
                AuditRecord(
                    actor,
                    now,
                    "approved_plan",
                    earlier.id,
                    "supersede",
                    before,
                    {"status": earlier.status.value, "version": earlier.version},
                    f"superseded by {approved.id}",
                )
            )
        try:
            uow.plans.add(approved)
        except StorageConflict as conflict:
            if (
                ONE_LIVE_PLAN not in conflict.detail
                and "approved_plans.status" not in conflict.detail
            ):
                raise
            raise RegistryChanged(
                ["another plan was approved while this one was being stored"]
            ) from conflict
        reason = f"approved over quota ({why}): " + "; ".join(overruns) if overruns else ""
        if left:
            reason = f"approved within quotas, leaving out {len(left)} patient(s): " + "; ".join(
                f"{p} ({a})" for p, a in sorted(left.items())
            )
        if noted:  # the first of them: a national import of triage categories is 100,000
            more = f"; and {len(noted) - SHOWN_CHANGES} more" * (len(noted) > SHOWN_CHANGES)
            reason += "; " * bool(reason) + (
                "changed since the build, not in what the problem holds: "
                + "; ".join(noted[:SHOWN_CHANGES])
                + more
            )
        audit(uow, "approved_plan", approved, "approve", actor=actor, reason=reason, at=now)
        # read, moved and written in bulk: one by one, approving 20,000 admissions took 79 s on
        # PostgreSQL (docs/benchmarks.md, "Regulating at national scale")
        moves = []
        for admission in approved.admissions:
            patient = stored.get(admission.patient_id)
            if patient is None:
                raise NotFound("patient", admission.patient_id)
            if patient.status is PatientStatus.SELECTED:
                reason = (
                    f"regulated to {admission.facility_id} for admission on "
                    f"{admission.admission_date} by plan {approved.id}"
                )
                moves.append((patient, reason))
        apply_moves(
            uow, moves, PatientStatus.REFERRED, actor=actor, role=ActorRole.COORDINATOR, at=now
        )
        unreferred = _unreferred(uow, open_before, approved, left, actor, now)
        elsewhere = requests_elsewhere(uow, plan)
        uow.commit()
    return Approval(
        approved,
        plan,
        overruns,
        elsewhere,
        left,
        noted,
        [a.patient_id for a in carried],
        unreferred.moved,
        unreferred.on_request,
    )


def _kept_admissions(
    manifest: dict[str, Any], admissions: dict[str, PlannedAdmission]
) -> list[PlannedAdmission]:
    """The admissions the build kept as approved, after its horizon (the manifest's "kept"),
    as the live plans hold them (``admissions``, their open ones by patient), for the new plan
    to carry: the problem could not hold them, and superseding their plan would drop them."""
    kept = manifest.get("kept", {})
    if not kept:
        return []
    carried = []
    for patient_id in sorted(kept):
        admission = admissions.get(patient_id)
        if admission is None:  # the live plans changed: `registry_changes` refused before
            raise RegistryChanged([f"patient {patient_id}: its admission kept is not live"])
        carried.append(
            PlannedAdmission(patient_id, admission.facility_id, admission.admission_date)
        )
    return carried


@dataclass(frozen=True, slots=True)
class _Unreferred:
    """What the approval did with the referred patients of the superseded plans whom the new
    plan gives no place (`_unreferred`): each time patient -> its earlier place, "FACILITY on
    DATE"."""

    moved: dict[str, str]  # back to selected
    on_request: dict[str, str]  # left referred: a live request holds them


def _unreferred(
    uow: UnitOfWork,
    earlier: dict[str, PlannedAdmission],
    approved: ApprovedPlan,
    left: dict[str, str],
    actor: str,
    now: datetime,
) -> _Unreferred:
    """Move back to selected the patients an earlier plan referred (``earlier``: the open
    admissions of the plans ``approved`` supersedes, by patient) whom it gives no place,
    and who are on no live request: their referral rested on an
    admission no plan holds now. They had stayed referred with no place in the live plan,
    where the receiving side could still accept them, and the next build took the superseded
    admission for their destination (found by a review). Those a live request holds stay
    referred (the request is theirs to answer or withdraw) and are named. ``left``: the
    patients the approval left out within quotas, by agreement, whose move says so. Moved in
    bulk (one at a time, 8,000 of them had taken 12.8 s of the approval on SQLite)."""
    now_placed = {a.patient_id for a in approved.admissions}
    before = {
        patient_id: admission
        for patient_id, admission in earlier.items()
        if patient_id not in now_placed
    }
    if not before:
        return _Unreferred({}, {})
    on_requests = {
        patient_id
        for request in uow.requests.live_for_patients(list(before))
        for patient_id in request.open_patient_ids()
    }
    stored = uow.patients.get_many(list(before))
    places = {patient_id: admission.place for patient_id, admission in before.items()}
    moves: list[tuple[Patient, str]] = []
    held: dict[str, str] = {}
    for patient_id, patient in sorted(stored.items()):
        if patient.status is not PatientStatus.REFERRED:
            continue  # accepted and later: the admission stands as the receiving side took it
        if patient_id in on_requests:
            held[patient_id] = places[patient_id]
            continue
        why = (
            f"left out of plan {approved.id} within quotas (the quota of {left[patient_id]} "
            "is used up)"
            if patient_id in left
            else f"no place in plan {approved.id}"
        )
        moves.append((patient, f"{why}, which supersedes the admission at {places[patient_id]}"))
    apply_moves(
        uow,
        moves,
        PatientStatus.SELECTED,
        actor=actor,
        role=ActorRole.COORDINATOR,
        at=now,
        off_requests_and_plans=True,
    )
    # their admissions in the superseded plans are withdrawn: a patient left referred on a
    # request and accepted later with no facility named had taken the superseded admission,
    # whose bed the new plan may give to another, for its destination (found by a review)
    why = f"no place in plan {approved.id}, which supersedes it"
    withdrawn = uow.plans.withdraw_superseded([*(p.id for p, _ in moves), *held], why)
    audit_withdrawals(uow, withdrawn, actor=actor, reason=why, at=now)
    return _Unreferred({p.id: places[p.id] for p, _ in moves}, held)


def _approved_already(
    uow: UnitOfWork, plan: Plan, built_at: datetime, kept: set[str]
) -> str | None:
    """Where a live plan is this one, approved before (built at ``built_at``, the same
    admissions, besides those of the patients ``kept`` it carried), what to say of it; else
    None. A second approval is refused for the registry's
    changes its first made (its patients referred, its plan live), but the user is to hear
    first that the plan is in force, not only that it is to be built and solved again."""
    mine = sorted(
        (a.patient, a.facility, built_at.date() + timedelta(days=a.day)) for a in plan.assignments
    )
    for live in uow.plans.live():
        if live.built_at != built_at:
            continue
        theirs = sorted(
            (a.patient_id, a.facility_id, a.admission_date)
            for a in live.admissions
            if a.patient_id not in kept
        )
        if theirs == mine:
            return (
                f"was approved already, as {live.id} at {shown(live.approved_at)} by "
                f"{live.approved_by}, and is the live plan"
            )
    return None


def admitted_before(plan: Plan, built_at: datetime, now: datetime) -> str:
    """What to say of a plan that admits patients before ``now``'s date (its days count from the
    day its problem was built, ``built_at``); empty when it admits nobody before then."""
    today, built = day_of(now), built_at.date()
    days_gone = (today - built).days  # plan days before this one are past
    past = sorted(
        (built + timedelta(days=a.day), a.patient) for a in plan.assignments if a.day < days_gone
    )
    if not past:
        return ""
    first, patient = past[0]
    return (
        f"it admits {len(past)} patient(s) before today ({today}): its days count from "
        f"{built}, when its problem was built ({patient} on {first}, the first); "
        "build the problem again and solve it"
    )


def requests_elsewhere(uow: UnitOfWork, plan: Plan) -> list[str]:
    """Live treatment requests that ask one organisation to treat patients the plan admits at
    another organisation's facilities, one line a request. The plan does not change a request:
    the coordinator answers, closes or withdraws the patients there, or the receiving side's
    answer (with the admission it names) will stand against the plan's."""
    placed = {a.patient: a.facility for a in plan.assignments}
    if not placed:
        return []
    facilities = uow.facilities.get_many(set(placed.values()))
    operators = {f.id: f.operator_id for f in facilities.values()}
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for request in uow.requests.list():
        for patient_id in request.open_patient_ids():  # none once the request is not live
            facility = placed.get(patient_id)
            if facility is not None and operators.get(facility) != request.to_organisation_id:
                found[(request.id, request.to_organisation_id)].append(patient_id)
    return [
        f"{request_id} asks {receiver} to treat {len(ids)} patient(s) this plan admits at "
        f"another organisation's facilities ({', '.join(ids[:5])}"
        f"{', ...' if len(ids) > 5 else ''})"
        for (request_id, receiver), ids in sorted(found.items())
    ]


#: the days `beds_beyond_reports` looks ahead, as `plan build` does by default
ANSWER_HORIZON_DAYS = 14


def beds_beyond_reports(
    uow: UnitOfWork, admissions: Mapping[str, tuple[str, date]], now: datetime
) -> list[str]:
    """Of the stays ``admissions`` name (patient -> facility and admission day, as a request's
    answer names them), those at a facility whose beds held for patients sent there since its
    latest report of the patient's specialty pass the free beds that report gives on a day of
    the stay, within the days a default `plan build` looks ahead (`ANSWER_HORIZON_DAYS`): a
    line per facility and specialty, what that build says of them ("they hold N more"), for
    the answer (it had been said by the build only)."""
    today = day_of(now)
    with uow:
        patients = uow.patients.get_many(set(admissions))
        stays: dict[tuple[str, str], set[date]] = defaultdict(set)
        for patient_id, (facility, day) in admissions.items():
            patient = patients.get(patient_id)
            if patient is None:
                continue
            stay = patient.expected_length_of_stay_days or DEFAULT_LENGTH_OF_STAY_DAYS
            first = max(day, today)
            last = min(first + timedelta(days=stay), today + timedelta(ANSWER_HORIZON_DAYS))
            key = (facility, patient.primary_specialty.value)
            stays[key] |= {first + timedelta(days=d) for d in range((last - first).days)}
        facilities = uow.facilities.get_many({f for f, _ in stays})
        reports: dict[str, list[CapacityReport]] = defaultdict(list)
        for report in uow.capacity.latest():
            if report.facility_id in facilities:
                reports[report.facility_id].append(report)
        entries = [
            facility_entry(facilities[f], reports[f], ANSWER_HORIZON_DAYS, now)
            for f in sorted(reports)
        ]
        sent = patients_sent_earlier(uow, set(reports))
    found = holds({e["id"]: e["beds"].keys() for e in entries}, reports, sent, today)
    beyond = beyond_free_beds(entries, found, today)
    lines = []
    for (facility, specialty), days in sorted(stays.items()):
        over = {d: more for d, more in beyond.get((facility, specialty), {}).items() if d in days}
        if over:
            day, most = max(over.items(), key=lambda item: (item[1], -item[0].toordinal()))
            lines.append(
                f"{facility} {specialty}: the beds held for patients sent there since its "
                f"report pass the free beds it reported by {most} on {day}"
            )
    return lines


def _quota_used(agreement: Agreement, book: QuotaBook) -> str:
    """How much of ``agreement``'s quota the patients counted in ``book`` use, as `plan build`
    and the answers say it: "AGR-1 allows 30 patients of A at B and 36 were sent there"."""
    return (
        f"{agreement.id} allows {agreement.quota} patients of {agreement.sending_organisation_id}"
        f" at {agreement.receiving_organisation_id} and {book.used[agreement.id]} were sent there"
    )


def quotas_passed(uow: UnitOfWork, accepted: Collection[str], now: datetime) -> list[str]:
    """The quotas that patients just ``accepted`` count against and that the patients sent
    (`sent_under_agreements`, those accepted included) pass: a line each, as `plan build` says
    of quotas used up ("AGR-1 allows 30 patients of A at B and 36 were sent there"), for the
    answer or move that accepted them (it had been said by the next build only, found by a
    review). A patient's receiver is its destination's operator (`sent_destinations`), else
    the organisation whose request accepted it; only the agreements from its organisation to
    that receiver that cover its specialty are looked at."""
    with uow:
        patients = uow.patients.get_many(set(accepted))
        destinations = sent_destinations(uow, list(patients))
        operators = {
            f.id: f.operator_id
            for f in uow.facilities.get_many(
                {d.facility_id for d in destinations.values()}
            ).values()
        }
        answers = uow.requests.acceptances(list(patients))
        covered: dict[tuple[str, str], set[Specialty]] = defaultdict(set)
        for patient_id, patient in patients.items():
            there = destinations.get(patient_id)
            receiver = operators.get(there.facility_id) if there is not None else None
            if receiver is None and patient_id in answers:
                receiver = answers[patient_id].receiver_id
            if receiver is not None:
                covered[(patient.organisation_id, receiver)].add(patient.primary_specialty)
        # every agreement of those pairs, without a quota too (a patient counts against one
        # of those first), as `plan build` counts them
        between = [
            a
            for a in uow.agreements.list()
            if (a.sending_organisation_id, a.receiving_organisation_id) in covered
        ]
        if not any(a.quota is not None for a in between):
            return []
        book = QuotaBook(between, day_of(now))
        sent_under_agreements(uow, book, set())
    return [
        _quota_used(a, book)
        for a in book.agreements
        if a.quota is not None
        and book.used[a.id] > a.quota
        and a.specialties & covered[(a.sending_organisation_id, a.receiving_organisation_id)]
    ]


@dataclass(frozen=True, slots=True)
class LivePlan:
    """A live approved plan, and where patients it admits have been sent since."""

    plan: ApprovedPlan
    #: of the patients with an open admission in the plan who have been accepted since (and
    #: until they leave their bed), those whose destination is no longer that admission
    #: (`sent_destinations`): the facility and day a request's answer named, or None where the
    #: answer named none and came from an organisation that does not run the plan's facility
    sent_elsewhere: dict[str, PlannedAdmission | None]


def live_plans(uow: UnitOfWork) -> list[LivePlan]:
    """The live approved plans, each with the patients sent elsewhere since (an answer that
    names another facility or day leaves the plan's admission open: `plan approved` had shown
    the plan's day as the patient's)."""
    with uow:
        plans = uow.plans.live()
        open_ids = {a.patient_id for plan in plans for a in plan.admissions if a.is_open}
        sent = {p.id for p in uow.patients.for_planning(HOLDING_STATUSES) if p.id in open_ids}
        now = sent_destinations(uow, sorted(sent)) if sent else {}
    found = []
    for plan in plans:
        elsewhere: dict[str, PlannedAdmission | None] = {}
        for a in plan.admissions:
            if not a.is_open or a.patient_id not in sent:
                continue
            there = now.get(a.patient_id)
            if there is None or (there.facility_id, there.admission_date) != (
                a.facility_id,
                a.admission_date,
            ):
                elsewhere[a.patient_id] = there
        found.append(LivePlan(plan, elsewhere))
    return found


def _offset(moment: datetime) -> str:
    """``moment``'s offset from UTC as "+14:00"."""
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}"
