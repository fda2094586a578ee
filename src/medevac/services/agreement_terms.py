"""What the agreements say for a problem: which senders each facility accepts for which
specialties, from which day and until which day (agreements that begin or end within the
horizon)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    operator: str,
    agreements: list[Agreement],
    first: date,
    sender: str,
    specialty: Specialty,
    full: frozenset[str] = frozenset(),
) -> date | None:
    """For an operator not bound yet, whose first agreement comes into force on ``first``:
    the last day its facilities admit ``sender``'s patients in ``specialty``. None (no end)
    where the agreements beginning on ``first`` cover them and do not end, else the last
    day those are valid (renewals carrying on); the day before ``first`` where none covers
    them (a later agreement would leave a gap, which acceptance cannot have).

    One with a quota counts as well (since 2026-12-07): the patients admitted before
    ``first`` count against no agreement and those admitted from then on against it, and its
    quota is carried for its days only (`carry_quotas`, `Quota.days`). Before quotas had
    days, it would have bound those admitted earlier too, and acceptance ended the day
    before it. One whose quota is used up (ids in ``full``) covers nobody, nor do renewals
    that are: no quota without room is carried, so acceptance ends the day before, as for
    a receiver bound already (`acceptance_days`)."""
    if sender == operator:
        return None
    starting = [
        a
        for a in agreements
        if (a.sending_organisation_id, a.receiving_organisation_id) == (sender, operator)
        and specialty in a.specialties
        and a.valid_from == first
        and a.id not in full
    ]
    if not starting:
        return first - timedelta(days=1)
    renewals = _renewals(agreements, sender, operator, specialty, first)
    return last_valid_day(starting, [a for a in renewals if a.id not in full])


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


def acceptance_days(
    operator: str,
    sender: str,
    specialty: Specialty,
    agreements: Sequence[Agreement],
    on: date,
    horizon_days: int,
    full: frozenset[str] = frozenset(),
) -> tuple[int, int | None] | None:
    """The first and the last day of a problem (day 0 = ``on``) on which the operator's
    facilities admit ``sender``'s patients in ``specialty``, as `agreement_coverage` and
    `agreement_ends` have it (the last None: no end); None where they admit them on no day.

    Its own patients, and everyone at an operator bound by no agreement, every day; at an
    operator not bound yet (`bound_from`), from day 0 to `last_open_day`. Otherwise the
    agreements in force on ``on`` that cover them, but those whose quota is used up (ids in
    ``full``), with the renewals that take over without a gap (`last_valid_day`); where none
    does, those that come into force first within the horizon, from the day they do (the
    operator being bound by other agreements, its facilities admit them on no earlier day).
    """
    if sender == operator or not any(a.receiving_organisation_id == operator for a in agreements):
        return 0, None
    first = bound_from(operator, agreements, on)
    if first is not None:
        last = last_open_day(operator, list(agreements), first, sender, specialty, full)
        return 0, _day_of_problem(last, on)
    theirs = [
        a
        for a in agreements
        if (a.sending_organisation_id, a.receiving_organisation_id) == (sender, operator)
        and specialty in a.specialties
        and a.id not in full
    ]
    start = on
    covering = [a for a in theirs if a.in_force(on)]
    if not covering:
        later = [a.valid_from for a in theirs if 0 < (a.valid_from - on).days < horizon_days]
        if not later:
            return None
        start = min(later)
        covering = [a for a in theirs if a.valid_from == start]
    following = [
        a
        for a in _renewals(list(agreements), sender, operator, specialty, start)
        if a.id not in full
    ]
    return (start - on).days, _day_of_problem(last_valid_day(covering, following), on)


def _day_of_problem(day: date | None, on: date) -> int | None:
    """``day`` as a day of the problem whose day 0 is ``on`` (None stays None)."""
    return None if day is None else (day - on).days


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


class AcceptanceDays(dict[str, dict[str, int]]):
    """`agreement_ends`' answer for a facility: per sending organisation and specialty (code),
    the last day of the problem on which the facility admits their patients (the mapping
    itself), and in `first` the first day where it is not day 0 (an agreement that begins
    within the horizon: `encode_coverage` admits them from that day on)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, dict[str, int]] = {}


def agreement_ends(
    facility: Facility,
    agreements: list[Agreement],
    on: date,
    horizon_days: int,
    full: frozenset[str] = frozenset(),
    senders: Iterable[str] = (),
) -> AcceptanceDays:
    """Where a facility stops admitting a sender's patients within a problem's horizon, and
    where it starts after day 0: per sending organisation and specialty (code) that the
    agreements with the facility's operator in force on ``on`` or coming into force within
    the horizon cover (those in ``full``, whose quota is used up, left out), the last day of
    the problem (day 0 = ``on``) on which the facility admits them, and in `first` the first
    day where that is not day 0 (`acceptance_days`: a specialty no agreement in force covers,
    that one beginning within the horizon does).

    The last day is the latest `valid_to` of the agreements covering the specialty, none where
    one of them has none; only days before the horizon's last day are given (a later end leaves
    every day of the problem open). For an operator not bound yet (`bound_from`), each of
    ``senders`` and specialty of the facility ends as `last_open_day` says.
    """
    found = AcceptanceDays()

    def end(sender: str, specialty: Specialty, last: date | None) -> None:
        if last is not None and (last - on).days < horizon_days - 1:
            found.setdefault(sender, {})[specialty.value] = (last - on).days

    operator = facility.operator_id
    # the operator's alone: what follows looks at no other (and a registry may hold thousands)
    theirs = [a for a in agreements if a.receiving_organisation_id == operator]
    first = bound_from(operator, theirs, on)
    if first is not None:
        for sender in senders:
            for specialty in facility.specialties:
                opening = last_open_day(operator, theirs, first, sender, specialty, full)
                end(sender, specialty, opening)
        return found
    pairs = {
        (agreement.sending_organisation_id, specialty)
        for agreement in theirs
        if agreement.id not in full
        and (agreement.in_force(on) or 0 < (agreement.valid_from - on).days < horizon_days)
        for specialty in agreement.specialties & facility.specialties
    }
    for sender, specialty in sorted(pairs):
        days = acceptance_days(operator, sender, specialty, theirs, on, horizon_days, full)
        if days is None:
            continue
        start, last = days
        end(sender, specialty, None if last is None else on + timedelta(days=last))
        if start > 0:
            found.first.setdefault(sender, {})[specialty.value] = start
    return found


def encode_coverage(
    facility_entries: list[dict[str, Any]],
    coverage: dict[str, dict[str, frozenset[Specialty]]],
    patient_entries: list[dict[str, Any]],
    ends: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    opening: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Write `accepts_from`, where needed specialty-qualified organisations, and the earliest
    days of patients whom facilities admit only from a later day; return where agreements
    leave out a specialty that a facility offers and a sender's patients need (or where a
    facility is left out for them, below), and the ends of acceptance for the manifest
    ("acceptance_ends").

    The problem format accepts patients per facility and organisation, not per specialty. A
    sender whose agreements with an operator leave out a specialty that one of its patients
    needs and one of the operator's facilities offers would be accepted there for it. Such a
    sender's patients get `organisation` "ORG/specialty", and the facilities bound by
    agreements list "ORG/specialty" for each specialty the agreements cover. So do those of a
    sender whose patients' specialties at one facility have different last admission days
    (``ends``: per facility, sender and specialty, as `agreement_ends` gives them; some
    ending within the horizon and some not, say), so that each facility and organisation as
    the problem writes it has one end, and those of a sender whom a facility admits in a
    specialty its patients need only from a later day (``opening``: per facility, sender and
    specialty, the first day where not day 0, as `AcceptanceDays.first` gives it; an
    agreement that begins within the horizon, none covering them before). Every other sender stays
    plain, so a registry whose agreements cover what its patients need and end alike (or
    after the horizon) writes the problem as before, unless some organisation's own id ends
    in "/specialty" (below).

    The format has no first day of acceptance either, but a patient has an earliest day: the
    patients of an organisation (as written) whom no facility admits before day N (one
    bound by other agreements, whose agreement covering them begins on day N) get
    `earliest_day` N. A facility that admits them only from a later day than another is left
    out for them (one earliest day holds at every facility), and a line says so. ``coverage``
    is completed with the specialties admitted from a later day (so that
    `senders_turned_away` sees them).

    The ends returned are, for each facility bound by agreements and each organisation of the
    problem's patients (as written) accepted there whose acceptance ends within the horizon,
    {"facility", "organisation", "last_day"}, sorted.
    """
    ends = ends or {}
    opening = opening or {}
    for entry in facility_entries:  # admitted from a later day: accepted, with an earliest day
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        for sender, firsts in opening.get(entry["id"], {}).items():
            senders[sender] = senders.get(sender, frozenset()) | {Specialty(s) for s in firsts}
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
            later = opening.get(entry["id"], {}).get(sender, {})
            if reached(entry, sender, covered) & set(later):
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
    if opening:
        uncovered += _earliest_days(facility_entries, patient_entries, opening)
    written = {patient["organisation"] for patient in patient_entries}
    found: list[dict[str, Any]] = []
    for entry in facility_entries:
        senders = coverage.get(entry["id"])
        if senders is None:
            continue
        accepted = set(entry["accepts_from"])
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
                if organisation in written and organisation in accepted
            ]
    found.sort(key=lambda end: (end["facility"], end["organisation"]))
    return uncovered, found


def _earliest_days(
    facility_entries: list[dict[str, Any]],
    patient_entries: list[dict[str, Any]],
    opening: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> list[str]:
    """Give the patients of each qualified organisation ("ORG/specialty", as written) whom a
    facility admits only from a later day (``opening``: per facility, sender and specialty,
    the first day) their `earliest_admission_day` as `earliest_day`, and take them off the
    facilities that admit them only later still; a line for each facility so left out."""
    lines: list[str] = []
    patients: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for patient in patient_entries:
        patients[patient["organisation"]].append(patient)
    offers = [(e["id"], e["beds"].keys(), e.get("accepts_from")) for e in facility_entries]
    by_id = {entry["id"]: entry for entry in facility_entries}
    for organisation, theirs in sorted(patients.items()):
        specialty = str(theirs[0]["specialty"])
        earliest, first = earliest_admission_day(organisation, specialty, offers, opening)
        if earliest > 0:
            for patient in theirs:
                patient["earliest_day"] = max(int(patient.get("earliest_day", 0)), earliest)
        for facility_id, day in sorted(first.items()):
            if day > earliest:
                by_id[facility_id]["accepts_from"].remove(organisation)
                sender = organisation.removesuffix(_qualified("", specialty))
                lines.append(
                    f"{facility_id} admits {sender}'s patients in {specialty} from day {day} "
                    f"only (an agreement beginning then), others from day {earliest}: a "
                    f"patient has one earliest day, so {facility_id} does not admit them in "
                    "this problem"
                )
    return lines


def earliest_admission_day(
    organisation: str,
    specialty: str,
    facilities: Iterable[tuple[str, Collection[str], Collection[str] | None]],
    opening: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> tuple[int, dict[str, int]]:
    """The earliest day `plan build` gives the problem's patients of ``organisation`` (as
    written: "ORG/specialty" where qualified) in ``specialty``, and the first day each
    facility accepting them admits them. ``facilities``: (id, specialties it has beds for,
    `accepts_from` or None where it accepts everyone) each; ``opening``: per facility, sender
    and specialty, the first day where not day 0 (`AcceptanceDays.first`).

    The earliest day is the first day on which some facility admits them (0 where none
    does). A facility that admits them only from a later day than that is left out for them
    by `encode_coverage` (one earliest day holds at every facility). A plain organisation
    has no later first day: a sender whose patients a facility admits only from a later day
    is qualified."""
    sender = organisation.removesuffix(_qualified("", specialty))
    first: dict[str, int] = {}
    for facility_id, offered, accepts in facilities:
        if specialty not in offered:
            continue
        if accepts is None:  # bound by no agreement: admits everyone from day 0
            first[facility_id] = 0
        elif organisation in accepts:
            later = opening.get(facility_id, {}).get(sender, {})
            first[facility_id] = later.get(specialty, 0) if sender != organisation else 0
    return min(first.values(), default=0), first


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
    full: frozenset[str] = frozenset(),
) -> list[str]:
    """A line for each receiver of the problem not bound by agreements yet whose first
    agreement comes into force within the horizon (`bound_from`): its facilities accept
    everyone until then, and plans admit the patients that agreement does not cover on the
    day before at the latest (`last_open_day`; those in ``full``, whose quota is used up,
    cover nobody). And for a receiver bound by agreements, a
    line for each sender and day on which agreements begin that cover some of its patients'
    specialties no agreement in force covers (`acceptance_days`): plans admit them there
    from that day on. ``needed``: the specialties of the problem's patients per sending
    organisation."""
    lines = []
    for receiver in sorted(receivers):
        first = bound_from(receiver, agreements, today)
        if first is None:
            lines += _openings(agreements, needed, receiver, today, horizon, full)
            continue
        if (first - today).days > horizon - 1:
            continue
        day = (first - today).days
        starting = [
            a
            for a in agreements
            if a.receiving_organisation_id == receiver and a.valid_from == first
        ]
        covers: dict[str, set[Specialty]] = defaultdict(set)
        for a in starting:  # as `last_open_day` counts them: those with room
            if a.id not in full:
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


def _openings(
    agreements: list[Agreement],
    needed: Mapping[str, set[Specialty]],
    receiver: str,
    today: date,
    horizon: int,
    full: frozenset[str] = frozenset(),
) -> list[str]:
    """`agreements_beginning`'s lines for a receiver bound by agreements (or by none)."""
    lines = []
    for sender in sorted(set(needed) - {receiver}):
        later: dict[int, set[Specialty]] = defaultdict(set)
        for specialty in needed[sender]:
            days = acceptance_days(receiver, sender, specialty, agreements, today, horizon, full)
            if days is not None and days[0] > 0:
                later[days[0]].add(specialty)
        for day, specialties in sorted(later.items()):
            begins = today + timedelta(days=day)
            ids = sorted(
                a.id
                for a in agreements
                if (a.sending_organisation_id, a.receiving_organisation_id) == (sender, receiver)
                and a.valid_from == begins
                and a.specialties & specialties
                and a.id not in full
            )
            lines.append(
                f"{', '.join(ids)} ({sender} at {receiver}) "
                f"{'begin' if len(ids) > 1 else 'begins'} on {begins.isoformat()}, day {day} of "
                f"this problem: no agreement covers its patients in "
                f"{', '.join(sorted(s.value for s in specialties))} there before, so plans "
                f"admit them there from day {day} on"
            )
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
    cover its specialty, or where none is, under those that come into force first within the
    horizon (`acceptance_days`); it is admitted after they end when its admission day is
    after the latest of their `valid_to` (none has ended while one of them has none), and is
    named too when it is admitted before those beginning later do. Patients at facilities
    whose operator is bound by no such agreement are not looked at, but where the operator's
    first agreement comes into force later (`bound_from`): there the last day is
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
    horizon = int(problem["horizon_days"])
    beginning: dict[tuple[str, str, Specialty], tuple[date, list[Agreement]]] = {}
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
        start = built_on
        if not covering:  # none in force on day 0: those beginning first within the horizon
            kind = (sender, receiver, specialty)
            if kind not in beginning:  # once per kind, not per admission
                beginning[kind] = _beginning(every, kind[:2], specialty, built_on, horizon)
            start, covering = beginning[kind]
        following = _renewals(every, sender, receiver, specialty, start)
        if covering and admitted < start:
            lines.append(
                f"patient {assignment.patient} is admitted at {assignment.facility} on day "
                f"{assignment.day} ({admitted.isoformat()}), before "
                f"{' and '.join(a.id for a in covering)} ({sender} at {receiver}) "
                f"{'begin' if len(covering) > 1 else 'begins'} on {start.isoformat()}, day "
                f"{(start - built_on).days} of the problem"
            )
            continue
        last = last_valid_day(covering, following) if covering else None
        if last is None or admitted <= last:  # no agreement, one that does not end, or in time
            continue
        ending = [a.id for a in covering + following if a.valid_to == last]
        lines.append(
            f"patient {assignment.patient} is admitted at {assignment.facility} on day "
            f"{assignment.day} ({admitted.isoformat()}), after {' and '.join(ending)} "
            f"({sender} at {receiver}) {'end' if len(ending) > 1 else 'ends'} on "
            f"{last.isoformat()}, day {(last - built_on).days} of the problem"
        )
    return lines


def _beginning(
    agreements: list[Agreement],
    pair: tuple[str, str],
    specialty: Specialty,
    on: date,
    horizon_days: int,
) -> tuple[date, list[Agreement]]:
    """The day the first of the agreements of ``pair`` (sender, receiver) covering
    ``specialty`` that come into force within the horizon does, and those that do then
    (``on`` and none where none does)."""
    later = [
        a
        for a in agreements
        if (a.sending_organisation_id, a.receiving_organisation_id) == pair
        and specialty in a.specialties
        and 0 < (a.valid_from - on).days < horizon_days
    ]
    if not later:
        return on, []
    start = min(a.valid_from for a in later)
    return start, [a for a in later if a.valid_from == start]


def sender_of(entry: dict[str, Any]) -> str:
    """A problem patient's organisation, without the specialty `plan build` may qualify it by."""
    organisation = str(entry.get("organisation", ""))
    return organisation.removesuffix(_qualified("", str(entry["specialty"])))
