"""Reading problem files: every error is reported with its path; nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.planning import ProblemError, load_problem, parse_problem, problem_to_dict
from tests.unit.planning.builders import facility, patient, problem_dict


def errors_of(data: Any) -> list[str]:
    with pytest.raises(ProblemError) as caught:
        parse_problem(data)
    return caught.value.errors


def good() -> dict[str, Any]:
    return problem_dict(
        [facility("F1", 52.0, 21.0, beds={"orthopaedics": 2, "neurology": [1, 1, 2, 2, 2]})],
        [patient("P1"), patient("P2", specialty="neurology", current={"facility": "F1", "day": 1})],
    )


def test_a_valid_problem_round_trips_through_its_json_form() -> None:
    problem = parse_problem(good())
    again = parse_problem(json.loads(json.dumps(problem_to_dict(problem))))
    assert again == problem
    assert problem.facility("F1").beds["orthopaedics"] == (2, 2, 2, 2, 2)
    assert problem.patient("P2").current is not None


def test_optional_fields_take_their_documented_defaults() -> None:
    problem = parse_problem(good())
    f = problem.facility("F1")
    p = problem.patient("P1")
    assert (f.capabilities, f.accepts_from, f.daily_admission_limit) == (frozenset(), None, None)
    assert (p.earliest_day, p.needs, p.organisation, p.group) == (0, frozenset(), None, None)
    assert (p.max_distance_km, p.current) == (None, None)


def test_missing_keys_are_named_with_their_path() -> None:
    data = good()
    del data["weights"]["change"]
    del data["patients"][1]["length_of_stay_days"]
    errors = errors_of(data)
    assert "weights.change: is missing" in errors
    assert "patients[1].length_of_stay_days: is missing" in errors


def test_unknown_specialty_not_offered_anywhere_is_refused() -> None:
    data = good()
    data["patients"].append(patient("P3", specialty="burn"))
    assert errors_of(data) == [
        'patients[2].specialty: "burn" is not offered by any facility and is not a known specialty'
    ]


def test_a_known_specialty_that_no_facility_offers_is_accepted() -> None:
    data = good()
    data["patients"].append(patient("P3", specialty="burns"))
    assert parse_problem(data).patient("P3").specialty == "burns"


def test_negative_beds_and_wrong_list_length_are_refused() -> None:
    data = good()
    data["facilities"][0]["beds"] = {"orthopaedics": -1, "neurology": [1, 2, 3]}
    errors = errors_of(data)
    assert "facilities[0].beds.orthopaedics: must be at least 0, got -1" in errors
    assert "facilities[0].beds.neurology: has 3 daily values; horizon_days is 5" in errors


def test_counts_days_and_weights_beyond_any_real_operation_are_refused() -> None:
    # a bed count of 10**20 passed validation and the engines failed with an OverflowError
    data = good()
    data["facilities"][0]["beds"] = {"orthopaedics": 10**20, "neurology": [1, 1, 2, 2, 10**7]}
    data["facilities"][0]["daily_admission_limit"] = 10**7
    data["patients"][0]["length_of_stay_days"] = 10**6
    data["weights"]["unplaced"] = 1e300
    data["precedences"]["routine"]["deadline_day"] = 10**6
    errors = errors_of(data)
    assert f"facilities[0].beds.orthopaedics: must be at most 1000000, got {10**20}" in errors
    assert "facilities[0].beds.neurology[4]: must be at most 1000000, got 10000000" in errors
    assert "facilities[0].daily_admission_limit: must be at most 1000000, got 10000000" in errors
    assert "patients[0].length_of_stay_days: must be at most 100000, got 1000000" in errors
    assert "weights.unplaced: must be at most 1e+09, got 1e+300" in errors
    assert "precedences.routine.deadline_day: must be at most 100000, got 1000000" in errors


_NUMERIC_FIELDS = [
    ("facilities", 0, "beds", "orthopaedics"),
    ("facilities", 0, "daily_admission_limit"),
    ("patients", 0, "length_of_stay_days"),
    ("patients", 1, "max_distance_km"),
    ("weights", "unplaced"),
    ("weights", "travel_per_km"),
    ("precedences", "routine", "weight"),
    ("precedences", "routine", "deadline_day"),
]


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(_NUMERIC_FIELDS),
    value=st.integers(min_value=0, max_value=10**30)
    | st.floats(min_value=0.0, max_value=1e308, allow_nan=False),
)
def test_an_extreme_number_is_refused_or_planned_without_failing(
    field: tuple[Any, ...], value: float
) -> None:
    from medevac.planning import check_plan, solve_exact, solve_greedy

    data = good()
    target: Any = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    try:
        problem = parse_problem(data)
    except ProblemError:
        return
    for plan in (solve_greedy(problem), solve_exact(problem, time_limit=5)):
        report = check_plan(problem, plan)
        assert report.feasible, report.violations
        assert report.objective_matches(plan.objective)


def test_duplicate_ids_are_refused_naming_both_places() -> None:
    data = good()
    data["patients"].append(patient("P1"))
    data["facilities"].append(facility("F1", 50.0, 10.0))
    errors = errors_of(data)
    assert "patients[2].id: 'P1' duplicates patients[0].id" in errors
    assert "facilities[1].id: 'F1' duplicates facilities[0].id" in errors


def test_unknown_keys_are_errors_not_ignored() -> None:
    data = good()
    data["patients"][0]["colour"] = "red"
    data["extra"] = 1
    errors = errors_of(data)
    assert any(e.startswith("patients[0].colour: is not a known key") for e in errors)
    assert any(e.startswith("extra: is not a known key") for e in errors)


def test_bad_precedence_days_and_current_facility_are_all_reported_together() -> None:
    data = good()
    data["patients"][0]["precedence"] = "asap"
    data["patients"][0]["earliest_day"] = 5
    data["patients"][1]["current"] = {"facility": "F9", "day": 0}
    data["facilities"][0]["lat"] = 95
    errors = errors_of(data)
    assert len(errors) == 4
    assert errors[0] == "facilities[0].lat: must be at most 90, got 95"
    assert errors[1].startswith('patients[0].precedence: "asap" is not defined in precedences')
    assert errors[2] == "patients[0].earliest_day: must be at most 4, got 5"
    assert errors[3] == "patients[1].current.facility: 'F9' is not a facility of this problem"


def test_a_key_given_twice_in_one_object_is_refused_with_its_path(tmp_path: Path) -> None:
    # the decoder keeps the last and says nothing: 0 beds, the first patient's neurology
    text = json.dumps(good())
    text = text.replace('"beds": {', '"beds": {"orthopaedics": 1, ', 1)
    text = text.replace('"specialty": ', '"specialty": "neurology", "specialty": ', 1)
    path = tmp_path / "twice.json"
    path.write_text(text)
    with pytest.raises(ProblemError) as refused:
        load_problem(path)
    assert refused.value.errors == [
        "facilities[0].beds.orthopaedics: is given more than once in its object",
        "patients[0].specialty: is given more than once in its object",
    ]


def test_a_repeated_key_that_is_not_a_plain_name_is_quoted_in_its_path(tmp_path: Path) -> None:
    # as the loader writes such keys elsewhere: "beds.a.b" read as a key b inside a
    text = json.dumps(good()).replace('"beds": {', '"beds": {"a.b": 1, "a.b": 2, ', 1)
    path = tmp_path / "twice.json"
    path.write_text(text)
    with pytest.raises(ProblemError) as refused:
        load_problem(path)
    assert refused.value.errors == [
        'facilities[0].beds["a.b"]: is given more than once in its object'
    ]


def test_a_null_current_place_is_refused_not_taken_for_none() -> None:
    data = good()
    data["patients"][1]["current"] = None
    assert errors_of(data) == ["patients[1].current: must be an object, got null"]


def test_a_value_nested_nearly_as_deep_as_json_allows_is_refused_with_its_path(
    tmp_path: Path,
) -> None:
    # the deepest the decoder takes here (it depends on the stack already in use); quoting the
    # value in the error had gone deeper still and crashed on the deepest 30 or so levels
    def nested(depth: int) -> str:
        return json.dumps(good()).replace('"P1"', "[" * depth + "]" * depth, 1)

    deepest = 2000
    while deepest > 0:
        try:
            json.loads(nested(deepest))
        except RecursionError:
            deepest -= 10
            continue
        break
    path = tmp_path / "deep.json"
    for depth in [10, *range(max(1, deepest - 40), deepest + 10)]:
        path.write_text(nested(depth))
        with pytest.raises(ProblemError) as refused:
            load_problem(path)
        first = refused.value.errors[0]
        assert first.startswith("patients[0].id: must be a non-empty string, got ") or (
            first.endswith("is not valid JSON (nested too deeply)") and depth > deepest
        ), (depth, first)


def test_booleans_and_fractions_are_not_whole_numbers() -> None:
    data = good()
    data["horizon_days"] = True
    data["patients"][0]["length_of_stay_days"] = 2.5
    errors = errors_of(data)
    assert "horizon_days: must be a whole number, got true" in errors
    assert "patients[0].length_of_stay_days: must be a whole number, got 2.5" in errors


def test_a_file_that_is_not_json_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"horizon_days": 3,,}')
    with pytest.raises(ProblemError, match=r"is not valid JSON \(line 1, column 20"):
        load_problem(path)


def test_a_missing_file_is_a_problem_error(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match="cannot be read"):
        load_problem(tmp_path / "absent.json")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20) | st.floats(-100, 100) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(mutation=st.sampled_from(["patients", "facilities", "weights", "precedences", "root"]),
       value=JSON)  # fmt: skip
def test_arbitrary_json_in_any_place_gives_a_problem_or_a_problem_error(
    mutation: str, value: Any
) -> None:
    data = good()
    if mutation == "root":
        data = value
    elif mutation in ("patients", "facilities"):
        data[mutation].append(value)
    else:
        data[mutation] = value
    assert all(": " in e for e in _errors_or_none(data))


def _errors_or_none(data: Any) -> list[str]:
    try:
        parse_problem(data)
    except ProblemError as error:
        return error.errors or ["(raised with no errors)"]
    return []
