"""Damaged problem and plan files are refused with an error naming their path, never a crash.

Small valid problems (and plans of them) have one to three places of their JSON tree damaged:
a key deleted, a value replaced (by any JSON value, by a number beyond a float, by a number
of too many digits, by nesting deeper than the decoder allows), a list element repeated, a
key added. The text is read as `medevac plan` reads files. A problem must be refused with a
`ProblemError` whose every error names its path, or be solved by the engines into a plan the
checker passes; a plan must be refused with a `PlanFormatError` naming its path, or be
checked and explained against its problem.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.planning import (
    PlanFormatError,
    PlanMismatch,
    PlanStatus,
    Problem,
    ProblemError,
    check_plan,
    explain,
    load_plan,
    load_problem,
    parse_problem,
    plan_mismatch,
    plan_to_dict,
    problem_to_dict,
    solve_exact,
    solve_greedy,
)
from medevac.planning.plan import BREAKDOWN_KEYS, relative_gap
from tests.unit.planning.builders import facility, patient, problem_dict, random_problem_dict

#: examples of each property test: enough to reach every section of the formats, few enough to
#: keep the file within a minute on a 2-core machine
EXAMPLES = 400

PROBLEM_KEYS = ("horizon_days", "precedences", "weights", "facilities", "patients")
PLAN_KEYS = (
    "plan", "status", "objective", "bound", "gap", "solver", "wall_seconds", "breakdown",
    "assignments", "unplaced",
)  # fmt: skip


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: numbers no Python value writes (`1e400`, `NaN`, a number of
    5,000 digits) and nesting deeper than a recursive writer goes."""

    text: str


def to_text(value: Any, ascii_only: bool = True) -> str:
    """``value`` as JSON text, each `Raw` as its text."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}: {to_text(v, ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_text(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


RAW_VALUES = [
    Raw(text)
    for text in (
        "1e400", "-1e400", "1e-400", "-1e-400", "NaN", "Infinity", "-Infinity",
        str(10**400), str(-(10**400)), "9" * 5000, "2.9999999999999999", "0.99999999999999999",
        "-0.0", "0e-999", "1e308", "-1e308", "1.7976931348623157e308", "5e-324", "1E2", "1e7",
        "3.0", "90.000000000000001", "-90.000000000000001", "366.0000000000001",
        str(2**63), str(2**64), str(-(2**63) - 1), "1e19", "1e999999999999",
        "1e-999999999999", "[" * 100_000 + "]" * 100_000, "[" * 900 + "]" * 900,
        '{"a": ' * 900 + "1" + "}" * 900,
    )
]  # fmt: skip

#: the formats' limits and numbers beside them, each side of what a file may hold
LIMITS: list[Any] = [
    0, 1, -1, 365, 366, 367, 99_999, 100_000, 100_001, 999_999, 1_000_000, 1_000_001,
    1e9, 1e9 + 1, 90, -90, 180, -180, 90.5, 1e-9, 0.0, -0.0, "F1", "P1", "G1", "ORG-A",
    "orthopaedics", "neurology", "burns", "general_surgery", "urgent", "routine", "paediatric",
]  # fmt: skip

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 30)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([-0.0, 0.5, 1.0, 1e308, -1e308, 1e9, 1e9 + 1, 1e6 + 1, 100000.5])
    | st.text(max_size=5)
    | st.sampled_from(["", " ", "\u00e9", "\u202e", "\x00", "\x1b[31m", "\ud800", "x" * 300])
    | st.sampled_from(RAW_VALUES)
)

JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)

TreePath = tuple[str | int, ...]


def tree_paths(value: Any, path: TreePath = ()) -> list[TreePath]:
    """Every place of a JSON tree (the root too), parents before children."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(tree_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(tree_paths(item, (*path, index)))
    return found


def leaf_values(value: Any) -> list[Any]:
    """The values found in a tree (ids, names, numbers), as stand-ins that are nearly right."""
    return [
        item
        for item in (at(value, p) for p in tree_paths(value))
        if not isinstance(item, dict | list)
    ]


def at(value: Any, path: TreePath) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def damaged(draw: st.DrawFn, document: Any) -> Any:
    """``document`` (not changed) with one to three places damaged: a key or an element
    deleted, a value replaced (by one found elsewhere in the document, a limit of the formats
    or any JSON value), an element repeated, a key or an element added."""
    document = copy.deepcopy(document)
    nearly = leaf_values(document) + LIMITS
    names = [v for v in nearly if isinstance(v, str)] + list(PROBLEM_KEYS)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(tree_paths(document)))
        value = draw(st.sampled_from(nearly) | JSON_VALUES)
        if not path:
            document = value if draw(st.booleans()) else document
            continue
        parent = at(document, path[:-1])
        step = path[-1]
        kind = draw(st.sampled_from(["delete", "replace", "replace", "repeat", "add"]))
        if kind == "delete":
            del parent[step]
        elif kind == "replace":
            parent[step] = value
        elif kind == "repeat" and isinstance(parent, list) and isinstance(step, int):
            parent.insert(step, copy.deepcopy(parent[step]))
        elif isinstance(parent, dict):  # a key added (or given a new value), else an element
            parent[draw(st.text(max_size=6) | st.sampled_from(names))] = value
        else:
            parent.append(value)
    return document


def small_problems() -> st.SearchStrategy[dict[str, Any]]:
    """Valid problems of a few patients: random ones, and one with every optional field."""
    every_field = problem_dict(
        [
            facility(
                "F1", 52.0, 21.0, capabilities=["paediatric"], accepts_from=["ORG-A"],
                daily_admission_limit=2, beds={"orthopaedics": 2, "neurology": [1, 1, 2, 2, 2]},
            ),
            facility("F2", 50.0, 20.0, beds={"burns": 1}),
        ],
        [
            patient("P1", needs=["paediatric"], organisation="ORG-A", group="G1", earliest_day=1),
            patient(
                "P2", specialty="neurology", group="G1", max_distance_km=800,
                current={"facility": "F1", "day": 1},
            ),
            patient("P3", specialty="burns", precedence="urgent"),
        ],
    )  # fmt: skip
    randoms = st.builds(
        random_problem_dict, st.integers(0, 2**31), st.integers(1, 4), st.integers(1, 3)
    )
    return st.just(every_field) | randoms


def written(directory: str, text: str) -> Path:
    path = Path(directory) / "file.json"
    # a lone surrogate written as it is gives bytes that are no UTF-8, which files may hold
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def named_paths(errors: list[str], keys: tuple[str, ...], file: Path) -> None:
    """Assert that each error begins with a path: a key of the format (or one added), a key
    written as JSON (`["x y"]`), or the file's name where the text is no JSON."""
    for error in errors:
        where, colon, reason = error.partition(": ")
        assert colon, error
        assert where.strip(), error
        assert reason.strip(), error
        root = where.partition(".")[0].partition("[")[0]
        known = root in keys or where.startswith(("[", "the problem", str(file)))
        assert known or reason.startswith("is not a known key"), error


def problem_read_or_refused(text: str) -> Problem | None:
    """The problem of ``text`` read from a file, or None where it is refused with its paths."""
    with tempfile.TemporaryDirectory() as directory:
        path = written(directory, text)
        try:
            return load_problem(path)
        except ProblemError as error:
            errors = error.errors
        assert errors
        named_paths(errors, PROBLEM_KEYS, path)
    return None


def solved_and_checked(problem: Problem) -> None:
    """Both engines solve ``problem`` into plans the checker passes, as they say."""
    for plan in (solve_greedy(problem), solve_exact(problem, time_limit=5)):
        report = check_plan(problem, plan)
        assert report.feasible, report.violations
        assert report.objective_matches(plan.objective)
        assert report.terms_apart(plan.breakdown) == []
        assert math.isfinite(plan.objective)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_damaged_problem_is_refused_with_its_paths_or_solved(data: st.DataObject) -> None:
    document = data.draw(damaged(data.draw(small_problems())))
    text = to_text(document, ascii_only=data.draw(st.booleans()))
    problem = problem_read_or_refused(text)
    if problem is not None:
        solved_and_checked(problem)


def plan_document() -> tuple[Problem, dict[str, Any]]:
    """A problem with a placed, an unplaced and a moved patient, and the JSON of its plan."""
    data = problem_dict(
        [facility("F1", 52.0, 21.0, beds={"orthopaedics": 1, "neurology": [0, 1, 1, 1, 1]})],
        [
            patient("P1", group="G1"),
            patient("P2", group="G1"),
            patient("P3", specialty="neurology", current={"facility": "F1", "day": 0}),
        ],
    )
    problem = parse_problem(data)
    return problem, plan_to_dict(solve_exact(problem, time_limit=5))


PLAN_PROBLEM, PLAN_DOCUMENT = plan_document()


def plan_read_or_refused(problem: Problem, text: str) -> None:
    """Read ``text`` as a plan file: refused with its path, or checked and explained against
    ``problem`` (each patient explained, or the plan said not to fit)."""
    with tempfile.TemporaryDirectory() as directory:
        path = written(directory, text)
        try:
            plan = load_plan(path)
        except PlanFormatError as error:
            refused = str(error)
        else:
            refused = ""
        if refused:
            named_paths([refused], PLAN_KEYS, path)
            return
    if plan.status is PlanStatus.INFEASIBLE_INPUT:
        return  # `plan check` and `plan explain` stop at its status
    check_plan(problem, plan)
    plan_mismatch(problem, plan)
    for p in problem.patients:
        with contextlib.suppress(PlanMismatch):
            explain(problem, plan, p.id).lines()


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_damaged_plan_is_refused_with_its_path_or_checked_and_explained(
    data: st.DataObject,
) -> None:
    document = data.draw(damaged(PLAN_DOCUMENT))
    plan_read_or_refused(PLAN_PROBLEM, to_text(document, ascii_only=data.draw(st.booleans())))


FIGURES = st.sampled_from([0.0, -0.0, 1.0, 1e9, 1e308, -1.0, 5e-324, 123.25, -1e308]) | st.floats(
    allow_nan=False, allow_infinity=False
)


@st.composite
def plans_of_any_placements(draw: st.DrawFn, problem: Problem) -> dict[str, Any]:
    """The JSON of a plan whose figures agree with each other (its terms add up to its
    objective, its gap is its objective's and bound's), placing and leaving out patients of
    ``problem`` and others anywhere, on days in and out of its horizon."""
    patients = st.sampled_from([p.id for p in problem.patients] + ["P9", "F1"])
    facilities = st.sampled_from([f.id for f in problem.facilities] + ["F9", "P1"])
    days = st.integers(-2, problem.horizon_days + 1) | st.sampled_from(
        [10**30, 2**63, 1e300, 3.0, -0.0, Raw("1e7"), Raw("1e400"), Raw("0.99999999999999999")]
    )
    assignment = st.fixed_dictionaries({"patient": patients, "facility": facilities, "day": days})
    left_out = st.fixed_dictionaries({"patient": patients, "reason": st.text(max_size=4)})
    assignments: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    for p in problem.patients:  # each patient of the problem once, mostly where it may be
        if draw(st.booleans()):
            day = draw(st.integers(0, problem.horizon_days - 1))
            f = draw(st.sampled_from(problem.facilities)).id
            assignments.append({"patient": p.id, "facility": f, "day": day})
        else:
            unplaced.append({"patient": p.id, "reason": "left out"})
    assignments += draw(st.lists(assignment, max_size=2))
    unplaced += draw(st.lists(left_out, max_size=2))
    terms = [draw(FIGURES) for _ in BREAKDOWN_KEYS]
    objective = sum(terms[1:], terms[0])  # in the order `Breakdown.total` adds them
    if not math.isfinite(objective):
        terms, objective = [0.0] * len(terms), 0.0
    bound = draw(st.sampled_from([objective, objective - 1.0, 0.0, -1e308]) | FIGURES)
    bound = min(bound, objective)
    return {
        "status": draw(st.sampled_from([PlanStatus.OPTIMAL.value, PlanStatus.FEASIBLE.value])),
        "objective": objective,
        "bound": bound,
        "gap": relative_gap(objective, bound),
        "solver": "test",
        "wall_seconds": draw(st.sampled_from([0.0, 1e308])),
        "breakdown": dict(zip(BREAKDOWN_KEYS, terms, strict=True)),
        "assignments": draw(st.permutations(assignments)),
        "unplaced": unplaced,
    }


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_plan_of_any_placements_is_refused_with_its_path_or_checked_and_explained(
    data: st.DataObject,
) -> None:
    document = data.draw(plans_of_any_placements(PLAN_PROBLEM))
    if data.draw(st.booleans()):
        document = data.draw(damaged(document))
    plan_read_or_refused(PLAN_PROBLEM, to_text(document, ascii_only=data.draw(st.booleans())))


def test_the_undamaged_documents_are_read_solved_checked_and_explained() -> None:
    # the properties above would pass vacuously if every document were refused
    problem = problem_read_or_refused(to_text(problem_to_dict(PLAN_PROBLEM)))
    assert problem == PLAN_PROBLEM
    solved_and_checked(problem)
    plan_read_or_refused(problem, to_text(PLAN_DOCUMENT))
    with tempfile.TemporaryDirectory() as directory:
        plan = load_plan(written(directory, to_text(PLAN_DOCUMENT)))
    assert check_plan(problem, plan).feasible
    assert [explain(problem, plan, p.id).patient for p in problem.patients] == ["P1", "P2", "P3"]


def test_a_plan_file_that_begins_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # as a problem file is: the plan had been refused as "not valid JSON (Unexpected UTF-8 BOM)"
    path = tmp_path / "plan.json"
    path.write_text("\ufeff" + to_text(PLAN_DOCUMENT), encoding="utf-8")
    assert plan_to_dict(load_plan(path)) == PLAN_DOCUMENT


def test_a_plan_integer_of_too_many_digits_is_refused_with_its_place(tmp_path: Path) -> None:
    # it had been "a number has more than 4300 digits", saying neither where nor how many
    document = copy.deepcopy(PLAN_DOCUMENT)
    document["assignments"][0]["day"] = Raw("9" * 5000)
    text = to_text(document)
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanFormatError) as refused:
        load_plan(path)
    column = text.index("9" * 5000) + 1
    assert str(refused.value) == (
        f"{path}: is not valid JSON (line 1, column {column}: a number has 5000 digits; at most "
        "4300 are read)"
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("-" + "9" * 400, "must be at least 0, got a negative number of 400 digits"),
        ("-12", "must be at least 0, got -12"),
        ("2.5", "must be a whole number"),
    ],
)
def test_a_plan_day_below_zero_is_refused_as_such_whatever_its_size(
    tmp_path: Path, written: str, said: str
) -> None:
    # a whole number beyond a float's range had been refused as "must be a whole number"
    document = copy.deepcopy(PLAN_DOCUMENT)
    document["assignments"][0]["day"] = Raw(written)
    path = tmp_path / "plan.json"
    path.write_text(to_text(document), encoding="utf-8")
    with pytest.raises(PlanFormatError) as refused:
        load_plan(path)
    assert str(refused.value) == f"assignments[0].day: {said}"
