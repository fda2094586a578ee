"""The JSON Schemas in docs/formats accept the shipped examples and refuse unknown keys."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from medevac.simulation.presets import PRESETS

FORMATS = Path(__file__).parents[3] / "docs" / "formats"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FORMATS / name).read_text(encoding="utf-8"))
    return loaded


def shipped(name: str) -> Any:
    text = resources.files("medevac.data.scenarios").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@pytest.mark.parametrize("name", list(PRESETS))
def test_shipped_scenarios_follow_the_scenario_schema(name: str) -> None:
    jsonschema.validate(shipped(f"{name}.json"), schema("simulation-scenario.schema.json"))


def test_shipped_deployment_example_follows_the_problem_schema() -> None:
    jsonschema.validate(
        shipped("deployment-example.json"), schema("deployment-problem.schema.json")
    )


def test_scenario_schema_refuses_unknown_keys() -> None:
    data = shipped("field-hospital-100-beds.json")
    data["resources"]["helicopters"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("simulation-scenario.schema.json"))


def test_problem_schema_lists_every_shipped_scenario() -> None:
    hospital = schema("deployment-problem.schema.json")["properties"]["hospitals"]["items"]
    assert set(hospital["properties"]["scenario"]["enum"]) == set(PRESETS)
