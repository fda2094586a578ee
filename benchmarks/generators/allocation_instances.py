"""Seeded generator of realistic allocation problems (JSON dicts in the exchange format).

Origins are sending hospitals clustered in a few regions of the affected country; receiving
facilities are spread over several countries; 15 specialties with a skewed mix; precedence
about 10/30/60 (urgent/priority/routine); stays 3 to 30 days; some groups travelling together,
some paediatric and oxygen needs, some facilities bound by agreements to certain organisations,
some admission limits and some patients with a maximum distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medevac.domain.vocabulary import Specialty

REGIONS = {  # name: (lat, lon, organisation sending from there)
    "east": (49.99, 36.23, "MOH-EAST"),
    "south": (46.48, 30.72, "MOH-SOUTH"),
    "centre": (48.46, 35.05, "MIL-MED"),
}
COUNTRIES = [  # approximate centres of receiving countries
    (52.1, 19.4), (51.2, 10.4), (49.8, 15.5), (48.7, 19.7), (47.6, 14.1), (55.2, 23.9),
    (45.9, 24.9), (42.8, 12.6), (46.6, 2.4), (52.2, 5.3), (60.1, 15.6), (40.4, -3.7),
    (60.5, 8.5), (62.0, 25.7), (56.0, 10.0), (50.6, 4.6),
]  # fmt: skip
SPECIALTIES = [s.value for s in Specialty]
SPECIALTY_MIX = np.array([14, 22, 7, 6, 6, 5, 5, 4, 4, 5, 8, 3, 4, 3, 4], dtype=float)
SIZES = {"S": (1_000, 50), "M": (10_000, 200), "L": (100_000, 1_000)}


def generate_problem(
    n_patients: int, n_facilities: int, seed: int = 0, horizon: int = 14
) -> dict[str, Any]:
    """A problem dict with ``n_patients`` and ``n_facilities``, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    mix = SPECIALTY_MIX / SPECIALTY_MIX.sum()
    patients_per_facility = n_patients / max(1, n_facilities)
    organisations = [r[2] for r in REGIONS.values()]

    facilities: list[dict[str, Any]] = []
    for k in range(n_facilities):
        clat, clon = COUNTRIES[int(rng.integers(len(COUNTRIES)))]
        n_spec = int(rng.integers(3, 9))
        offered = rng.choice(len(SPECIALTIES), size=n_spec, replace=False, p=mix)
        beds: dict[str, Any] = {}
        for s in sorted(offered.tolist()):
            base = max(1, round(patients_per_facility * rng.uniform(0.08, 0.2) * mix[s] * 15))
            if rng.random() < 0.3:  # beds freed over the horizon (discharges expected)
                beds[SPECIALTIES[s]] = [
                    base + (d * int(rng.integers(0, 3))) // 4 for d in range(horizon)
                ]
            else:
                beds[SPECIALTIES[s]] = base
        facility: dict[str, Any] = {
            "id": f"F{k:04d}",
            "lat": round(clat + rng.normal(0, 1.5), 4),
            "lon": round(clon + rng.normal(0, 2.0), 4),
        }
        caps = [
            c
            for c, prob in (("paediatric", 0.3), ("oxygen", 0.6), ("intensive_care", 0.3))
            if rng.random() < prob
        ]
        if caps:
            facility["capabilities"] = caps
        if rng.random() < 0.15:
            facility["accepts_from"] = sorted(
                rng.choice(organisations, size=int(rng.integers(1, 3)), replace=False).tolist()
            )
        if rng.random() < 0.6:
            facility["daily_admission_limit"] = max(
                1, round(patients_per_facility * rng.uniform(0.1, 0.3))
            )
        facility["beds"] = beds
        facilities.append(facility)

    sites_per_region = 4 + n_patients // 20_000
    sites = []
    for lat, lon, org in REGIONS.values():
        for _ in range(sites_per_region):
            sites.append(
                (round(lat + rng.normal(0, 0.4), 3), round(lon + rng.normal(0, 0.6), 3), org)
            )
    site_weight = rng.dirichlet(np.ones(len(sites)) * 2.0)

    patients: list[dict[str, Any]] = []
    group_count = 0
    k = 0
    while k < n_patients:
        site = sites[int(rng.choice(len(sites), p=site_weight))]
        size = int(rng.integers(2, 6)) if rng.random() < 0.015 else 1
        size = min(size, n_patients - k)
        group = None
        if size > 1:
            group = f"G{group_count:05d}"
            group_count += 1
        for _ in range(size):
            r = rng.random()
            precedence = "urgent" if r < 0.1 else "priority" if r < 0.4 else "routine"
            patient: dict[str, Any] = {
                "id": f"P{k:06d}",
                "lat": site[0],
                "lon": site[1],
                "specialty": SPECIALTIES[int(rng.choice(len(SPECIALTIES), p=mix))],
                "precedence": precedence,
                "length_of_stay_days": int(min(30, 3 + rng.gamma(2.0, 4.0))),
                "organisation": site[2],
            }
            if precedence == "routine" and rng.random() < 0.35:
                patient["earliest_day"] = int(rng.integers(1, 6))
            needs = [
                n for n, prob in (("paediatric", 0.08), ("oxygen", 0.04)) if rng.random() < prob
            ]
            if needs:
                patient["needs"] = needs
            if group is not None:
                patient["group"] = group
            if rng.random() < 0.1:
                patient["max_distance_km"] = 1500
            patients.append(patient)
            k += 1

    return {
        "horizon_days": horizon,
        "precedences": {
            "urgent": {"weight": 100, "deadline_day": 0},
            "priority": {"weight": 10, "deadline_day": 2},
            "routine": {"weight": 1, "deadline_day": 6},
        },
        "weights": {
            "unplaced": 1000,
            "wait_per_day": 1,
            "late_per_day": 20,
            "travel_per_km": 0.01,
            "group_split": 50,
            "change": 20,
        },
        "facilities": facilities,
        "patients": patients,
    }


def sized_problem(size: str, seed: int = 0) -> dict[str, Any]:
    """The benchmark instance of size S, M or L."""
    n_patients, n_facilities = SIZES[size]
    return generate_problem(n_patients, n_facilities, seed)


def custom_size(size: str) -> tuple[int, int] | None:
    """(patients, facilities) of a size written as PATIENTSxFACILITIES (3000x100), else None."""
    patients, x, facilities = size.upper().partition("X")
    if x and patients.isdigit() and facilities.isdigit() and int(patients) and int(facilities):
        return int(patients), int(facilities)
    return None


def unknown_size(size: str) -> str | None:
    """What is wrong with ``size`` if it is neither S, M, L nor PATIENTSxFACILITIES, else None."""
    if size in SIZES or custom_size(size):
        return None
    return f"unknown size {size!r}; choose from {', '.join(SIZES)} or give PATIENTSxFACILITIES"


def named_problem(size: str, seed: int = 0) -> dict[str, Any]:
    """The instance of size S, M, L or PATIENTSxFACILITIES; ValueError names any other size."""
    if size in SIZES:
        return sized_problem(size, seed)
    custom = custom_size(size)
    if custom is None:
        raise ValueError(unknown_size(size))
    return generate_problem(*custom, seed=seed)


def with_beds_divided(data: dict[str, Any], divisor: int) -> dict[str, Any]:
    """The problem with every facility's free beds divided by ``divisor`` (rounded down): an
    oversubscribed variant, as after a mass-casualty wave. ``data`` is changed and returned."""
    for facility in data["facilities"]:
        for specialty, beds in facility["beds"].items():
            facility["beds"][specialty] = (
                [b // divisor for b in beds] if isinstance(beds, list) else beds // divisor
            )
    return data
