"""Patients an approved plan sent earlier: where they went, and the beds and admissions
they hold at the receiving facilities within a problem's horizon."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from medevac.domain.facilities import CapacityReport
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import MoveTimes, PlanningPatient
from medevac.domain.plans import PlannedAdmission
from medevac.domain.repositories import UnitOfWork
from medevac.services.clock import day_of
from medevac.services.manifests import Hold, arrival_key

#: Past referral and not yet out of the receiving facility's bed: a patient an approved plan sent
#: holds its bed there (`held_beds`)
HOLDING_STATUSES = (
    PatientStatus.ACCEPTED,
    PatientStatus.SCHEDULED,
    PatientStatus.IN_TRANSIT,
    PatientStatus.ADMITTED,
    PatientStatus.IN_TREATMENT,
)
#: in the receiving facility's bed already
_ADMITTED = (PatientStatus.ADMITTED, PatientStatus.IN_TREATMENT)
#: Stay assumed for a patient whose expected length of stay is not recorded.
DEFAULT_LENGTH_OF_STAY_DAYS = 14


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
    #: when the facility was named, for those whose destination a request's answer (or a later
    #: `name_admission`) names: a report made before cannot count them
    named_at: dict[str, datetime] = field(default_factory=dict)


def patients_sent_earlier(uow: UnitOfWork, reported: set[str]) -> SentEarlier:
    """`SentEarlier` from the registry, for facilities with reports in ``reported``. Reads no
    patient in full: at 50,000 patients sent, reading them with their histories had taken
    about 2.5 s of `plan build`."""
    holding = uow.patients.for_planning(HOLDING_STATUSES)
    destinations, named_at = _destinations(uow, [p.id for p in holding])
    bound = [
        p for p in holding if p.id in destinations and destinations[p.id].facility_id in reported
    ]
    on_their_way = (PatientStatus.ACCEPTED, PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT)
    nowhere = sorted(p.id for p in holding if p.status in on_their_way and p.id not in destinations)
    times = uow.patients.move_times([p.id for p in bound])
    bound_ids = {p.id for p in bound}
    named_at = {i: at for i, at in named_at.items() if i in bound_ids}
    return SentEarlier(bound, times, destinations, nowhere, named_at)


def sent_destinations(uow: UnitOfWork, patient_ids: list[str]) -> dict[str, PlannedAdmission]:
    """Where patients sent earlier are to be admitted (patients with no known place are left
    out).

    A patient whose latest acceptance was a treatment request's answer goes where that answer
    (or a later `name_admission`) said; where it said nothing, to its open admission in the
    most recently approved plan that holds one if that plan's facility belongs to the
    organisation that accepted it, else nowhere known. Any other patient goes to its plan's
    admission. An answer counts only while it is the patient's latest acceptance: one given
    before an acceptance that was withdrawn, the patient sent again since, no longer does."""
    return _destinations(uow, patient_ids)[0]


def _destinations(
    uow: UnitOfWork, patient_ids: list[str]
) -> tuple[dict[str, PlannedAdmission], dict[str, datetime]]:
    """`sent_destinations`, and when the facility was named for those whose destination an
    answer names (where that time is recorded)."""
    found = uow.plans.latest_admissions(patient_ids)
    named_at: dict[str, datetime] = {}
    answers = uow.requests.acceptances(patient_ids)
    if not answers:
        return found, named_at
    times = uow.patients.move_times(list(answers))
    accepted = {i: accepted_at(times.get(i)) for i in answers}
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
            if answer.named_at is not None:
                named_at[patient_id] = answer.named_at
        elif (
            patient_id in found
            and operators.get(found[patient_id].facility_id) != answer.receiver_id
        ):
            del found[patient_id]  # accepted by another organisation than the plan's
    return found, named_at


def holds(
    beds: Mapping[str, Collection[str]],
    reports: Mapping[str, list[CapacityReport]],
    sent: SentEarlier,
    today: date,
) -> dict[str, Hold]:
    """The beds `held_beds` takes off, per patient: those of patients sent to a facility of the
    problem (``beds``: facility id -> its specialties in the problem) since its latest report
    for their specialty: accepted after it, or named there after it by a request's answer or a
    later `name_admission` (`SentEarlier.named_at`; a patient accepted with no facility named
    and named there only after the facility reported had its bed given away).

    An admitted patient holds its bed from its admission; one not yet admitted from its
    planned day, or from ``today`` (the problem's day 0) when that day has passed: a patient
    still on its way needs its whole stay when it comes (its hold used to end early, or before
    the horizon, as days went by)."""
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
        counted_from = accepted_at(times)
        named_at = sent.named_at.get(patient.id)
        if named_at is not None and named_at > counted_from:
            counted_from = named_at
        if (
            specialty not in beds[admission.facility_id]
            or report is None
            or report.reported_at >= counted_from
        ):
            continue
        first = _admitted_on(times) if patient.status in _ADMITTED else None
        found[patient.id] = Hold(
            admission.facility_id,
            specialty,
            first or max(admission.admission_date, today),
            patient.expected_length_of_stay_days or DEFAULT_LENGTH_OF_STAY_DAYS,
        )
    return found


def held_beds(
    facility_entries: list[dict[str, Any]], found: Mapping[str, Hold], today: date
) -> list[str]:
    """Take off the facilities' free beds those of patients sent there since they reported.

    A patient whom an approved plan sent to a facility, and who has been accepted since (or
    is scheduled, in transit, admitted or in treatment), or whom a treatment request's answer
    accepted for a named facility and day (`sent_destinations`), is in no new problem: its bed
    is the facility's to count. A report made before the patient was accepted, or before a
    request's answer or a later `name_admission` named that facility for it, cannot count it,
    so the bed is taken off that report's free beds on the days of the patient's stay (from
    its admission, or its planned admission day, or day 0 where that day has passed and it is
    still on its way, for its expected length of stay; `holds`) and
    a re-plan cannot give it away. A report made since is taken as the facility's count,
    reserved beds included. Returns a line per facility and specialty where beds were taken
    off. (The admission slot of a held patient not yet admitted stays free in the problem: the
    format's daily admission limit is one number for every day; the manifest keeps it, see
    `held_admissions`, and `plan solve` counts it.)
    """
    taken, short = _take_off(facility_entries, found, today)
    lines = []
    for (facility, specialty), ids in sorted(taken.items()):
        line = (
            f"{facility} {specialty}: {len(ids)} bed(s) taken off its report for patients sent "
            f"there since it reported ({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''})"
        )
        over = short.get((facility, specialty))
        if over:
            # more held than the report has free: the problem shows 0 beds, and the patients
            # a plan had there lost their places with nothing said (found by a review)
            day, most = max(over.items(), key=lambda item: (item[1], -item[0]))
            line += (
                f"; they hold {most} more than the report gives free on day {day} (0 left in "
                "the problem): its next report or a patient sent elsewhere settles it"
            )
        lines.append(line)
    return lines


def _take_off(
    facility_entries: list[dict[str, Any]], found: Mapping[str, Hold], today: date
) -> tuple[dict[tuple[str, str], list[str]], dict[tuple[str, str], Counter[int]]]:
    """Take the held beds off the entries' free beds (`held_beds`): per facility and
    specialty, the patients whose beds were taken off, and per day the beds held beyond those
    the report gives free."""
    entries = {entry["id"]: entry for entry in facility_entries}
    taken: dict[tuple[str, str], list[str]] = defaultdict(list)
    short: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    for patient_id, hold in sorted(found.items()):
        beds = entries[hold.facility_id]["beds"][hold.specialty]
        first = (hold.first - today).days
        days = range(max(0, first), min(len(beds), first + hold.stay))
        if not days:  # its stay begins after the horizon: it takes nothing off (it was
            continue  # counted as taken off all the same)
        key = (hold.facility_id, hold.specialty)
        for day in days:
            if beds[day] == 0:
                short[key][day] += 1
            beds[day] = max(0, beds[day] - 1)
        taken[key].append(patient_id)
    return taken, short


def beyond_free_beds(
    facility_entries: list[dict[str, Any]], found: Mapping[str, Hold], today: date
) -> dict[tuple[str, str], dict[date, int]]:
    """Per facility and specialty whose held beds pass the free beds its report gives on some
    day (`held_beds` says so as "they hold N more"), how many more on each such day. Takes the
    beds off the entries as `held_beds` does."""
    _, short = _take_off(facility_entries, found, today)
    return {
        key: {today + timedelta(days=day): more for day, more in sorted(over.items())}
        for key, over in sorted(short.items())
    }


def held_admissions(
    facility_entries: list[dict[str, Any]], sent: SentEarlier, today: date, horizon_days: int
) -> dict[str, int]:
    """Patients sent earlier and not yet admitted, per "FACILITY/day" of their planned
    admission within the horizon, at facilities of the problem with a daily admission limit.

    The problem cannot hold them (its limit is one number for every day), so the manifest
    does, and `admission_limit_overruns` says where a plan and they together pass the limit.
    A patient whose planned day has passed and who is still on its way counts on day 0, which
    is ``today``; so does one admitted today, whose admission that day used one of the
    facility's admissions.
    """
    arriving = arriving_patients(facility_entries, sent, today, horizon_days)
    return {key: len(patients) for key, patients in arriving.items()}


def arriving_patients(
    facility_entries: list[dict[str, Any]], sent: SentEarlier, today: date, horizon_days: int
) -> dict[str, list[str]]:
    """The patients `held_admissions` counts, by id, per "FACILITY/day" (sorted)."""
    limited = {e["id"] for e in facility_entries if "daily_admission_limit" in e}
    arriving: dict[str, list[str]] = defaultdict(list)
    for patient in sent.bound:
        admission = sent.destinations.get(patient.id)
        if admission is None or admission.facility_id not in limited:
            continue
        if patient.status in _ADMITTED:
            # one admitted today took one of today's admissions: it had freed its slot, and
            # a plan could then pass the limit (found by a review)
            if _admitted_on(sent.times.get(patient.id)) != today:
                continue
            day = 0
        else:
            day = max(0, (admission.admission_date - today).days)
        if day < horizon_days:
            arriving[arrival_key(admission.facility_id, day)].append(patient.id)
    return {key: sorted(arriving[key]) for key in sorted(arriving)}


def arrivals_over_limit(
    uow: UnitOfWork, places: Collection[tuple[str, date]], today: date
) -> list[str]:
    """Of ``places`` (facility, day), those where the patients due to arrive that day pass the
    facility's daily admission limit, a line each: the patients sent earlier and not yet
    admitted whose destination it is (`sent_destinations`, a day passed counting as
    ``today``), those admitted there today (on ``today``), and those the live plan admits
    there that day. For a request's answer that names the day (it had been taken with no
    word; `plan build` says it too)."""
    with uow:
        facilities = uow.facilities.get_many({f for f, _ in places})
        limits = {
            f.id: f.daily_admission_limit
            for f in facilities.values()
            if f.daily_admission_limit is not None
        }
        if not limits:
            return []
        sent = patients_sent_earlier(uow, set(limits))
        due: Counter[tuple[str, date]] = Counter()
        for patient in sent.bound:
            admission = sent.destinations[patient.id]
            if patient.status not in _ADMITTED:
                due[(admission.facility_id, max(admission.admission_date, today))] += 1
            elif _admitted_on(sent.times.get(patient.id)) == today:  # today's, as arriving
                due[(admission.facility_id, today)] += 1
        for plan in uow.plans.live():
            for a in plan.admissions:
                if a.is_open and a.patient_id not in sent.destinations:
                    due[(a.facility_id, max(a.admission_date, today))] += 1
    return [
        f"{facility} on {day}: {due[(facility, day)]} patient(s) due to arrive against its "
        f"daily admission limit of {limits[facility]}"
        for facility, day in sorted(set(places))
        if facility in limits and due[(facility, day)] > limits[facility]
    ]


def accepted_at(times: MoveTimes | None) -> datetime:
    """When the patient left `referred` (its latest such move), else its latest move."""
    if times is None:
        return datetime.max.replace(tzinfo=UTC)
    return times.left_referred or times.last or datetime.max.replace(tzinfo=UTC)


def _admitted_on(times: MoveTimes | None) -> date | None:
    """The day the patient was last admitted, if it was."""
    return None if times is None or times.admitted is None else day_of(times.admitted)
