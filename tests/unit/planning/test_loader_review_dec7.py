"""Findings of the review of 2026-12-07: numbers a float rounds, the cost of the warnings,
what the checker counts of rejected placements, and how its messages name things."""

from __future__ import annotations

import difflib
import json
import math
import re
from typing import Any

import pytest

from medevac.domain.geography import EARTH_RADIUS_KM
from medevac.planning import (
    PlanFormatError,
    ProblemError,
    Quota,
    check_plan,
    json_text,
    lint,
    load_plan,
    load_problem,
    parse_problem,
    plan_from_dict,
    with_quotas,
)
from medevac.planning.lint import problem_warnings
from tests.unit.planning.builders import facility, hand_plan, patient, problem_dict

WRITTEN = "__written__"  # stands for a number in the text, replaced by the number as written


def problem_text(facilities: list[dict[str, Any]], patients: list[dict[str, Any]]) -> str:
    return json.dumps(problem_dict(facilities, patients))


def errors_of(text: str, written: str) -> list[str]:
    """The errors of the problem ``text`` with its `WRITTEN` replaced by ``written``."""
    with pytest.raises(ProblemError) as caught:
        parse_problem(json_text.loads(text.replace(f'"{WRITTEN}"', written)))
    return caught.value.errors


def read(text: str, written: str) -> Any:
    return parse_problem(json_text.loads(text.replace(f'"{WRITTEN}"', written)))


# a number a float holds only rounded to a whole number: its float would have closed the
# facility (1e-400 admissions a day read as 0), given a third bed, moved a patient's first day
@pytest.mark.parametrize(
    ("where", "written", "error"),
    [
        (
            "limit",
            "1e-400",
            "facilities[0].daily_admission_limit: must be a whole number, got 1e-400",
        ),
        (
            "beds",
            "2.9999999999999999",
            "facilities[0].beds.orthopaedics: must be a whole number, got 2.9999999999999999",
        ),
        (
            "daily beds",
            "2.9999999999999999",
            "facilities[0].beds.orthopaedics[1]: must be a whole number, got 2.9999999999999999",
        ),
        (
            "earliest",
            "0.99999999999999999",
            "patients[0].earliest_day: must be a whole number, got 0.99999999999999999",
        ),
        (
            "lat",
            "90.000000000000001",
            "facilities[0].lat: must be at most 90, got 90.000000000000001",
        ),
        (
            "lon",
            "-180.00000000000001",
            "patients[0].lon: must be at least -180, got -180.00000000000001",
        ),
        ("distance", "-1e-400", "patients[0].max_distance_km: must be at least 0, got -1e-400"),
    ],
)
def test_a_number_a_float_rounds_to_a_whole_one_is_refused_as_written(
    where: str, written: str, error: str
) -> None:
    fields: dict[str, Any] = {}
    beds: dict[str, Any] = {"orthopaedics": 1}
    lat, lon = 50.0, 30.0
    extra: dict[str, Any] = {}
    if where == "limit":
        fields["daily_admission_limit"] = WRITTEN
    elif where == "beds":
        beds["orthopaedics"] = WRITTEN
    elif where == "daily beds":
        beds["orthopaedics"] = [1, WRITTEN, 1, 1, 1]
    elif where == "lat":
        lat = WRITTEN  # type: ignore[assignment]
    elif where == "earliest":
        extra["earliest_day"] = WRITTEN
    elif where == "lon":
        extra["lon"] = WRITTEN
    else:
        extra["max_distance_km"] = WRITTEN
    text = problem_text([facility("F1", lat, lon, beds=beds, **fields)], [patient("P1", **extra)])
    assert errors_of(text, written) == [error]


def test_numbers_whole_or_within_limits_as_written_are_taken_as_before() -> None:
    # whole as written in float notation: taken, as the loader always took them
    beds = {"orthopaedics": WRITTEN}
    text = problem_text([facility("F1", 50.0, 30.0, beds=beds)], [patient("P1")])
    for written, count in (("3.0", 3), ("1e2", 100), ("1E+2", 100), ("3.000000000000000000", 3)):
        assert read(text, written).facilities[0].beds["orthopaedics"][0] == count
    text = problem_text([facility("F1", 50.0, 30.0)], [patient("P1", earliest_day=WRITTEN)])
    assert read(text, "-0.0").patients[0].earliest_day == 0
    # a latitude a float rounds but within the limits as written: its float, as before
    text = problem_text([facility("F1", WRITTEN, 30.0)], [patient("P1")])  # type: ignore[arg-type]
    assert read(text, "89.999999999999999999").facilities[0].lat == 90.0
    assert read(text, "1e-400").facilities[0].lat == 0.0
    assert read(text, "90.0").facilities[0].lat == 90.0
    # beyond any exponent a decimal takes: refused as written, not a crash
    text = problem_text(
        [facility("F1", 50.0, 30.0, daily_admission_limit=WRITTEN)], [patient("P1")]
    )
    assert errors_of(text, "1e-99999999999999999999") == [
        "facilities[0].daily_admission_limit: must be a whole number, got 1e-99999999999999999999"
    ]
    assert read(text, "0e-99999999999999999999").facilities[0].daily_admission_limit == 0


def plan_text(day: str) -> str:
    plan = {
        "status": "feasible", "objective": 0, "bound": 0, "gap": 0, "solver": "s",
        "wall_seconds": 0, "breakdown": dict.fromkeys(
            ("unplaced", "wait", "late", "travel", "group_split", "change"), 0
        ),
        "unplaced": [],
        "assignments": [{"patient": "P1", "facility": "F1", "day": WRITTEN}],
    }  # fmt: skip
    return json.dumps(plan).replace(f'"{WRITTEN}"', day)


def test_a_plan_day_a_float_rounds_to_a_whole_one_is_refused() -> None:
    # it was read as day 1
    for day in ("0.99999999999999999", "1e-400"):
        with pytest.raises(
            PlanFormatError, match=r"^assignments\[0\]\.day: must be a whole number$"
        ):
            plan_from_dict(json_text.loads(plan_text(day)))
    for day in ("1", "1.0", "1e0"):
        assert plan_from_dict(json_text.loads(plan_text(day))).assignments[0].day == 1


def many_names(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n`` capabilities and ``n`` other needs, each of its own (lint_slow.py of the review)."""
    capabilities = [f"capability-{k:05d}-a" for k in range(n)]
    facilities = [facility("F1", 50.0, 30.0, capabilities=capabilities)]
    patients = [patient(f"P{k}", needs=[f"need-{k:05d}-b"]) for k in range(n)]
    return facilities, patients


def test_warnings_compare_a_bounded_number_of_names_however_many_there_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each need was compared with every capability: 20 s for 2,000 of each
    compared: list[int] = []
    real = difflib.get_close_matches

    def counting(word: str, possibilities: Any, *args: Any, **kwargs: Any) -> list[str]:
        possibilities = list(possibilities)
        compared.append(len(possibilities))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(lint.difflib, "get_close_matches", counting)
    # 2,000 comparisons of a need of 12 characters ("need-00001-b") with a capability of 18
    # ("capability-00001-a")
    monkeypatch.setattr(lint, "MAX_CHARACTER_PAIRS", 2_000 * 12 * 18)
    counts = []
    for n in (100, 400):
        compared.clear()
        warnings = problem_warnings(parse_problem(problem_dict(*many_names(n))))
        counts.append(sum(compared))
        assert sum(compared) <= 2_000
        [summary] = [w for w in warnings if "not compared" in w]
        assert summary.startswith(f"patients[{2_000 // n}].needs (and {n - 2_000 // n - 1} more): ")
    assert counts == [2_000, 2_000]


def test_warnings_compare_a_bounded_number_of_characters_however_long_the_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two capabilities and two needs of 150,000 characters, within a budget counted in names,
    # had taken 45 s; names over MAX_COMPARED_LENGTH are not compared, and a budget of pairs
    # of characters bounds the rest
    compared: list[tuple[int, int]] = []
    real = difflib.get_close_matches

    def counting(word: str, possibilities: Any, *args: Any, **kwargs: Any) -> list[str]:
        possibilities = list(possibilities)
        compared.append((len(word), sum(map(len, possibilities))))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(lint.difflib, "get_close_matches", counting)
    long = "x" * (lint.MAX_COMPARED_LENGTH + 1)
    capabilities = [long + "a", long + "b", "c" * lint.MAX_COMPARED_LENGTH]
    facilities = [facility("F1", 50.0, 30.0, capabilities=capabilities)]
    needs = [long + "c", "d" * lint.MAX_COMPARED_LENGTH]
    problem = parse_problem(problem_dict(facilities, [patient("P1", needs=needs)]))
    assert problem_warnings(problem) == []
    # the long need not compared at all, the other with the one short capability only
    assert compared == [(lint.MAX_COMPARED_LENGTH, lint.MAX_COMPARED_LENGTH)]
    compared.clear()
    pairs = lint.MAX_COMPARED_LENGTH * lint.MAX_COMPARED_LENGTH
    monkeypatch.setattr(lint, "MAX_CHARACTER_PAIRS", pairs - 1)
    [summary] = problem_warnings(problem)
    assert compared == []
    assert summary.startswith("patients[0].needs: 1 needs no facility has not compared")


def test_warnings_still_name_a_slip_among_few_names() -> None:
    facilities, patients = many_names(3)
    patients.append(patient("PX", needs=["capability-00001-b"]))
    warnings = problem_warnings(parse_problem(problem_dict(facilities, patients)))
    assert warnings == [
        'patients[3].needs: "capability-00001-b" is a capability of no facility; did you mean '
        '"capability-00001-a"? No facility can take a patient with this need'
    ]


def test_a_placement_already_rejected_counts_against_no_quota() -> None:
    # it added "quota Q: 1 patients placed under it, room 0" to "admitted on day 5"
    data = problem_dict([facility("F1", 50.0, 30.0)], [patient("P1", organisation="A")])
    problem = with_quotas(parse_problem(data), [Quota("Q", 0, frozenset({"A"}), frozenset({"F1"}))])
    assert check_plan(problem, hand_plan(("P1", "F1", 5))).violations == (
        "patient 'P1' admitted on day 5, outside 0..4",
    )


def test_a_placement_already_rejected_splits_no_group() -> None:
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 3})],
        [patient(p, group="G") for p in ("A", "B", "C")],
    )
    report = check_plan(
        parse_problem(data), hand_plan(("A", "F1", 0), ("B", "NOPE", 0), ("C", "F1", 9))
    )
    assert len(report.violations) == 2
    assert report.terms["group_split"] == 0


def test_a_distance_beyond_the_limit_reads_as_beyond_it() -> None:
    # "F1 is 100.0 km away, max 100.0"
    for beyond in (0.04, 1e-7):
        lon = math.degrees((100 + beyond) / EARTH_RADIUS_KM)
        data = problem_dict(
            [facility("F1", 0.0, lon)], [patient("P1", 0.0, 0.0, max_distance_km=100)]
        )
        [violation] = check_plan(parse_problem(data), hand_plan(("P1", "F1", 0))).violations
        found = re.fullmatch(r"patient 'P1': 'F1' is ([\d.]+) km away, max ([\d.]+)", violation)
        assert found is not None, violation
        assert float(found[1]) > float(found[2])


def test_bed_admission_and_need_violations_quote_facility_and_specialty() -> None:
    # facility "A b" with specialty "c" and facility "A" with specialty "b c" read the same
    def violations(fid: str, specialty: str) -> tuple[str, ...]:
        data = problem_dict(
            [facility(fid, 50.0, 30.0, beds={specialty: 1}, daily_admission_limit=1)],
            [
                patient(f"P{k}", specialty=specialty, needs=["x y"], length_of_stay_days=1)
                for k in range(2)
            ],
        )
        return check_plan(parse_problem(data), hand_plan(("P0", fid, 0), ("P1", fid, 0))).violations

    assert violations("A b", "c") == (
        "patient 'P0': 'A b' lacks 'x y'",
        "patient 'P1': 'A b' lacks 'x y'",
        "'A b' day 0: 2 'c' beds used, 1 free",
        "'A b' day 0: 2 admissions, limit 1",
    )
    assert violations("A", "b c")[2] == "'A' day 0: 2 'b c' beds used, 1 free"


def test_a_file_past_the_size_limit_is_refused_without_being_read_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # /dev/zero given as a problem or a plan was read until memory ran out, then a traceback
    monkeypatch.setattr(json_text, "MAX_FILE_BYTES", 3 * 1024 * 1024)
    for path in ("/dev/zero", tmp_path / "big.json"):
        if path != "/dev/zero":
            path.write_bytes(b" " * (3 * 1024 * 1024 + 1))
        with pytest.raises(ProblemError) as refused:
            load_problem(path)
        assert refused.value.errors == [f"{path}: holds more than 3 MiB, more than medevac reads"]
        with pytest.raises(
            PlanFormatError, match=r": holds more than 3 MiB, more than medevac reads"
        ):
            load_plan(path)
    at_limit = tmp_path / "at.json"
    at_limit.write_bytes(b"\xef\xbb\xbf{}" + b" " * (3 * 1024 * 1024 - 5))
    assert json_text.read_text(at_limit).strip() == "{}"


def test_long_ids_and_keys_are_cut_in_messages() -> None:
    # a duplicated id, a current facility or an unknown key of 100,000 characters made an
    # error line as long
    long = "X" * 100_000
    facilities = [facility(long, 50.0, 30.0), facility(long, 50.0, 30.0)]
    patients = [patient("P1", current={"facility": "Y" * 100_000, "day": 0}, **{long: 1})]
    with pytest.raises(ProblemError) as refused:
        parse_problem(problem_dict(facilities, patients))
    assert refused.value.errors
    assert all(len(line) < 300 for line in refused.value.errors), refused.value.errors
    text = "\n".join(refused.value.errors)
    assert f"facilities[1].id: '{'X' * 36}... duplicates facilities[0].id" in text
    assert f"patients[0].current.facility: '{'Y' * 36}... is not a facility of this problem" in text
    assert f'patients[0]["{"X" * 57}..."]' in text


def test_a_plan_day_beyond_the_longest_horizon_is_refused_as_a_short_line() -> None:
    def plan_text(day: str) -> str:
        return (
            '{"status": "feasible", "objective": 0, "bound": 0, "gap": 0, "solver": "s", '
            '"wall_seconds": 0, "breakdown": {"unplaced": 0, "wait": 0, "late": 0, '
            '"travel": 0, "group_split": 0, "change": 0}, "assignments": [{"patient": "P1", '
            f'"facility": "F1", "day": {day}}}], "unplaced": []}}'
        )

    assert plan_from_dict(json_text.loads(plan_text("365"))).assignments[0].day == 365
    with pytest.raises(PlanFormatError) as refused:
        plan_from_dict(json_text.loads(plan_text("366")))
    assert str(refused.value) == (
        "assignments[0].day: must be below 366, the longest horizon, got 366"
    )
    with pytest.raises(PlanFormatError) as refused:
        plan_from_dict(json_text.loads(plan_text("9" * 4_000)))
    assert str(refused.value).endswith("got a number of 4000 digits")


def test_the_checker_names_a_patient_without_an_organisation_as_such() -> None:
    data = problem_dict(
        [facility("F1", 50.0, 30.0, accepts_from=["A"])], [patient("P1", lat=50.0, lon=30.0)]
    )
    report = check_plan(parse_problem(data), hand_plan(("P1", "F1", 0)))
    assert (
        "patient 'P1': 'F1' does not accept patients without an organisation" in report.violations
    )
