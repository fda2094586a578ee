"""Agreements that end within a problem's horizon: the last admission days `plan build`
works out (`agreement_ends`), writes beside the problem (`encode_coverage`, qualifying
senders whose specialties end apart) and reads back for the engines (`acceptance_ends`)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.vocabulary import FacilityKind, Specialty
from medevac.services.agreement_terms import (
    agreement_coverage,
    agreement_ends,
    agreements_beginning,
    agreements_ending,
    encode_coverage,
)
from medevac.services.manifests import acceptance_ends
from tests.unit.services.test_quotas import assert_manifest_refused

DAY = date(2026, 12, 5)
HORIZON = 14
ORTHO, NEURO, BURNS = Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY, Specialty.BURNS


def agreement(
    agreement_id: str,
    specialties: set[Specialty],
    ends_on_day: int | None,
    *,
    sender: str = "ORG-A",
    receiver: str = "ORG-B",
    starts_on_day: int = -30,
) -> Agreement:
    return Agreement(
        agreement_id,
        sender,
        receiver,
        frozenset(specialties),
        quota=None,
        cost_policy=CostPolicy.free(),
        valid_from=DAY + timedelta(days=starts_on_day),
        valid_to=None if ends_on_day is None else DAY + timedelta(days=ends_on_day),
    )


HOSPITAL = Facility(
    "F-1",
    "Partner hospital",
    FacilityKind.HOSPITAL,
    "ORG-B",
    "PL",
    Coordinates(52.2, 21.0),
    frozenset({ORTHO, NEURO}),
)


def at_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def ends_of(*agreements: Agreement, full: frozenset[str] = frozenset()) -> dict[str, Any]:
    return agreement_ends(HOSPITAL, list(agreements), DAY, HORIZON, full)


def test_a_specialty_ends_with_the_latest_agreement_covering_it() -> None:
    assert ends_of(agreement("AGR-1", {ORTHO, NEURO}, 3)) == {
        "ORG-A": {"orthopaedics": 3, "neurology": 3}
    }
    assert ends_of(agreement("AGR-1", {ORTHO, NEURO}, 3), agreement("AGR-2", {NEURO}, 6)) == {
        "ORG-A": {"orthopaedics": 3, "neurology": 6}
    }
    # one covering agreement without an end: the specialty has none
    assert ends_of(agreement("AGR-1", {ORTHO, NEURO}, 3), agreement("AGR-2", {NEURO}, None)) == {
        "ORG-A": {"orthopaedics": 3}
    }
    assert ends_of(agreement("AGR-1", {NEURO}, None), agreement("AGR-2", {NEURO}, 3)) == {}


def test_only_ends_before_the_horizon_s_last_day_are_given() -> None:
    assert ends_of(agreement("AGR-1", {ORTHO}, HORIZON - 2)) == {
        "ORG-A": {"orthopaedics": HORIZON - 2}
    }
    assert ends_of(agreement("AGR-1", {ORTHO}, HORIZON - 1)) == {}
    assert ends_of(agreement("AGR-1", {ORTHO}, 0)) == {"ORG-A": {"orthopaedics": 0}}


def test_ends_count_only_the_agreements_that_let_the_facility_admit() -> None:
    assert ends_of(agreement("AGR-1", {ORTHO}, 3, receiver="ORG-C")) == {}  # another operator
    assert ends_of(agreement("AGR-1", {ORTHO}, 3, starts_on_day=1)) == {}  # not yet in force
    assert ends_of(agreement("AGR-1", {ORTHO}, -1)) == {}  # lapsed
    assert ends_of(agreement("AGR-1", {BURNS}, 3)) == {}  # a specialty the facility lacks
    # a quota used up covers nobody: the other agreement's end is the one
    assert ends_of(
        agreement("AGR-1", {ORTHO}, None), agreement("AGR-2", {ORTHO}, 3), full=frozenset({"AGR-1"})
    ) == {"ORG-A": {"orthopaedics": 3}}
    assert ends_of(
        agreement("AGR-1", {ORTHO}, 3), agreement("AGR-2", {ORTHO}, 5, sender="ORG-Z")
    ) == {"ORG-A": {"orthopaedics": 3}, "ORG-Z": {"orthopaedics": 5}}


def facility_entry(facility_id: str = "F-1") -> dict[str, Any]:
    return {"id": facility_id, "beds": {"orthopaedics": 5, "neurology": 5, "burns": 5}}


def patient_entry(
    patient_id: str, specialty: Specialty, organisation: str = "ORG-A"
) -> dict[str, Any]:
    return {"id": patient_id, "specialty": specialty.value, "organisation": organisation}


def encoded(
    ends: dict[str, dict[str, dict[str, int]]],
    specialties: tuple[Specialty, ...] = (ORTHO, NEURO),
    covered: frozenset[Specialty] = frozenset({ORTHO, NEURO, BURNS}),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """`encode_coverage` of one facility, bound by agreements covering ``covered`` for ORG-A,
    and one patient of ORG-A per specialty: the facility and patient entries as written, and
    the ends for the manifest."""
    facilities = [facility_entry()]
    patients = [patient_entry(f"P{k}", s) for k, s in enumerate(specialties)]
    uncovered, found = encode_coverage(facilities, {"F-1": {"ORG-A": covered}}, patients, ends)
    assert uncovered == []
    return facilities, patients, found


def test_a_sender_whose_specialties_end_alike_stays_plain() -> None:
    facilities, patients, found = encoded({"F-1": {"ORG-A": {"orthopaedics": 3, "neurology": 3}}})
    assert facilities[0]["accepts_from"] == ["ORG-A"]
    assert {p["organisation"] for p in patients} == {"ORG-A"}
    assert found == [{"facility": "F-1", "organisation": "ORG-A", "last_day": 3}]
    # a specialty none of its patients needs may end otherwise
    _, patients, found = encoded(
        {"F-1": {"ORG-A": {"orthopaedics": 3, "neurology": 3, "burns": 1}}}
    )
    assert {p["organisation"] for p in patients} == {"ORG-A"}
    assert found == [{"facility": "F-1", "organisation": "ORG-A", "last_day": 3}]


def test_without_ends_the_problem_is_written_as_before() -> None:
    facilities, patients, found = encoded({})
    assert facilities == [facility_entry() | {"accepts_from": ["ORG-A"]}]
    assert patients == [patient_entry("P0", ORTHO), patient_entry("P1", NEURO)]
    assert found == []
    # the ends of another sender's agreements leave ORG-A's patients as they were
    _, patients, found = encoded({"F-1": {"ORG-Z": {"orthopaedics": 1}}})
    assert [p["organisation"] for p in patients] == ["ORG-A", "ORG-A"]
    assert found == []


@pytest.mark.parametrize(
    "theirs",
    [
        {"orthopaedics": 3, "neurology": 5},  # different days
        {"orthopaedics": 3},  # one ends, the other does not
    ],
)
def test_a_sender_whose_specialties_end_apart_is_qualified(theirs: dict[str, int]) -> None:
    facilities, patients, found = encoded({"F-1": {"ORG-A": theirs}})
    assert facilities[0]["accepts_from"] == [
        "ORG-A/burns",
        "ORG-A/neurology",
        "ORG-A/orthopaedics",
    ]
    assert [p["organisation"] for p in patients] == ["ORG-A/orthopaedics", "ORG-A/neurology"]
    assert found == [
        {"facility": "F-1", "organisation": f"ORG-A/{specialty}", "last_day": day}
        for specialty, day in sorted(theirs.items(), key=lambda item: f"ORG-A/{item[0]}")
    ]


def test_a_qualified_sender_has_ends_only_for_the_organisations_its_patients_name() -> None:
    # qualified because the agreements leave out burns, which a patient needs: the ends are
    # those of the specialties its patients come under
    facilities = [facility_entry()]
    patients = [patient_entry("P0", ORTHO), patient_entry("P1", BURNS)]
    ends = {"F-1": {"ORG-A": {"orthopaedics": 2, "neurology": 2}}}
    uncovered, found = encode_coverage(
        facilities, {"F-1": {"ORG-A": frozenset({ORTHO, NEURO})}}, patients, ends
    )
    assert uncovered == ["F-1 offers burns, which no agreement in force covers for ORG-A"]
    assert found == [{"facility": "F-1", "organisation": "ORG-A/orthopaedics", "last_day": 2}]


def test_ends_are_sorted_by_facility_and_organisation() -> None:
    facilities = [facility_entry("F-2"), facility_entry("F-1")]
    patients = [patient_entry("P0", ORTHO, "ORG-B"), patient_entry("P1", ORTHO, "ORG-A")]
    covered = frozenset({ORTHO, NEURO, BURNS})
    coverage = {f: {"ORG-A": covered, "ORG-B": covered} for f in ("F-1", "F-2")}
    ends = {f: {o: {"orthopaedics": 4} for o in ("ORG-B", "ORG-A")} for f in ("F-2", "F-1")}
    _, found = encode_coverage(facilities, coverage, patients, ends)
    assert [(e["facility"], e["organisation"]) for e in found] == [
        ("F-1", "ORG-A"),
        ("F-1", "ORG-B"),
        ("F-2", "ORG-A"),
        ("F-2", "ORG-B"),
    ]


def test_the_lines_of_plan_build_say_until_when_plans_admit_its_patients() -> None:
    ending = agreement("AGR-1", {ORTHO, NEURO}, 3)
    line = "AGR-1 (ORG-A at ORG-B) ends on 2026-12-08, day 3 of this problem: "
    assert agreements_ending([ending], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, []) == [
        line + "plans admit its patients on day 3 at the latest"
    ]
    longer = agreement("AGR-2", {NEURO}, None)
    assert agreements_ending([ending, longer], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, []) == [
        line + "plans admit its patients in orthopaedics on day 3 at the latest; AGR-2 "
        "cover(s) those in neurology after it"
    ]
    wider = agreement("AGR-3", {ORTHO, NEURO, BURNS}, 5)
    assert agreements_ending([ending, wider], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, []) == [
        line + "AGR-3 cover(s) its patients after it",
        "AGR-3 (ORG-A at ORG-B) ends on 2026-12-10, day 5 of this problem: plans admit its "
        "patients on day 5 at the latest",
    ]
    # not the problem's organisations, ending on its last day, or used up: no line
    assert agreements_ending([ending], {"ORG-Z"}, {"ORG-B"}, DAY, HORIZON, []) == []
    at_last = agreement("AGR-1", {ORTHO}, HORIZON - 1)
    assert agreements_ending([at_last], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, []) == []
    assert agreements_ending([ending], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, [ending]) == []


def test_the_lines_follow_the_ends_the_engines_get() -> None:
    # a renewal taking over the day after the end (AGR-2), and one after that: the facility
    # admits the sender's patients to the horizon (no end), and the line says who covers them
    ending = agreement("AGR-1", {ORTHO}, 3)
    renewal = agreement("AGR-2", {ORTHO}, 6, starts_on_day=4)
    again = agreement("AGR-3", {ORTHO}, None, starts_on_day=7)
    assert ends_of(ending, renewal, again) == {}
    assert agreements_ending([ending, renewal, again], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, [])[
        0
    ].endswith(": AGR-2, AGR-3 cover(s) its patients after it")
    # a renewal a day late leaves a gap: the end binds, and the line says so
    late = agreement("AGR-2", {ORTHO}, None, starts_on_day=5)
    assert ends_of(ending, late) == {"ORG-A": {"orthopaedics": 3}}
    assert agreements_ending([ending, late], {"ORG-A"}, {"ORG-B"}, DAY, HORIZON, [])[0].endswith(
        "plans admit its patients on day 3 at the latest"
    )


def test_an_agreement_valid_to_the_calendar_s_end_has_no_end_in_the_horizon() -> None:
    # 9999-12-31 with a later agreement beside it: the renewal rule overflowed the calendar
    last = replace(agreement("AGR-1", {ORTHO}, None), valid_to=date.max)
    later = agreement("AGR-2", {ORTHO}, None, starts_on_day=30)
    assert ends_of(last, later) == {}


#: the manifest's "acceptance_ends" as `plan build` writes them
ENDS: list[dict[str, Any]] = [
    {"facility": "F-1", "organisation": "ORG-A", "last_day": 3},
    {"facility": "F-1", "organisation": "ORG-B/neurology", "last_day": 0},
]


def test_the_manifest_s_ends_are_read_as_the_engines_ends() -> None:
    assert acceptance_ends({"acceptance_ends": ENDS}) == [
        ("F-1", "ORG-A", 3),
        ("F-1", "ORG-B/neurology", 0),
    ]
    assert acceptance_ends({"acceptance_ends": []}) == []
    assert acceptance_ends({}) == []  # a manifest written before ends were carried


def _end(**fields: Any) -> list[dict[str, Any]]:
    """ENDS with fields of its first entry replaced (a field given as None is left out)."""
    ends = copy.deepcopy(ENDS)
    for name, value in fields.items():
        if value is None:
            del ends[0][name]
        else:
            ends[0][name] = value
    return ends


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"F-1": 3}, "'acceptance_ends' must be a list of ends of acceptance"),
        (["F-1"], "'acceptance_ends' entry 0 is not an object"),
        (_end(last_day=None), "'acceptance_ends' entry 0 (F-1, ORG-A): 'last_day' is missing"),
        (_end(facility=None), "'acceptance_ends' entry 0: 'facility' is missing"),
        (_end(organisation=None), "'acceptance_ends' entry 0: 'organisation' is missing"),
        (
            _end(agreement="AGR-1"),
            "entry 0 (F-1, ORG-A): 'agreement' is not a field of an end of acceptance",
        ),
        (_end(facility=""), "'acceptance_ends' entry 0: 'facility' must be a facility's id"),
        (_end(facility=7), "'acceptance_ends' entry 0: 'facility' must be a facility's id"),
        (
            _end(organisation=["ORG-A"]),
            "'acceptance_ends' entry 0: 'organisation' must be an organisation's id",
        ),
        (_end(last_day=-1), "(F-1, ORG-A): 'last_day' must be a day of the problem (0 or later)"),
        (_end(last_day="3"), "(F-1, ORG-A): 'last_day' must be a day of the problem"),
        (_end(last_day=True), "(F-1, ORG-A): 'last_day' must be a day of the problem"),
        (_end(last_day=2.5), "(F-1, ORG-A): 'last_day' must be a day of the problem"),
        (
            [*ENDS, ENDS[0] | {"last_day": 5}],
            "'acceptance_ends' entry 2 (F-1, ORG-A): a second end for them (entry 0 is the first)",
        ),
        ([ENDS[0], ENDS[1] | {"last_day": None}], "'acceptance_ends' entry 1 (F-1, ORG-B/ne"),
    ],
)
def test_malformed_ends_are_refused_naming_the_entry_and_field(
    entries: object, message: str
) -> None:
    assert_manifest_refused(acceptance_ends, "acceptance_ends", entries, message)


# -- an operator whose first agreement comes into force later ---------------------------------


def test_an_operator_whose_first_agreement_begins_later_accepts_everyone_till_then() -> None:
    later = agreement("AGR-1", {ORTHO}, None, starts_on_day=5)
    senders = ["ORG-A", "ORG-C"]
    accepts = agreement_coverage(HOSPITAL, [later], at_noon(DAY), senders=senders)
    assert accepts == {
        "ORG-B": frozenset({ORTHO, NEURO}),  # its own patients
        "ORG-A": frozenset({ORTHO, NEURO}),
        "ORG-C": frozenset({ORTHO, NEURO}),
    }
    # from day 5 the agreement covers ORG-A in orthopaedics (no end); the rest are admitted
    # on day 4 at the latest
    assert agreement_ends(HOSPITAL, [later], DAY, HORIZON, senders=senders) == {
        "ORG-A": {"neurology": 4},
        "ORG-C": {"orthopaedics": 4, "neurology": 4},
    }
    # once in force, it binds the operator as before
    on_day_5 = DAY + timedelta(days=5)
    assert agreement_coverage(HOSPITAL, [later], at_noon(on_day_5), senders=senders) == {
        "ORG-B": frozenset({ORTHO, NEURO}),
        "ORG-A": frozenset({ORTHO}),
    }


def test_a_first_agreement_that_ends_carries_its_end_and_one_beyond_the_horizon_none() -> None:
    brief = agreement("AGR-1", {ORTHO, NEURO}, 8, starts_on_day=2)
    assert agreement_ends(HOSPITAL, [brief], DAY, HORIZON, senders=["ORG-A"]) == {
        "ORG-A": {"orthopaedics": 8, "neurology": 8}
    }
    beyond = agreement("AGR-1", {ORTHO}, None, starts_on_day=HORIZON)
    assert agreement_ends(HOSPITAL, [beyond], DAY, HORIZON, senders=["ORG-A", "ORG-C"]) == {}
    # an agreement of the operator that has begun (here: lapsed) binds it now
    lapsed = agreement("AGR-0", {NEURO}, -1, starts_on_day=-20)
    assert agreement_coverage(HOSPITAL, [lapsed, beyond], at_noon(DAY), senders=["ORG-C"]) == {
        "ORG-B": frozenset({ORTHO, NEURO})
    }


def test_plan_build_says_when_the_first_agreement_begins_and_who_it_leaves_out() -> None:
    later = agreement("AGR-1", {ORTHO}, None, starts_on_day=5)
    needed = {"ORG-A": {ORTHO}, "ORG-C": {ORTHO}}
    lines = agreements_beginning([later], needed, {"ORG-B"}, DAY, HORIZON)
    assert lines == [
        "AGR-1 (ORG-B's first) begins on 2026-12-10, day 5 of this problem: until then its "
        "facilities accept every sender; plans admit the patients it does not cover (ORG-C) "
        "there on day 4 at the latest"
    ]
    # ORG-A's neurology patients are not covered from day 5 either
    needed["ORG-A"].add(NEURO)
    assert agreements_beginning([later], needed, {"ORG-B"}, DAY, HORIZON)[0].endswith(
        "plans admit the patients it does not cover (ORG-A, ORG-C) there on day 4 at the latest"
    )
    assert agreements_beginning([later], {"ORG-A": {ORTHO}}, {"ORG-B"}, DAY, HORIZON) == [
        "AGR-1 (ORG-B's first) begins on 2026-12-10, day 5 of this problem: until then its "
        "facilities accept every sender"
    ]
    beyond = agreement("AGR-1", {ORTHO}, None, starts_on_day=HORIZON)
    assert agreements_beginning([beyond], needed, {"ORG-B"}, DAY, HORIZON) == []


def test_a_first_agreement_with_a_quota_carries_acceptance_on_from_its_first_day() -> None:
    # its quota holds from its first day (`Quota.days`): acceptance of what it covers goes on
    # (until quotas had days it ended on day 4, the quota binding nobody before day 5)
    limited = replace(agreement("AGR-1", {ORTHO}, None, starts_on_day=5), quota=1)
    assert agreement_ends(HOSPITAL, [limited], DAY, HORIZON, senders=["ORG-A"]) == {
        "ORG-A": {"neurology": 4}
    }
    assert agreements_beginning([limited], {"ORG-A": {ORTHO}}, {"ORG-B"}, DAY, HORIZON) == [
        "AGR-1 (ORG-B's first) begins on 2026-12-10, day 5 of this problem: until then its "
        "facilities accept every sender"
    ]
    assert agreements_beginning([limited], {"ORG-A": {ORTHO, NEURO}}, {"ORG-B"}, DAY, HORIZON)[
        0
    ].endswith("plans admit the patients it does not cover (ORG-A) there on day 4 at the latest")
    # used up, it covers nobody: no quota without room is carried, so acceptance ends before
    # it (a review found plans beyond a quota of 0 that the approval then refused)
    used_up = frozenset({"AGR-1"})
    assert agreement_ends(HOSPITAL, [limited], DAY, HORIZON, used_up, senders=["ORG-A"]) == {
        "ORG-A": {"orthopaedics": 4, "neurology": 4}
    }
    assert agreements_beginning([limited], {"ORG-A": {ORTHO}}, {"ORG-B"}, DAY, HORIZON, used_up)[
        0
    ].endswith("plans admit the patients it does not cover (ORG-A) there on day 4 at the latest")
