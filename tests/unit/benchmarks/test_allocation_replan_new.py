"""The allocation benchmark's --replan-new: patients held back from the first solve, new in the
re-plan, and the re-plan's line against greedy."""

from __future__ import annotations

from medevac.planning import parse_problem, solve_greedy

from .test_allocation_settings import _benchmark


def test_held_back_leaves_out_that_many_patients_drawn_from_the_seed() -> None:
    benchmark = _benchmark()
    data = benchmark.named_problem("60x6", 3)
    first = benchmark.held_back(data, 10, 3)
    kept = [p["id"] for p in first["patients"]]
    assert len(kept) == 50
    assert len(set(kept)) == 50
    assert set(kept) < {p["id"] for p in data["patients"]}
    assert kept != [p["id"] for p in data["patients"][:50]]  # drawn, not the last ten
    assert [p["id"] for p in benchmark.held_back(data, 10, 3)["patients"]] == kept
    assert benchmark.held_back(data, 0, 3) is data
    assert len(data["patients"]) == 60  # the problem itself is left whole


def test_the_replan_gives_the_held_back_patients_no_current_place() -> None:
    benchmark = _benchmark()
    data = benchmark.named_problem("60x6", 3)
    first_problem = parse_problem(benchmark.held_back(data, 10, 3))
    first = solve_greedy(first_problem)
    line = benchmark.replan("60x6", data, first, 5.0, 10)
    placed_first = {a.patient for a in first.assignments}
    for p in data["patients"]:
        assert ("current" in p) == (p["id"] in placed_first)
    assert "10 new patients; greedy" in line
    assert "checker ok" in line
