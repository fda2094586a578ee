"""From the registry to the regulating engine: build an allocation problem from the database.

The problem follows the exchange format of docs/planning.md. Alongside it we keep a manifest
of what it was built from (patient versions, capacity report times), so that approving a plan
can refuse when the registry changed in between and say what changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.audit import snapshot
from medevac.domain.errors import DomainError, InvalidValue, NotFound, TransactionConflict
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.patients import MoveTimes, Patient, PlanningPatient
from medevac.domain.plans import ApprovedPlan, PlannedAdmission
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Precedence, Specialty
from medevac.memory import garbage_collection_paused
from medevac.planning import (
    Plan,
    Problem,
    Quota,
    UnplacedReason,
    check_plan,
    parse_problem,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)
from medevac.planning.checker import without_patients
from medevac.planning.problem import DEFAULT_WEIGHTS
from medevac.services.auditing import audit, utc_now
from medevac.services.patients import apply_moves
from medevac.store.repositories import StorageConflict
from medevac.store.tables import ONE_LIVE_PLAN

#: Patients the engine places: selected by screening, or referred to a partner.
PLANNED_STATUSES = (PatientStatus.SELECTED, PatientStatus.REFERRED)
#: Past referral and not yet out of the receiving facility's bed: a patient an approved plan sent
#: holds its bed there (`held_beds`)
HOLDING_STATUSES = (
    PatientStatus.ACCEPTED,
    PatientStatus.SCHEDULED,
    PatientStatus.IN_TRANSIT,
    PatientStatus.ADMITTED,
    PatientStatus.IN_TREATMENT,
)

#: Strategic windows in days (configurable per operation with `precedences`).
DEFAULT_PRECEDENCES: dict[str, dict[str, float | int]] = {
    Precedence.URGENT: {"weight": 100, "deadline_day": 0},
    Precedence.URGENT_SURGICAL: {"weight": 100, "deadline_day": 0},
    Precedence.PRIORITY: {"weight": 10, "deadline_day": 2},
    Precedence.ROUTINE: {"weight": 1, "deadline_day": 6},
    Precedence.CONVENIENCE: {"weight": 1, "deadline_day": 13},
}
#: Stay assumed for a patient whose expected length of stay is not recorded.
DEFAULT_LENGTH_OF_STAY_DAYS = 14
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
    #: (`_carry_quotas`)
    quotas_tight: list[str] = field(default_factory=list)
    #: the ids of those carried as quotas (the manifest's "quotas"): no plan solved with the
    #: manifest goes beyond them
    quotas_held: list[str] = field(default_factory=list)
    #: agreements of the problem's senders and receivers that end within its horizon, a line
    #: each: the problem cannot say so, and the manifest carries their ends to the engines
    #: ("acceptance_ends", `agreement_ends`)
    ending: list[str] = field(default_factory=list)

    def for_engines(self) -> Problem:
        """The problem as the engines solve it: parsed, with the admissions already due that
        the manifest keeps counted against the daily limits, and the agreements' quotas and
        ends it carries (what `plan solve` does with the files; `with_manifest`)."""
        return with_manifest(parse_problem(self.problem), self.manifest)


def beds_by_day(report: CapacityReport, horizon_days: int) -> list[int]:
    """Free beds per planning day from one report: now, then +24 h, then +72 h figures."""
    return [
        report.expected_available(24 * day) if day < 3 else report.expected_available(72)
        for day in range(horizon_days)
    ]


#: Joins an organisation and a specialty in the problem's `organisation` and `accepts_from`
#: where agreements cover only some of a facility's specialties (see `agreement_coverage`).
COVERAGE_SEPARATOR = "/"


def _qualified(organisation: str, specialty: str) -> str:
    """An organisation as accepted for one specialty only ("ORG/specialty")."""
    return f"{organisation}{COVERAGE_SEPARATOR}{specialty}"


def agreement_coverage(
    facility: Facility,
    agreements: list[Agreement],
    on: datetime,
    full: frozenset[str] = frozenset(),
) -> dict[str, frozenset[Specialty]] | None:
    """Whom a facility accepts patients from, and for which of its specialties: per sending
    organisation, what its agreements in force with the facility's operator cover, but those
    whose quota is used up (ids in ``full``).

    An operator bound by no agreement at all accepts everyone (None); one whose agreements have
    all lapsed (or are full) accepts nobody (an empty mapping).
    """
    if not any(a.receiving_organisation_id == facility.operator_id for a in agreements):
        return None
    covered: dict[str, set[Specialty]] = defaultdict(set)
    for agreement, shared in _covering_at(facility, agreements, on.date(), full):
        covered[agreement.sending_organisation_id] |= shared
    return {sender: frozenset(specialties) for sender, specialties in covered.items()}


def _covering_at(
    facility: Facility, agreements: list[Agreement], on: date, full: frozenset[str]
) -> list[tuple[Agreement, frozenset[Specialty]]]:
    """The agreements in force on ``on`` with the facility's operator that cover some of its
    specialties, those in ``full`` (quota used up) left out, each with those specialties."""
    found = []
    for agreement in agreements:
        if agreement.receiving_organisation_id != facility.operator_id:
            continue
        shared = agreement.specialties & facility.specialties
        if agreement.in_force(on) and shared and agreement.id not in full:
            found.append((agreement, shared))
    return found


def _last_valid_day(covering: list[Agreement]) -> date | None:
    """The last day on which one of ``covering`` (agreements, at least one) is still valid:
    the latest `valid_to`, None where one of them has none."""
    ends = [a.valid_to for a in covering]
    return None if None in ends else max(e for e in ends if e is not None)


def agreement_ends(
    facility: Facility,
    agreements: list[Agreement],
    on: date,
    horizon_days: int,
    full: frozenset[str] = frozenset(),
) -> dict[str, dict[str, int]]:
    """Where a facility stops admitting a sender's patients within a problem's horizon: per
    sending organisation and specialty (code) that its agreements in force on ``on`` with the
    facility's operator cover (as `agreement_coverage`, those in ``full`` left out), the last
    day of the problem (day 0 = ``on``) on which the facility admits them.

    That is the latest `valid_to` of the agreements covering the specialty, none where one of
    them has none; only days before the horizon's last day are given (a later end leaves
    every day of the problem open).
    """
    covering: dict[tuple[str, Specialty], list[Agreement]] = defaultdict(list)
    for agreement, shared in _covering_at(facility, agreements, on, full):
        for specialty in shared:
            covering[(agreement.sending_organisation_id, specialty)].append(agreement)
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for (sender, specialty), theirs in covering.items():
        last = _last_valid_day(theirs)
        if last is not None and (last - on).days < horizon_days - 1:
            found[sender][specialty.value] = (last - on).days
    return dict(found)


def _encode_coverage(
    facility_entries: list[dict[str, Any]],
    coverage: dict[str, dict[str, frozenset[Specialty]]],
    patient_entries: list[dict[str, Any]],
    ends: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Write `accepts_from` and, where needed, specialty-qualified organisations; return where
    agreements leave out a specialty that a facility offers and a sender's patients need, and
    the ends of acceptance for the manifest ("acceptance_ends").

    The problem format accepts patients per facility and organisation, not per specialty. A
    sender whose agreements with an operator leave out a specialty that one of its patients
    needs and one of the operator's facilities offers would be accepted there for it. Such a
    sender's patients get `organisation` "ORG/specialty", and the facilities bound by
    agreements list "ORG/specialty" for each specialty the agreements cover. So do those of a
    sender whose patients' specialties at one facility have different last admission days
    (``ends``: per facility, sender and specialty, as `agreement_ends` gives them; some
    ending within the horizon and some not, say), so that each facility and organisation as
    the problem writes it has one end. Every other sender stays plain, so a registry whose
    agreements cover what its patients need and end alike (or after the horizon) writes the
    problem as before, unless some organisation's own id ends in "/specialty" (below).

    The ends returned are, for each facility bound by agreements and each organisation of the
    problem's patients (as written) accepted there whose acceptance ends within the horizon,
    {"facility", "organisation", "last_day"}, sorted.
    """
    ends = ends or {}
    needed: dict[str, set[str]] = defaultdict(set)
    for patient in patient_entries:
        needed[patient["organisation"]].add(patient["specialty"])
    qualified: set[str] = set()
    uncovered: list[str] = []

    def reached(entry: dict[str, Any], sender: str, covered: frozenset[Specialty]) -> set[str]:
        """The specialties of the sender's patients the facility offers under agreements."""
        return {s.value for s in covered} & set(entry["beds"]) & needed[sender]

    for entry in facility_entries:
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        last_days = ends.get(entry["id"], {})
        for sender, covered in sorted(senders.items()):
            gap = (set(entry["beds"]) - {s.value for s in covered}) & needed[sender]
            if gap:
                qualified.add(sender)
                uncovered.append(
                    f"{entry['id']} offers {', '.join(sorted(gap))}, which no agreement in "
                    f"force covers for {sender}"
                )
            theirs = last_days.get(sender, {})
            if len({theirs.get(s) for s in reached(entry, sender, covered)}) > 1:
                qualified.add(sender)
    # "ORG/specialty" must not be some organisation's own id: one named so would be taken for
    # ORG accepted for that specialty, and `quota_overruns` would strip its id. Where an id ends
    # so, every organisation is qualified: each name then splits at its last "/" into one
    # organisation and one specialty (specialty codes hold no "/").
    named = set(needed) | {sender for senders in coverage.values() for sender in senders}
    suffixes = tuple(f"{COVERAGE_SEPARATOR}{s.value}" for s in Specialty)
    if any(name.endswith(suffixes) for name in named):
        qualified = named
    for entry in facility_entries:
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        accepts: list[str] = []
        for sender, covered in senders.items():
            if sender in qualified:
                accepts += [_qualified(sender, s.value) for s in covered]
            else:
                accepts.append(sender)
        entry["accepts_from"] = sorted(accepts)
    for patient in patient_entries:
        if patient["organisation"] in qualified:
            patient["organisation"] = _qualified(patient["organisation"], patient["specialty"])
    written = {patient["organisation"] for patient in patient_entries}
    found: list[dict[str, Any]] = []
    for entry in facility_entries:
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        for sender, covered in senders.items():
            theirs = ends.get(entry["id"], {}).get(sender, {})
            if sender in qualified:
                pairs = {(_qualified(sender, s), day) for s, day in theirs.items()}
            else:  # one end at most for the specialties it reaches here (else it is qualified)
                days = {theirs.get(s) for s in reached(entry, sender, covered)}
                pairs = {(sender, day) for day in days if day is not None}
            found += [
                {"facility": entry["id"], "organisation": organisation, "last_day": day}
                for organisation, day in pairs
                if organisation in written
            ]
    found.sort(key=lambda end: (end["facility"], end["organisation"]))
    return uncovered, found


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
    engines keep to (`_carry_quotas`; the exchange format has no quotas), unless
    ``respect_quotas`` is False. Where the agreements under which a facility admits a sender's
    patients end before the horizon's last day, the manifest carries the last admission day to
    the engines ("acceptance_ends", `agreement_ends`; the format's acceptance holds on every
    day), qualifying the sender as "ORG/specialty" where its specialties there end apart.
    """
    rules = {
        str(name): {**rule, "deadline_day": min(int(rule["deadline_day"]), horizon_days - 1)}
        for name, rule in (precedences or DEFAULT_PRECEDENCES).items()
    }
    with uow:
        patients = uow.patients.for_planning(PLANNED_STATUSES)
        reports = uow.capacity.latest()
        facilities = {f.id: f for f in uow.facilities.list()}
        agreements = uow.agreements.list()
        planned = {
            a.patient_id: a for plan in uow.plans.live() for a in plan.admissions if a.is_open
        }
        sent = _sent_earlier(uow, {r.facility_id for r in reports})
        book = QuotaBook(agreements, now.date())
        if respect_quotas and book.has_quotas:
            sent_under_agreements(uow, book, set(), known=sent.destinations)
        full = book.full() if respect_quotas else []

    skipped: list[Skipped] = []
    by_facility: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in reports:
        by_facility[report.facility_id].append(report)
    stale = [r for r in reports if r.is_stale(now, stale_after)]

    facility_entries = []
    coverage: dict[str, dict[str, frozenset[Specialty]]] = {}
    last_days: dict[str, dict[str, dict[str, int]]] = {}
    full_ids = frozenset(a.id for a in full)
    for facility_id in sorted(by_facility):
        facility = facilities[facility_id]
        if facility.kind.is_field_hospital and not include_field_hospitals:
            skipped.append(Skipped("facility", facility.id, "field hospital for local casualties"))
            continue
        beds = {
            r.specialty.value: beds_by_day(r, horizon_days)
            for r in sorted(by_facility[facility_id], key=lambda r: r.specialty)
            if facility.offers(r.specialty)
        }
        entry: dict[str, Any] = {
            "id": facility.id,
            "lat": facility.location.lat,
            "lon": facility.location.lon,
            "beds": beds,
        }
        if facility.capabilities:
            entry["capabilities"] = sorted(c.value for c in facility.capabilities)
        accepts = agreement_coverage(facility, agreements, now, full_ids)
        if accepts is not None:
            coverage[facility.id] = accepts
            last_days[facility.id] = agreement_ends(
                facility, agreements, now.date(), horizon_days, full_ids
            )
        if facility.daily_admission_limit is not None:
            entry["daily_admission_limit"] = facility.daily_admission_limit
        facility_entries.append(entry)
    held_now = holds({e["id"]: e["beds"].keys() for e in facility_entries}, by_facility, sent)
    held = held_beds(facility_entries, held_now, now)
    arriving = held_admissions(facility_entries, sent, now, horizon_days)

    patient_entries = []
    versions: dict[str, int] = {}
    left_out: dict[str, int] = {}
    in_problem = {entry["id"] for entry in facility_entries}
    for patient in patients:
        origin = facilities.get(patient.location_id or "")
        if origin is None or not patient.fit_to_transport:
            reason = "current location unknown" if origin is None else "not fit to transport"
            skipped.append(Skipped("patient", patient.id, reason))
            left_out[patient.id] = patient.version
            continue
        entry = _patient_entry(patient, origin)
        current = _current(planned.get(patient.id), now.date(), horizon_days, in_problem)
        if current is not None:
            entry["current"] = current
        patient_entries.append(entry)
        versions[patient.id] = patient.version
    uncovered, ends = _encode_coverage(facility_entries, coverage, patient_entries, last_days)
    in_plan = [p for p in patients if p.id in versions]
    tight, carried, quotas_kept = (
        _carry_quotas(book, in_plan, (facility_entries, patient_entries), facilities, now)
        if respect_quotas
        else ([], [], [])
    )

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
    # facilities the problem describes: receiving ones and the origins of its patients
    described = in_problem | {
        str(p.location_id) for p in patients if p.id in versions and p.location_id is not None
    }
    manifest = {
        "built_at": now.isoformat(),
        "patients": versions,
        "left_out": left_out,
        "capacity": _capacity_stamps(reports),
        "facilities": {fid: facilities[fid].version for fid in sorted(described)},
        "agreements": {a.id: a.version for a in sorted(agreements, key=lambda a: a.id)},
        "problem_sha256": problem_digest(problem),
        "held_admissions": arriving,
        "held": {patient_id: hold.key() for patient_id, hold in sorted(held_now.items())},
        "quotas": quotas_kept,
        "acceptance_ends": ends,
    }
    quotas_full = [
        f"{a.id} allows {a.quota} patients of {a.sending_organisation_id} at "
        f"{a.receiving_organisation_id} and {book.used[a.id]} were sent there"
        for a in full
    ]
    senders = {p.organisation_id for p in in_plan}
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
        _ending(book.agreements, senders, receivers, now.date(), horizon_days, full),
    )


def _ending(
    agreements: list[Agreement],
    senders: set[str],
    receivers: set[str],
    today: date,
    horizon: int,
    full: list[Agreement],
) -> list[str]:
    """A line for each agreement in force today between a sender and a receiver of the problem
    that ends before the horizon's last day (but those whose quota is used up, ``full``, which
    cover nobody in it). The manifest carries its end to the engines ("acceptance_ends"):
    plans admit its patients on its last day at the latest, but for the specialties that
    another agreement in force between the same organisations covers for longer."""
    left_out = {a.id for a in full}
    live = [a for a in agreements if a.in_force(today) and a.id not in left_out]
    lines = []
    for a in live:
        if a.valid_to is None or a.sending_organisation_id not in senders:
            continue
        if a.receiving_organisation_id not in receivers:
            continue
        last = (a.valid_to - today).days
        if last >= horizon - 1:
            continue
        longer = [
            b
            for b in live
            if (b.sending_organisation_id, b.receiving_organisation_id)
            == (a.sending_organisation_id, a.receiving_organisation_id)
            and b.specialties & a.specialties
            and (b.valid_to is None or b.valid_to > a.valid_to)
        ]
        line = (
            f"{a.id} ({a.sending_organisation_id} at {a.receiving_organisation_id}) ends on "
            f"{a.valid_to.isoformat()}, day {last} of this problem"
        )
        after = a.specialties & {s for b in longer for s in b.specialties}
        others = ", ".join(sorted(b.id for b in longer))
        if not after:
            line += f": plans admit its patients on day {last} at the latest"
        elif after == a.specialties:
            line += f": {others} cover(s) its patients after it"
        else:
            line += (
                f": plans admit its patients in "
                f"{', '.join(sorted(s.value for s in a.specialties - after))} on day {last} at "
                f"the latest; {others} cover(s) those in "
                f"{', '.join(sorted(s.value for s in after))} after it"
            )
        lines.append(line)
    return lines


def _carry_quotas(
    book: QuotaBook,
    patients: list[PlanningPatient],
    entries: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    facilities: Mapping[str, Facility],
    now: datetime,
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """The agreements whose quotas have room (after the patients sent earlier, counted in
    ``book``) for fewer of ``patients`` than could go under them, as quotas for the engines: a
    line for each such agreement (or set of agreements), the ids of the quotas carried, and
    the quotas as the manifest keeps them ("quotas"; `quotas` reads them back as
    `medevac.planning.Quota`).

    A patient could go under an agreement when it is the sender's, the agreement covers its
    specialty and a facility of the receiver in the problem offers it. The quota bounds the
    placements of the sender's patients (under the organisation the problem gives them, which
    `_encode_coverage` may have qualified as "ORG/specialty") with a specialty the agreement
    covers at the receiver's facilities in the problem by its room, so the optimiser chooses
    who uses it. That is what the approval counts (`QuotaBook`): each of the plan's patients
    counts against the agreements in force on the day of approval between its organisation
    and the operator of its facility that cover its specialty, whatever its admission day;
    the approval refuses a plan when an agreement came into force or lapsed since the build,
    so they are the agreements in force on the day of the build. Agreements of different
    receivers that the same patients could use (rivals) are separate quotas: the plan chooses
    which room each patient uses.

    Where agreements between the same organisations overlap (a specialty covered by more than
    one), a patient may count against any of those covering its specialty (`QuotaBook`
    counts those with the fewest such agreements first). Their rooms then hold every group of
    patients whose covering agreements all lie in one set of them, and one quota is carried
    per set (named "AGR-1+AGR-2"): where the sets of agreements covering the specialties nest
    or are apart (laminar), those quotas say exactly which plans the count keeps within the
    rooms (`_overlapping_quotas`). Where two such sets cross, nothing is carried for those
    organisations and the line says a plan may go beyond them.
    """
    facility_entries, patient_entries = entries
    by_id = {entry["id"]: entry for entry in patient_entries}
    day = now.date()
    kinds = Counter((p.organisation_id, p.primary_specialty) for p in patients)
    offered: dict[str, set[str]] = defaultdict(set)  # by operator, in the problem
    for entry in facility_entries:
        offered[facilities[entry["id"]].operator_id] |= set(entry["beds"])
    lines: list[str] = []
    carried: list[str] = []
    quotas: list[dict[str, Any]] = []
    pairs: dict[tuple[str, str], list[Agreement]] = defaultdict(list)
    for a in book.agreements:
        pairs[(a.sending_organisation_id, a.receiving_organisation_id)].append(a)

    def short(a: Agreement, room: int, could: int) -> str:
        return (
            f"{a.id} has room for {room} more patient(s) of {a.sending_organisation_id} at "
            f"{a.receiving_organisation_id} (quota {a.quota}, {book.used[a.id]} sent), and "
            f"{could} in this problem could go there under it"
        )

    def organisations(sender: str, specialties: set[Specialty]) -> list[str]:
        return sorted(
            {
                by_id[p.id]["organisation"]
                for p in patients
                if p.organisation_id == sender and p.primary_specialty in specialties
            }
        )

    for (sender, receiver), group in pairs.items():
        offers = offered[receiver]
        # the agreements covering each specialty of the sender's patients the receiver offers
        cover = {
            s: frozenset(a.id for a in group if a.covers(s, day))
            for (o, s) in kinds
            if o == sender and s.value in offers
        }
        rows = _overlapping_quotas(group, cover, book)
        if rows is None:  # the sets of covering agreements cross: nothing is carried
            for a in group:
                room = None if a.quota is None else a.quota - book.used[a.id]
                mine = {s for s, ids in cover.items() if a.id in ids}
                could = sum(kinds[(sender, s)] for s in mine)
                if room is None or room <= 0 or could <= room:
                    continue
                others = sorted({i for s in mine for i in cover[s]} - {a.id})
                lines.append(
                    f"{short(a, room, could)}; {', '.join(others)} cover(s) some of the same "
                    "specialties, and the agreements covering them cross (a patient counts "
                    "against the first with room), so it is not carried to the engines and a "
                    "plan may go beyond it (`plan approve` then refuses it, or --within-quotas "
                    "leaves out the least urgent)"
                )
            continue
        theirs = sorted(
            entry["id"]
            for entry in facility_entries
            if facilities[entry["id"]].operator_id == receiver
        )
        apart = all(len(ids) == 1 for ids, _, _ in rows)
        for ids, room, specialties in rows:
            could = sum(kinds[(sender, s)] for s in specialties)
            if room <= 0 or could <= room:
                continue
            if len(ids) == 1:
                [a] = [a for a in group if a.id in ids]
                if apart:  # the agreement alone covers every specialty it names
                    specialties = set(a.specialties)
                name, line = a.id, short(a, room, could)
            else:
                name = "+".join(sorted(ids))
                line = (
                    f"{name} have room together for {room} more patient(s) of {sender} at "
                    f"{receiver} in {', '.join(sorted(s.value for s in specialties))}, and "
                    f"{could} in this problem could go there under them"
                )
            quotas.append(
                {
                    "id": name,
                    "room": room,
                    "organisations": organisations(sender, specialties),
                    "facilities": theirs,
                    "specialties": sorted(s.value for s in specialties),
                }
            )
            carried.append(name)
            lines.append(
                f"{line}: the plan keeps to it, and the optimiser chooses who uses the room"
            )
    return lines, carried, quotas


def _overlapping_quotas(
    group: list[Agreement], cover: Mapping[Specialty, frozenset[str]], book: QuotaBook
) -> list[tuple[frozenset[str], int, set[Specialty]]] | None:
    """The quotas of the agreements ``group`` between two organisations: (agreement ids,
    room, specialties) for each set of agreements covering some specialty (``cover``: the
    ids covering each), with the specialties whose covering agreements all lie in the set and
    the rooms of its agreements together; None where two of those sets cross (neither apart
    nor one inside the other).

    Specialties that an agreement without a quota covers are left out (they never go beyond
    one). For sets that nest or are apart, counting the patients with the fewest covering
    agreements first (`_count`) keeps every agreement within its quota exactly
    when each of these quotas is kept (Hall's condition over the sets, and the sets of a
    laminar family are all that need checking).
    """
    quota = {a.id: a.quota for a in group}
    limited = {s: ids for s, ids in cover.items() if ids and all(quota[i] is not None for i in ids)}
    sets = sorted(set(limited.values()), key=lambda ids: (len(ids), sorted(ids)))
    for k, first in enumerate(sets):
        for second in sets[k + 1 :]:
            if first & second and not first <= second:
                return None
    return [
        (
            ids,
            sum(int(quota[i] or 0) - book.used[i] for i in ids),
            {s for s, theirs in limited.items() if theirs <= ids},
        )
        for ids in sets
    ]


@dataclass(frozen=True, slots=True)
class SentEarlier:
    """Patients sent earlier and not yet out of their bed (`HOLDING_STATUSES`)."""

    #: those bound for a facility with reports, by id, with the times of their moves
    bound: list[PlanningPatient]
    times: dict[str, MoveTimes]
    #: where each is to be admitted
    destinations: dict[str, PlannedAdmission]
    #: the ids of those on their way whose facility nobody recorded
    nowhere: list[str]


def _sent_earlier(uow: UnitOfWork, reported: set[str]) -> SentEarlier:
    """`SentEarlier` from the registry, for facilities with reports in ``reported``. Reads no
    patient in full: at 50,000 patients sent, reading them with their histories had taken
    about 2.5 s of `plan build`."""
    holding = uow.patients.for_planning(HOLDING_STATUSES)
    destinations = sent_destinations(uow, [p.id for p in holding])
    bound = [
        p for p in holding if p.id in destinations and destinations[p.id].facility_id in reported
    ]
    on_their_way = (PatientStatus.ACCEPTED, PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT)
    nowhere = sorted(p.id for p in holding if p.status in on_their_way and p.id not in destinations)
    times = uow.patients.move_times([p.id for p in bound])
    return SentEarlier(bound, times, destinations, nowhere)


def sent_destinations(uow: UnitOfWork, patient_ids: list[str]) -> dict[str, PlannedAdmission]:
    """Where patients sent earlier are to be admitted (patients with no known place are left
    out).

    A patient whose latest acceptance was a treatment request's answer goes where that answer
    (or a later `name_admission`) said; where it said nothing, to its open admission in the
    most recently approved plan that holds one if that plan's facility belongs to the
    organisation that accepted it, else nowhere known. Any other patient goes to its plan's
    admission. An answer counts only while it is the patient's latest acceptance: one given
    before an acceptance that was withdrawn, the patient sent again since, no longer does."""
    found = uow.plans.latest_admissions(patient_ids)
    answers = uow.requests.acceptances(patient_ids)
    if not answers:
        return found
    times = uow.patients.move_times(list(answers))
    accepted = {i: _accepted_at(times.get(i)) for i in answers}
    current = {
        i: a for i, a in answers.items() if a.decided_at is not None and a.decided_at >= accepted[i]
    }
    planned_at = {found[i].facility_id for i in current if i in found}
    operators = {f.id: f.operator_id for f in uow.facilities.get_many(planned_at).values()}
    for patient_id, answer in current.items():
        if answer.facility_id is not None and answer.admission_date is not None:
            found[patient_id] = PlannedAdmission(
                patient_id, answer.facility_id, answer.admission_date
            )
        elif (
            patient_id in found
            and operators.get(found[patient_id].facility_id) != answer.receiver_id
        ):
            del found[patient_id]  # accepted by another organisation than the plan's
    return found


@dataclass(frozen=True, slots=True)
class Hold:
    """Beds a patient sent earlier holds: one a day in a facility's specialty from ``first``
    for ``stay`` days."""

    facility_id: str
    specialty: str
    first: date
    stay: int

    def key(self) -> str:
        """As the manifest's "held" records it: "FACILITY@specialty@YYYY-MM-DD+stay"."""
        return f"{self.facility_id}@{self.specialty}@{self.first.isoformat()}+{self.stay}"

    @classmethod
    def parse(cls, key: str) -> Hold | None:
        """The hold of a `key` (facility ids may hold "@"), or None for a text that is not one."""
        facility, _, rest = key.rpartition("@")
        facility, _, specialty = facility.rpartition("@")
        first, _, stay = rest.partition("+")
        try:
            return cls(facility, specialty, date.fromisoformat(first), int(stay))
        except ValueError:
            return None

    def days(self, start: date, end: date) -> tuple[date, date]:
        """The days it holds from ``start`` to before ``end``: (first, end), empty if equal."""
        first = max(self.first, start)
        last = min(self.first + timedelta(days=self.stay), end)
        return (first, last) if first < last else (start, start)

    def within(self, other: Hold, start: date, end: date) -> bool:
        """True when every bed this hold takes from ``start`` to before ``end``, ``other``
        takes too."""
        first, last = self.days(start, end)
        if first == last:
            return True
        other_first, other_last = other.days(start, end)
        return (
            (self.facility_id, self.specialty) == (other.facility_id, other.specialty)
            and other_first <= first
            and last <= other_last
        )


def holds(
    beds: Mapping[str, Collection[str]],
    reports: Mapping[str, list[CapacityReport]],
    sent: SentEarlier,
) -> dict[str, Hold]:
    """The beds `held_beds` takes off, per patient: those of patients sent to a facility of the
    problem (``beds``: facility id -> its specialties in the problem) since its latest report
    for their specialty."""
    found: dict[str, Hold] = {}
    for patient in sent.bound:
        admission = sent.destinations.get(patient.id)
        if admission is None or admission.facility_id not in beds:
            continue
        times = sent.times.get(patient.id)
        specialty = patient.primary_specialty.value
        report = next(
            (r for r in reports.get(admission.facility_id, []) if r.specialty.value == specialty),
            None,
        )
        if (
            specialty not in beds[admission.facility_id]
            or report is None
            or report.reported_at >= _accepted_at(times)
        ):
            continue
        found[patient.id] = Hold(
            admission.facility_id,
            specialty,
            _admitted_on(times) or admission.admission_date,
            patient.expected_length_of_stay_days or DEFAULT_LENGTH_OF_STAY_DAYS,
        )
    return found


def held_beds(
    facility_entries: list[dict[str, Any]], found: Mapping[str, Hold], now: datetime
) -> list[str]:
    """Take off the facilities' free beds those of patients sent there since they reported.

    A patient whom an approved plan sent to a facility, and who has been accepted since (or
    is scheduled, in transit, admitted or in treatment), or whom a treatment request's answer
    accepted for a named facility and day (`sent_destinations`), is in no new problem: its bed
    is the facility's to count. A report made before the patient was accepted cannot count it,
    so the bed is taken off that report's free beds on the days of the patient's stay (from
    its admission, or its planned admission day, for its expected length of stay; `holds`) and
    a re-plan cannot give it away. A report made since is taken as the facility's count,
    reserved beds included. Returns a line per facility and specialty where beds were taken
    off. (The admission slot of a held patient not yet admitted stays free in the problem: the
    format's daily admission limit is one number for every day; the manifest keeps it, see
    `held_admissions`, and `plan solve` counts it.)
    """
    entries = {entry["id"]: entry for entry in facility_entries}
    today = now.date()
    taken: dict[tuple[str, str], list[str]] = defaultdict(list)
    for patient_id, hold in sorted(found.items()):
        beds = entries[hold.facility_id]["beds"][hold.specialty]
        first = (hold.first - today).days
        for day in range(max(0, first), min(len(beds), first + hold.stay)):
            beds[day] = max(0, beds[day] - 1)
        taken[(hold.facility_id, hold.specialty)].append(patient_id)
    return [
        f"{facility} {specialty}: {len(ids)} bed(s) taken off its report for patients sent "
        f"there since it reported ({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''})"
        for (facility, specialty), ids in sorted(taken.items())
    ]


def held_admissions(
    facility_entries: list[dict[str, Any]], sent: SentEarlier, now: datetime, horizon_days: int
) -> dict[str, int]:
    """Patients sent earlier and not yet admitted, per "FACILITY/day" of their planned
    admission within the horizon, at facilities of the problem with a daily admission limit.

    The problem cannot hold them (its limit is one number for every day), so the manifest
    does, and `admission_limit_overruns` says where a plan and they together pass the limit.
    """
    limited = {e["id"] for e in facility_entries if "daily_admission_limit" in e}
    counts: dict[str, int] = defaultdict(int)
    for patient in sent.bound:
        admission = sent.destinations.get(patient.id)
        if admission is None or admission.facility_id not in limited:
            continue
        if patient.status in (PatientStatus.ADMITTED, PatientStatus.IN_TREATMENT):
            continue
        day = (admission.admission_date - now.date()).days
        if 0 <= day < horizon_days:
            counts[_arrival_key(admission.facility_id, day)] += 1
    return dict(sorted(counts.items()))


def _arrival_key(facility: str, day: int) -> str:
    """A key of the manifest's "held_admissions": "FACILITY/day"."""
    return f"{facility}/{day}"


def _arrival_place(key: str) -> tuple[str, int] | None:
    """(facility, day) of an `_arrival_key` (ids may hold "/"; the day follows the last), or
    None for a key that is not one."""
    facility, _, day = key.rpartition("/")
    return (facility, int(day)) if facility and day.isdigit() else None


def arrivals(manifest: dict[str, Any]) -> list[tuple[str, int, int]]:
    """The manifest's patients sent earlier who arrive within the horizon: (facility, day,
    count), for the engines to count against the daily admission limits
    (`medevac.planning.with_admissions_taken`). InvalidValue where "held_admissions" is not as
    `plan build` wrote it."""
    _check_map(manifest, "held_admissions")
    found = []
    for key, count in manifest.get("held_admissions", {}).items():
        place = _arrival_place(key)
        if place is None:
            raise InvalidValue(
                "manifest",
                f"'held_admissions' has {key!r}, not FACILITY/day; it was not written by "
                "`medevac plan build` as it is: build the problem again",
            )
        found.append((*place, count))
    return found


#: the fields of an entry of the manifest's "quotas" (`Quota`), as `plan build` writes them
_QUOTA_FIELDS = ("id", "room", "organisations", "facilities", "specialties")
#: the end of every refusal of a manifest's "quotas"
_NOT_AS_BUILT = "it was not written by `medevac plan build` as it is: build the problem again"


def quotas(manifest: dict[str, Any]) -> list[Quota]:
    """The quotas of agreements the manifest carries ("quotas", `_carry_quotas`), for the
    engines to keep to (`medevac.planning.with_quotas`); none for a manifest written before
    they were. InvalidValue naming the entry and its field where "quotas" is not as `plan
    build` wrote it."""
    entries = manifest.get("quotas", [])
    if not isinstance(entries, list):
        raise InvalidValue("manifest", f"'quotas' must be a list of quotas; {_NOT_AS_BUILT}")
    return [_quota(number, entry) for number, entry in enumerate(entries)]


def _entry_refusal(
    key: str, number: int, entry: Any, fields: tuple[str, ...], kind: str, name: str | None
) -> Callable[[str], InvalidValue]:
    """Refuse entry ``number`` of the manifest's list ``key`` unless it is an object with
    exactly ``fields`` (those of ``kind``, "a quota"); return how to refuse it for anything
    else, naming the entry and ``name`` (what it is called, where it says)."""
    where = f"'{key}' entry {number}"
    if not isinstance(entry, dict):
        raise InvalidValue("manifest", f"{where} is not an object; {_NOT_AS_BUILT}")
    if name:
        where += f" ({name})"

    def wrong(what: str) -> InvalidValue:
        return InvalidValue("manifest", f"{where}: {what}; {_NOT_AS_BUILT}")

    missing = [field for field in fields if field not in entry]
    if missing:
        raise wrong(f"'{missing[0]}' is missing")
    unknown = sorted(set(entry) - set(fields))
    if unknown:
        raise wrong(f"'{unknown[0]}' is not a field of {kind}")
    return wrong


def _quota(number: int, entry: Any) -> Quota:
    """Entry ``number`` of a manifest's "quotas" as a `Quota` (`quotas`)."""
    named = entry.get("id") if isinstance(entry, dict) else None
    label = named if isinstance(named, str) and named else None
    wrong = _entry_refusal("quotas", number, entry, _QUOTA_FIELDS, "a quota", label)
    if not isinstance(named, str) or not named:
        raise wrong("'id' must be an agreement's id")
    room = entry["room"]
    if not isinstance(room, int) or isinstance(room, bool) or room < 0:
        raise wrong(f"'room' must be a count of patients, not {room!r}")
    lists: dict[str, frozenset[str]] = {}
    for name in ("organisations", "facilities", "specialties"):
        value = entry[name]
        if name == "specialties" and value is None:  # every specialty
            continue
        if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
            raise wrong(f"'{name}' must be a list of ids")
        if not value and name != "specialties":
            raise wrong(f"'{name}' is empty")
        lists[name] = frozenset(value)
    return Quota(named, room, lists["organisations"], lists["facilities"], lists.get("specialties"))


#: the fields of an entry of the manifest's "acceptance_ends", as `plan build` writes them
_END_FIELDS = ("facility", "organisation", "last_day")


def acceptance_ends(manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    """The ends of acceptance the manifest carries ("acceptance_ends", `agreement_ends`):
    (facility, organisation as the problem's patients name it, last admission day), for the
    engines to keep to (`medevac.planning.with_acceptance_ends`); none for a manifest written
    before they were. InvalidValue naming the entry and its field where "acceptance_ends" is
    not as `plan build` wrote it (a second end for the same facility and organisation too)."""
    entries = manifest.get("acceptance_ends", [])
    if not isinstance(entries, list):
        raise InvalidValue(
            "manifest", f"'acceptance_ends' must be a list of ends of acceptance; {_NOT_AS_BUILT}"
        )
    found: list[tuple[str, str, int]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, entry in enumerate(entries):
        end = _acceptance_end(number, entry)
        earlier = seen.setdefault(end[:2], number)
        if earlier != number:
            raise InvalidValue(
                "manifest",
                f"'acceptance_ends' entry {number} ({end[0]}, {end[1]}): a second end for them "
                f"(entry {earlier} is the first); {_NOT_AS_BUILT}",
            )
        found.append(end)
    return found


def _acceptance_end(number: int, entry: Any) -> tuple[str, str, int]:
    """Entry ``number`` of a manifest's "acceptance_ends" as (facility, organisation, last
    day) (`acceptance_ends`)."""
    facility, organisation = (
        (entry.get("facility"), entry.get("organisation"))
        if isinstance(entry, dict)
        else (None, None)
    )
    label = None
    if isinstance(facility, str) and facility and isinstance(organisation, str) and organisation:
        label = f"{facility}, {organisation}"
    wrong = _entry_refusal(
        "acceptance_ends", number, entry, _END_FIELDS, "an end of acceptance", label
    )
    if not isinstance(facility, str) or not facility:
        raise wrong("'facility' must be a facility's id")
    if not isinstance(organisation, str) or not organisation:
        raise wrong("'organisation' must be an organisation's id")
    last = entry["last_day"]
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise wrong(f"'last_day' must be a day of the problem (0 or later), not {last!r}")
    return facility, organisation, last


def with_manifest(problem: Problem, manifest: dict[str, Any]) -> Problem:
    """``problem`` as the engines solve it beside its manifest: the admissions already due
    that the manifest keeps counted against the daily admission limits
    (`with_admissions_taken`), the agreements' quotas it carries kept (`with_quotas`), and
    the ends of acceptance it carries kept (`with_acceptance_ends`: agreements that end
    within the horizon). InvalidValue where the manifest is not as `plan build` wrote it;
    ValueError (naming the facility or quota) where it does not fit the problem."""
    counted = with_quotas(with_admissions_taken(problem, arrivals(manifest)), quotas(manifest))
    return with_acceptance_ends(counted, acceptance_ends(manifest))


def admission_limit_overruns(
    problem: dict[str, Any], manifest: dict[str, Any], plan: Plan
) -> list[str]:
    """Days on which a plan's admissions and the patients sent earlier who arrive then (the
    manifest's "held_admissions") pass a facility's daily admission limit, one line each."""
    held = arrivals(manifest)
    if not held:
        return []
    limits = {
        f["id"]: f["daily_admission_limit"]
        for f in problem["facilities"]
        if "daily_admission_limit" in f
    }
    planned: dict[tuple[str, int], int] = defaultdict(int)
    for assignment in plan.assignments:
        planned[(assignment.facility, assignment.day)] += 1
    lines = []
    for facility, day, count in held:
        limit = limits.get(facility)
        if limit is not None and planned[(facility, day)] + count > limit:
            lines.append(
                f"{facility} day {day}: {planned[(facility, day)]} admissions planned and "
                f"{count} patient(s) sent earlier arriving, against a daily limit of {limit}"
            )
    return lines


def _accepted_at(times: MoveTimes | None) -> datetime:
    """When the patient left `referred` (its latest such move), else its latest move."""
    if times is None:
        return datetime.max.replace(tzinfo=UTC)
    return times.left_referred or times.last or datetime.max.replace(tzinfo=UTC)


def _admitted_on(times: MoveTimes | None) -> date | None:
    """The day the patient was last admitted, if it was."""
    return None if times is None or times.admitted is None else times.admitted.date()


def problem_digest(problem: dict[str, Any]) -> str:
    """SHA-256 of a problem's content (keys sorted, no spaces): the same for the same problem
    however its file is laid out, different once anything in it is edited (0.22 s for
    100,000 patients)."""
    text = json.dumps(problem, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _capacity_stamps(reports: list[CapacityReport]) -> dict[str, str]:
    return {f"{r.facility_id}/{r.specialty.value}": r.reported_at.isoformat() for r in reports}


def _current(
    admission: PlannedAdmission | None, today: date, horizon_days: int, facilities: set[str]
) -> dict[str, Any] | None:
    """An approved admission as the problem's `current`, when it falls inside the horizon."""
    if admission is None or admission.facility_id not in facilities:
        return None
    day = (admission.admission_date - today).days
    if not 0 <= day < horizon_days:
        return None
    return {"facility": admission.facility_id, "day": day}


class RegistryChanged(DomainError):
    """The registry changed since the problem behind a plan was built."""

    def __init__(self, changes: list[str]) -> None:
        shown = "; ".join(changes[:20]) + (
            f"; and {len(changes) - 20} more" if len(changes) > 20 else ""
        )
        super().__init__(
            f"the registry changed since the plan was built ({len(changes)} change(s)): {shown}; "
            "run `medevac plan build` and solve again"
        )
        self.changes = changes


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


# what a manifest maps, and to what (`plan build` writes it; approval compares the registry
# with it): required, then optional (manifests written before facilities and agreements were
# recorded have neither). Besides the maps, "built_at" and "problem_sha256" are texts and
# "quotas" a list of the agreements' quotas the engines keep to (`quotas` checks it), and
# "acceptance_ends" one of the ends of agreements within the horizon (`acceptance_ends`).
_MANIFEST_MAPS = {
    "patients": (int, True),
    "capacity": (str, True),
    "left_out": (int, False),
    "facilities": (int, False),
    "agreements": (int, False),
    "held_admissions": (int, False),
    "held": (str, False),
}


def _check_manifest(manifest: dict[str, Any]) -> None:
    """Refuse a manifest that `plan build` did not write as it is (edited, cut short), naming
    the first key that is wrong, rather than fail inside the comparison."""
    for key in _MANIFEST_MAPS:
        _check_map(manifest, key)
    for key in manifest.get("held", {}).values():
        if Hold.parse(key) is None:
            raise InvalidValue(
                "manifest",
                f"'held' has {key!r}, not FACILITY@specialty@YYYY-MM-DD+stay; it was not "
                "written by `medevac plan build` as it is: build the problem again",
            )
    arrivals(manifest)
    quotas(manifest)
    acceptance_ends(manifest)


def _check_map(manifest: dict[str, Any], key: str) -> None:
    """Refuse a manifest whose map ``key`` (`_MANIFEST_MAPS`) is missing or holds other than
    ids to values of its kind."""
    kind, required = _MANIFEST_MAPS[key]
    if key not in manifest and not required:
        return
    value = manifest.get(key)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, kind) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        what = {"capacity": "report times", "held": "held beds", "held_admissions": "counts"}
        raise InvalidValue(
            "manifest",
            f"'{key}' must map ids to {what.get(key, 'versions')}; "
            "it was not written by `medevac plan build` as it is: build the problem again",
        )


def _manifest_patients(manifest: dict[str, Any]) -> dict[str, int]:
    """Every patient the problem looked at (planned or left out), with the version it saw."""
    return {**manifest.get("left_out", {}), **manifest["patients"]}


def registry_changes(
    uow: UnitOfWork,
    manifest: dict[str, Any],
    stored: Mapping[str, Patient],
    problem: dict[str, Any] | None = None,
    resolved: dict[str, PlannedAdmission] | None = None,
) -> list[str]:
    """What differs between the registry now and the manifest of a problem (read in `uow`).

    ``stored`` are the manifest's patients as read in `uow` (the approval moves them next).
    With the ``problem``, the beds held for patients sent earlier are compared too (where the
    manifest records them); ``resolved`` then receives where those patients are to be
    admitted (`sent_destinations`), for the caller to use again.
    """
    changes: list[str] = []
    known = _manifest_patients(manifest)
    changes += _version_changes("patient", known, stored, lambda p: f"now {p.status}, ")
    # patients who joined the planned pool since: as many as the pool holds beyond the known
    # patients in it now (counted first, so that the pool is listed only when it grew)
    counts = uow.patients.count_by_status()
    in_pool = sum(counts.get(status, 0) for status in PLANNED_STATUSES)
    if in_pool > sum(1 for p in stored.values() if p.status in PLANNED_STATUSES):
        for entry in uow.patients.for_planning(PLANNED_STATUSES):
            if entry.id not in known:
                changes.append(f"patient {entry.id} became {entry.status} after the plan was built")
    changes += _facility_and_agreement_changes(uow, manifest)
    then: dict[str, str] = manifest["capacity"]
    latest = uow.capacity.latest()
    now = _capacity_stamps(latest)
    for key in sorted(then.keys() | now.keys()):
        if key not in now:
            changes.append(f"capacity report {key} is gone")
        elif key not in then:
            changes.append(f"capacity of {key} was first reported at {now[key]}")
        elif now[key] != then[key]:
            changes.append(f"capacity of {key} was reported again at {now[key]}")
    if problem is not None and "held" in manifest:
        sent = _sent_earlier(uow, {r.facility_id for r in latest})
        if resolved is not None:
            resolved.update(sent.destinations)
        changes += _hold_changes(manifest["held"], problem, manifest["built_at"], latest, sent)
    return changes


def _hold_changes(
    seen: dict[str, str],
    problem: dict[str, Any],
    built_at: str,
    latest: list[CapacityReport],
    sent: SentEarlier,
) -> list[str]:
    """Patients sent earlier who hold beds now that the problem was built without: a
    destination named or moved since, a stay made longer, an admission earlier than planned.
    Holds dropped or shrunk since only free beds, which a plan may leave unused: no change.
    ``latest`` are the latest capacity reports, ``sent`` the patients sent earlier to their
    facilities."""
    reports: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in latest:
        reports[report.facility_id].append(report)
    beds = {f["id"]: f["beds"].keys() for f in problem["facilities"]}
    # the problem's days: from the day it was built, for its horizon
    start = datetime.fromisoformat(built_at).date()
    end = start + timedelta(days=int(problem["horizon_days"]))
    changes = []
    for patient_id, hold in sorted(holds(beds, reports, sent).items()):
        key = seen.get(patient_id)
        before = None if key is None else Hold.parse(key)
        if before is None:
            first, last = hold.days(start, end)
            if first == last:
                continue  # only days outside the problem
            changes.append(
                f"patient {patient_id} now holds a bed the plan did not see ({hold.key()})"
            )
        elif not hold.within(before, start, end):
            changes.append(
                f"patient {patient_id} holds another bed ({hold.key()}; the plan saw {key})"
            )
    return changes


def _version_changes(
    kind: str, seen: dict[str, int], stored: Mapping[str, Any], state: Callable[[Any], str]
) -> list[str]:
    """Entities of the manifest (id -> version) that are gone or at another version now."""
    changes: list[str] = []
    for key, version in sorted(seen.items()):
        entity = stored.get(key)
        if entity is None:
            changes.append(f"{kind} {key} no longer exists")
        elif entity.version != version:
            changes.append(
                f"{kind} {key} changed ({state(entity)}version {entity.version}; the plan saw "
                f"version {version})"
            )
    return changes


def _facility_and_agreement_changes(uow: UnitOfWork, manifest: dict[str, Any]) -> list[str]:
    """Facilities the problem describes and agreements (which set `accepts_from`) that changed,
    appeared or went, and agreements that came into force or lapsed since the problem was built.
    Manifests written before these were recorded have no such keys: nothing is compared."""
    changes: list[str] = []
    seen: dict[str, int] | None = manifest.get("facilities")
    if seen is not None:
        stored = uow.facilities.get_many(list(seen))
        changes += _version_changes("facility", seen, stored, lambda _: "")
    known: dict[str, int] | None = manifest.get("agreements")
    if known is not None:
        built_on = datetime.fromisoformat(manifest["built_at"]).date()
        today = utc_now().date()
        now = {a.id: a for a in uow.agreements.list()}
        changes += _version_changes("agreement", known, now, lambda _: "")
        for agreement_id, agreement in sorted(now.items()):
            if agreement_id not in known:
                changes.append(f"agreement {agreement_id} was registered after the plan was built")
            elif agreement.version == known[agreement_id]:
                in_force = agreement.in_force(today)
                if in_force != agreement.in_force(built_on):
                    state = "came into force" if in_force else "lapsed"
                    changes.append(f"agreement {agreement_id} {state} since the plan was built")
    return changes


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved plan, the quota overruns it was approved over (empty when none), and the
    live treatment requests that ask another organisation to treat patients it admits
    elsewhere (one line a request; see `requests_elsewhere`). ``solved`` is the plan as
    approved: the one given, less the patients ``left_out`` to keep within the quotas
    (patient -> the agreement it would have taken beyond its quota; `keep_within`)."""

    plan: ApprovedPlan
    solved: Plan
    over_quota: list[str]
    requests_elsewhere: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


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

    Refused when the plan does not pass the independent checker against its problem, or when
    the registry changed since the problem was built. Refused (`AdmittedAfterAgreementEnds`)
    when it admits a patient after every agreement under which its facility admits the
    patient's organisation and specialty has ended (`admissions_after_agreement_ends`; the
    engines keep to the ends the manifest carries, a plan solved without it may not).
    Refused too (`QuotaExceeded`) when it
    places more patients under an agreement in force than the agreement's quota allows
    (`quota_overruns`), unless `over_quota` gives the reason to go beyond it: the reason and
    every overrun then go into the approval's audit record. With `within_quotas` instead, the
    patients beyond the quotas are left out of the plan (`keep_within`: the most urgent keep
    their places), stay as they are (selected patients stay selected, for the next plan), and
    are named in the audit record; the stored plan's objective is the checker's for what is
    approved, no longer called optimal. Selected patients with an assignment
    become referred; earlier live plans are superseded. The checks and the writes run as if
    alone (`UnitOfWork.serialized`): a change committed by someone else while they run makes
    the attempt fail unwritten, and the next attempt's checks name that change. Returns the
    stored plan and the overruns the transaction found and recorded.
    """
    try:
        built_at = datetime.fromisoformat(manifest["built_at"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidValue("manifest", "has no valid 'built_at' time") from error
    _check_manifest(manifest)
    digest = manifest.get("problem_sha256")
    if digest is not None and digest != problem_digest(problem):
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
    checked_problem = parse_problem(problem)
    report = check_plan(checked_problem, plan)
    if not report.feasible:
        raise InvalidValue(
            "plan", "it does not fit its problem: " + "; ".join(report.violations[:10])
        )
    for attempt in range(1, APPROVAL_ATTEMPTS + 1):
        try:
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
        except TransactionConflict as conflict:
            # Another transaction changed what the checks read: check again, now seeing it.
            if attempt == APPROVAL_ATTEMPTS:
                raise RegistryChanged(
                    [f"the registry kept changing during {attempt} attempts to approve: {conflict}"]
                ) from conflict
    raise AssertionError("unreachable")


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
        stored = uow.patients.get_many(list(_manifest_patients(manifest)))
        resolved: dict[str, PlannedAdmission] = {}
        changes = registry_changes(uow, manifest, stored, problem, resolved)
        # the patients sent earlier are counted once, for the rooms of the carried quotas, the
        # choice and the overruns, from the destinations the comparison of held beds resolved
        counted = plan.assignments or manifest.get("quotas")
        book = _sent_book(uow, problem, now, resolved) if counted else None
        changes += carried_room_changes(manifest, book)
        if changes:
            raise RegistryChanged(changes)
        ended = _after_ends(uow, problem, plan, built_at.date())
        if ended:
            raise AdmittedAfterAgreementEnds(ended)
        placed = [] if book is None else _placements(uow, problem, plan)
        left = keep_within(book, placed, now.date()) if book and within_quotas else {}
        plan = without_patients(
            checked_problem,
            plan,
            {p: f"left out at approval: the quota of {a} is used up" for p, a in left.items()},
            UnplacedReason.NO_AGREEMENT,
        )
        kept = [p for p in placed if p.patient not in left]
        overruns = [] if book is None else _overrun_lines(book, kept, now.date())
        why = (over_quota or "").strip()
        if overruns and not why:
            raise QuotaExceeded(overruns)
        approved = ApprovedPlan(
            id=plan_id or f"PLAN-{uuid.uuid4().hex[:8].upper()}",
            approved_at=now,
            approved_by=actor,
            built_at=built_at,
            objective=plan.objective,
            solver=plan.solver,
            solver_status=plan.status.value,
            admissions=[
                PlannedAdmission(a.patient, a.facility, built_at.date() + timedelta(days=a.day))
                for a in sorted(plan.assignments, key=lambda a: a.patient)
            ],
        )
        for earlier in uow.plans.live():
            before = snapshot(earlier)
            earlier.supersede()
            uow.plans.update(earlier)
            audit(
                uow,
                "approved_plan",
                earlier,
                "supersede",
                actor=actor,
                before=before,
                reason=f"superseded by {approved.id}",
                at=now,
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
        elsewhere = requests_elsewhere(uow, plan)
        uow.commit()
    return Approval(approved, plan, overruns, elsewhere, left)


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


def quota_overruns(
    uow: UnitOfWork, problem: dict[str, Any], plan: Plan, *, on: datetime
) -> list[str]:
    """Agreements in force whose quota this plan would take beyond, one line each.

    The problem format has no quotas: the engines keep to those its manifest carries
    (`_carry_quotas`), but a plan solved without the manifest or built with
    `--ignore-quotas` may go beyond an agreement, and any plan beyond one whose covering
    agreements cross others' (not carried). This says where a plan does so
    (and `approve_plan` refuses such a plan unless told why to go beyond). Patients are
    counted in a `QuotaBook`: first those sent earlier (`sent_under_agreements`), then the
    plan's (`_count`), each against the first agreement between its organisation and the
    operator of its facility that covers its specialty and still has room, those with the
    fewest covering agreements first. A plan is over quota when it places someone under an
    agreement and, with those sent before, more than its quota.
    """
    with uow:
        return _overruns(uow, problem, plan, on=on)


def admissions_after_agreement_ends(
    uow: UnitOfWork, problem: dict[str, Any], plan: Plan, *, built_on: date
) -> list[str]:
    """The plan's patients admitted after the agreements they come under end, one line each.

    The problem format's acceptance holds on every day: the engines keep to the ends the
    manifest carries ("acceptance_ends", `agreement_ends`), but a plan solved without the
    manifest may admit a patient after them. A patient comes under the agreements in force on
    ``built_on`` (the problem's day 0; the approval refuses a plan when an agreement came into
    force or lapsed since) between its organisation and the operator of its facility that
    cover its specialty; it is admitted after they end when its admission day is after the
    latest of their `valid_to` (none has ended while one of them has none). Patients at
    facilities whose operator is bound by no such agreement are not looked at.
    """
    with uow:
        return _after_ends(uow, problem, plan, built_on)


def _after_ends(uow: UnitOfWork, problem: dict[str, Any], plan: Plan, built_on: date) -> list[str]:
    """`admissions_after_agreement_ends` within an open unit of work."""
    if not plan.assignments:
        return []
    entries = {p["id"]: p for p in problem["patients"]}
    facilities = uow.facilities.get_many({a.facility for a in plan.assignments})
    operators = {f.id: f.operator_id for f in facilities.values()}
    between: dict[tuple[str, str], list[Agreement]] = defaultdict(list)
    for agreement in sorted(uow.agreements.list(), key=lambda a: a.id):
        if agreement.in_force(built_on):
            pair = (agreement.sending_organisation_id, agreement.receiving_organisation_id)
            between[pair].append(agreement)
    lines = []
    for assignment in sorted(plan.assignments, key=lambda a: a.patient):
        entry = entries[assignment.patient]
        sender, receiver = _sender(entry), operators.get(assignment.facility, "")
        specialty = Specialty(entry["specialty"])
        covering = [a for a in between.get((sender, receiver), ()) if specialty in a.specialties]
        last = _last_valid_day(covering) if covering else None
        if last is None:  # no agreement, or one that does not end
            continue
        admitted = built_on + timedelta(days=assignment.day)
        if admitted <= last:
            continue
        ending = [a.id for a in covering if a.valid_to == last]
        lines.append(
            f"patient {assignment.patient} is admitted at {assignment.facility} on day "
            f"{assignment.day} ({admitted.isoformat()}), after {' and '.join(ending)} "
            f"({sender} at {receiver}) {'end' if len(ending) > 1 else 'ends'} on "
            f"{last.isoformat()}, day {(last - built_on).days} of the problem"
        )
    return lines


#: Statuses of patients a plan sent who went (accepted, on their way, treated, or back since):
#: they count against the quota of the agreement they went under
SENT_STATUSES = (
    *HOLDING_STATUSES,
    PatientStatus.REHABILITATION,
    PatientStatus.DISCHARGED,
    PatientStatus.REPATRIATED,
)


class QuotaBook:
    """Patients counted against the agreements in force on a day, in one book.

    A patient counts against the first agreement (by id) between its organisation and its
    receiving organisation that covers its specialty on its day and still has room under its
    quota (an agreement without a quota always has); where every covering agreement is full,
    against the first, which it then takes beyond its quota. Callers count the patients with
    the fewest covering agreements (`options`) first: where agreements overlap, a patient
    only one of them covers then finds its room before others that could go elsewhere take
    it (with overlapping agreements counted by id alone, a plan within their rooms together
    could be refused).
    """

    def __init__(self, agreements: list[Agreement], on: date) -> None:
        self.agreements = sorted((a for a in agreements if a.in_force(on)), key=lambda a: a.id)
        self._between: dict[tuple[str, str], list[Agreement]] = defaultdict(list)
        for agreement in self.agreements:
            pair = (agreement.sending_organisation_id, agreement.receiving_organisation_id)
            self._between[pair].append(agreement)
        self.used: dict[str, int] = defaultdict(int)

    @property
    def has_quotas(self) -> bool:
        return any(a.quota is not None for a in self.agreements)

    def options(self, sender: str, receiver: str, specialty: Specialty, day: date) -> int:
        """How many agreements in the book cover such a patient."""
        return sum(1 for a in self._between.get((sender, receiver), ()) if a.covers(specialty, day))

    def count(self, sender: str, receiver: str, specialty: Specialty, day: date) -> str | None:
        """Count one patient; the id of the agreement it counts against (None: none covers)."""
        chosen = self._against(sender, receiver, specialty, day)
        if chosen is None:
            return None
        self.used[chosen.id] += 1
        return chosen.id

    def beyond(self, sender: str, receiver: str, specialty: Specialty, day: date) -> str | None:
        """The id of the agreement one more such patient would take beyond its quota (every
        covering agreement is full), else None; counts nothing."""
        chosen = self._against(sender, receiver, specialty, day)
        if chosen is None or chosen.quota is None or self.used[chosen.id] < chosen.quota:
            return None
        return chosen.id

    def _against(
        self, sender: str, receiver: str, specialty: Specialty, day: date
    ) -> Agreement | None:
        covering = [
            a for a in self._between.get((sender, receiver), ()) if a.covers(specialty, day)
        ]
        if not covering:
            return None
        return next(
            (a for a in covering if a.quota is None or self.used[a.id] < a.quota), covering[0]
        )

    def copy(self) -> QuotaBook:
        """Another book with the same agreements and counts."""
        other = copy.copy(self)
        other.used = defaultdict(int, self.used)
        return other

    def full(self) -> list[Agreement]:
        """Agreements whose quota the patients counted so far use up."""
        return [a for a in self.agreements if a.quota is not None and self.used[a.id] >= a.quota]


def sent_under_agreements(
    uow: UnitOfWork,
    book: QuotaBook,
    leave_out: set[str],
    known: Mapping[str, PlannedAdmission] | None = None,
) -> None:
    """Count in ``book`` the patients sent earlier (`SENT_STATUSES`, but those in
    ``leave_out``): by their destination (`sent_destinations`; ``known`` holds those the
    caller already found) on its admission day, else by the last treatment request that
    accepted them (its receiving organisation, on the day they were accepted)."""
    senders = {a.sending_organisation_id for a in book.agreements}
    earlier = sorted(
        (
            p
            for p in uow.patients.for_planning(SENT_STATUSES)
            if p.organisation_id in senders and p.id not in leave_out
        ),
        key=lambda p: p.id,
    )
    known = known or {}
    destinations = {p.id: known[p.id] for p in earlier if p.id in known}
    destinations |= sent_destinations(uow, [p.id for p in earlier if p.id not in known])
    wanted = {a.facility_id for a in destinations.values()}
    operators = {f.id: f.operator_id for f in uow.facilities.get_many(wanted).values()}
    # the others went through treatment requests their receivers accepted (the last such)
    others = [p.id for p in earlier if p.id not in destinations]
    requested = {i: a.receiver_id for i, a in uow.requests.acceptances(others).items()}
    times = uow.patients.move_times(list(requested))
    accepted_on = {i: _accepted_at(times.get(i)).date() for i in requested}
    counted: list[tuple[str, str, Specialty, date]] = []
    for patient in earlier:
        admission = destinations.get(patient.id)
        if admission is not None:
            receiver = operators.get(admission.facility_id, "")
            day = admission.admission_date
        elif patient.id in requested:
            receiver, day = requested[patient.id], accepted_on[patient.id]
        else:
            continue
        counted.append((patient.organisation_id, receiver, patient.primary_specialty, day))
    # those with the fewest covering agreements first (`QuotaBook`); by id among the same
    for sender, receiver, specialty, day in sorted(
        counted,
        key=lambda c: book.options(*c),  # a stable sort keeps the order by id
    ):
        book.count(sender, receiver, specialty, day)


@dataclass(frozen=True, slots=True)
class Placed:
    """A patient a plan places, as the quota count sees it."""

    patient: str
    sender: str
    receiver: str
    specialty: Specialty
    weight: float  # of its precedence
    day: int


def carried_room_changes(manifest: dict[str, Any], book: QuotaBook | None) -> list[str]:
    """The quotas the manifest carries ("quotas", `_carry_quotas`) whose agreements have room
    for fewer patients now, with the patients sent earlier counted in ``book``, than when the
    problem was built, a line each: a patient sent earlier came to count against them since (a
    destination named or changed) without any patient of the problem changing. A plan kept to
    the old room may then go beyond it: the problem must be built again.

    A quota carried for a set of agreements ("AGR-1+AGR-2") has their rooms together. Quotas
    whose agreements are no longer all in force with a quota are left to the comparison of
    the agreements (`_facility_and_agreement_changes`)."""
    if book is None:
        return []
    by_id = {a.id: a for a in book.agreements}
    lines = []
    for entry in manifest.get("quotas", []):
        ids = str(entry["id"]).split("+")
        if not all(i in by_id and by_id[i].quota is not None for i in ids):
            continue
        room = sum(int(by_id[i].quota or 0) - book.used[i] for i in ids)
        if room < int(entry["room"]):
            lines.append(
                f"agreement {entry['id']} has room for {room} more patient(s) now, "
                f"{entry['room']} when the problem was built: patients sent earlier came to "
                "count against it since"
            )
    return lines


def _sent_book(
    uow: UnitOfWork,
    problem: dict[str, Any],
    on: datetime,
    known: Mapping[str, PlannedAdmission] | None = None,
) -> QuotaBook | None:
    """The agreements in force on ``on`` with the patients sent earlier counted, or None when
    no agreement has a quota (``known``: destinations already resolved)."""
    book = QuotaBook(uow.agreements.list(), on.date())
    if not book.has_quotas:
        return None
    sent_under_agreements(uow, book, {p["id"] for p in problem["patients"]}, known)
    return book


def _placements(uow: UnitOfWork, problem: dict[str, Any], plan: Plan) -> list[Placed]:
    """The plan's patients by id, with their senders and receiving organisations."""
    entries = {p["id"]: p for p in problem["patients"]}
    facilities = uow.facilities.get_many({a.facility for a in plan.assignments})
    operators = {f.id: f.operator_id for f in facilities.values()}
    weights = {name: float(rule["weight"]) for name, rule in problem["precedences"].items()}
    return [
        Placed(
            a.patient,
            _sender(entries[a.patient]),
            operators.get(a.facility, ""),
            Specialty(entries[a.patient]["specialty"]),
            weights[entries[a.patient]["precedence"]],
            a.day,
        )
        for a in sorted(plan.assignments, key=lambda a: a.patient)
    ]


def _count(book: QuotaBook, placed: list[Placed], day: date) -> dict[str, str]:
    """Count ``placed`` in ``book`` as the approval does, those with the fewest covering
    agreements first, then by patient id: the agreement each counts against (patients no
    agreement covers are left out)."""
    counted = {}
    for p in sorted(
        placed, key=lambda p: (book.options(p.sender, p.receiver, p.specialty, day), p.patient)
    ):
        found = book.count(p.sender, p.receiver, p.specialty, day)
        if found is not None:
            counted[p.patient] = found
    return counted


def _overruns(uow: UnitOfWork, problem: dict[str, Any], plan: Plan, *, on: datetime) -> list[str]:
    """`quota_overruns` within an open unit of work."""
    book = _sent_book(uow, problem, on) if plan.assignments else None
    if book is None:
        return []
    return _overrun_lines(book, _placements(uow, problem, plan), on.date())


def _overrun_lines(book: QuotaBook, placements: list[Placed], day: date) -> list[str]:
    """The agreements of ``book`` (the patients sent earlier counted in it, left as it is)
    that ``placements`` take beyond their quotas, a line each."""
    sent = dict(book.used)
    placed: dict[str, int] = defaultdict(int)
    for agreement_id in _count(book.copy(), placements, day).values():
        placed[agreement_id] += 1
    return [
        f"{a.id} allows {a.quota} patients of {a.sending_organisation_id} at "
        f"{a.receiving_organisation_id}; "
        + (f"{sent.get(a.id, 0)} were sent there before and " if sent.get(a.id) else "")
        + f"this plan places {placed[a.id]} there"
        for a in book.agreements
        if a.quota is not None and placed[a.id] and sent.get(a.id, 0) + placed[a.id] > a.quota
    ]


def keep_within(book: QuotaBook, placed: list[Placed], day: date) -> dict[str, str]:
    """The patients ``placed`` on ``day`` to leave out so that they keep to every agreement's
    quota, counted in ``book`` after the patients sent earlier (the book is left as it is);
    each with the agreement it would take beyond it (empty when they keep to them all).

    The most urgent keep their places: patients are counted by precedence weight (then the
    earlier admission day, then id), and one is left out where every agreement that covers
    it is full. The approval counts by id (`quota_overruns`); where overlapping agreements
    make that count put someone beyond a quota all the same, the least urgent patient counted
    against that agreement is left out too, until none is."""
    trial = book.copy()
    kept: list[Placed] = []
    left: dict[str, str] = {}
    for p in sorted(placed, key=lambda p: (-p.weight, p.day, p.patient)):
        full = trial.beyond(p.sender, p.receiver, p.specialty, day)
        if full is None:
            trial.count(p.sender, p.receiver, p.specialty, day)
            kept.append(p)
        else:
            left[p.patient] = full
    while True:
        recount = book.copy()
        counted = _count(recount, kept, day)
        over = {
            a.id for a in recount.agreements if a.quota is not None and recount.used[a.id] > a.quota
        }
        victims = [p for p in kept if counted.get(p.patient) in over]
        if not victims:
            return left
        victim = min(victims, key=lambda p: (p.weight, -p.day, p.patient))
        kept.remove(victim)
        left[victim.patient] = counted[victim.patient]


def _sender(entry: dict[str, Any]) -> str:
    """A problem patient's organisation, without the specialty `plan build` may qualify it by."""
    organisation = str(entry.get("organisation", ""))
    return organisation.removesuffix(_qualified("", str(entry["specialty"])))


def live_plans(uow: UnitOfWork) -> list[ApprovedPlan]:
    with uow:
        return uow.plans.live()
