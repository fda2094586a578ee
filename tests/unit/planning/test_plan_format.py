"""Problem and plan JSON follow the published schemas; plans round-trip."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from medevac.planning import (
    PlanFormatError,
    ProblemError,
    document_text,
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


@pytest.mark.parametrize(
    ("where", "text"),
    [
        (("patients", 0, "id"), "  "),
        (("patients", 0, "id"), "P\u001b[31m"),
        (("patients", 0, "id"), "P\u202e1"),
        (("patients", 0, "id"), "P\u0085"),
        (("patients", 0, "id"), "P2\u2028P9"),
        (("patients", 0, "group"), "G\u2029"),
        (("facilities", 0, "id"), "\t"),
        (("patients", 0, "specialty"), " "),
        (("facilities", 0, "beds"), {"": 1}),
        (("facilities", 0, "beds"), {"ortho\u2066": 1}),
        (("precedences",), {"": {"weight": 1, "deadline_day": 0}}),
    ],
)
def test_the_problem_schema_refuses_the_texts_the_loader_refuses(
    where: tuple[str | int, ...], text: Any
) -> None:
    # a blank id, a control character, a bidirectional override, an empty specialty name
    # or precedence name: valid under the schema, refused by the loader (found by a review)
    data = random_problem_dict(seed=5, n_patients=2, n_facilities=1)
    jsonschema.validate(data, schema("problem"))
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = text
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))
    with pytest.raises(ProblemError):
        parse_problem(data)


def test_the_problem_schema_takes_the_texts_the_loader_takes() -> None:
    data = random_problem_dict(seed=5, n_patients=2, n_facilities=1)
    data["patients"][0]["id"] = "P 1 \u00e9\u200d\u0915\u094d"  # a space, an accent, a joiner
    data["patients"][1]["needs"] = ["oxyg\u00e8ne"]
    jsonschema.validate(data, schema("problem"))
    parse_problem(data)


def test_a_plan_with_an_unknown_key_or_bad_status_is_refused_with_its_path() -> None:
    problem = parse_problem(random_problem_dict(seed=5, n_patients=3, n_facilities=2))
    data = plan_to_dict(solve_exact(problem))
    data["assignments"].append({"patient": "P0", "facility": "F0", "day": 1, "bed": 3})
    with pytest.raises(PlanFormatError, match=r"assignments\[\d+\]: unknown key\(s\) bed$"):
        plan_from_dict(data)
    data = plan_to_dict(solve_exact(problem))
    data["status"] = "great"
    with pytest.raises(PlanFormatError, match="status: 'great'; must be one of optimal, feasible"):
        plan_from_dict(data)


def test_a_plan_file_giving_a_key_twice_is_refused_with_its_path(tmp_path: Path) -> None:
    problem = parse_problem(random_problem_dict(seed=5, n_patients=3, n_facilities=2))
    text = document_text(plan_to_dict(solve_exact(problem)))
    path = tmp_path / "plan.json"
    path.write_text(text.replace('{"patient": ', '{"day": 0, "patient": ', 1))
    with pytest.raises(PlanFormatError, match=r"assignments\[0\].day: is given more than once"):
        load_plan(path)


def test_a_plan_whose_own_figures_disagree_is_refused_naming_them() -> None:
    problem = parse_problem(random_problem_dict(seed=5, n_patients=3, n_facilities=2))
    good = plan_to_dict(solve_exact(problem))
    assert good["status"] == "optimal"
    assert good["objective"] > 1
    terms = dict.fromkeys(good["breakdown"], 0.0)
    for change, said in [
        ({"gap": -7.0}, "gap: must be at least 0, got -7"),
        ({"wall_seconds": -3}, "wall_seconds: must be at least 0, got -3"),
        ({"solver": None}, "solver: must be a string"),
        (
            {"unplaced": [{"patient": 17, "reason": "r"}]},
            r"unplaced\[0\].patient: must be a string",
        ),
        (
            {"unplaced": [{"patient": "P9", "reason": None}]},
            r"unplaced\[0\].reason: must be a string",
        ),
        ({"status": ["optimal"]}, "status: not a string; must be one of"),
        ({"solver": "exact\x00"}, r"solver: holds a control character \(U\+0000, character 6"),
        ({"solver": "\ud800"}, r"solver: is not valid Unicode text \(a lone surrogate\)"),
        (
            {"unplaced": [{"patient": "P\x1b[2J", "reason": "r"}]},
            r"unplaced\[0\].patient: holds a control character \(U\+001B",
        ),
        ({"\x1b[2J": 1, "": 2}, r'plan: unknown key\(s\) "", "\\u001b\[2J"$'),
        ({"breakdown": terms}, "breakdown: its terms add up to 0, not to the objective"),
        ({"bound": good["objective"] + 5}, "bound: .* is above the objective .*; a lower bound"),
        ({"gap": 0.5}, r"gap: 0.5 is not \(objective - bound\) / max\(1, \|objective\|\) = 0"),
        ({"status": "infeasible_input"}, "status: infeasible_input .*, yet the plan has"),
    ]:
        with pytest.raises(PlanFormatError, match=said):
            plan_from_dict({**good, **change})
    # an optimal plan states no gap: the same figures are fine for a feasible one
    bound = good["objective"] - 1.0
    gap = 1.0 / max(1.0, abs(good["objective"]))
    stopped = {**good, "bound": bound, "gap": gap}
    with pytest.raises(PlanFormatError, match="status: optimal, yet the gap is"):
        plan_from_dict(stopped)
    assert plan_from_dict({**stopped, "status": "feasible"}).gap == gap
    # a day written 1.0 is day 1, as the problem's loader reads whole numbers; -1 is no day
    placed = [{**a, "day": float(a["day"])} for a in good["assignments"]]
    assert plan_from_dict({**good, "assignments": placed}) == plan_from_dict(good)
    for day, said in [(-1, "must be at least 0, got -1"), (1.5, "must be a whole number")]:
        bad = [{**good["assignments"][0], "day": day}]
        with pytest.raises(PlanFormatError, match=rf"assignments\[0\].day: {said}"):
            plan_from_dict({**good, "assignments": bad})


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _VALUES, max_size=5))
def test_document_text_is_the_same_json(document: dict[str, Any]) -> None:
    assert json.loads(document_text(document)) == document


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_json_has_no_infinities_nor_nan_so_none_are_written_or_read(value: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        document_text({"bound": value})
    problem = parse_problem(random_problem_dict(seed=5, n_patients=3, n_facilities=2))
    data = plan_to_dict(solve_exact(problem))
    data["bound"] = value
    with pytest.raises(PlanFormatError, match="bound: must be a finite number"):
        plan_from_dict(data)


def test_a_written_plan_holds_one_admission_per_line(tmp_path: Path) -> None:
    plan = solve_exact(parse_problem(random_problem_dict(7, 12, 4)), time_limit=10)
    assert plan.assignments
    out = tmp_path / "plan.json"
    write_plan(plan, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    for a in plan.assignments:
        (line,) = [x for x in lines if f'"{a.patient}"' in x]
        entry = json.loads(line.strip().rstrip(","))
        assert entry == {"patient": a.patient, "facility": a.facility, "day": a.day}
    assert load_plan(out).assignments == plan.assignments


def test_the_schema_counts_white_space_in_names_as_the_loader_does() -> None:
    # "\\S" is read as ECMA-262 by other validators, where U+FEFF is white space: a name of it
    # alone, which the loader takes, would be refused there (found by a review); the schema
    # names Python's white space one by one
    pattern = schema("problem")["$defs"]["name"]["pattern"]
    assert "\\S" not in pattern
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert spaces
    assert not any(re.search(pattern, space) for space in spaces)
    for name in ("\ufeff", "a", " a ", "\u200b", "\u00e9"):
        assert re.search(pattern, name)
