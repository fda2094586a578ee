"""Small allocation problems for the planning tests, as JSON-like dicts."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.planning import (
    Assignment,
    Breakdown,
    Plan,
    PlanStatus,
    Problem,
    Quota,
    check_plan,
    kernels,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
    with_quotas,
)
from medevac.planning.checker import CheckReport
from medevac.planning.compact import Compact, build_compact
from medevac.planning.lagrangian import _Plans
from medevac.planning.model import Placement, ProblemView, assemble_plan

SEEDS = st.integers(0, 2**31)


def hand_plan(*assignments: tuple[str, str, int]) -> Plan:
    """A plan written by hand: these (patient, facility, day) assignments, nobody unplaced."""
    return Plan(
        PlanStatus.FEASIBLE, 0.0, 0.0, 0.0, "hand", 0.0, Breakdown(),
        tuple(Assignment(*a) for a in assignments), (),
    )  # fmt: skip


#: every engine, as the tests of the problem's extensions (admissions due, quotas) solve with
#: it: "large" is the Lagrangian engine of large problems, forced
ENGINES: dict[str, Callable[[Problem], Plan]] = {
    "greedy": solve_greedy,
    "exact": lambda problem: solve_exact(problem, time_limit=30),
    "large": lambda problem: solve_exact(problem, time_limit=2, large_units=0),
    "mip": lambda problem: solve_patient_mip(problem, time_limit=30),
}


def engines_agree(problem: Problem) -> dict[str, Plan]:
    """Every engine's plan of ``problem`` (`ENGINES`), having checked that each passes the
    checker with its objective and has no bound above the per-patient MIP's proven optimum,
    that the exact engine proves that optimum and that greedy costs no less."""
    mip = solve_patient_mip(problem, time_limit=30)
    assert mip.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    plans = {"mip": mip} | {name: ENGINES[name](problem) for name in ("greedy", "exact", "large")}
    for name, plan in plans.items():
        report = check_plan(problem, plan)
        assert report.feasible, (name, report.violations)
        assert report.objective_matches(plan.objective), name
        assert report.terms_apart(plan.breakdown) == [], name
        assert plan.bound <= mip.objective + tolerance, name
    assert plans["exact"].status is PlanStatus.OPTIMAL
    assert abs(plans["exact"].objective - mip.objective) <= tolerance
    assert plans["exact"].objective <= plans["greedy"].objective + tolerance
    return plans


def random_problems(
    max_examples: int, max_patients: int = 14, **more: st.SearchStrategy[Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings and inputs for a test over small random problems: a seeded ``rng``,
    ``n_patients`` (1 .. max_patients), ``n_facilities`` (1 .. 4) and the strategies in ``more``.
    """

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        inputs: dict[str, st.SearchStrategy[Any]] = {
            "rng": st.randoms(use_true_random=False),
            "n_patients": st.integers(1, max_patients),
            "n_facilities": st.integers(1, 4),
            **more,
        }
        return settings(max_examples=max_examples, deadline=None)(given(**inputs)(test))

    return decorate


BASE: dict[str, Any] = {
    "horizon_days": 5,
    "precedences": {
        "urgent": {"weight": 100, "deadline_day": 0},
        "priority": {"weight": 10, "deadline_day": 1},
        "routine": {"weight": 1, "deadline_day": 3},
    },
    "weights": {
        "unplaced": 1000,
        "wait_per_day": 1,
        "late_per_day": 20,
        "travel_per_km": 0.01,
        "group_split": 50,
        "change": 20,
    },
    "facilities": [],
    "patients": [],
}


def problem_dict(
    facilities: list[dict[str, Any]], patients: list[dict[str, Any]], **top: Any
) -> dict[str, Any]:
    """A problem dict with the default precedences and weights."""
    data = copy.deepcopy(BASE)
    data.update(top)
    data["facilities"] = facilities
    data["patients"] = patients
    return data


def facility(fid: str, lat: float, lon: float, **fields: Any) -> dict[str, Any]:
    beds = fields.pop("beds", {"orthopaedics": 1})
    return {"id": fid, "lat": lat, "lon": lon, "beds": beds, **fields}


def patient(pid: str, lat: float = 50.0, lon: float = 30.0, **fields: Any) -> dict[str, Any]:
    data = {
        "id": pid,
        "lat": lat,
        "lon": lon,
        "specialty": "orthopaedics",
        "precedence": "routine",
        "length_of_stay_days": 3,
    }
    data.update(fields)
    return data


def partner_quota(room: int, days: frozenset[int] | None = None) -> Quota:
    """ORG-A's agreement AGR-A at PARTNER (`renewal_problem`): room for ``room`` patients,
    counted on the admission ``days`` only (an agreement that ends or begins within the
    horizon), or on every day with None."""
    return Quota("AGR-A", room, frozenset({"ORG-A"}), frozenset({"PARTNER"}), days=days)


def renewal_problem(
    *,
    patients: int = 6,
    beds: int | list[int] = 10,
    length_of_stay_days: int = 1,
    earliest_day: int | None = None,
    home: tuple[float, float] | None = None,
    horizon_days: int = 5,
    quota: Quota | None = None,
) -> Problem:
    """A problem of the tests of quotas that hold on some days only (`Quota.days`): an
    agreement of ORG-A with PARTNER that ends within the horizon while its renewal, without a
    quota, takes over.

    ``patients`` routine orthopaedic patients P0, P1, ... of ORG-A at (50.0, 30.0), each
    staying ``length_of_stay_days``, due from ``earliest_day`` (left unset with None); PARTNER
    at (50.1, 30.0), near them, with ``beds`` orthopaedic beds (one number, or one a day);
    with ``home`` (lat, lon), HOME there too, with 10 orthopaedic beds and no quota; the
    default precedences and weights over ``horizon_days``; under ``quota`` (`with_quotas`,
    most often a `partner_quota`) if one is given."""
    facilities = [facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": beds})]
    if home is not None:
        facilities.append(facility("HOME", *home, beds={"orthopaedics": 10}))
    fields: dict[str, Any] = {"organisation": "ORG-A", "length_of_stay_days": length_of_stay_days}
    if earliest_day is not None:
        fields["earliest_day"] = earliest_day
    people = [patient(f"P{k}", **fields) for k in range(patients)]
    problem = parse_problem(problem_dict(facilities, people, horizon_days=horizon_days))
    return problem if quota is None else with_quotas(problem, [quota])


def random_problem(rng: random.Random, n_patients: int, n_facilities: int) -> Problem:
    """A small random problem with tight beds, limits, groups, needs and agreements."""
    return parse_problem(random_problem_data(rng, n_patients, n_facilities))


def random_problem_dict(seed: int, n_patients: int, n_facilities: int) -> dict[str, Any]:
    """The dict form of ``random_problem`` for a seed."""
    return random_problem_data(random.Random(seed), n_patients, n_facilities)


def random_problem_data(rng: random.Random, n_patients: int, n_facilities: int) -> dict[str, Any]:
    horizon = rng.randint(3, 6)
    specialties = ["orthopaedics", "neurology", "burns"]
    facilities = []
    for k in range(n_facilities):
        beds = _random_beds(rng, specialties, horizon, 3)
        f = facility(f"F{k}", 50 + rng.uniform(-8, 8), 20 + rng.uniform(-10, 10), beds=beds)
        if rng.random() < 0.3:
            f["capabilities"] = ["paediatric"]
        if rng.random() < 0.2:
            f["accepts_from"] = ["ORG-A"]
        if rng.random() < 0.4:
            f["daily_admission_limit"] = rng.randint(1, 2)
        facilities.append(f)
    patients = []
    for k in range(n_patients):
        p = patient(
            f"P{k}",
            lat=rng.choice([49.0, 50.0]),
            lon=rng.choice([30.0, 31.0]),
            specialty=rng.choice(specialties),
            precedence=rng.choice(["urgent", "priority", "routine", "routine"]),
            length_of_stay_days=rng.randint(1, 6),
        )
        if rng.random() < 0.3:
            p["earliest_day"] = rng.randint(0, horizon - 1)
        if rng.random() < 0.15:
            p["needs"] = ["paediatric"]
        p["organisation"] = rng.choice(["ORG-A", "ORG-B"])
        if rng.random() < 0.3:
            p["group"] = f"G{rng.randint(0, 2)}"
        if rng.random() < 0.1:
            p["max_distance_km"] = rng.choice([800, 1500])
        if rng.random() < 0.15:
            p["current"] = _random_place(rng, facilities, horizon)
        patients.append(p)
    return problem_dict(facilities, patients, horizon_days=horizon)


def _random_beds(
    rng: random.Random, specialties: list[str], horizon: int, most: int
) -> dict[str, Any]:
    """Free beds of some of ``specialties``: one number, or one a day (0 .. most)."""
    beds: dict[str, Any] = {}
    for s in rng.sample(specialties, rng.randint(1, len(specialties))):
        if rng.random() < 0.5:
            beds[s] = rng.randint(0, most)
        else:
            beds[s] = [rng.randint(0, most) for _ in range(horizon)]
    return beds


def _random_place(
    rng: random.Random, facilities: list[dict[str, Any]], horizon: int
) -> dict[str, Any]:
    return {"facility": rng.choice(facilities)["id"], "day": rng.randint(0, horizon - 1)}


def placement(plan: Plan) -> dict[str, tuple[str, int]]:
    """Patient id -> (facility id, admission day) of a plan's assignments."""
    return {a.patient: (a.facility, a.day) for a in plan.assignments}


def with_current(data: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """``data`` with every patient the plan places given that place as ``current``, and
    none for those it leaves out (a place the plan dropped is no longer held)."""
    where = placement(plan)
    for p in data["patients"]:
        if p["id"] in where:
            p["current"] = {"facility": where[p["id"]][0], "day": where[p["id"]][1]}
        else:
            p.pop("current", None)
    return data


def nobody_placed(problem: Problem) -> tuple[_Plans, Compact, Any, Any, tuple[Any, ...]]:
    """The large engine's slots of ``problem`` with nobody placed, and the empty capacity
    (quota rooms included) of its placement kernels: (plans, compact, slot facility, slot
    day, capacity)."""
    compact = build_compact(ProblemView(problem))
    plans = _Plans(problem, compact)
    n = len(plans.slot_unit)
    slot_f = np.full(n, -1, dtype=np.int64)
    slot_a = np.zeros(n, dtype=np.int64)
    used = np.zeros_like(compact.beds)
    admitted = np.zeros((compact.beds.shape[0], compact.horizon), dtype=np.int64)
    capacity = kernels.capacity_of(used, compact.beds, admitted, compact.limit, compact.rooms())
    return plans, compact, slot_f, slot_a, capacity


def check_placement(
    problem: Problem, view: ProblemView, placed: dict[str, Placement]
) -> CheckReport:
    """The checker's report on a bare placement (patient id -> (facility id, day))."""
    plan = assemble_plan(
        problem, view, placed, status=PlanStatus.FEASIBLE, bound=None, solver="test",
        started=time.perf_counter(),
    )  # fmt: skip
    return check_plan(problem, plan)


WIDE_SPECIALTIES = (
    "orthopaedics", "neurology", "burns", "neurosurgery", "ophthalmology", "general_surgery",
)  # fmt: skip


def wide_random_problem_data(rng: random.Random) -> dict[str, Any]:
    """A random problem drawn more widely than ``random_problem_data``: horizons of 1-14 days,
    up to 6 specialties, stays up to 20 days, two capabilities, three organisations, groups of
    any size, distance limits down to 0 km and current places, some of them at facilities that
    cannot take the patient. Stress runs with it found the re-planning ties of test_engines."""
    horizon = rng.randint(1, 14)
    n_facilities = rng.randint(1, 10)
    n_patients = rng.randint(0, 45)
    specialties = list(rng.sample(WIDE_SPECIALTIES, rng.randint(1, len(WIDE_SPECIALTIES))))
    organisations = ["ORG-A", "ORG-B", "ORG-C"]
    facilities = []
    for k in range(n_facilities):
        beds = _random_beds(rng, specialties, horizon, 4)
        f = facility(f"F{k}", 50 + rng.uniform(-10, 10), 20 + rng.uniform(-15, 15), beds=beds)
        if rng.random() < 0.3:
            f["capabilities"] = rng.sample(["paediatric", "oxygen"], rng.randint(1, 2))
        if rng.random() < 0.25:
            f["accepts_from"] = rng.sample(organisations, rng.randint(0, 2))
        if rng.random() < 0.4:
            f["daily_admission_limit"] = rng.randint(0, 3)
        facilities.append(f)
    patients = []
    for k in range(n_patients):
        p = patient(
            f"P{k}",
            lat=rng.choice([49.0, 50.0, 51.5]),
            lon=rng.choice([30.0, 31.0, 25.0]),
            specialty=rng.choice(specialties + (["burns"] if rng.random() < 0.05 else [])),
            precedence=rng.choice(["urgent", "priority", "routine", "routine"]),
            length_of_stay_days=rng.randint(1, 20),
        )
        if rng.random() < 0.3:
            p["earliest_day"] = rng.randint(0, horizon - 1)
        if rng.random() < 0.15:
            p["needs"] = rng.sample(["paediatric", "oxygen"], rng.randint(1, 2))
        if rng.random() < 0.8:
            p["organisation"] = rng.choice(organisations)
        if rng.random() < 0.3:
            p["group"] = f"G{rng.randint(0, 4)}"
        if rng.random() < 0.1:
            p["max_distance_km"] = rng.choice([0, 300, 800, 1500])
        if rng.random() < 0.15:
            p["current"] = _random_place(rng, facilities, horizon)
        patients.append(p)
    return problem_dict(facilities, patients, horizon_days=horizon)


def random_admissions_due(rng: random.Random, problem: Problem) -> list[tuple[str, int, int]]:
    """Admissions already due (facility, day, count) on about half the days of the problem's
    facilities with a daily limit, 0 to 3 a day (`with_admissions_taken`)."""
    return [
        (f.id, day, rng.randint(0, 3))
        for f in problem.facilities
        if f.daily_admission_limit is not None
        for day in range(problem.horizon_days)
        if rng.random() < 0.5
    ]


def random_quotas(rng: random.Random, problem: Problem, days: bool = False) -> list[Quota]:
    """One to three quotas with room for 0 to 3 patients, each over one of the patients'
    organisations, a random half of the facilities and, half the time, one of the patients'
    specialties (`with_quotas`); two of them may share facilities and patients. With ``days``,
    half of them hold on some days only (`Quota.days`): a run of days from day 0 or to the
    last (an agreement that ends or begins within the horizon), or any days."""
    ids = [f.id for f in problem.facilities]
    organisations = sorted({p.organisation for p in problem.patients if p.organisation}) or ["-"]
    specialties = sorted({p.specialty for p in problem.patients}) or ["-"]
    quotas = []
    for k in range(rng.randint(1, 3)):
        facilities = frozenset(f for f in ids if rng.random() < 0.5) or frozenset(ids[:1])
        specialty = rng.choice(specialties)
        quotas.append(
            Quota(
                f"Q{k}",
                rng.randint(0, 3),
                frozenset({rng.choice(organisations)}),
                facilities,
                frozenset({specialty}) if rng.random() < 0.5 else None,
                _random_days(rng, problem.horizon_days) if days and rng.random() < 0.5 else None,
            )
        )
    return quotas


def random_quota_problem(
    rng: random.Random, n_patients: int, n_facilities: int, *, days: bool = False
) -> Problem:
    """A `random_problem` under `random_quotas` of it (``days``: half of them holding on some
    days only), both drawn from ``rng`` in that order."""
    free = random_problem(rng, n_patients, n_facilities)
    return with_quotas(free, random_quotas(rng, free, days=days))


def _random_days(rng: random.Random, horizon: int) -> frozenset[int]:
    """Days of a horizon for a quota: up to a day, from a day, or any (never none)."""
    cut = rng.randrange(horizon)
    kind = rng.choice(("ends", "begins", "any"))
    if kind == "ends":
        return frozenset(range(cut + 1))
    if kind == "begins":
        return frozenset(range(cut, horizon))
    return frozenset(d for d in range(horizon) if rng.random() < 0.5) or frozenset({cut})


def random_acceptance_ends(rng: random.Random, problem: Problem) -> list[tuple[str, str, int]]:
    """One to three ends of acceptance (`with_acceptance_ends`): a random facility stops
    admitting one of the patients' organisations after a random day before the horizon's
    last (distinct facility and organisation pairs)."""
    ids = [f.id for f in problem.facilities]
    organisations = sorted({p.organisation for p in problem.patients if p.organisation}) or ["-"]
    ends: dict[tuple[str, str], int] = {}
    for _ in range(rng.randint(1, 3)):
        pair = (rng.choice(ids), rng.choice(organisations))
        ends[pair] = rng.randint(0, max(0, problem.horizon_days - 2))
    return [(f, org, last) for (f, org), last in ends.items()]
