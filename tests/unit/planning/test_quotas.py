"""Agreements' quotas (`Problem.quotas`): every engine keeps to them, the exact engine
chooses who uses their room, and the checker counts them."""

from __future__ import annotations

import random
import time
from collections import Counter

import numpy as np
import pytest

from medevac.planning import (
    Blocker,
    Plan,
    PlanStatus,
    Problem,
    Quota,
    UnplacedReason,
    check_plan,
    explain,
    kernels,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
    with_acceptance_ends,
    with_quotas,
)
from medevac.planning.compact import build_compact
from medevac.planning.lagrangian import (
    _Dual,
    improve_plan,
    lagrangian_bound,
    solve_lagrangian,
)
from medevac.planning.model import ProblemView, placement_arrays, quota_counts
from medevac.planning.quotas import (
    binding_quotas,
    keep_to_quotas,
    pooled_prices,
)
from tests.unit.planning.builders import (
    ENGINES,
    check_placement,
    engines_agree,
    facility,
    nobody_placed,
    patient,
    problem_dict,
    random_problem,
    random_problems,
    random_quotas,
)


def partner_and_home() -> Problem:
    """Four routine patients of ORG-A. PARTNER, near, has beds for all; HOME, far, for all.
    P0 and P1 are urgent; P2 and P3 could only go to PARTNER (HOME lacks their need)."""
    return parse_problem(
        problem_dict(
            [
                facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 10},
                         capabilities=["paediatric"]),
                facility("HOME", 52.0, 21.0, beds={"orthopaedics": 10}),
            ],
            [
                patient("P0", precedence="urgent", organisation="ORG-A"),
                patient("P1", precedence="urgent", organisation="ORG-A"),
                patient("P2", organisation="ORG-A", needs=["paediatric"]),
                patient("P3", organisation="ORG-A", needs=["paediatric"]),
            ],
        )
    )  # fmt: skip


def at(plan: Plan) -> dict[str, str]:
    return {a.patient: a.facility for a in plan.assignments}


QUOTA_2 = Quota("AGR-1", 2, frozenset({"ORG-A"}), frozenset({"PARTNER"}))


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_engine_keeps_to_a_quota(engine: str) -> None:
    free = partner_and_home()
    assert set(at(ENGINES[engine](free)).values()) == {"PARTNER"}
    problem = with_quotas(free, [QUOTA_2])
    plan = ENGINES[engine](problem)
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective_matches(plan.objective)
    assert Counter(at(plan).values())["PARTNER"] <= 2


@pytest.mark.parametrize("engine", ["exact", "mip"])
def test_the_optimisers_give_the_room_to_those_with_no_other_place(engine: str) -> None:
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    plan = ENGINES[engine](problem)
    assert plan.status is PlanStatus.OPTIMAL
    # the urgent ones travel further; the two who need what only PARTNER has get its room
    assert at(plan) == {"P0": "HOME", "P1": "HOME", "P2": "PARTNER", "P3": "PARTNER"}


def test_greedy_gives_the_room_to_the_most_urgent_as_a_regulator_would() -> None:
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    plan = solve_greedy(problem)
    assert at(plan) == {"P0": "PARTNER", "P1": "PARTNER"}
    assert {u.patient for u in plan.unplaced} == {"P2", "P3"}


def test_the_checker_counts_quotas() -> None:
    free = partner_and_home()
    plan = solve_exact(free, time_limit=30)
    problem = with_quotas(free, [QUOTA_2])
    assert check_plan(problem, plan).violations == (
        "quota AGR-1: 4 patients placed under it, room 2",
    )
    other = with_quotas(free, [Quota("AGR-B", 0, frozenset({"ORG-B"}), frozenset({"PARTNER"}))])
    assert other.quotas == ()  # no patient of ORG-B: nothing to keep to
    neuro = Quota("AGR-N", 0, frozenset({"ORG-A"}), frozenset({"PARTNER"}), frozenset({"neuro"}))
    assert with_quotas(free, [neuro]) is free


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        (Quota("Q", -1, frozenset({"ORG-A"}), frozenset({"HOME"})), "quota Q: room -1 < 0"),
        (Quota("Q", 1, frozenset(), frozenset({"HOME"})), "quota Q: no sending organisation"),
        (
            Quota("Q", 1, frozenset({"ORG-A"}), frozenset({"NOWHERE"})),
            "quota Q: 'NOWHERE' is not a facility of the problem",
        ),
    ],
)
def test_quotas_outside_the_problem_are_refused(quota: Quota, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        with_quotas(partner_and_home(), [quota])


def test_a_quota_id_is_given_once() -> None:
    once = with_quotas(partner_and_home(), [QUOTA_2])
    with pytest.raises(ValueError, match="quota 'AGR-1': a quota of that id is already given"):
        with_quotas(once, [QUOTA_2])


def test_keep_to_quotas_takes_out_the_least_urgent_and_places_them_elsewhere() -> None:
    free = partner_and_home()
    problem = with_quotas(free, [Quota("AGR-1", 1, frozenset({"ORG-A"}), frozenset({"PARTNER"}))])
    view = ProblemView(problem)
    facility, day = placement_arrays(problem, at_day_0(solve_exact(free, time_limit=30)))
    assert quota_counts(view, facility, day).tolist() == [4]
    kept, days, moved = keep_to_quotas(view, facility, day)
    assert moved == 3
    assert quota_counts(view, kept, days).tolist() == [1]
    where = {problem.patients[i].id: int(f) for i, f in enumerate(kept)}
    home = problem.facility_index["HOME"]
    partner = problem.facility_index["PARTNER"]
    # an urgent patient keeps PARTNER; the other goes HOME; P2 and P3 have nowhere else
    assert where == {"P0": partner, "P1": home, "P2": -1, "P3": -1}
    assert np.array_equal(days[kept >= 0], np.zeros(2, dtype=np.int64))


def at_day_0(plan: Plan) -> dict[str, tuple[str, int]]:
    return {a.patient: (a.facility, a.day) for a in plan.assignments}


@random_problems(40)
def test_with_quotas_the_engines_still_agree_and_exact_is_optimal(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    free = random_problem(rng, n_patients, n_facilities)
    engines_agree(with_quotas(free, random_quotas(rng, free)))


def test_explain_names_the_quota_that_closes_a_nearer_facility() -> None:
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    plan = solve_exact(problem, time_limit=30)
    why = explain(problem, plan, "P0")
    assert why.facility == "HOME"
    [partner] = [a for a in why.alternatives if a.facility == "PARTNER"]
    assert partner.blocker is Blocker.QUOTA_FULL
    assert (partner.first_day, partner.last_day) == (0, 4)  # nearer: every day
    assert partner.detail == "quota AGR-1 used up (2 of its room 2 by other patients)"


def test_explain_says_a_quota_without_room_has_none() -> None:
    # "used up (0 of its room 0 by other patients)" said other patients had used it
    empty = Quota("AGR-1", 0, frozenset({"ORG-A"}), frozenset({"PARTNER"}))
    problem = with_quotas(partner_and_home(), [empty])
    plan = solve_exact(problem, time_limit=30)
    why = explain(problem, plan, "P0")
    [partner] = [a for a in why.alternatives if a.facility == "PARTNER"]
    assert partner.blocker is Blocker.QUOTA_FULL
    assert partner.detail == "quota AGR-1 has no room"


def test_the_unplaced_are_told_which_quota_is_used_up() -> None:
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    plan = solve_greedy(problem)
    reasons = {u.patient: u for u in plan.unplaced}
    assert reasons["P2"].code is UnplacedReason.NO_AGREEMENT
    assert reasons["P2"].reason == (
        "the quota of AGR-1 (room 2) is used by other patients at every eligible facility"
    )
    assert explain(problem, plan, "P3").unplaced == reasons["P3"]
    # where beds elsewhere are full too, the beds' reason names the closed facilities
    full_home = parse_problem(
        problem_dict(
            [
                facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 10}),
                facility("HOME", 52.0, 21.0, beds={"orthopaedics": 0}),
            ],
            [patient(f"P{k}", precedence="urgent", organisation="ORG-A") for k in range(3)],
        )
    )
    plan = solve_exact(with_quotas(full_home, [QUOTA_2]), time_limit=30)
    [left] = plan.unplaced
    assert left.code is UnplacedReason.BEDS_FULL
    assert left.reason.endswith(
        "; 1 of them closed to the patient by the quota of AGR-1 (room 2), used by other patients"
    )


def test_a_quota_reason_is_not_given_to_a_patient_whose_own_reason_differs() -> None:
    # A and B share a profile; B comes too late for every facility's acceptance to end, so its
    # reason is that, whatever the quota that closes the only facility with beds to A
    problem = parse_problem(
        problem_dict(
            [
                facility("EMPTY", 50.0, 30.0, beds={"orthopaedics": 0}),
                facility("PARTNER", 51.0, 30.0, beds={"orthopaedics": 5}),
            ],
            [
                patient("A", lon=31.0, organisation="ORG-A", length_of_stay_days=1),
                patient("B", lon=31.0, organisation="ORG-A", length_of_stay_days=1, earliest_day=3),
                patient("X", lat=52.0, organisation="ORG-A", precedence="urgent"),
            ],
        )
    )
    problem = with_acceptance_ends(problem, [("EMPTY", "ORG-A", 1), ("PARTNER", "ORG-A", 2)])
    problem = with_quotas(problem, [Quota("Q", 1, frozenset({"ORG-A"}), frozenset({"PARTNER"}))])
    for plan in (solve_greedy(problem), solve_exact(problem, time_limit=30)):
        reasons = {u.patient: u for u in plan.unplaced}
        assert set(reasons) == {"A", "B"}
        assert reasons["A"].code is UnplacedReason.BEDS_FULL
        assert "closed to the patient by the quota of Q (room 1)" in reasons["A"].reason
        assert reasons["B"].code is UnplacedReason.NO_AGREEMENT
        assert reasons["B"].reason.endswith("before the patient's earliest day 3")


def test_a_quota_without_room_is_not_said_to_be_used_by_others() -> None:
    # room 0 from the start (patients sent earlier used it): nobody in the plan uses it
    problem = with_quotas(
        parse_problem(
            problem_dict(
                [facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 10})],
                [patient("P0", organisation="ORG-A")],
            )
        ),
        [Quota("Q", 0, frozenset({"ORG-A"}), frozenset({"PARTNER"}))],
    )
    [left] = solve_greedy(problem).unplaced
    assert left.code is UnplacedReason.NO_AGREEMENT
    assert left.reason == "the quota of Q (room 0) has no room at every eligible facility"


def test_only_quotas_with_more_candidates_than_room_may_bind() -> None:
    free = partner_and_home()
    loose = Quota("AGR-LOOSE", 4, frozenset({"ORG-A"}), frozenset({"PARTNER"}))
    home = Quota("AGR-HOME", 1, frozenset({"ORG-A"}), frozenset({"HOME"}))  # P0, P1 only
    problem = with_quotas(free, [QUOTA_2, loose, home])
    view = ProblemView(problem)
    assert binding_quotas(view, build_compact(view)) == [0, 2]


def test_the_large_engine_starts_from_the_pooled_lps_prices_and_keeps_to_quotas() -> None:
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    messages: list[str] = []
    plan = solve_exact(problem, time_limit=4, progress=messages.append, large_units=0)
    assert check_plan(problem, plan).feasible
    assert "1 quota(s) may bind: prices from the LP with beds pooled under them" in messages
    assert any(m.startswith("bound with beds pooled under the quotas") for m in messages)
    # the quota's price sends the urgent patients, who have another place, to HOME
    assert at(plan) == {"P0": "HOME", "P1": "HOME", "P2": "PARTNER", "P3": "PARTNER"}


@random_problems(30)
def test_the_large_engines_fill_and_searches_keep_to_the_quotas(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """The fill and relocation kernels count each quota's room left, and the neighbourhood
    MIPs have a row per quota: neither the Lagrangian engine's plan nor the neighbourhood
    search on a plan within the quotas goes beyond one."""
    free = random_problem(rng, n_patients, n_facilities)
    problem = with_quotas(free, random_quotas(rng, free))
    view = ProblemView(problem)
    compact = build_compact(view)
    result = solve_lagrangian(problem, view, time.perf_counter() + 2.0, lambda _: None, compact)
    counts = quota_counts(view, result.facility, result.day)
    assert (counts <= view.quota_room).all(), (counts, view.quota_room)
    # the neighbourhood search from the greedy plan, with random bed prices choosing the
    # candidate columns, keeps to them as well
    start = at_day_0(solve_greedy(problem))
    bed_prices = rng.uniform(0, 30) * np.ones(view.beds.shape)
    no_admission_prices = np.zeros((view.n_facilities, view.horizon))
    better = improve_plan(
        problem, compact, start, bed_prices, no_admission_prices, time.perf_counter() + 5.0,
        lambda _: None,
    )  # fmt: skip
    if better is not None:
        facility, day = placement_arrays(problem, better)
        assert (quota_counts(view, facility, day) <= view.quota_room).all()
        report = check_placement(problem, view, better)
        assert report.feasible, report.violations


@random_problems(25)
def test_the_placement_kernels_count_the_rooms_they_take_and_give_back(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """After the fill, the insertion by ejection, the regrouping and the relocation passes
    (which take places and give them back), the room the kernels' capacity holds under each
    quota is its room less the placements under it, and never below 0."""
    free = random_problem(rng, n_patients, n_facilities)
    problem = with_quotas(free, random_quotas(rng, free))
    plans, compact, slot_f, slot_a, capacity = nobody_placed(problem)
    arrays = compact.kernel_problem()
    no_prices = plans.true_costs(_Dual(compact, 0.0))
    cum, mu, low, unit_combo, unit_qrow, qcost = no_prices
    kernels.fill(
        plans.order, plans.slot_unit, plans.groups, slot_f, slot_a, cum, mu, arrays, capacity,
        low, unit_combo, unit_qrow, qcost,
    )  # fmt: skip
    plans.eject(slot_f, slot_a, arrays, capacity, no_prices)
    kernels.regroup(plans.slot_unit, plans.groups, slot_f, slot_a, arrays, capacity)
    kernels.relocate(
        plans.order, plans.slot_unit, plans.groups, slot_f, slot_a, arrays, capacity, 3, no_prices
    )  # fmt: skip
    left = capacity[6][0]
    assert np.array_equal(left, compact.quota_room - compact.quota_use(plans.slot_unit, slot_f))
    assert (left >= 0).all()


@random_problems(25)
def test_the_pooled_bound_is_a_bound(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    free = random_problem(rng, n_patients, n_facilities)
    problem = with_quotas(free, random_quotas(rng, free))
    optimum = solve_patient_mip(problem, time_limit=30)
    assert optimum.status is PlanStatus.OPTIMAL
    view = ProblemView(problem)
    pooled = pooled_prices(view, build_compact(view), 30)
    assert pooled is not None
    assert pooled.bound <= optimum.objective + 1e-6 * max(1, optimum.objective)


@random_problems(25)
def test_the_lagrangian_at_the_pooled_lps_prices_is_at_least_its_bound(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """The pooled LP's prices (each pool's bed prices at its facilities, the quotas' prices)
    start the large engine's ascent: the problem's Lagrangian there is at least the pooled
    bound, and a bound."""
    free = random_problem(rng, n_patients, n_facilities)
    problem = with_quotas(free, random_quotas(rng, free))
    view = ProblemView(problem)
    compact = build_compact(view)
    pooled = pooled_prices(view, compact, 30)
    assert pooled is not None
    no_admission_prices = np.zeros((view.n_facilities, view.horizon))
    at_prices = lagrangian_bound(
        problem, view, compact, (pooled.bed_prices, no_admission_prices), pooled.quota_prices
    )
    tolerance = 1e-6 * max(1.0, abs(pooled.bound))
    assert at_prices >= pooled.bound - tolerance
    optimum = solve_patient_mip(problem, time_limit=30)
    assert optimum.status is PlanStatus.OPTIMAL
    assert at_prices <= optimum.objective + tolerance


def test_the_pooled_bound_sees_the_patients_no_room_takes() -> None:
    # three urgent patients, room for two at PARTNER, no beds at HOME: one must be left out,
    # which a bound without quotas cannot see
    problem = with_quotas(
        parse_problem(
            problem_dict(
                [
                    facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 10}),
                    facility("HOME", 52.0, 21.0, beds={"orthopaedics": 0}),
                ],
                [patient(f"P{k}", precedence="urgent", organisation="ORG-A") for k in range(3)],
            )
        ),
        [QUOTA_2],
    )
    optimum = solve_patient_mip(problem, time_limit=30)
    assert optimum.breakdown.unplaced == 100 * 1000
    view = ProblemView(problem)
    pooled = pooled_prices(view, build_compact(view), 30)
    assert pooled is not None
    bound = pooled.bound
    assert abs(bound - optimum.objective) <= 1e-6 * optimum.objective


def test_the_lagrangian_prices_quotas() -> None:
    """The Lagrangian of the large engine relaxes each quota with a price: at the right price
    the room goes to those who lose most without it and the bound meets the optimum."""
    problem = with_quotas(partner_and_home(), [QUOTA_2])
    optimum = solve_patient_mip(problem, time_limit=30).objective
    free = solve_patient_mip(partner_and_home(), time_limit=30).objective
    view = ProblemView(problem)
    compact = build_compact(view)
    zero = (np.zeros(view.beds.shape), np.zeros((view.n_facilities, view.horizon)))
    assert lagrangian_bound(problem, view, compact, zero) == pytest.approx(free)
    # the price at which an urgent patient is indifferent between PARTNER and HOME
    home, partner = (problem.facility_index[f] for f in ("HOME", "PARTNER"))
    indifferent = 0.01 * (view.distance[0, home] - view.distance[0, partner])
    bound = lagrangian_bound(problem, view, compact, zero, np.array([indifferent]))
    assert bound == pytest.approx(optimum)
    assert optimum > free + 10
    # any price gives a bound
    for price in (0.5 * indifferent, 3 * indifferent, 2000.0):
        assert lagrangian_bound(problem, view, compact, zero, np.array([price])) < optimum
    # the slope of the price is the placements under the quota less its room: 4 - 2
    dual = _Dual(compact, 0.0)
    _, gradient, _ = dual.evaluate(np.zeros(dual.size), 0.0)
    assert gradient[dual.quota_start :].tolist() == [2.0]
    # the ascent finds the price
    result = solve_lagrangian(problem, view, time.perf_counter() + 2, lambda _: None)
    assert result.bound == pytest.approx(optimum, rel=1e-3)
    assert result.quota_prices is not None
    assert result.quota_prices[0] > 0


def test_explain_puts_the_days_after_an_agreement_s_end_on_the_end_not_the_quota() -> None:
    # PARTNER admits ORG-A until day 1: the quota closes days 0-1 there, the end days 2-4
    # (all five had been put on the quota)
    problem = with_acceptance_ends(
        with_quotas(partner_and_home(), [QUOTA_2]), [("PARTNER", "ORG-A", 1)]
    )
    plan = solve_exact(problem, time_limit=30)
    why = explain(problem, plan, "P0")
    assert why.facility == "HOME"
    at_partner = [a for a in why.alternatives if a.facility == "PARTNER"]
    assert [(a.blocker, a.first_day, a.last_day) for a in at_partner] == [
        (Blocker.QUOTA_FULL, 0, 1),
        (Blocker.ACCEPTANCE_ENDED, 2, 4),
    ]
    assert at_partner[1].detail == "admits patients of ORG-A until day 1"
