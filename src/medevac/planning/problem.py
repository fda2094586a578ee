"""Plain-data types of the allocation problem (see docs/formats/allocation-problem.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    ``daily_admission_limit`` is None when there is no limit.
    """

    id: str
    lat: float
    lon: float
    beds: dict[str, tuple[int, ...]]
    capabilities: frozenset[str] = frozenset()
    accepts_from: frozenset[str] | None = None
    daily_admission_limit: int | None = None

    def accepts(self, organisation: str | None) -> bool:
        """Whether a patient sent by ``organisation`` may be admitted here."""
        return self.accepts_from is None or (
            organisation is not None and organisation in self.accepts_from
        )


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
class Problem:
    """A whole allocation problem: horizon, precedences, weights, facilities and patients."""

    horizon_days: int
    precedences: dict[str, PrecedenceRule]
    weights: Weights
    facilities: tuple[Facility, ...]
    patients: tuple[Patient, ...]
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
