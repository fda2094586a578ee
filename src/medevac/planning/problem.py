"""Plain-data types of the allocation problem (see docs/formats/allocation-problem.schema.json)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class PrecedenceRule:
    """Weight of a precedence in the objective and the last admission day before lateness."""

    weight: float
    deadline_day: int


@dataclass(frozen=True, slots=True)
class Weights:
    """Coefficients of the objective terms."""

    unplaced: float
    wait_per_day: float
    late_per_day: float
    travel_per_km: float
    group_split: float
    change: float


#: Objective weights used where an operation sets none (`medevac plan build --settings`).
DEFAULT_WEIGHTS: dict[str, float] = {
    "unplaced": 1000,
    "wait_per_day": 1,
    "late_per_day": 20,
    "travel_per_km": 0.01,
    "group_split": 50,
    "change": 20,
}


@dataclass(frozen=True, slots=True)
class Facility:
    """A receiving facility: where it is, what it offers and its free beds per specialty and day.

    ``beds`` maps a specialty to a tuple of ``horizon_days`` free-bed counts.
    ``accepts_from`` is None when the facility accepts every organisation.
    ``daily_admission_limit`` is None when there is no limit. ``admissions_taken`` holds, per
    day, the admissions already due there (patients sent earlier arriving): they count against
    the daily limit on their day. It is not part of the exchange format, which has one limit for
    every day; `with_admissions_taken` sets it (empty: none taken). ``accepts_until`` maps a
    sending organisation to the last day on which the facility admits its patients (an
    agreement that ends within the horizon): none of them on a later day. It is not part of the
    exchange format either, whose acceptance holds on every day; `with_acceptance_ends` sets it
    (empty: every organisation it accepts, on every day).
    """

    id: str
    lat: float
    lon: float
    beds: dict[str, tuple[int, ...]]
    capabilities: frozenset[str] = frozenset()
    accepts_from: frozenset[str] | None = None
    daily_admission_limit: int | None = None
    admissions_taken: tuple[int, ...] = ()
    accepts_until: Mapping[str, int] = field(default_factory=dict)

    def accepts(self, organisation: str | None) -> bool:
        """Whether a patient sent by ``organisation`` may be admitted here."""
        return self.accepts_from is None or (
            organisation is not None and organisation in self.accepts_from
        )

    def taken_on(self, day: int) -> int:
        """Admissions already due on ``day`` (`admissions_taken`)."""
        return self.admissions_taken[day] if self.admissions_taken else 0

    def last_admission_day(self, organisation: str | None) -> int | None:
        """The last day on which a patient of ``organisation`` may be admitted here (None: no
        such end, `accepts_until`)."""
        if organisation is None:
            return None
        return self.accepts_until.get(organisation)


@dataclass(frozen=True, slots=True)
class CurrentPlacement:
    """Where an earlier plan put a patient (re-planning)."""

    facility: str
    day: int


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient to place: origin, specialty, precedence, stay and constraints."""

    id: str
    lat: float
    lon: float
    specialty: str
    precedence: str
    length_of_stay_days: int
    earliest_day: int = 0
    needs: frozenset[str] = frozenset()
    organisation: str | None = None
    group: str | None = None
    max_distance_km: float | None = None
    current: CurrentPlacement | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``room`` placements of patients sent by one of ``organisations`` (with a
    specialty in ``specialties``; every specialty when None) at ``facilities``: an agreement's
    quota, less the patients sent under it earlier. Not part of the exchange format;
    `with_quotas` sets them. A placement counts against every quota it falls under.
    """

    id: str
    room: int
    organisations: frozenset[str]
    facilities: frozenset[str]
    specialties: frozenset[str] | None = None
    #: the days of the problem whose admissions count against it (None: every day); an
    #: agreement that ends within the horizon, or begins, holds on its own days only
    days: frozenset[int] | None = None

    def covers(self, patient: Patient) -> bool:
        """Whether ``patient``'s placements at the quota's facilities count against it (on
        the quota's days)."""
        return (
            patient.organisation is not None
            and patient.organisation in self.organisations
            and (self.specialties is None or patient.specialty in self.specialties)
        )

    def holds_on(self, day: int) -> bool:
        """Whether admissions on ``day`` count against the quota."""
        return self.days is None or day in self.days

    def counts(self, patient: Patient, facility_id: str, day: int) -> bool:
        """Whether admitting ``patient`` at ``facility_id`` on ``day`` counts against the
        quota."""
        return facility_id in self.facilities and self.holds_on(day) and self.covers(patient)


@dataclass(frozen=True, slots=True)
class Problem:
    """A whole allocation problem: horizon, precedences, weights, facilities and patients."""

    horizon_days: int
    precedences: dict[str, PrecedenceRule]
    weights: Weights
    facilities: tuple[Facility, ...]
    patients: tuple[Patient, ...]
    #: agreements' quotas the plan must keep to (`with_quotas`; not in the exchange format)
    quotas: tuple[Quota, ...] = ()
    facility_index: dict[str, int] = field(init=False, repr=False, compare=False)
    patient_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facility_index", {f.id: i for i, f in enumerate(self.facilities)})
        object.__setattr__(self, "patient_index", {p.id: i for i, p in enumerate(self.patients)})

    def facility(self, facility_id: str) -> Facility:
        """The facility with this id (KeyError if absent)."""
        return self.facilities[self.facility_index[facility_id]]

    def patient(self, patient_id: str) -> Patient:
        """The patient with this id (KeyError if absent)."""
        return self.patients[self.patient_index[patient_id]]

    def offered_specialties(self) -> set[str]:
        """Specialties for which at least one facility reports beds."""
        return {s for f in self.facilities for s in f.beds}


def with_admissions_taken(problem: Problem, arrivals: Iterable[tuple[str, int, int]]) -> Problem:
    """``problem`` with admissions already due, (facility, day, count) each, counted against
    the facilities' daily admission limits on their days (`Facility.admissions_taken`).

    Arrivals at a facility without a limit change nothing; a facility not in the problem, a
    day outside the horizon or a negative count is a ValueError that names it.
    """
    horizon = problem.horizon_days
    taken: dict[str, list[int]] = {}
    for facility_id, day, count in arrivals:
        if facility_id not in problem.facility_index:
            raise ValueError(f"admissions taken at {facility_id!r}: not a facility of the problem")
        if not 0 <= day < horizon:
            raise ValueError(
                f"admissions taken at {facility_id} on day {day}: outside the horizon "
                f"0..{horizon - 1}"
            )
        if count < 0:
            raise ValueError(f"admissions taken at {facility_id} on day {day}: {count} < 0")
        if problem.facility(facility_id).daily_admission_limit is None:
            continue
        taken.setdefault(facility_id, [0] * horizon)[day] += count
    if not taken:
        return problem
    for f in problem.facilities:
        if f.id in taken and f.admissions_taken:
            taken[f.id] = [a + b for a, b in zip(f.admissions_taken, taken[f.id], strict=True)]
    facilities = tuple(
        replace(f, admissions_taken=tuple(taken[f.id])) if f.id in taken else f
        for f in problem.facilities
    )
    return replace(problem, facilities=facilities)


def with_quotas(problem: Problem, quotas: Iterable[Quota]) -> Problem:
    """``problem`` with ``quotas`` added to those it has (`Quota`): no plan may place more of
    a quota's patients at its facilities than its room.

    A quota whose id is already taken, with a negative room, no organisation, a facility not
    in the problem or a day outside the horizon is a ValueError that names it. Quotas no
    patient of the problem falls under, or that hold on no day, change nothing and are dropped.
    """
    ids = {q.id for q in problem.quotas}
    added: list[Quota] = []
    for quota in quotas:
        if quota.id in ids:
            raise ValueError(f"quota {quota.id!r}: a quota of that id is already given")
        ids.add(quota.id)
        if quota.room < 0:
            raise ValueError(f"quota {quota.id}: room {quota.room} < 0")
        if not quota.organisations:
            raise ValueError(f"quota {quota.id}: no sending organisation")
        unknown = sorted(quota.facilities - problem.facility_index.keys())
        if unknown:
            raise ValueError(
                f"quota {quota.id}: {', '.join(map(repr, unknown[:3]))} "
                f"{'is' if len(unknown) == 1 else 'are'} not a facility of the problem"
            )
        outside = sorted(d for d in quota.days or () if not 0 <= d < problem.horizon_days)
        if outside:
            raise ValueError(
                f"quota {quota.id}: day {outside[0]} is outside the horizon "
                f"(days 0-{problem.horizon_days - 1})"
            )
        if (
            quota.facilities
            and quota.days != frozenset()
            and any(quota.covers(p) for p in problem.patients)
        ):
            added.append(quota)
    if not added:
        return problem
    return replace(problem, quotas=problem.quotas + tuple(added))


def with_acceptance_ends(problem: Problem, ends: Iterable[tuple[str, str, int]]) -> Problem:
    """``problem`` with (facility, organisation, last day) ends of acceptance: the facility
    admits patients sent by the organisation on that day at the latest
    (`Facility.accepts_until`), as when the agreement they come under ends within the horizon.

    An end on the horizon's last day or later changes nothing and is dropped. A facility not in
    the problem, a last day below 0 or a second end for the same facility and organisation is
    a ValueError that names it.
    """
    horizon = problem.horizon_days
    until: dict[str, dict[str, int]] = {}
    given: set[tuple[str, str]] = set()  # every end seen, those dropped as well
    for facility_id, organisation, last in ends:
        if facility_id not in problem.facility_index:
            raise ValueError(f"acceptance end at {facility_id!r}: not a facility of the problem")
        if last < 0:
            raise ValueError(
                f"acceptance end at {facility_id} for {organisation}: last day {last} < 0"
            )
        if (facility_id, organisation) in given or organisation in problem.facility(
            facility_id
        ).accepts_until:
            raise ValueError(
                f"acceptance end at {facility_id} for {organisation}: a second end given"
            )
        given.add((facility_id, organisation))
        if last >= horizon - 1:
            continue
        until.setdefault(facility_id, {})[organisation] = last
    if not until:
        return problem
    facilities = tuple(
        replace(f, accepts_until={**f.accepts_until, **until[f.id]}) if f.id in until else f
        for f in problem.facilities
    )
    return replace(problem, facilities=facilities)
