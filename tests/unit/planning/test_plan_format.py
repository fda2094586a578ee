"""Problem and plan JSON follow the published schemas; plans round-trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from medevac.planning import (
    PlanFormatError,
    load_plan,
    parse_problem,
    plan_from_dict,
    plan_to_dict,
    problem_to_dict,
    refused_plan,
    solve_exact,
    write_plan,
)
from tests.unit.planning.builders import random_problem_dict

FORMATS = Path(__file__).resolve().parents[3] / "docs" / "formats"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FORMATS / f"allocation-{name}.schema.json").read_text())
    return loaded


def test_problems_and_plans_validate_against_their_schemas(tmp_path: Path) -> None:
    data = random_problem_dict(seed=5, n_patients=10, n_facilities=3)
    jsonschema.validate(data, schema("problem"))
    problem = parse_problem(data)
    jsonschema.validate(problem_to_dict(problem), schema("problem"))
    plan = solve_exact(problem)
    jsonschema.validate(plan_to_dict(plan), schema("plan"))
    write_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan_from_dict(plan_to_dict(plan))
    jsonschema.validate(plan_to_dict(refused_plan(["x: is missing"])), schema("plan"))


def test_the_problem_schema_refuses_unknown_keys_like_the_loader() -> None:
    data = random_problem_dict(seed=5, n_patients=2, n_facilities=1)
    data["patients"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))


def test_a_plan_with_an_unknown_key_or_bad_status_is_refused_with_its_path() -> None:
    problem = parse_problem(random_problem_dict(seed=5, n_patients=3, n_facilities=2))
    data = plan_to_dict(solve_exact(problem))
    data["assignments"].append({"patient": "P0", "facility": "F0", "day": 1, "bed": 3})
    with pytest.raises(PlanFormatError, match=r"assignments\[\d+\]: unknown key\(s\) bed"):
        plan_from_dict(data)
    data = plan_to_dict(solve_exact(problem))
    data["status"] = "great"
    with pytest.raises(PlanFormatError, match="status: 'great' is not a plan status"):
        plan_from_dict(data)
