"""Problem files at the edges of the format: lone surrogates, odd keys, a wrong horizon, numbers
at the limits, malformed sections; each refused with the path in the file and the reason, and
only once, with no follow-on errors that a fix of the first would not leave."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.domain.errors import json_error
from medevac.planning import ProblemError, load_problem, parse_problem, refused_plan, write_plan
from tests.unit.planning.builders import facility, patient, problem_dict


def errors_of(data: Any) -> list[str]:
    with pytest.raises(ProblemError) as caught:
        parse_problem(data)
    return caught.value.errors


def file_errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(ProblemError) as caught:
        load_problem(path)
    return caught.value.errors


def good() -> dict[str, Any]:
    """Horizon 2; a list of beds of that length, a patient due on day 1 now at F1 on day 1."""
    return problem_dict(
        [facility("F1", 52.0, 21.0, beds={"orthopaedics": [1, 1], "neurology": 2})],
        [
            patient("P1", earliest_day=1),
            patient("P2", specialty="neurology", current={"facility": "F1", "day": 1}),
        ],
        horizon_days=2,
    )


def written(errors: list[str], tmp_path: Path) -> None:
    """The errors can be written as the refused plan's reason and printed as UTF-8, and hold
    no control character (an ESC sequence would reach the terminal)."""
    write_plan(refused_plan(errors), tmp_path / "plan.json")
    for error in errors:
        error.encode("utf-8")
        assert error.isprintable(), error


# 1. a lone surrogate (JSON's "\ud800") passed the loader; writing the plan then failed


def test_a_lone_surrogate_in_a_string_is_refused_with_its_path(tmp_path: Path) -> None:
    text = json.dumps(good()).replace('"P1"', '"\\ud800"').replace('"F1"', '"F\\udc00"', 1)
    errors = file_errors(tmp_path, text)
    assert errors == [
        "facilities[0].id: is not valid Unicode text (a lone surrogate)",
        "patients[0].id: is not valid Unicode text (a lone surrogate)",
    ]
    written(errors, tmp_path)


@pytest.mark.parametrize(
    ("before", "key", "said"),
    [
        ('"horizon_days"', '"\\ud800": 1', '["\\ud800"]: is not a known key'),
        ('"length_of_stay_days"', '"\\ud800x": 1', 'patients[0]["\\ud800x"]: is not a known'),
        ('"orthopaedics"', '"\\ud800": 1', 'facilities[0].beds["\\ud800"]: is not valid'),
        ('"routine"', '"\\ud800": {}', 'precedences["\\ud800"]: is not valid Unicode text'),
    ],
)  # fmt: skip
def test_a_lone_surrogate_in_a_key_is_refused_escaped(
    tmp_path: Path, before: str, key: str, said: str
) -> None:
    text = json.dumps(good()).replace(before, f"{key}, {before}", 1)
    errors = file_errors(tmp_path, text)
    assert any(e.startswith(said) for e in errors), errors
    written(errors, tmp_path)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('"P\\u0000"', "holds a control character (U+0000, character 2)"),
        ('"\\u001b[2JP"', "holds a control character (U+001B, character 1)"),
        ('"P\\n1"', "holds a control character (U+000A, character 2)"),
        ('"P\\u0085"', "holds a control character (U+0085, character 2)"),
    ],
)  # fmt: skip
def test_a_control_character_in_a_string_is_refused_with_its_path(
    tmp_path: Path, text: str, said: str
) -> None:
    # a NUL gave a plan that `plan check`, `show` and `explain` could not read (the plan's
    # reader refuses it, as PostgreSQL does); an ESC sequence in an id reached the terminal
    data = json.dumps(good()).replace('"P1"', text)
    assert file_errors(tmp_path, data) == [f"patients[0].id: {said}"]
    needs = good()
    needs["patients"][1]["needs"] = ["paediatric\t"]
    needs["facilities"][0]["beds"]["orth\u0007"] = 1
    assert errors_of(needs) == [
        'facilities[0].beds["orth\\u0007"]: holds a control character (U+0007, character 5)',
        "patients[1].needs[0]: holds a control character (U+0009, character 11)",
    ]


def test_spaces_and_format_characters_are_not_control_characters() -> None:
    data = good()
    data["patients"][0]["id"] = "P\u00a01\u200d"  # a no-break space, a zero-width joiner
    assert parse_problem(data).patients[0].id == "P\u00a01\u200d"


def test_a_repeated_key_that_is_not_printable_is_escaped(tmp_path: Path) -> None:
    text = json.dumps(good()).replace(
        '"orthopaedics"', '"\\u001b[2J": 1, "\\u001b[2J": 2, "\\ud800": 1, "\\ud800": 2, '
        '"orthopaedics"', 1
    )  # fmt: skip
    errors = file_errors(tmp_path, text)
    assert len(errors) == 2
    written(errors, tmp_path)


# 2. a wrong horizon_days was replaced by 1 or 366, which gave false errors of its own


@pytest.mark.parametrize(
    ("horizon", "said"),
    [
        ("2", 'horizon_days: must be a whole number, got "2"'),
        (0, "horizon_days: must be at least 1, got 0"),
        (400, "horizon_days: must be at most 366, got 400"),
        (None, "horizon_days: is missing"),
    ],
)
def test_a_wrong_horizon_is_the_only_error_not_its_follow_ons(horizon: Any, said: str) -> None:
    data = good()
    if horizon is None:
        del data["horizon_days"]
    else:
        data["horizon_days"] = horizon
    if horizon == 400:
        data["facilities"][0]["beds"]["orthopaedics"] = [1] * 400
        data["patients"][0]["earliest_day"] = 300
    assert errors_of(data) == [said]


def test_with_a_wrong_horizon_what_does_not_depend_on_it_is_still_checked() -> None:
    data = good()
    data["horizon_days"] = "2"
    data["facilities"][0]["beds"]["orthopaedics"] = [1, -1]
    data["patients"][0]["earliest_day"] = -1
    assert errors_of(data) == [
        'horizon_days: must be a whole number, got "2"',
        "facilities[0].beds.orthopaedics[1]: must be at least 0, got -1",
        "patients[0].earliest_day: must be at least 0, got -1",
    ]


# 3. numbers beyond a limit were shown rounded, as if within it


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        (("facilities", 0, "lat"), 90.0000001, "facilities[0].lat: must be at most 90, got "
                                                "90.0000001"),
        (("weights", "unplaced"), 1000000000.5, "weights.unplaced: must be at most 1e+09, got "
                                                "1000000000.5"),
        (("weights", "change"), -1.234567e-05, "weights.change: must be at least 0, got "
                                               "-1.234567e-05"),
        (("patients", 0, "lon"), 10**30, f"patients[0].lon: must be at most 180, got {10**30}"),
        # whole numbers too: 1e308 had been shown as "an integer of about 309 digits"
        (("facilities", 0, "beds", "neurology"), 1e308, "facilities[0].beds.neurology: must be "
                                                        "at most 1000000, got 1e+308"),
        (("patients", 0, "earliest_day"), -2.0, "patients[0].earliest_day: must be at least 0, "
                                                "got -2.0"),
    ],
)  # fmt: skip
def test_a_number_beyond_its_limit_is_shown_as_given(
    where: tuple[Any, ...], value: Any, said: str
) -> None:
    data = good()
    target: Any = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    assert errors_of(json.loads(json.dumps(data))) == [said]


# 4. keys that are not plain names made paths ambiguous or sent control characters


def test_keys_that_are_not_plain_names_are_written_as_json_strings(tmp_path: Path) -> None:
    data = good()
    data["precedences"]["a.b"] = {"weight": -1, "deadline_day": 0}
    beds = data["facilities"][0]["beds"]
    beds["\x1b[2J\x1b[31mX"] = -1
    beds[" "] = 1
    beds["a.b[0]"] = -2
    data["patients"][0]["x.y"] = 1
    errors = errors_of(data)
    assert errors == [
        'precedences["a.b"].weight: must be at least 0, got -1',
        'facilities[0].beds["\\u001b[2J\\u001b[31mX"]: holds a control character (U+001B, '
        "character 1)",
        'facilities[0].beds[" "]: specialty names must be non-empty',
        'facilities[0].beds["a.b[0]"]: must be at least 0, got -2',
        'patients[0]["x.y"]: is not a known key (allowed: current, earliest_day, group, id, '
        "lat, length_of_stay_days, lon, max_distance_km, needs, organisation, precedence, "
        "specialty)",
    ]
    written(errors, tmp_path)


def test_plain_names_stay_as_they_were() -> None:
    data = good()
    data["precedences"]["very-urgent_2"] = {"weight": -1, "deadline_day": 0}
    data["facilities"][0]["beds"]["orthopaedics"] = -1
    assert errors_of(data) == [
        "precedences.very-urgent_2.weight: must be at least 0, got -1",
        "facilities[0].beds.orthopaedics: must be at least 0, got -1",
    ]


def test_the_precedences_listed_for_an_undefined_one_are_escaped() -> None:
    data = good()
    data["precedences"]["\u200bX"] = {"weight": 1, "deadline_day": 0}  # a zero-width space
    data["patients"][0]["precedence"] = "asap"
    assert errors_of(data) == [
        'patients[0].precedence: "asap" is not defined in precedences '
        '(priority, routine, urgent, "\\u200bX")'
    ]
    data["precedences"]["\x1bX"] = data["precedences"].pop("\u200bX")
    assert errors_of(data) == [
        'precedences["\\u001bX"]: holds a control character (U+001B, character 1)',
        'patients[0].precedence: "asap" is not defined in precedences (priority, routine, urgent)',
    ]


def test_a_long_unknown_value_and_many_precedences_are_cut_in_the_message() -> None:
    # a 10,000-character specialty made a 10,084-character line
    data = good()
    data["patients"][0]["specialty"] = "x" * 10_000
    for i in range(12):
        data["precedences"][f"level-{i:02}" + "y" * (50 if i == 0 else 0)] = {
            "weight": 1, "deadline_day": 0
        }  # fmt: skip
    data["patients"][1]["precedence"] = "asap"
    assert errors_of(data) == [
        f'patients[0].specialty: "{"x" * 36}... is not offered by any facility and is not a '
        "known specialty",
        f'patients[1].precedence: "asap" is not defined in precedences (level-00{"y" * 29}'
        "..., level-01, level-02, level-03, level-04, level-05, level-06, level-07, "
        "level-08, level-09 and 5 more)",
    ]


@settings(max_examples=200, deadline=None)
@given(key=st.text(max_size=6))
def test_any_key_gives_printable_errors_that_can_be_written(key: str) -> None:
    data = good()
    data["facilities"][0]["beds"][key] = -1
    data["precedences"][key] = None
    data["patients"][0][key] = 1
    try:
        parse_problem(data)
    except ProblemError as error:
        for line in error.errors:
            line.encode("utf-8")
            assert line.isprintable(), line


# 5. an integer of more than 4300 digits gave Python's advice to call sys.set_int_max_str_digits


def test_an_integer_of_too_many_digits_is_refused_with_its_place(tmp_path: Path) -> None:
    text = json.dumps(good(), indent=1)
    text = text.replace('"P1"', '"' + "7" * 5000 + '"')  # a string of digits is no number
    text = text.replace('"neurology": 2', '"neurology": 1.' + "1" * 5000, 1)  # nor a fraction
    head, _, tail = text.rpartition('"length_of_stay_days": 3')  # of the second patient
    text = f'{head}"length_of_stay_days": -{"9" * 5000}{tail}'
    at = text.index("-999")
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    [error] = file_errors(tmp_path, text)
    assert error.endswith(
        f"p.json: is not valid JSON (line {line}, column {column}: a number has 5000 digits; "
        "at most 4300 are read)"
    ), error
    assert "sys." not in error


def test_a_control_character_in_the_text_is_named_in_a_whole_sentence() -> None:
    # Python's message ends "Invalid control character at", its position having followed
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads('{"P\x00": 1}')
    assert json_error(caught.value) == "line 1, column 4: Invalid control character"


def test_without_the_text_the_digits_are_said_without_their_place() -> None:
    with pytest.raises(ValueError, match="integer string conversion") as caught:
        json.loads("-" + "1" * 5000)
    assert json_error(caught.value) == "a number has more than 4300 digits"


def test_a_number_too_large_for_a_float_is_shown_as_the_file_wrote_it(tmp_path: Path) -> None:
    # the decoder makes 1e400 infinite, and the message had said "got Infinity"; then "must be
    # a whole number" (1e400 is one) and "must be a finite number" (as written it is one)
    text = json.dumps(good()).replace('"horizon_days": 2', '"horizon_days": 1e400')
    text = text.replace('"lat": 52.0', '"lat": -1.5E+999')
    text = text.replace('"wait_per_day": 1', '"wait_per_day": ' + "9" * 400 + ".5")
    errors = file_errors(tmp_path, text)
    assert "horizon_days: must be at most 366, got 1e400" in errors, errors
    assert "facilities[0].lat: must be at least -90, got -1.5E+999" in errors, errors
    assert f"weights.wait_per_day: must be at most 1e+09, got {'9' * 37}..." in errors, errors
    assert not [e for e in errors if "Infinity" in e], errors


# 6. a malformed section made the valid references into it look undefined


def test_a_precedence_whose_rule_is_wrong_is_still_defined() -> None:
    data = good()
    data["precedences"]["routine"] = None
    assert errors_of(data) == ["precedences.routine: must be an object, got null"]


@pytest.mark.parametrize(
    ("precedences", "said"),
    [
        (None, "precedences: is missing"),
        ([], "precedences: must be an object, got a list"),
        ({}, "precedences: must define at least one precedence"),
    ],
)
def test_precedences_that_cannot_be_read_are_reported_once(precedences: Any, said: str) -> None:
    data = good()
    if precedences is None:
        del data["precedences"]
    else:
        data["precedences"] = precedences
    assert errors_of(data) == [said]


@pytest.mark.parametrize(
    ("facilities", "said"),
    [
        ("F1", ["facilities: must be a list, got a string"]),
        ([None], ["facilities[0]: must be an object, got null"]),
        (
            [facility("F1", 0.0, 0.0, beds=None)],
            ["facilities[0].beds: must be an object mapping specialty to beds, got null"],
        ),
        ([facility("", 0.0, 0.0)], ['facilities[0].id: must be a non-empty string, got ""']),
    ],
)
def test_facilities_that_cannot_be_read_give_no_follow_ons(
    facilities: Any, said: list[str]
) -> None:
    data = good()
    data["facilities"] = facilities
    data["patients"][0]["specialty"] = "oncology-paediatric"  # not known: offered perhaps
    assert errors_of(data) == said


def test_facilities_read_whole_still_check_what_patients_name() -> None:
    data = good()
    data["patients"][0]["specialty"] = "burn"
    data["patients"][1]["current"]["facility"] = "F9"
    assert errors_of(data) == [
        'patients[0].specialty: "burn" is not offered by any facility and is not a known specialty',
        "patients[1].current.facility: 'F9' is not a facility of this problem",
    ]


def test_a_specialty_whose_beds_are_wrong_is_still_offered() -> None:
    data = good()
    data["facilities"][0]["beds"] = {"oncology-paediatric": [1, 1, 1]}
    data["patients"][0]["specialty"] = "oncology-paediatric"
    del data["patients"][1]
    assert errors_of(data) == [
        "facilities[0].beds.oncology-paediatric: has 3 daily values; horizon_days is 2"
    ]


# 7. the smaller ones


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (7, "the problem: must be an object, got a number"),
        (2.5, "the problem: must be an object, got a number"),
        ([], "the problem: must be an object, got a list"),
        (None, "the problem: must be an object, got null"),
    ],
)
def test_a_document_that_is_not_an_object_is_named_as_the_problem(data: Any, said: str) -> None:
    assert errors_of(data) == [said]


def test_a_number_where_an_object_belongs_is_called_a_number() -> None:
    data = good()
    data["precedences"]["urgent"] = 5
    data["weights"] = 1.5
    assert errors_of(data) == [
        "precedences.urgent: must be an object, got a number",
        "weights: must be an object, got a number",
    ]


def test_beds_that_are_neither_a_number_nor_a_list_say_both_are_allowed() -> None:
    data = good()
    data["facilities"][0]["beds"]["orthopaedics"] = {"day0": 1}
    data["facilities"][0]["beds"]["neurology"] = 1.5
    assert errors_of(data) == [
        "facilities[0].beds.orthopaedics: must be a whole number or a list of horizon_days (2) "
        'whole numbers, got {"day0": 1}',
        "facilities[0].beds.neurology: must be a whole number, got 1.5",
    ]


def test_a_utf8_file_that_begins_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good()).encode("utf-8"))
    assert load_problem(path) == parse_problem(good())


def test_numbers_of_numpy_and_decimal_are_taken_as_numbers() -> None:
    data = good()
    data["horizon_days"] = np.int64(2)
    data["facilities"][0]["lat"] = np.float32(52.5)
    data["facilities"][0]["lon"] = Decimal("21.25")
    data["facilities"][0]["beds"]["neurology"] = np.float64(2.0)
    data["patients"][0]["length_of_stay_days"] = np.int32(4)
    problem = parse_problem(data)
    assert problem == parse_problem(
        {**good(), "facilities": [facility("F1", 52.5, 21.25, beds={"orthopaedics": [1, 1],
                                                                     "neurology": 2})],
         "patients": [patient("P1", earliest_day=1, length_of_stay_days=4),
                      good()["patients"][1]]}
    )  # fmt: skip
    assert type(problem.horizon_days) is int


def test_numbers_of_numpy_and_decimal_beyond_a_limit_or_not_whole_are_refused() -> None:
    data = good()
    data["horizon_days"] = np.bool_(True)
    data["facilities"][0]["lat"] = np.float32(95.5)
    data["facilities"][0]["lon"] = Decimal("NaN")
    data["patients"][0]["length_of_stay_days"] = Decimal("2.5")
    data["patients"][1]["lat"] = True
    errors = errors_of(data)
    assert errors[1:] == [
        "facilities[0].lat: must be at most 90, got 95.5",
        "facilities[0].lon: must be a finite number, got NaN",
        "patients[0].length_of_stay_days: must be a whole number, got 2.5",
        "patients[1].lat: must be a finite number, got true",
    ]
    assert errors[0].startswith("horizon_days: must be a whole number, got ")
