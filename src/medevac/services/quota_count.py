"""Patients counted against the quotas of agreements: those sent earlier and a plan's,
the quotas carried to the engines, and the plans that would go beyond them."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import Facility
from medevac.domain.lifecycle import LEFT_STATUSES, PatientStatus
from medevac.domain.patients import PlanningPatient
from medevac.domain.plans import PlannedAdmission
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Precedence, Specialty
from medevac.planning import Plan
from medevac.planning.plan import day_ranges
from medevac.services.agreement_terms import acceptance_days, bound_from, sender_of
from medevac.services.clock import day_of
from medevac.services.holds import HOLDING_STATUSES, accepted_at, sent_destinations


def quota_overruns(
    uow: UnitOfWork,
    problem: dict[str, Any],
    plan: Plan,
    *,
    on: datetime,
    built_on: date | None = None,
) -> list[str]:
    """Agreements whose quota this plan would take beyond, one line each.

    The problem format has no quotas: the engines keep to those its manifest carries
    (`carry_quotas`), but a plan solved without the manifest or built with
    `--ignore-quotas` may go beyond an agreement, and any plan beyond one whose covering
    agreements cross others' (not carried). This says where a plan does so
    (and `approve_plan` refuses such a plan unless told why to go beyond). Patients are
    counted in a `QuotaBook` of the agreements in force on ``on`` or later: first those sent
    earlier (`sent_under_agreements`), then the plan's (`_count`), each on its admission day
    (``built_on``, the problem's day 0, plus its day in the plan; ``on``'s date where not
    given) against the first agreement between its organisation and the operator of its
    facility that covers its specialty on that day and still has room, those with the fewest
    covering agreements first. A plan is over quota when it places someone under an
    agreement and, with those sent before, more than its quota.
    """
    with uow:
        return _overruns(uow, problem, plan, on=on, built_on=built_on)


#: Statuses of patients a plan sent who went (accepted, on their way, treated, or back since):
#: they count against the quota of the agreement they went under, as do those who died after
#: they left (`died_after_leaving`)
SENT_STATUSES = (
    *HOLDING_STATUSES,
    PatientStatus.REHABILITATION,
    PatientStatus.DISCHARGED,
    PatientStatus.REPATRIATED,
)


class QuotaBook:
    """Patients counted against the agreements in force on a day or later, in one book.

    A patient counts against the agreement between its organisation and its receiving
    organisation that covers its specialty on its day (the day it was or is to be admitted:
    a renewal's patients count against the renewal, not against the agreement it follows)
    and still has room under its quota (an
    agreement without a quota always has, and is taken first), the one covering the fewest
    specialties first, then by id; where every covering agreement is full, against the first
    by id, which it then takes beyond its quota. Callers count the patients with the fewest covering
    agreements (`options`) first: where agreements overlap, a patient only one of them covers
    then finds its room before others that could go elsewhere take it (with overlapping
    agreements counted by id alone, a plan within their rooms together could be refused).
    The narrowest agreement first does the same for patients counted apart, earlier: two
    orthopaedic patients sent under AGR-1 (orthopaedics and neurology, quota 2) rather than
    AGR-2 (orthopaedics, quota 10) used up the only room for neurology.
    """

    def __init__(self, agreements: list[Agreement], on: date) -> None:
        #: every agreement given, those that lapsed before ``on`` too (`bound_from` needs them)
        self.every = list(agreements)
        #: those in force on ``on`` or later, by id: the patients counted against them
        self.agreements = sorted(
            (a for a in agreements if a.valid_to is None or a.valid_to >= on), key=lambda a: a.id
        )
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
        with_room = [a for a in covering if a.quota is None or self.used[a.id] < a.quota]
        if not with_room:
            return covering[0]
        # one without a quota first (it never fills), then the narrowest
        return min(with_room, key=lambda a: (a.quota is not None, len(a.specialties), a.id))

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
    accepted them (its receiving organisation, on the day they were accepted) while its answer
    is their latest acceptance (given when or after they last left referred, as
    `sent_destinations` has it, or recorded before answers kept their time); patients with
    neither are not counted. A patient that died after it left for its facility
    (`died_after_leaving`) used its place: it is counted as it was before its death (it had
    stopped counting, and the next plan could give its place again); one that died before
    it left is not."""
    senders = {a.sending_organisation_id for a in book.agreements}
    statuses = (*SENT_STATUSES, PatientStatus.DIED)
    earlier = sorted(
        (
            p
            for p in uow.patients.for_planning(statuses)
            if p.organisation_id in senders and p.id not in leave_out
        ),
        key=lambda p: p.id,
    )
    known = known or {}
    destinations = {p.id: known[p.id] for p in earlier if p.id in known}
    destinations |= sent_destinations(uow, [p.id for p in earlier if p.id not in known])
    dead = {p.id for p in earlier if p.status is PatientStatus.DIED}
    if dead:
        # the dead with a destination or an acceptance only, whose histories are then read
        answered = uow.requests.acceptances(sorted(dead - destinations.keys()))
        sent = died_after_leaving(
            uow, sorted(i for i in dead if i in destinations or i in answered)
        )
        earlier = [p for p in earlier if p.status is not PatientStatus.DIED or p.id in sent]
        destinations = {i: a for i, a in destinations.items() if i not in dead or i in sent}
    wanted = {a.facility_id for a in destinations.values()}
    operators = {f.id: f.operator_id for f in uow.facilities.get_many(wanted).values()}
    # the others went through treatment requests their receivers accepted (the last such),
    # while that answer is the patient's latest acceptance: one given before an acceptance
    # that was withdrawn, the patient accepted again since some other way, no longer counts
    # (as `sent_destinations` no longer takes its destination). An answer recorded before
    # answers kept their time (revision 0005) cannot be told stale and still counts.
    others = [p.id for p in earlier if p.id not in destinations]
    answers = uow.requests.acceptances(others)
    times = uow.patients.move_times(list(answers))
    accepted = {i: accepted_at(times.get(i)) for i in answers}
    requested = {
        i: a.receiver_id
        for i, a in answers.items()
        if a.decided_at is None or a.decided_at >= accepted[i]
    }
    accepted_on = {i: day_of(accepted[i]) for i in requested}
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


def died_after_leaving(uow: UnitOfWork, patient_ids: list[str]) -> set[str]:
    """Those of ``patient_ids`` (dead patients) whose history shows they had left for their
    receiving facility (`LEFT_STATUSES`) before they died."""
    found = uow.patients.get_many(patient_ids)
    return {
        patient.id
        for patient in found.values()
        if patient.status is PatientStatus.DIED
        and any(change.to_status in LEFT_STATUSES for change in patient.history)
    }


@dataclass(frozen=True, slots=True)
class Placed:
    """A patient a plan places, as the quota count sees it."""

    patient: str
    sender: str
    receiver: str
    specialty: Specialty
    weight: float  # of its precedence
    day: int  # of the plan: admitted that many days after the problem's day 0
    # its precedence's rank (0 the most urgent, `Precedence.rank`): between precedences of one
    # weight (the default weights give routine and convenience one), the more urgent counts first
    rank: int = 0


def carried_room_changes(manifest: dict[str, Any], book: QuotaBook | None) -> list[str]:
    """The quotas the manifest carries ("quotas", `carry_quotas`) whose agreements have room
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
        ids = _members(str(entry["id"]), by_id.keys())
        if ids is None or not all(by_id[i].quota is not None for i in ids):
            continue
        room = sum(_room(by_id[i], book) for i in ids)
        if room < int(entry["room"]):
            lines.append(
                f"agreement {entry['id']} has room for {room} more patient(s) now, "
                f"{entry['room']} when the problem was built: patients sent earlier came to "
                "count against it since"
            )
    return lines


def _members(name: str, known: Collection[str]) -> list[str] | None:
    """The agreements a carried quota's name joins with "+" ("AGR-1+AGR-2"), each one of
    ``known`` (agreement ids may hold "+" themselves: "AGR+1" is one); None where no split of
    the name gives known ids only."""
    if name in known:
        return [name]
    for cut in (k for k, c in enumerate(name) if c == "+"):
        if name[:cut] in known and (rest := _members(name[cut + 1 :], known)) is not None:
            return [name[:cut], *rest]
    return None


def sent_book(
    uow: UnitOfWork,
    problem: dict[str, Any],
    on: datetime,
    known: Mapping[str, PlannedAdmission] | None = None,
) -> QuotaBook | None:
    """The agreements in force on ``on`` or later with the patients sent earlier counted, or
    None when none of them has a quota (``known``: destinations already resolved)."""
    book = QuotaBook(uow.agreements.list(), day_of(on))
    if not book.has_quotas:
        return None
    sent_under_agreements(uow, book, {p["id"] for p in problem["patients"]}, known)
    return book


def placements(uow: UnitOfWork, problem: dict[str, Any], plan: Plan) -> list[Placed]:
    """The plan's patients by id, with their senders and receiving organisations."""
    entries = {p["id"]: p for p in problem["patients"]}
    facilities = uow.facilities.get_many({a.facility for a in plan.assignments})
    operators = {f.id: f.operator_id for f in facilities.values()}
    weights = {name: float(rule["weight"]) for name, rule in problem["precedences"].items()}
    return [
        Placed(
            a.patient,
            sender_of(entries[a.patient]),
            operators.get(a.facility, ""),
            Specialty(entries[a.patient]["specialty"]),
            weights[entries[a.patient]["precedence"]],
            a.day,
            _rank(entries[a.patient]["precedence"]),
        )
        for a in sorted(plan.assignments, key=lambda a: a.patient)
    ]


def _rank(precedence: str) -> int:
    """`Precedence.rank` of a problem's precedence (after every known one when unknown)."""
    try:
        return Precedence(precedence).rank
    except ValueError:
        return len(Precedence)


def _admitted(p: Placed, day0: date) -> date:
    """The day ``p`` is admitted, its plan's day 0 being ``day0``."""
    return day0 + timedelta(days=p.day)


def _count(book: QuotaBook, placed: list[Placed], day0: date) -> dict[str, str]:
    """Count ``placed`` in ``book`` as the approval does, each on its admission day (the plan's
    day 0 is ``day0``), those with the fewest covering agreements first, then by patient id:
    the agreement each counts against (patients no agreement covers are left out)."""
    days = {p.patient: _admitted(p, day0) for p in placed}
    counted = {}
    for p in sorted(
        placed,
        key=lambda p: (book.options(p.sender, p.receiver, p.specialty, days[p.patient]), p.patient),
    ):
        found = book.count(p.sender, p.receiver, p.specialty, days[p.patient])
        if found is not None:
            counted[p.patient] = found
    return counted


def _overruns(
    uow: UnitOfWork, problem: dict[str, Any], plan: Plan, *, on: datetime, built_on: date | None
) -> list[str]:
    """`quota_overruns` within an open unit of work."""
    book = sent_book(uow, problem, on) if plan.assignments else None
    if book is None:
        return []
    return overrun_lines(book, placements(uow, problem, plan), built_on or day_of(on))


def overrun_lines(book: QuotaBook, placements: list[Placed], day0: date) -> list[str]:
    """The agreements of ``book`` (the patients sent earlier counted in it, left as it is)
    that ``placements`` take beyond their quotas, a line each: each placement counts on its
    admission day, its plan's day 0 being ``day0`` (the day the problem was built)."""
    sent = dict(book.used)
    placed: dict[str, int] = defaultdict(int)
    for agreement_id in _count(book.copy(), placements, day0).values():
        placed[agreement_id] += 1
    return [
        f"{a.id} allows {a.quota} patients of {a.sending_organisation_id} at "
        f"{a.receiving_organisation_id}; "
        + (f"{sent.get(a.id, 0)} were sent there before and " if sent.get(a.id) else "")
        + f"this plan places {placed[a.id]} there"
        for a in book.agreements
        if a.quota is not None and placed[a.id] and sent.get(a.id, 0) + placed[a.id] > a.quota
    ]


def keep_within(book: QuotaBook, placed: list[Placed], day0: date) -> dict[str, str]:
    """The patients ``placed`` by a plan whose day 0 is ``day0`` to leave out so that they
    keep to every agreement's quota, each counted on its admission day in ``book`` after the
    patients sent earlier (the book is left as it is); each with the agreement it would take
    beyond it (empty when they keep to them all).

    The most urgent keep their places: patients are counted by precedence weight (then the
    more urgent precedence where two have one weight, then the earlier admission day, then
    id), and one is left out where every agreement that covers it is full. The approval
    counts by id (`quota_overruns`); where overlapping agreements make that count put someone
    beyond a quota all the same, the least urgent patient counted against that agreement is
    left out too, until none is."""
    trial = book.copy()
    kept: list[Placed] = []
    left: dict[str, str] = {}
    for p in sorted(placed, key=lambda p: (-p.weight, p.rank, p.day, p.patient)):
        admitted = _admitted(p, day0)
        full = trial.beyond(p.sender, p.receiver, p.specialty, admitted)
        if full is None:
            trial.count(p.sender, p.receiver, p.specialty, admitted)
            kept.append(p)
        else:
            left[p.patient] = full
    while True:
        recount = book.copy()
        counted = _count(recount, kept, day0)
        over = {
            a.id for a in recount.agreements if a.quota is not None and recount.used[a.id] > a.quota
        }
        victims = [p for p in kept if counted.get(p.patient) in over]
        if not victims:
            return left
        victim = min(victims, key=lambda p: (p.weight, -p.rank, -p.day, p.patient))
        kept.remove(victim)
        left[victim.patient] = counted[victim.patient]


def carry_quotas(
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
    specialty on a day the receiver's facilities admit such patients (`acceptance_days`: from
    day 0, or from the day an agreement begins, to the end of acceptance) and a facility of
    the receiver in the problem offers it. The quota bounds the placements of the sender's
    patients (under the organisation the problem gives them, which `encode_coverage` may have
    qualified as "ORG/specialty") with a specialty the agreement covers at the receiver's
    facilities in the problem by its room, so the optimiser chooses who uses it. That is what
    the approval counts (`QuotaBook`): each of the plan's patients counts against the
    agreements between its organisation and the operator of its facility that cover its
    specialty on its admission day. Agreements of different receivers that the same patients
    could use (rivals) are separate quotas: the plan chooses which room each patient uses.

    Where agreements between the same organisations overlap (a specialty covered by more than
    one), a patient may count against any of those covering its specialty (`QuotaBook`
    counts those with the fewest such agreements first). Their rooms then hold every group of
    patients whose covering agreements all lie in one set of them, and one quota is carried
    per set (named "AGR-1+AGR-2"): where the sets of agreements covering the specialties nest
    or are apart (laminar), those quotas say exactly which plans the count keeps within the
    rooms (`_overlapping_quotas`). Where two such sets cross, nothing is carried for those
    organisations and the line says a plan may go beyond them.

    Where the agreements covering a specialty change within the days the receiver admits it
    (one ends and a renewal takes over, with a quota of its own or none), the sets of every
    such day are carried (`_quota_rows`), each holding on the days on which its agreements
    cover its patients ("days", `_held_days`; since 2026-12-07, before which each held on
    every day and a renewal's patients were left out beyond the old agreement's room). A
    quota has one set of days for all its specialties: where, on one of its days, another of
    its specialties comes under other agreements, it counts those patients too (the safe
    side), and the line says so.
    """
    facility_entries, patient_entries = entries
    by_id = {entry["id"]: entry for entry in patient_entries}
    day = day_of(now)
    horizon = max((len(beds) for e in facility_entries for beds in e["beds"].values()), default=0)
    full = frozenset(a.id for a in book.full())
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
        if not any(a.quota is not None for a in group):
            continue
        offers = offered[receiver]
        # the agreements covering each specialty of the sender's patients the receiver offers,
        # on each day its facilities admit them (None: counted against no quota that day)
        days = {
            s: _day_covers(book, group, (sender, receiver, s), day, horizon, full)
            for (o, s) in kinds
            if o == sender and s.value in offers
        }
        covers = {s: {c for c in seen.values() if c is not None} for s, seen in days.items()}
        rows = _quota_rows(group, covers, book)
        if rows is None:  # the sets of covering agreements cross: nothing is carried
            for a in group:
                room = None if a.quota is None else a.quota - book.used[a.id]
                mine = {s for s, sets in covers.items() if any(a.id in ids for ids in sets)}
                could = sum(kinds[(sender, s)] for s in mine)
                if room is None or room <= 0 or could <= room:
                    continue
                others = sorted({i for s in mine for ids in covers[s] for i in ids} - {a.id})
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
                if apart:  # the agreement alone covers every specialty it names ...
                    # ... but those an agreement without a quota covers too
                    specialties = specialties | {
                        s for s in a.specialties if s not in days and not _unlimited(group, s, day)
                    }
                name, line = a.id, short(a, room, could)
            else:
                name = "+".join(sorted(ids))
                line = (
                    f"{name} have room together for {room} more patient(s) of {sender} at "
                    f"{receiver} in {', '.join(sorted(s.value for s in specialties))}, and "
                    f"{could} in this problem could go there under them"
                )
            covering = {s: days[s] for s in specialties if s in days}
            held, exact = _held_days(ids, covering)
            quotas.append(
                {
                    "id": name,
                    "room": room,
                    "organisations": organisations(sender, specialties),
                    "facilities": theirs,
                    "specialties": sorted(s.value for s in specialties),
                }
                | ({} if held is None else {"days": held})
            )
            carried.append(name)
            lines.append(
                f"{line}: the plan keeps to it, and the optimiser chooses who uses the room"
                + _some_days(ids, held, exact)
            )
    return lines, carried, quotas


def _held_days(
    ids: frozenset[str], days: Mapping[Specialty, Mapping[int, frozenset[str] | None]]
) -> tuple[list[int] | None, bool]:
    """The admission days a quota carried for the agreements ``ids`` holds on (None: every
    day its patients may be admitted), and whether it then counts exactly the patients the
    agreements count (``days``: per specialty of the quota, the agreements covering it on
    each day it may be admitted, `_day_covers`).

    A patient admitted on day d counts against the set of agreements covering its specialty
    then; the quota holds on each day on which that set lies in ``ids`` for one of its
    specialties. It is exact unless, on such a day, another of its specialties comes under
    agreements outside ``ids`` (or none with a quota): a quota has one set of days for all of
    its specialties, so those patients count against it too (the safe side)."""
    held = sorted(
        {d for seen in days.values() for d, c in seen.items() if c is not None and c <= ids}
    )
    admitted = {d for seen in days.values() for d in seen}
    exact = all(
        c is not None and c <= ids for seen in days.values() for d, c in seen.items() if d in held
    )
    return (None if admitted <= set(held) else held), exact


def _day_covers(
    book: QuotaBook,
    group: list[Agreement],
    kind: tuple[str, str, Specialty],
    day0: date,
    horizon: int,
    full: frozenset[str],
) -> dict[int, frozenset[str] | None]:
    """For each day of a problem (day 0 = ``day0``) on which the receiver's facilities admit
    the sender's patients in the specialty (``kind``: sender, receiver, specialty; the days
    of `acceptance_days`), the ids of the agreements of ``group`` (the sender's with the
    receiver) covering them then, but those whose quota is used up (ids in ``full``); None on
    a day they count against no quota (the receiver not bound by agreements yet, or one
    without a quota covers them)."""
    sender, receiver, specialty = kind
    window = acceptance_days(receiver, sender, specialty, book.every, day0, horizon, full)
    if window is None:
        return {}
    first, last = window
    unbound = bound_from(receiver, book.every, day0)
    covers: dict[int, frozenset[str] | None] = {}
    for d in range(first, horizon if last is None else min(last + 1, horizon)):
        on = day0 + timedelta(days=d)
        # one whose quota is used up covers nobody (as in acceptance): with room 0 it adds
        # nothing to any set's room, and kept in the sets it made them cross where they do not
        # (AG0 full beside AG1 and its renewal: nothing was carried, and plans went beyond AG1)
        covering = [a for a in group if a.covers(specialty, on) and a.id not in full]
        if (unbound is not None and on < unbound) or any(a.quota is None for a in covering):
            covers[d] = None
        elif covering:
            covers[d] = frozenset(a.id for a in covering)
    return covers


def _some_days(ids: frozenset[str], held: list[int] | None, exact: bool) -> str:
    """What a line adds where the agreements of a carried quota (``ids``) cover its patients
    on some of the days they may be admitted only, or where the quota counts some patients
    other agreements cover (``held`` and ``exact`` as `_held_days` gives them): nothing where
    they cover them on each day."""
    if exact:
        if held is None:
            return ""
        return (
            f"; its patients come under {' and '.join(sorted(ids))} on day(s) "
            f"{day_ranges(held)} only, and the quota holds on those days"
        )
    on = "every day" if held is None else f"day(s) {day_ranges(held)}"
    return (
        f"; the quota holds on {on} for all its specialties, though on some of those days "
        "some of them come under other agreements: the plan keeps to the room for those "
        "patients too and may leave out some who could come in under the other agreements"
    )


def _room(agreement: Agreement, book: QuotaBook) -> int:
    """The patients ``agreement`` (with a quota) has room for after those counted in ``book``:
    none, not fewer, where more were sent under it than its quota (an approval over quota, or
    acceptances beyond it), so that it takes no room from the agreements it overlaps."""
    return max(0, int(agreement.quota or 0) - book.used[agreement.id])


def _unlimited(group: list[Agreement], specialty: Specialty, day: date) -> bool:
    """Whether an agreement of ``group`` without a quota covers ``specialty`` on ``day``."""
    return any(a.quota is None and a.covers(specialty, day) for a in group)


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
    return _quota_rows(group, {s: {ids} for s, ids in cover.items()}, book)


def _quota_rows(
    group: list[Agreement],
    covers: Mapping[Specialty, Collection[frozenset[str]]],
    book: QuotaBook,
) -> list[tuple[frozenset[str], int, set[Specialty]]] | None:
    """`_overlapping_quotas` where the agreements covering a specialty differ from day to day
    (``covers``: per specialty, the set of ids covering it on each day it may be admitted).

    Every set of every day is a quota, over the specialties that some day's set lies in: a
    patient of such a specialty may be admitted on that day, so each set's room bounds them
    whatever their day. Where each specialty has one set this is `_overlapping_quotas`
    exactly; where they differ, a plan within these quotas is within them on every day (each
    day's patients are some of those counted) but may be refused room it had on other days.
    """
    quota = {a.id: a.quota for a in group}
    limited = {
        s: found
        for s, sets in covers.items()
        if (found := {ids for ids in sets if ids and all(quota[i] is not None for i in ids)})
    }
    family = sorted(
        {ids for sets in limited.values() for ids in sets}, key=lambda ids: (len(ids), sorted(ids))
    )
    for k, first in enumerate(family):
        for second in family[k + 1 :]:
            if first & second and not first <= second:
                return None
    return [
        (
            ids,
            sum(_room(a, book) for a in group if a.id in ids),
            {s for s, sets in limited.items() if any(theirs <= ids for theirs in sets)},
        )
        for ids in family
    ]
