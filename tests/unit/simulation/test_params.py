"""Scenario parameters: validated, frozen, round-trip through JSON, clear errors with paths."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib import resources
from typing import Any

import pytest

from medevac.simulation.params import (
    Duration,
    ParameterError,
    scenario_from_dict,
    scenario_to_dict,
)
from medevac.simulation.presets import PRESETS, field_hospital_100_beds


def demo_data() -> dict[str, Any]:
    return scenario_to_dict(field_hospital_100_beds())


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_json(name: str) -> None:
    scenario = PRESETS[name]()
    data = json.loads(json.dumps(scenario_to_dict(scenario)))
    assert scenario_from_dict(data) == scenario


@pytest.mark.parametrize("name", list(PRESETS))
def test_shipped_scenario_files_match_the_presets(name: str) -> None:
    shipped = resources.files("medevac.data.scenarios").joinpath(f"{name}.json")
    data = json.loads(shipped.read_text(encoding="utf-8"))
    assert scenario_from_dict(data) == PRESETS[name]()


def test_parameters_are_frozen() -> None:
    scenario = field_hospital_100_beds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.days = 3  # type: ignore[misc]


def edit(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(demo_data())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def theatre_hours(opens: float, closes: float) -> dict[str, Any]:
    data = copy.deepcopy(demo_data())
    data["resources"]["theatre_hours"] = {"opens": opens, "closes": closes}
    return data


def admitted_with_stay(distribution: str) -> dict[str, Any]:
    data = edit(("case_mix", 0, "admission_probability"), 0.5)
    data["case_mix"][0]["length_of_stay"] = {"distribution": distribution, "mean_hours": 0}
    return data


def test_whole_numbers_written_with_a_point_are_read_as_the_schema_takes_them() -> None:
    # the published schema accepts 50.0 for an integer (JSON Schema does); the loader had
    # refused it as "must be a whole number, got 50.0"
    scenario = scenario_from_dict(edit(("resources", "beds"), 50.0))
    assert scenario.resources.beds == 50
    assert isinstance(scenario.resources.beds, int)
    assert scenario_from_dict(edit(("days",), 1e1)).days == 10


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (edit(("resources", "beds"), -1), r"^resources\.beds: must be >= 0"),
        (edit(("resources", "beds"), 2.5), r"^resources\.beds: must be a whole number"),
        (edit(("case_mix", 2, "admission_probability"), 1.5), r"^case_mix\[2\]\.admission_prob"),
        (
            edit(("case_mix", 1, "length_of_stay", "mean_hours"), 0),
            r"^case_mix\[1\]\.length_of_stay\.mean_hours: must be > 0",
        ),
        (
            edit(("case_mix", 0, "consultation", "distribution"), "gamma"),
            r"^case_mix\[0\]\.consultation\.distribution: unknown distribution 'gamma'",
        ),
        (edit(("arrivals", "colour"), "red"), r"^arrivals\.colour: unknown key"),
        (edit(("arrivals", "hourly_profile"), [1.0] * 23), r"^arrivals\.hourly_profile: needs 24"),
        (edit(("arrivals", "surge"), [1.0, -2.0]), r"^arrivals\.surge\[1\]: must be >= 0"),
        (edit(("resources", "theatre_hours", "opens"), 25), r"^resources\.theatre_hours\.opens"),
        # a bad closing hour had been reported as opens
        (
            edit(("resources", "theatre_hours", "closes"), 25),
            r"^resources\.theatre_hours\.closes: need 0 <= opens < closes <= 24, got 25$",
        ),
        (
            edit(("resources", "theatre_hours", "closes"), -1),
            r"^resources\.theatre_hours\.closes: need 0 <= opens < closes <= 24, got -1$",
        ),
        (
            theatre_hours(opens=10, closes=8),
            r"^resources\.theatre_hours\.closes: .* got opens 10 and closes 8$",
        ),
        (
            theatre_hours(opens=8, closes=8),
            r"^resources\.theatre_hours\.closes: .* got opens 8 and closes 8$",
        ),
        (
            theatre_hours(opens=-1, closes=8),
            r"^resources\.theatre_hours\.opens: need 0 <= opens < closes <= 24, got -1$",
        ),
        # a stay of 0 hours for admitted patients had been accepted (they took no bed)
        (
            admitted_with_stay("exponential"),
            r"^case_mix\[0\]\.length_of_stay\.mean_hours: must be > 0 when admission_prob",
        ),
        (
            admitted_with_stay("fixed"),
            r"^case_mix\[0\]\.length_of_stay\.mean_hours: must be > 0 when admission_prob",
        ),
        (edit(("policies", "holding_wait_limit_hours"), -1), r"^policies\.holding_wait_limit"),
        (edit(("warmup_days",), 30), r"^warmup_days: must be smaller than days"),
        (edit(("days",), True), r"^days: must be a whole number"),
        (edit(("resources", "operating_tables"), 0), r"^resources\.operating_tables: a class"),
        (edit(("case_mix", 1, "name"), "minor"), r"^case_mix\[1\]\.name: duplicate class"),
        (edit(("case_mix",), "many"), r"^case_mix: must be a list"),
        ([1, 2], r"^\(top level\): must be a JSON object"),
        # upper limits (mutating the shipped scenarios found these killing the process for
        # memory or overflowing deep in the simulation)
        (edit(("days",), 10**20), r"^days: must be at most 3,660, got 1e\+20"),
        (
            edit(("case_mix", 1, "length_of_stay", "sd_hours"), 1e308),
            r"^case_mix\[1\]\.length_of_stay\.sd_hours: must be at most 100,000",
        ),
        (
            edit(("case_mix", 1, "length_of_stay", "mean_hours"), 0.001),
            r"^case_mix\[1\]\.length_of_stay\.sd_hours: .* more than 100 times mean_hours",
        ),
        (
            edit(("arrivals", "hourly_profile"), [1.0] * 13 + [1e308] + [1.0] * 10),
            r"^arrivals\.hourly_profile\[13\]: must be at most 1,000,000",
        ),
        (edit(("resources", "beds"), 10**9), r"^resources\.beds: must be at most 100,000"),
        (
            edit(("arrivals", "surge"), [1000.0]),
            r"^arrivals\.patients_per_day: 30 days .* expect 12,600,000 .* at most 5,000,000",
        ),
    ],
)
def test_bad_values_are_refused_with_their_path(data: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        scenario_from_dict(data)


def test_missing_keys_are_named() -> None:
    data = demo_data()
    del data["resources"]["beds"]
    with pytest.raises(ParameterError, match=r"^resources\.beds: required"):
        scenario_from_dict(data)


def test_no_beds_and_no_holding_limit_is_refused() -> None:
    data = edit(("resources", "beds"), 0)
    data["policies"]["holding_wait_limit_hours"] = None
    with pytest.raises(ParameterError, match="wait forever"):
        scenario_from_dict(data)


def test_lognormal_duration_needs_a_spread() -> None:
    with pytest.raises(ParameterError, match="sd_hours"):
        Duration.lognormal(2.0, 0.0)


def test_hourly_rates_follow_surge_and_profile() -> None:
    scenario = field_hospital_100_beds()
    rates = scenario.arrivals.hourly_rates(2)
    assert sum(rates[:24]) == pytest.approx(420.0)
    assert max(rates[:24]) > 1.5 * (420.0 / 24)
