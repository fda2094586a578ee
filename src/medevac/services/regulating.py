"""From the registry to the regulating engine: build an allocation problem from the database.

The problem follows the exchange format of docs/planning.md. Alongside it we keep a manifest
of what it was built from (patient versions, capacity report times), so that approving a plan
can refuse when the registry changed in between and say what changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Precedence
from medevac.planning import parse_problem

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
DEFAULT_WEIGHTS: dict[str, float] = {
    "unplaced": 1000,
    "wait_per_day": 1,
    "late_per_day": 20,
    "travel_per_km": 0.01,
    "group_split": 50,
    "change": 20,
}
#: Stay assumed for a patient whose expected length of stay is not recorded.
DEFAULT_LENGTH_OF_STAY_DAYS = 14


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


def beds_by_day(report: CapacityReport, horizon_days: int) -> list[int]:
    """Free beds per planning day from one report: now, then +24 h, then +72 h figures."""
    return [
        report.expected_available(24 * day) if day < 3 else report.expected_available(72)
        for day in range(horizon_days)
    ]


def accepting_organisations(
    facility: Facility, agreements: list[Agreement], on: datetime
) -> list[str] | None:
    """Who a facility accepts patients from: the senders of agreements in force with its operator.

    An operator bound by no agreement at all accepts everyone (None); one whose agreements have
    all lapsed accepts nobody.
    """
    own = [a for a in agreements if a.receiving_organisation_id == facility.operator_id]
    if not own:
        return None
    senders = {
        a.sending_organisation_id
        for a in own
        if a.in_force(on.date()) and a.specialties & facility.specialties
    }
    return sorted(senders)


def _patient_entry(patient: Patient, origin: Facility) -> dict[str, Any]:
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
) -> BuiltProblem:
    """Build the allocation problem for the selected and referred patients of the registry.

    Facilities come in with the beds of their latest capacity report per specialty; field
    hospitals, which serve local casualties, only when asked. Patients who are not fit to
    transport or whose location is unknown are left out, and every omission is listed.
    """
    rules = {
        str(name): {**rule, "deadline_day": min(int(rule["deadline_day"]), horizon_days - 1)}
        for name, rule in (precedences or DEFAULT_PRECEDENCES).items()
    }
    with uow:
        patients = [p for status in PLANNED_STATUSES for p in uow.patients.list(status=status)]
        reports = uow.capacity.latest()
        facilities = {f.id: f for f in uow.facilities.list()}
        agreements = uow.agreements.list()

    skipped: list[Skipped] = []
    by_facility: dict[str, list[CapacityReport]] = defaultdict(list)
    for report in reports:
        by_facility[report.facility_id].append(report)
    stale = [r for r in reports if r.is_stale(now, stale_after)]

    facility_entries = []
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
        accepts = accepting_organisations(facility, agreements, now)
        if accepts is not None:
            entry["accepts_from"] = accepts
        if facility.daily_admission_limit is not None:
            entry["daily_admission_limit"] = facility.daily_admission_limit
        facility_entries.append(entry)

    patient_entries = []
    versions: dict[str, int] = {}
    for patient in sorted(patients, key=lambda p: p.id):
        origin = facilities.get(patient.location_id or "")
        if origin is None:
            skipped.append(Skipped("patient", patient.id, "current location unknown"))
            continue
        if not patient.fit_to_transport:
            skipped.append(Skipped("patient", patient.id, "not fit to transport"))
            continue
        patient_entries.append(_patient_entry(patient, origin))
        versions[patient.id] = patient.version

    problem: dict[str, Any] = {
        "horizon_days": horizon_days,
        "precedences": rules,
        "weights": dict(weights or DEFAULT_WEIGHTS),
        "facilities": facility_entries,
        "patients": patient_entries,
    }
    parse_problem(problem)  # the registry must always give a valid problem
    manifest = {
        "built_at": now.isoformat(),
        "patients": versions,
        "capacity": {
            f"{r.facility_id}/{r.specialty.value}": r.reported_at.isoformat() for r in reports
        },
    }
    return BuiltProblem(problem, manifest, skipped, stale)
