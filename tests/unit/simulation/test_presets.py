"""The WHO EMT presets meet the minimum capacities of the WHO EMT classification.

The minimums (see docs/simulation.md, "Ready-made scenarios", for the sources): type 1 mobile
at least 50 outpatients a day, type 1 fixed at least 100, both outpatient only and deployed for
at least 14 days; type 2 at least 100 outpatients, 20 inpatients and 7 major or 15 minor
operations a day; type 3 at least 100 outpatients, 40 inpatients and 15 major or 30 minor
operations a day. Table counts and theatre hours are the project's assumptions; the tests only
check that the theatre time they give could meet the WHO operation minimums.
"""

from __future__ import annotations

import pytest

from medevac.simulation.params import Scenario
from medevac.simulation.presets import (
    who_emt_type_1_fixed,
    who_emt_type_1_mobile,
    who_emt_type_2,
    who_emt_type_3,
)

# preset, WHO minimum outpatients a day, WHO minimum inpatient beds
WHO_MINIMUMS = [
    pytest.param(who_emt_type_1_mobile(), 50, 0, id="type-1-mobile"),
    pytest.param(who_emt_type_1_fixed(), 100, 0, id="type-1-fixed"),
    pytest.param(who_emt_type_2(), 100, 20, id="type-2"),
    pytest.param(who_emt_type_3(), 100, 40, id="type-3"),
]

# preset, WHO minimum major operations a day, WHO minimum minor operations a day
WHO_OPERATIONS = [
    pytest.param(who_emt_type_2(), 7, 15, id="type-2"),
    pytest.param(who_emt_type_3(), 15, 30, id="type-3"),
]


@pytest.mark.parametrize(("scenario", "outpatients", "beds"), WHO_MINIMUMS)
def test_presets_meet_the_who_outpatient_and_bed_minimums(
    scenario: Scenario, outpatients: int, beds: int
) -> None:
    assert scenario.arrivals.patients_per_day >= outpatients
    assert scenario.resources.beds >= beds


@pytest.mark.parametrize("scenario", [who_emt_type_1_mobile(), who_emt_type_1_fixed()])
def test_type_1_presets_are_outpatient_only_for_the_minimum_deployment(
    scenario: Scenario,
) -> None:
    assert scenario.resources.beds == 0
    assert scenario.resources.operating_tables == 0
    assert scenario.days >= 14


def operations_a_day(scenario: Scenario, class_name: str) -> float:
    """Operations of a class the tables could do in a day if they did nothing else."""
    (case,) = [case for case in scenario.case_mix if case.name == class_name]
    hours = scenario.resources.theatre_hours
    table_hours = scenario.resources.operating_tables * (hours.closes - hours.opens)
    return table_hours / case.surgery.mean_hours


@pytest.mark.parametrize(("scenario", "major", "minor"), WHO_OPERATIONS)
def test_theatre_time_could_meet_the_who_operation_minimums(
    scenario: Scenario, major: int, minor: int
) -> None:
    assert operations_a_day(scenario, "major trauma") >= major
    assert operations_a_day(scenario, "moderate") >= minor
