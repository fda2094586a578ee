"""Agreements that begin or end within a problem's horizon, as a review of 2026-12-07 found
them handled: a quota was counted on the day of approval (or of the build), not on each
patient's admission day, so a renewal without a quota was lost; and an agreement beginning
within the horizon was ignored where its receiver was bound by another one already."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.vocabulary import FacilityKind, Specialty
from medevac.services.agreement_terms import (
    acceptance_days,
    agreement_ends,
    agreements_beginning,
    earliest_admission_day,
    encode_coverage,
)
from medevac.services.quota_count import (
    Placed,
    QuotaBook,
    _count,
    _day_covers,
    _held_days,
    _quota_rows,
    _some_days,
    keep_within,
    overrun_lines,
)

DAY = date(2026, 12, 7)
HORIZON = 14
ORTHO, NEURO, ICU = Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY, Specialty.INTENSIVE_CARE


def agreement(
    agreement_id: str,
    specialties: set[Specialty],
    quota: int | None,
    *,
    starts_on_day: int = -30,
    ends_on_day: int | None = None,
    sender: str = "ORG-A",
) -> Agreement:
    return Agreement(
        agreement_id,
        sender,
        "ORG-B",
        frozenset(specialties),
        quota=quota,
        cost_policy=CostPolicy.free(),
        valid_from=DAY + timedelta(days=starts_on_day),
        valid_to=None if ends_on_day is None else DAY + timedelta(days=ends_on_day),
    )


def placed(patient: str, day: int, weight: float = 1) -> Placed:
    return Placed(patient, "ORG-A", "ORG-B", ORTHO, weight, day)


#: AGR-A (quota 2) ends on day 2; AGR-B, without a quota, takes over on day 3
RENEWED = [
    agreement("AGR-A", {ORTHO, NEURO}, 2, ends_on_day=2),
    agreement("AGR-B", {ORTHO, NEURO}, None, starts_on_day=3),
]


# -- 1. each admission counts against the agreements in force on its day ----------------------


def test_patients_admitted_under_a_renewal_without_a_quota_do_not_count_against_the_old_one() -> (
    None
):
    book = QuotaBook(RENEWED, DAY)
    late = [placed(f"P{k}", 3 + k % 3) for k in range(6)]
    # counted on the day of approval (day 0) against AGR-A, all six went beyond its quota
    assert overrun_lines(book, late, DAY) == []
    assert _count(book.copy(), late, DAY) == dict.fromkeys((p.patient for p in late), "AGR-B")
    early = [placed(f"P{k}", k % 3) for k in range(6)]
    assert overrun_lines(book, early, DAY) == [
        "AGR-A allows 2 patients of ORG-A at ORG-B; this plan places 6 there"
    ]
    # the plan's day 0 is the day it was built: approved two days later, day 1 is still day 1
    assert overrun_lines(book, [placed(f"P{k}", 1) for k in range(3)], DAY) != []
    assert overrun_lines(QuotaBook(RENEWED, DAY + timedelta(days=1)), late, DAY) == []


def test_within_quotas_leaves_out_only_those_admitted_under_the_full_agreement() -> None:
    book = QuotaBook(RENEWED, DAY)
    mixed = [placed("P0", 0, 10), placed("P1", 1, 1), placed("P2", 2, 5), placed("P3", 4, 1)]
    assert keep_within(book, mixed, DAY) == {"P1": "AGR-A"}
    assert keep_within(book, [placed("P0", 0), placed("P1", 5), placed("P2", 9)], DAY) == {}


def test_the_book_holds_the_agreements_that_begin_later_and_not_those_that_lapsed() -> None:
    lapsed = agreement("AGR-0", {ORTHO}, 1, starts_on_day=-60, ends_on_day=-1)
    book = QuotaBook([*RENEWED, lapsed], DAY)
    assert [a.id for a in book.agreements] == ["AGR-A", "AGR-B"]
    assert book.every[-1] is lapsed
    # a patient sent earlier for day 5 came under the renewal: AGR-A keeps its room
    assert book.count("ORG-A", "ORG-B", ORTHO, DAY + timedelta(days=5)) == "AGR-B"
    assert book.full() == []


def test_a_renewal_with_a_quota_of_its_own_is_carried_beside_the_old_one() -> None:
    # AGR-A on days 0-2 (room 2), AGR-C on days 3 on (room 5): each is carried, and each
    # holds on its own days (`_held_days`, below)
    renewal = agreement("AGR-C", {ORTHO, NEURO}, 5, starts_on_day=3)
    group = [RENEWED[0], renewal]
    covers = {ORTHO: {frozenset({"AGR-A"}), frozenset({"AGR-C"})}}
    assert _quota_rows(group, covers, QuotaBook(group, DAY)) == [
        (frozenset({"AGR-A"}), 2, {ORTHO}),
        (frozenset({"AGR-C"}), 5, {ORTHO}),
    ]


# -- 2. an agreement that begins within the horizon, its receiver bound already ---------------

HOSPITAL = Facility(
    "F-1",
    "Partner hospital",
    FacilityKind.HOSPITAL,
    "ORG-B",
    "PL",
    Coordinates(52.2, 21.0),
    frozenset({ORTHO, ICU}),
)
#: ORG-B is bound by AGR-1 (orthopaedics) from before day 0; AGR-IC begins on day 2
BOUND = [
    agreement("AGR-1", {ORTHO}, None),
    agreement("AGR-IC", {ICU}, None, starts_on_day=2, ends_on_day=6),
]


def test_a_beginning_agreement_opens_the_facility_from_its_first_day() -> None:
    assert acceptance_days("ORG-B", "ORG-A", ICU, BOUND, DAY, HORIZON) == (2, 6)
    assert acceptance_days("ORG-B", "ORG-A", ORTHO, BOUND, DAY, HORIZON) == (0, None)
    ends = agreement_ends(HOSPITAL, BOUND, DAY, HORIZON)
    assert ends == {"ORG-A": {"intensive_care": 6}}
    assert ends.first == {"ORG-A": {"intensive_care": 2}}
    # beyond the horizon, or its quota used up, it opens nothing
    later = [BOUND[0], agreement("AGR-IC", {ICU}, None, starts_on_day=HORIZON)]
    assert acceptance_days("ORG-B", "ORG-A", ICU, later, DAY, HORIZON) is None
    assert agreement_ends(HOSPITAL, later, DAY, HORIZON).first == {}
    full = frozenset({"AGR-IC"})
    assert agreement_ends(HOSPITAL, BOUND, DAY, HORIZON, full).first == {}


def entries() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    facilities = [
        {"id": "F-1", "beds": {"orthopaedics": [5] * HORIZON, "intensive_care": [5] * HORIZON}}
    ]
    patients = [
        {"id": "P0", "specialty": "orthopaedics", "organisation": "ORG-A"},
        {"id": "P1", "specialty": "intensive_care", "organisation": "ORG-A"},
    ]
    return facilities, patients


def test_its_patients_get_its_first_day_as_their_earliest_day() -> None:
    facilities, patients = entries()
    coverage = {"F-1": {"ORG-B": frozenset({ORTHO, ICU}), "ORG-A": frozenset({ORTHO})}}
    ends = {"F-1": agreement_ends(HOSPITAL, BOUND, DAY, HORIZON)}
    opening = {"F-1": ends["F-1"].first}
    uncovered, found = encode_coverage(facilities, coverage, patients, ends, opening)
    # it said "F-1 offers intensive_care, which no agreement in force covers for ORG-A"
    assert uncovered == []
    assert facilities[0]["accepts_from"] == [
        "ORG-A/intensive_care",
        "ORG-A/orthopaedics",
        "ORG-B",
    ]
    assert patients == [
        {"id": "P0", "specialty": "orthopaedics", "organisation": "ORG-A/orthopaedics"},
        {
            "id": "P1",
            "specialty": "intensive_care",
            "organisation": "ORG-A/intensive_care",
            "earliest_day": 2,
        },
    ]
    assert found == [{"facility": "F-1", "organisation": "ORG-A/intensive_care", "last_day": 6}]
    assert coverage["F-1"]["ORG-A"] == frozenset({ORTHO, ICU})  # for `senders_turned_away`


def test_a_facility_admitting_them_later_than_another_is_left_out_for_them() -> None:
    facilities, patients = entries()
    # F-2 is bound by no agreement: it admits everyone from day 0
    facilities.append({"id": "F-2", "beds": {"intensive_care": [1] * HORIZON}})
    coverage = {"F-1": {"ORG-B": frozenset({ORTHO, ICU}), "ORG-A": frozenset({ORTHO})}}
    ends = {"F-1": agreement_ends(HOSPITAL, BOUND, DAY, HORIZON)}
    opening = {"F-1": ends["F-1"].first}
    uncovered, found = encode_coverage(facilities, coverage, patients, ends, opening)
    assert uncovered == [
        "F-1 admits ORG-A's patients in intensive_care from day 2 only (an agreement beginning "
        "then), others from day 0: a patient has one earliest day, so F-1 does not admit them "
        "in this problem"
    ]
    assert "ORG-A/intensive_care" not in facilities[0]["accepts_from"]
    assert "earliest_day" not in patients[1]
    assert found == []
    offers = [("F-1", {"intensive_care"}, ["ORG-A/intensive_care"]), ("F-2", {"x"}, None)]
    opening = {"F-1": {"ORG-A": {"intensive_care": 2}}}
    assert earliest_admission_day("ORG-A/intensive_care", "intensive_care", offers, opening) == (
        2,
        {"F-1": 2},
    )


def test_plan_build_says_when_it_begins_and_for_whom() -> None:
    needed = {"ORG-A": {ORTHO, ICU}}
    assert agreements_beginning(BOUND, needed, {"ORG-B"}, DAY, HORIZON) == [
        "AGR-IC (ORG-A at ORG-B) begins on 2026-12-09, day 2 of this problem: no agreement "
        "covers its patients in intensive_care there before, so plans admit them there from "
        "day 2 on"
    ]
    assert agreements_beginning(BOUND, {"ORG-A": {ORTHO}}, {"ORG-B"}, DAY, HORIZON) == []


# -- days of a carried quota (`_held_days`) ---------------------------------------------------

A, C = frozenset({"AGR-A"}), frozenset({"AGR-C"})


def test_a_quota_holds_on_the_days_its_agreements_cover_its_patients() -> None:
    # AGR-A until day 2, then a renewal without a quota (None: counted against none)
    renewed = {ORTHO: {d: A if d <= 2 else None for d in range(HORIZON)}}
    assert _held_days(A, renewed) == ([0, 1, 2], True)
    assert _some_days(A, [0, 1, 2], True) == (
        "; its patients come under AGR-A on day(s) 0-2 only, and the quota holds on those days"
    )
    # a renewal with a quota of its own: each holds on its days
    with_quota = {ORTHO: {d: A if d <= 2 else C for d in range(HORIZON)}}
    assert _held_days(A, with_quota) == ([0, 1, 2], True)
    assert _held_days(C, with_quota) == (list(range(3, HORIZON)), True)
    # covered on every day it may be admitted (from day 2, say): every day, said as before
    assert _held_days(A, {ORTHO: dict.fromkeys(range(2, HORIZON), A)}) == (None, True)
    assert _some_days(A, None, True) == ""


def test_a_quota_has_one_set_of_days_for_its_specialties_and_says_where_that_counts_more() -> None:
    # AGR-A covers orthopaedics on every day and neurology until day 2, then a renewal without
    # a quota: the quota holds on every day, and counts the neurology patients of days 3 on too
    covers = {
        ORTHO: dict.fromkeys(range(HORIZON), A),
        NEURO: {d: A if d <= 2 else None for d in range(HORIZON)},
    }
    assert _held_days(A, covers) == (None, False)
    assert _some_days(A, None, False).startswith(
        "; the quota holds on every day for all its specialties, though on some of those days "
        "some of them come under other agreements"
    )
    # orthopaedics admitted on days 0-2 only, neurology under AGR-C from day 5: days 0-4
    late = {
        ORTHO: dict.fromkeys(range(3), A),
        NEURO: {d: A if d <= 4 else C for d in range(HORIZON)},
    }
    assert _held_days(A, late) == ([0, 1, 2, 3, 4], True)


def test_an_agreement_whose_quota_is_used_up_is_in_no_set_of_covering_agreements() -> None:
    # AG0 (quota 0) beside AG1 (quota 2, until day 9) and its renewal AG1R (day 10): with AG0
    # in them, the sets {AG0, AG1} and {AG0, AG1R} crossed, nothing was carried, and plans
    # went beyond AG1 (random registry 2632)
    used_up = agreement("AG0", {ORTHO}, 0)
    ag1 = agreement("AG1", {ORTHO, NEURO}, 2, starts_on_day=0, ends_on_day=9)
    renewal = agreement("AG1R", {ORTHO, NEURO}, 1, starts_on_day=10, ends_on_day=10)
    group = [used_up, ag1, renewal]
    book = QuotaBook(group, DAY)
    full = frozenset(a.id for a in book.full())
    assert full == {"AG0"}
    covers = _day_covers(book, group, ("ORG-A", "ORG-B", ORTHO), DAY, HORIZON, full)
    assert covers == {d: frozenset({"AG1"}) for d in range(10)} | {10: frozenset({"AG1R"})}
