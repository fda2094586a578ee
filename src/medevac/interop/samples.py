"""Seeded synthetic registry rows (JSON form) for demos, tests and benchmarks.

Every row is valid for import; the same seed always gives the same rows. Nothing here is real
data: names are left empty and ids are counters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from medevac.domain.vocabulary import (
    BodyRegion,
    Capability,
    FacilityKind,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)
from medevac.interop.records import RecordKind

#: Country code and a rough centre (lat, lon) for placing facilities.
COUNTRIES: list[tuple[str, float, float]] = [
    ("UA", 49.0, 31.0),
    ("PL", 52.0, 19.0),
    ("DE", 51.0, 10.0),
    ("FR", 46.5, 2.5),
    ("IT", 42.8, 12.5),
    ("NO", 61.0, 9.0),
    ("SE", 62.0, 15.0),
    ("CZ", 49.8, 15.5),
    ("LT", 55.2, 23.9),
    ("AT", 47.6, 14.1),
]

DESCRIPTIONS = [
    "open fracture",
    "amputation stump revision",
    "penetrating wound",
    "partial-thickness burn",
    "corneal injury",
    "mandible fracture",
    "traumatic brain injury",
    "spinal cord injury",
    "soft tissue defect",
    "vascular injury",
]

#: Time of the sample capacity reports (fixed, so files are reproducible and never in the future).
REPORTED_AT = datetime.fromisoformat("2026-11-01T08:00:00+00:00")


@dataclass(slots=True)
class SampleRegistry:
    """Rows of every kind that reference each other consistently."""

    organisations: list[dict[str, Any]] = field(default_factory=list)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    capacity: list[dict[str, Any]] = field(default_factory=list)
    patients: list[dict[str, Any]] = field(default_factory=list)

    def rows(self, kind: RecordKind) -> list[dict[str, Any]]:
        return {
            RecordKind.ORGANISATIONS: self.organisations,
            RecordKind.FACILITIES: self.facilities,
            RecordKind.CAPACITY: self.capacity,
            RecordKind.PATIENTS: self.patients,
        }[kind]


def sample_registry(patients: int, *, seed: int = 20261122) -> SampleRegistry:
    """Organisations, facilities (with capacity) and `patients` patients, all from `seed`."""
    rng = random.Random(seed)
    registry = SampleRegistry()
    organisation_count = max(3, patients // 2000)
    facility_count = max(4, patients // 500)

    for n in range(organisation_count):
        country = COUNTRIES[n % len(COUNTRIES)][0]
        registry.organisations.append(
            {
                "id": f"ORG-{n:04d}",
                "name": f"Organisation {n}",
                "kind": rng.choice(list(OrganisationKind)).value,
                "country": country,
                "contact": f"desk{n}@example.org",
            }
        )

    specialties = list(Specialty)
    for n in range(facility_count):
        country, lat, lon = COUNTRIES[n % len(COUNTRIES)]
        kind = rng.choice(
            [FacilityKind.HOSPITAL, FacilityKind.REHABILITATION_CENTRE, FacilityKind.STAGING_HUB]
        )
        offered = sorted(rng.sample(specialties, rng.randint(2, 6)))
        billed = rng.random() < 0.3
        registry.facilities.append(
            {
                "id": f"FAC-{n:05d}",
                "name": f"Facility {n}",
                "kind": kind.value,
                "operator_id": registry.organisations[n % organisation_count]["id"],
                "country": country,
                "city": f"City {n % 37}",
                "lat": round(lat + rng.uniform(-2, 2), 5),
                "lon": round(lon + rng.uniform(-3, 3), 5),
                "specialties": [s.value for s in offered],
                "capabilities": sorted(
                    c.value for c in rng.sample(list(Capability), rng.randint(0, 3))
                ),
                "total_beds": rng.randint(20, 900),
                "daily_admission_limit": rng.randint(2, 30),
                "daily_outpatient_throughput": None,
                "tariff_per_bed_day": f"{rng.randint(150, 1500)}.00" if billed else None,
                "currency": "EUR" if billed else "",
            }
        )
        for specialty in offered:
            baseline = rng.randint(2, 40)
            registry.capacity.append(
                {
                    "facility_id": f"FAC-{n:05d}",
                    "specialty": specialty.value,
                    "available": rng.randint(0, baseline),
                    "baseline": baseline,
                    "plus_24h": rng.randint(0, 3),
                    "plus_72h": rng.randint(0, 6),
                    "reported_at": (REPORTED_AT - timedelta(hours=rng.randint(0, 48))).isoformat(),
                }
            )

    for n in range(patients):
        needed = rng.sample(specialties, rng.choice((1, 1, 1, 2, 2, 3)))
        located = rng.random() < 0.7
        registry.patients.append(
            {
                "id": f"P-{n:07d}",
                "organisation_id": registry.organisations[n % organisation_count]["id"],
                "location_id": (
                    registry.facilities[rng.randrange(facility_count)]["id"] if located else None
                ),
                "required_specialties": [s.value for s in needed],
                "precedence": rng.choice(list(Precedence)).value,
                "mobility": rng.choice(list(Mobility)).value,
                "triage": rng.choice(list(TriageCategory)).value,
                "fit_to_transport": rng.random() < 0.6,
                "expected_length_of_stay_days": rng.randint(3, 90),
                "companions": rng.choice((0, 0, 0, 1, 1, 2)),
                "special_needs": sorted(
                    s.value for s in rng.sample(list(SpecialNeed), rng.choice((0, 0, 0, 1, 2)))
                ),
                "conditions": [
                    {
                        "body_region": rng.choice(list(BodyRegion)).value,
                        "mechanism": rng.choice(list(InjuryMechanism)).value,
                        "description": rng.choice(DESCRIPTIONS),
                    }
                    for _ in range(rng.randint(1, 2))
                ],
                "name": "",
                "birth_date": (
                    date(1950, 1, 1) + timedelta(days=rng.randint(0, 23000))
                ).isoformat(),
                "sex": rng.choice((Sex.FEMALE, Sex.MALE, Sex.MALE, Sex.UNKNOWN)).value,
                "nationality": "UA",
                "service_status": rng.choice(list(ServiceStatus)).value,
                "affiliation": "",
            }
        )
    return registry
