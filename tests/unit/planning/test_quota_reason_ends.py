"""The reason given to a patient left out where quotas close some of its eligible facilities
and acceptance ends close the others: each closure said for what it is."""

from __future__ import annotations

import random

from medevac.planning import (
    Quota,
    UnplacedReason,
    parse_problem,
    solve_greedy,
    with_acceptance_ends,
    with_quotas,
)
from medevac.planning.model import ProblemView
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_acceptance_ends,
    random_problem,
    random_quotas,
)


def test_a_facility_closed_by_its_acceptance_end_is_not_said_to_be_under_the_quota() -> None:
    # F1 is under Q, which P1 uses up; F2 is under no quota and stops admitting A on day 1
    data = problem_dict(
        [
            facility("F1", 50.0, 30.0, beds={"orthopaedics": 5}),
            facility("F2", 50.0, 31.0, beds={"orthopaedics": 5}),
        ],
        [
            patient("P1", precedence="urgent", length_of_stay_days=2, organisation="A"),
            patient("P2", length_of_stay_days=2, organisation="A", earliest_day=2),
        ],
        horizon_days=4,
    )
    problem = with_quotas(parse_problem(data), [Quota("Q", 1, frozenset({"A"}), frozenset({"F1"}))])
    problem = with_acceptance_ends(problem, [("F2", "A", 1)])
    plan = solve_greedy(problem)
    assert [(a.patient, a.facility, a.day) for a in plan.assignments] == [("P1", "F1", 0)]
    [unplaced] = plan.unplaced
    assert unplaced.code is UnplacedReason.NO_AGREEMENT
    assert unplaced.reason == (
        "the quota of Q (room 1) is used by other patients at the 1 eligible facility that "
        "admits the patient; the other 1 eligible facility stops admitting patients of A by "
        "day 1, before the patient's earliest day 2"
    )

    # with F2 under the quota too, every eligible facility is closed by it
    both = Quota("Q", 1, frozenset({"A"}), frozenset({"F1", "F2"}))
    plan = solve_greedy(with_quotas(parse_problem(data), [both]))
    [unplaced] = plan.unplaced
    assert unplaced.reason == (
        "the quota of Q (room 1) is used by other patients at every eligible facility"
    )


def test_every_eligible_facility_said_closed_by_a_quota_is_under_it() -> None:
    # random problems with quotas and ends: "at every eligible facility" is said only where
    # each eligible facility is under a quota of the patient with no room left
    said = 0
    for seed in range(150):
        rng = random.Random(seed)
        base = random_problem(rng, rng.randint(4, 12), rng.randint(2, 5))
        problem = with_acceptance_ends(
            with_quotas(base, random_quotas(rng, base)), random_acceptance_ends(rng, base)
        )
        plan = solve_greedy(problem)
        view = ProblemView(problem)
        for u in plan.unplaced:
            if "at every eligible facility" not in u.reason:
                continue
            said += 1
            i = problem.patient_index[u.patient]
            under = set()
            for q in view.quotas_of(i).tolist():
                if problem.quotas[q].id in u.reason:
                    under |= set(problem.quotas[q].facilities)
            eligible = {
                problem.facilities[f].id for f in view.screen(i).eligible.nonzero()[0].tolist()
            }
            assert eligible <= under, (seed, u)
    assert said > 0  # the property was put to the test
