"""The compact form's units: interchangeable patients together, numbered by first patient."""

from __future__ import annotations

import random

import numpy as np

from medevac.planning import parse_problem
from medevac.planning.compact import build_compact
from medevac.planning.model import ProblemView
from medevac.planning.problem import Problem
from tests.unit.planning.builders import random_problem, random_problem_data, random_problems


def _expected_units(problem: Problem, view: ProblemView) -> tuple[list[list[int]], list[int]]:
    """Units as lists of patient indices, in order of their first patient, and the patients
    no facility can take, by a plain loop over the patients."""
    units: list[list[int]] = []
    by_key: dict[tuple[object, ...], int] = {}
    hopeless: list[int] = []
    horizon = problem.horizon_days
    for i, p in enumerate(problem.patients):
        if not view.screen(i).eligible.any():
            hopeless.append(i)
            continue
        key = (
            int(view.origin_of[i]), p.specialty, p.needs, p.organisation, p.max_distance_km,
            p.precedence, min(p.length_of_stay_days, horizon - p.earliest_day), p.earliest_day,
        )  # fmt: skip
        if p.group is not None or p.current is not None:
            units.append([i])
        elif key in by_key:
            units[by_key[key]].append(i)
        else:
            by_key[key] = len(units)
            units.append([i])
    return units, hopeless


@random_problems(60, 60)
def test_units_hold_the_interchangeable_patients_in_order_of_their_first(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    problem = random_problem(rng, n_patients, n_facilities)
    view = ProblemView(problem)
    c = build_compact(view)
    units, hopeless = _expected_units(problem, view)
    assert c.hopeless.tolist() == hopeless
    assert c.unit_count.tolist() == [len(u) for u in units]
    assert c.member_patient.tolist() == [i for u in units for i in u]
    first = [u[0] for u in units]
    assert c.unit_origin.tolist() == [int(view.origin_of[i]) for i in first]
    assert c.unit_first.tolist() == [problem.patients[i].earliest_day for i in first]
    for u, i in enumerate(first):
        eligible = c.profile_facility[
            c.profile_start[c.unit_profile[u]] : c.profile_start[c.unit_profile[u] + 1]
        ]
        assert set(eligible.tolist()) == set(np.flatnonzero(view.screen(i).eligible).tolist())


def test_two_specialties_no_facility_offers_keep_a_profile_each() -> None:
    data = random_problem_data(random.Random(3), 0, 2)
    base = {"lat": 49.0, "lon": 30.0, "precedence": "routine", "length_of_stay_days": 3}
    data["patients"] = [
        {"id": "P1", "specialty": "orthopaedics", **base},
        {"id": "P2", "specialty": "orthopaedics", **base},
        {"id": "P3", "specialty": "oncology", **base},
        {"id": "P4", "specialty": "psychiatry", **base},
        {"id": "P5", "specialty": "orthopaedics", "group": "G", **base},
    ]
    problem = parse_problem(data)
    view = ProblemView(problem)
    c = build_compact(view)
    units, hopeless = _expected_units(problem, view)
    assert hopeless == [2, 3]  # no facility offers either
    assert c.hopeless.tolist() == hopeless
    assert c.unit_count.tolist() == [len(u) for u in units] == [2, 1]
    # orthopaedics (with or without a group), oncology, psychiatry
    assert len(c.profile_start) - 1 == 3
