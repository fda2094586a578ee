"""Engine-side view of a problem: eligibility, costs, objective terms and plan assembly.

Shared by the greedy, per-patient MIP and exact engines and by the explanations; the checker
(checker.py) deliberately does not use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medevac.planning.geometry import haversine_matrix
from medevac.planning.plan import (
    Assignment,
    Breakdown,
    Plan,
    PlanStatus,
    Unplaced,
    UnplacedReason,
    relative_gap,
)
from medevac.planning.problem import Patient, Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Margin kept below max_distance_km so that rounding differences between the vectorised and the
# scalar haversine can never make an engine's choice fail the checker's distance rule.
DISTANCE_MARGIN_KM = 1e-6

ProgressCallback = Callable[[str], None]
"""Receives short human-readable progress messages while an engine works."""

Placement = tuple[str, int]
"""(facility id, admission day)."""


@dataclass(frozen=True, slots=True)
class Screen:
    """Which facilities pass each successive static rule for one patient profile."""

    offers: BoolArray
    needs_met: BoolArray
    agreement: BoolArray
    in_range: BoolArray

    @property
    def eligible(self) -> BoolArray:
        return self.in_range


class ProblemView:
    """Arrays and caches the engines need: distances, eligibility, day costs, bed tables."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.horizon = problem.horizon_days
        self.n_facilities = len(problem.facilities)
        fac_lat = np.array([f.lat for f in problem.facilities], dtype=float)
        fac_lon = np.array([f.lon for f in problem.facilities], dtype=float)
        origins: dict[tuple[float, float], int] = {}
        self.origin_of = np.array(
            [origins.setdefault((p.lat, p.lon), len(origins)) for p in problem.patients],
            dtype=np.int64,
        )
        origin_lat = np.array([o[0] for o in origins], dtype=float)
        origin_lon = np.array([o[1] for o in origins], dtype=float)
        self.distance = (
            haversine_matrix(origin_lat, origin_lon, fac_lat, fac_lon)
            if origins and self.n_facilities
            else np.zeros((len(origins), self.n_facilities))
        )
        specialties = sorted({s for f in problem.facilities for s in f.beds})
        self.specialty_index = {s: i for i, s in enumerate(specialties)}
        self.beds = np.zeros((self.n_facilities, len(specialties), self.horizon), dtype=np.int64)
        self.offers = np.zeros((self.n_facilities, len(specialties)), dtype=bool)
        for fi, facility in enumerate(problem.facilities):
            for s, days in facility.beds.items():
                self.beds[fi, self.specialty_index[s]] = days
                self.offers[fi, self.specialty_index[s]] = True
        self.admission_limit = np.array(
            [
                -1 if f.daily_admission_limit is None else f.daily_admission_limit
                for f in problem.facilities
            ],
            dtype=np.int64,
        )
        self._screens: dict[tuple[object, ...], Screen] = {}

    def screen(self, index: int) -> Screen:
        """The static eligibility of every facility for patient ``index`` (cached by profile)."""
        p = self.problem.patients[index]
        key = (
            int(self.origin_of[index]),
            p.specialty,
            p.needs,
            p.organisation,
            p.max_distance_km,
        )
        found = self._screens.get(key)
        if found is not None:
            return found
        facilities = self.problem.facilities
        s = self.specialty_index.get(p.specialty)
        offers = (
            self.offers[:, s].copy() if s is not None else np.zeros(self.n_facilities, dtype=bool)
        )
        needs = offers & np.array([p.needs <= f.capabilities for f in facilities], dtype=bool)
        agreement = needs & np.array([f.accepts(p.organisation) for f in facilities], dtype=bool)
        in_range = agreement.copy()
        if p.max_distance_km is not None:
            in_range &= self.distance[key[0]] <= p.max_distance_km - DISTANCE_MARGIN_KM
        screen = Screen(offers, needs, agreement, in_range)
        self._screens[key] = screen
        return screen

    def day_cost(self, patient: Patient) -> FloatArray:
        """Wait and lateness cost of admitting ``patient`` on each day (inf before earliest_day)."""
        rule = self.problem.precedences[patient.precedence]
        w = self.problem.weights
        days = np.arange(self.horizon, dtype=float)
        cost: FloatArray = rule.weight * (
            w.wait_per_day * days + w.late_per_day * np.maximum(0.0, days - rule.deadline_day)
        )
        cost[: patient.earliest_day] = np.inf
        return cost

    def unplaced_cost(self, patient: Patient) -> float:
        """Cost of leaving ``patient`` unplaced (including losing a current place)."""
        w = self.problem.weights
        cost = w.unplaced * self.problem.precedences[patient.precedence].weight
        return cost + (w.change if patient.current is not None else 0.0)

    def unplaced_reason(self, index: int) -> Unplaced:
        """Why patient ``index`` could not be placed, from the fixed set of reasons."""
        p = self.problem.patients[index]
        sc = self.screen(index)
        if not sc.offers.any():
            return Unplaced(
                p.id, f"no facility offers {p.specialty}", UnplacedReason.SPECIALTY_NOT_OFFERED
            )
        if not sc.needs_met.any():
            return Unplaced(
                p.id,
                f"no facility offering {p.specialty} meets needs {', '.join(sorted(p.needs))}",
                UnplacedReason.NEEDS_NOT_MET,
            )
        if not sc.agreement.any():
            return Unplaced(
                p.id,
                f"no facility offers {p.specialty} to {p.organisation or 'no organisation'}",
                UnplacedReason.NO_AGREEMENT,
            )
        if not sc.in_range.any():
            return Unplaced(
                p.id,
                f"every facility offering {p.specialty} is beyond {p.max_distance_km:g} km",
                UnplacedReason.BEYOND_MAX_DISTANCE,
            )
        count = int(sc.in_range.sum())
        return Unplaced(
            p.id,
            f"all feasible beds are full in the horizon ({count} eligible facilities)",
            UnplacedReason.BEDS_FULL,
        )


def breakdown_of(problem: Problem, view: ProblemView, placed: Mapping[str, Placement]) -> Breakdown:
    """Objective terms of the placement ``placed`` (patient id -> (facility id, day))."""
    w = problem.weights
    terms = dict.fromkeys(("unplaced", "wait", "late", "travel", "group_split", "change"), 0.0)
    groups: dict[str, set[str]] = {}
    for i, p in enumerate(problem.patients):
        rule = problem.precedences[p.precedence]
        where = placed.get(p.id)
        if where is None:
            terms["unplaced"] += w.unplaced * rule.weight
            if p.current is not None:
                terms["change"] += w.change
            continue
        fid, day = where
        terms["wait"] += rule.weight * w.wait_per_day * day
        terms["late"] += rule.weight * w.late_per_day * max(0, day - rule.deadline_day)
        km = float(view.distance[view.origin_of[i], problem.facility_index[fid]])
        terms["travel"] += w.travel_per_km * km
        if p.current is not None and p.current.facility != fid:
            terms["change"] += w.change
        if p.group is not None:
            groups.setdefault(p.group, set()).add(fid)
    terms["group_split"] = sum(w.group_split * (len(fs) - 1) for fs in groups.values())
    return Breakdown(**terms)


def assemble_plan(
    problem: Problem,
    view: ProblemView,
    placed: Mapping[str, Placement],
    *,
    status: PlanStatus,
    bound: float | None,
    solver: str,
    started: float,
) -> Plan:
    """Build a Plan: objective from the placement, bound clipped to it, reasons for the unplaced.

    ``bound`` None means no lower bound is known (heuristics); it is reported as 0 with the
    corresponding gap.
    """
    breakdown = breakdown_of(problem, view, placed)
    objective = breakdown.total
    lower = min(objective, bound) if bound is not None else min(0.0, objective)
    if status is PlanStatus.OPTIMAL:
        lower = objective
    assignments = tuple(
        Assignment(p.id, placed[p.id][0], placed[p.id][1])
        for p in problem.patients
        if p.id in placed
    )
    unplaced = tuple(
        view.unplaced_reason(i) for i, p in enumerate(problem.patients) if p.id not in placed
    )
    return Plan(
        status=status,
        objective=objective,
        bound=lower,
        gap=relative_gap(objective, lower),
        solver=solver,
        wall_seconds=round(time.perf_counter() - started, 4),
        breakdown=breakdown,
        assignments=assignments,
        unplaced=unplaced,
    )
