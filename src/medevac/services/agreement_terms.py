"""What the agreements in force say for a problem: which senders each facility accepts
for which specialties, and the agreements that end within the horizon."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import Facility
from medevac.domain.patients import PlanningPatient
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Specialty
from medevac.planning import Plan
from medevac.services.clock import day_of

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
    senders: Iterable[str] = (),
) -> dict[str, frozenset[Specialty]] | None:
    """Whom a facility accepts patients from, and for which of its specialties: per sending
    organisation, what its agreements in force with the facility's operator cover, but those
    whose quota is used up (ids in ``full``).

    An operator bound by no agreement at all accepts everyone (None); one whose agreements have
    all lapsed (or are full) accepts nobody else (a mapping with the operator alone). The
    operator's own patients need no agreement: it accepts them for every specialty of the
    facility (an organisation cannot agree with itself). An operator whose first agreement
    comes into force after ``on`` is not bound yet: it accepts each of ``senders`` (the
    organisations whose patients may come) for every specialty, until the day before that
    agreement unless it covers them (`agreement_ends` gives the days).
    """
    if not any(a.receiving_organisation_id == facility.operator_id for a in agreements):
        return None
    covered: dict[str, set[Specialty]] = defaultdict(set)
    covered[facility.operator_id] |= facility.specialties
    if bound_from(facility.operator_id, agreements, day_of(on)) is not None:
        for sender in senders:
            covered[sender] |= facility.specialties
    for agreement, shared in _covering_at(facility, agreements, day_of(on), full):
        covered[agreement.sending_organisation_id] |= shared
    return {sender: frozenset(specialties) for sender, specialties in covered.items()}


def bound_from(operator: str, agreements: Sequence[Agreement], on: date) -> date | None:
    """The day the operator's first agreement comes into force, when that is after ``on``;
    None when it has none, or one has come into force by then. An operator is bound by
    agreements from its first one on: until the day before, its facilities accept everyone."""
    starts = [a.valid_from for a in agreements if a.receiving_organisation_id == operator]
    return min(starts) if starts and min(starts) > on else None


def last_open_day(
    operator: str, agreements: list[Agreement], first: date, sender: str, specialty: Specialty
) -> date | None:
    """For an operator not bound yet, whose first agreement comes into force on ``first``:
    the last day its facilities admit ``sender``'s patients in ``specialty``. None (no end)
    where the agreements beginning on ``first`` cover them and do not end, else the last
    day those are valid (renewals carrying on); the day before ``first`` where none covers
    them (a later agreement would leave a gap, which acceptance cannot have), or where those
    that do have a quota (the build carries quotas only of agreements in force)."""
    if sender == operator:
        return None
    # one with a quota is not counted: quotas are carried and checked for the agreements in
    # force on the build day, and this one's would bind nobody (8 admitted under a quota of 1)
    starting = [
        a
        for a in agreements
        if (a.sending_organisation_id, a.receiving_organisation_id) == (sender, operator)
        and specialty in a.specialties
        and a.valid_from == first
        and a.quota is None
    ]
    if not starting:
        return first - timedelta(days=1)
    return last_valid_day(starting, _renewals(agreements, sender, operator, specialty, first))


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


def last_valid_day(covering: list[Agreement], following: Sequence[Agreement] = ()) -> date | None:
    """The last day on which one of ``covering`` (agreements, at least one) is still valid:
    the latest `valid_to`, None where one of them has none; carried on by those of
    ``following`` (agreements starting later that cover the same) that start by the next day,
    a renewal that takes over without a gap."""
    ends = [a.valid_to for a in covering]
    last = None if None in ends else max(e for e in ends if e is not None)
    while last is not None and last < date.max:  # valid to the calendar's end: no renewal
        after = last
        renewals = [
            a
            for a in following
            if a.valid_from <= after + timedelta(days=1)
            and (a.valid_to is None or a.valid_to > after)
        ]
        if not renewals:
            break
        last = (
            None
            if any(a.valid_to is None for a in renewals)
            else max(a.valid_to for a in renewals if a.valid_to is not None)
        )
    return last


def _renewals(
    agreements: list[Agreement], sender: str, receiver: str, specialty: Specialty, on: date
) -> list[Agreement]:
    """The agreements between ``sender`` and ``receiver`` covering ``specialty`` that come into
    force after ``on`` (they may carry on one in force then: `last_valid_day`)."""
    return [
        a
        for a in agreements
        if (a.sending_organisation_id, a.receiving_organisation_id) == (sender, receiver)
        and specialty in a.specialties
        and a.valid_from > on
    ]


def agreement_ends(
    facility: Facility,
    agreements: list[Agreement],
    on: date,
    horizon_days: int,
    full: frozenset[str] = frozenset(),
    senders: Iterable[str] = (),
) -> dict[str, dict[str, int]]:
    """Where a facility stops admitting a sender's patients within a problem's horizon: per
    sending organisation and specialty (code) that its agreements in force on ``on`` with the
    facility's operator cover (as `agreement_coverage`, those in ``full`` left out), the last
    day of the problem (day 0 = ``on``) on which the facility admits them.

    That is the latest `valid_to` of the agreements covering the specialty, none where one of
    them has none; only days before the horizon's last day are given (a later end leaves
    every day of the problem open). For an operator not bound yet (`bound_from`), each of
    ``senders`` and specialty of the facility ends as `last_open_day` says.
    """
    found: dict[str, dict[str, int]] = defaultdict(dict)

    def end(sender: str, specialty: Specialty, last: date | None) -> None:
        if last is not None and (last - on).days < horizon_days - 1:
            found[sender][specialty.value] = (last - on).days

    first = bound_from(facility.operator_id, agreements, on)
    if first is not None:
        for sender in senders:
            for specialty in facility.specialties:
                opening = last_open_day(facility.operator_id, agreements, first, sender, specialty)
                end(sender, specialty, opening)
        return dict(found)
    covering: dict[tuple[str, Specialty], list[Agreement]] = defaultdict(list)
    for agreement, shared in _covering_at(facility, agreements, on, full):
        for specialty in shared:
            covering[(agreement.sending_organisation_id, specialty)].append(agreement)
    for (sender, specialty), theirs in covering.items():
        following = _renewals(agreements, sender, facility.operator_id, specialty, on)
        end(sender, specialty, last_valid_day(theirs, [a for a in following if a.id not in full]))
    return dict(found)


def encode_coverage(
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


def senders_turned_away(
    facility_entries: list[dict[str, Any]],
    coverage: Mapping[str, Mapping[str, frozenset[Specialty]]],
    patients: list[PlanningPatient],
    operators: Mapping[str, str],
    agreements: list[Agreement],
) -> list[str]:
    """Lines as `encode_coverage` writes them for the senders it does not look at: those with
    agreements with a facility's operator (in force or not) whom the facility accepts for
    none of its specialties, where their patients need one it offers (their agreements cover
    none of the facility's specialties, or have all lapsed). Nothing said so: such a
    facility accepted nobody unseen."""
    needed: dict[str, set[str]] = defaultdict(set)
    for patient in patients:
        needed[patient.organisation_id].add(patient.primary_specialty.value)
    partners: dict[str, set[str]] = defaultdict(set)
    for agreement in agreements:
        partners[agreement.receiving_organisation_id].add(agreement.sending_organisation_id)
    lines = []
    for entry in facility_entries:
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        for sender in sorted(partners[operators[entry["id"]]] - set(senders)):
            gap = set(entry["beds"]) & needed[sender]
            if gap:
                lines.append(
                    f"{entry['id']} offers {', '.join(sorted(gap))}, which no agreement in "
                    f"force covers for {sender}"
                )
    return lines


def agreements_ending(
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
        # where the rule of `agreement_ends` carries a specialty on past its end: another in
        # force today, or renewals taking over without a gap (`last_valid_day`)
        pair = (a.sending_organisation_id, a.receiving_organisation_id)
        after: set[Specialty] = set()
        longer: set[str] = set()
        for specialty in a.specialties:
            covering = [
                b
                for b in live
                if (b.sending_organisation_id, b.receiving_organisation_id) == pair
                and specialty in b.specialties
            ]
            following = [
                b for b in _renewals(agreements, *pair, specialty, today) if b.id not in left_out
            ]
            valid = last_valid_day(covering, following)
            if valid is None or valid > a.valid_to:
                after.add(specialty)
                longer |= {
                    b.id
                    for b in covering + following
                    if b.id != a.id and (b.valid_to is None or b.valid_to > a.valid_to)
                }
        line = (
            f"{a.id} ({a.sending_organisation_id} at {a.receiving_organisation_id}) ends on "
            f"{a.valid_to.isoformat()}, day {last} of this problem"
        )
        others = ", ".join(sorted(longer))
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


def agreements_beginning(
    agreements: list[Agreement],
    needed: Mapping[str, set[Specialty]],
    receivers: set[str],
    today: date,
    horizon: int,
) -> list[str]:
    """A line for each receiver of the problem not bound by agreements yet whose first
    agreement comes into force within the horizon (`bound_from`): its facilities accept
    everyone until then, and plans admit the patients that agreement does not cover on the
    day before at the latest (`last_open_day`). ``needed``: the specialties of the problem's
    patients per sending organisation."""
    lines = []
    for receiver in sorted(receivers):
        first = bound_from(receiver, agreements, today)
        if first is None or (first - today).days > horizon - 1:
            continue
        day = (first - today).days
        starting = [
            a
            for a in agreements
            if a.receiving_organisation_id == receiver and a.valid_from == first
        ]
        covers: dict[str, set[Specialty]] = defaultdict(set)
        for a in starting:
            if a.quota is None:  # as `last_open_day` counts them
                covers[a.sending_organisation_id] |= a.specialties
        line = (
            f"{', '.join(sorted(a.id for a in starting))} ({receiver}'s first) "
            f"{'begin' if len(starting) > 1 else 'begins'} on {first.isoformat()}, day {day} of "
            f"this problem: until then its facilities accept every sender"
        )
        others = sorted(
            sender
            for sender, specialties in needed.items()
            if sender != receiver and not specialties <= covers[sender]
        )
        if others:
            line += (
                f"; plans admit the patients it does not cover ({', '.join(others)}) there on "
                f"day {day - 1} at the latest"
            )
        lines.append(line)
    return lines


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
    facilities whose operator is bound by no such agreement are not looked at, but where the
    operator's first agreement comes into force later (`bound_from`): there the last day is
    `last_open_day`'s.
    """
    with uow:
        return after_ends(uow, problem, plan, built_on)


def after_ends(uow: UnitOfWork, problem: dict[str, Any], plan: Plan, built_on: date) -> list[str]:
    """`admissions_after_agreement_ends` within an open unit of work."""
    if not plan.assignments:
        return []
    entries = {p["id"]: p for p in problem["patients"]}
    facilities = uow.facilities.get_many({a.facility for a in plan.assignments})
    operators = {f.id: f.operator_id for f in facilities.values()}
    between: dict[tuple[str, str], list[Agreement]] = defaultdict(list)
    every = sorted(uow.agreements.list(), key=lambda a: a.id)
    for agreement in every:
        if agreement.in_force(built_on):
            pair = (agreement.sending_organisation_id, agreement.receiving_organisation_id)
            between[pair].append(agreement)
    # once per receiver, not per admission (a plan admits 100,000)
    firsts = {op: bound_from(op, every, built_on) for op in {*operators.values(), ""}}
    lines = []
    for assignment in sorted(plan.assignments, key=lambda a: a.patient):
        entry = entries[assignment.patient]
        sender, receiver = sender_of(entry), operators.get(assignment.facility, "")
        specialty = Specialty(entry["specialty"])
        admitted = built_on + timedelta(days=assignment.day)
        first = firsts[receiver]
        if first is not None:  # not bound yet: open until the day before its first agreement
            last = last_open_day(receiver, every, first, sender, specialty)
            if last is not None and admitted > last:
                lines.append(
                    f"patient {assignment.patient} is admitted at {assignment.facility} on "
                    f"day {assignment.day} ({admitted.isoformat()}), after {receiver} is bound "
                    f"by agreements from {first.isoformat()} (day "
                    f"{(first - built_on).days} of the problem), none of which covers "
                    f"{sender} in {specialty.value} from that day"
                    if last < first
                    else f"patient {assignment.patient} is admitted at {assignment.facility} "
                    f"on day {assignment.day} ({admitted.isoformat()}), after the agreements "
                    f"of {sender} at {receiver} beginning on {first.isoformat()} end on "
                    f"{last.isoformat()}, day {(last - built_on).days} of the problem"
                )
            continue
        covering = [a for a in between.get((sender, receiver), ()) if specialty in a.specialties]
        following = _renewals(every, sender, receiver, specialty, built_on)
        last = last_valid_day(covering, following) if covering else None
        if last is None or admitted <= last:  # no agreement, one that does not end, or in time
            continue
        ending = [a.id for a in covering if a.valid_to == last]
        lines.append(
            f"patient {assignment.patient} is admitted at {assignment.facility} on day "
            f"{assignment.day} ({admitted.isoformat()}), after {' and '.join(ending)} "
            f"({sender} at {receiver}) {'end' if len(ending) > 1 else 'ends'} on "
            f"{last.isoformat()}, day {(last - built_on).days} of the problem"
        )
    return lines


def sender_of(entry: dict[str, Any]) -> str:
    """A problem patient's organisation, without the specialty `plan build` may qualify it by."""
    organisation = str(entry.get("organisation", ""))
    return organisation.removesuffix(_qualified("", str(entry["specialty"])))
