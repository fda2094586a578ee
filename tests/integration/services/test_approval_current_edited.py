"""A re-plan's problem whose current places were edited by hand, its digests made anew, is
refused by `plan approve` (SQLite and PostgreSQL): dropping a patient's `current` would let
the plan move it with no change cost, moving it would keep it where it never was."""

from __future__ import annotations

from typing import Any

import pytest

from medevac.planning import parse_problem, solve_exact
from medevac.services.demo import build_demo
from medevac.services.manifests import with_manifest
from medevac.services.regulating import ProblemNotAsBuilt
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_approval_review_dec7 import edited
from tests.integration.services.test_plan_approval import approver, built

pytestmark = pytest.mark.storage


def test_current_places_edited_by_hand_are_refused_naming_the_patients(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=True)  # a live plan: a re-plan
    problem = built(uow_factory)
    placed = [p for p in problem.problem["patients"] if "current" in p]
    assert len(placed) >= 2
    first, second = placed[0], placed[1]
    other = next(
        f["id"] for f in problem.problem["facilities"] if f["id"] != first["current"]["facility"]
    )

    def moved_and_dropped(document: dict[str, Any]) -> None:
        by_id = {p["id"]: p for p in document["patients"]}
        by_id[first["id"]]["current"] = {"facility": other, "day": 0}
        del by_id[second["id"]]["current"]

    tampered = edited(problem, moved_and_dropped)
    plan = solve_exact(
        with_manifest(parse_problem(tampered.problem), tampered.manifest), time_limit=30
    )
    with pytest.raises(ProblemNotAsBuilt) as refused:
        approver(tampered, plan)(uow_factory())
    was = first["current"]
    assert refused.value.mismatches == [
        f"patient {first['id']}: current {other} on day 0, {was['facility']} on day "
        f"{was['day']} in the live plans",
        f"patient {second['id']}: current none, {second['current']['facility']} on day "
        f"{second['current']['day']} in the live plans",
    ]
    # the problem as built is approved
    solved = solve_exact(problem.for_engines(), time_limit=30)
    assert approver(problem, solved)(uow_factory()).plan.admissions
