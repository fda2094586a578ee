"""Agreement quotas: who is left out to keep a plan within them (`keep_within`), and the
quotas the manifest carries to the engines (`quotas`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CostPolicy
from medevac.domain.vocabulary import Specialty
from medevac.planning import Quota
from medevac.services.manifests import quotas
from medevac.services.quota_count import (
    Placed,
    QuotaBook,
    _count,
    _overlapping_quotas,
    carried_room_changes,
    keep_within,
)

DAY = date(2026, 12, 5)
ORTHO, NEURO = Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY


def agreement(agreement_id: str, specialties: set[Specialty], quota: int | None) -> Agreement:
    return Agreement(
        agreement_id,
        "ORG-A",
        "ORG-B",
        frozenset(specialties),
        quota=quota,
        cost_policy=CostPolicy.free(),
        valid_from=date(2026, 1, 1),
    )


def placed(
    patient: str, specialty: Specialty, weight: float, day: int = 0, rank: int = 0
) -> Placed:
    return Placed(patient, "ORG-A", "ORG-B", specialty, weight, day, rank)


def over(book: QuotaBook, kept: list[Placed]) -> list[str]:
    """Agreements the kept patients, counted as the approval counts (`_count`), take beyond."""
    recount = book.copy()
    _count(recount, kept, DAY)
    return [
        a.id for a in recount.agreements if a.quota is not None and recount.used[a.id] > a.quota
    ]


def test_the_least_urgent_are_left_out_and_the_sent_earlier_count() -> None:
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, 3)], DAY)
    book.count("ORG-A", "ORG-B", ORTHO, DAY)  # one sent earlier: two places left
    patients = [
        placed("P1", ORTHO, 1),
        placed("P2", NEURO, 100),
        placed("P3", ORTHO, 10),
        placed("P4", ORTHO, 10, day=3),
    ]
    assert keep_within(book, patients, DAY) == {"P1": "AGR-1", "P4": "AGR-1"}
    assert book.used["AGR-1"] == 1  # the book given is left as it was


def test_patients_no_quota_binds_are_kept() -> None:
    book = QuotaBook([agreement("AGR-1", {ORTHO}, 0), agreement("AGR-2", {NEURO}, None)], DAY)
    patients = [placed("P1", NEURO, 1), placed("P2", Specialty.BURNS, 1)]
    assert keep_within(book, patients, DAY) == {}


def test_overlapping_agreements_count_those_with_fewest_options_first() -> None:
    # AGR-1 covers both specialties, AGR-2 orthopaedics only, one place each. Counted by id
    # alone, P1 (orthopaedics) would take AGR-1 and leave P2 (neurology, which only AGR-1
    # covers) beyond it; counted with the fewest covering agreements first, P2 takes AGR-1
    # and P1 AGR-2, and nobody is left out
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, 1), agreement("AGR-2", {ORTHO}, 1)], DAY)
    patients = [placed("P1", ORTHO, 1), placed("P2", NEURO, 100)]
    assert keep_within(book, patients, DAY) == {}
    assert _count(book.copy(), patients, DAY) == {"P1": "AGR-2", "P2": "AGR-1"}


PATIENTS = st.lists(
    st.tuples(
        st.sampled_from([ORTHO, NEURO]),
        st.sampled_from([1, 10, 100]),
        st.integers(0, 3),
        st.integers(0, 4),  # precedence rank
    ),
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(quotas=st.tuples(st.integers(0, 4), st.integers(0, 4)), patients=PATIENTS)
def test_what_is_kept_never_goes_beyond_a_quota_as_the_approval_counts(
    quotas: tuple[int, int], patients: list[tuple[Specialty, int, int, int]]
) -> None:
    first, second = quotas
    book = QuotaBook(
        [agreement("AGR-1", {ORTHO, NEURO}, first), agreement("AGR-2", {ORTHO}, second)], DAY
    )
    plan = [placed(f"P{k:02d}", s, w, d, r) for k, (s, w, d, r) in enumerate(patients)]
    left = keep_within(book, plan, DAY)
    kept = [p for p in plan if p.patient not in left]
    assert over(book, kept) == []
    assert len(kept) >= min(len(plan), first)  # the first agreement's places are all used


@settings(max_examples=100, deadline=None)
@given(quota=st.integers(0, 6), patients=PATIENTS)
def test_under_one_agreement_the_most_urgent_keep_their_places(
    quota: int, patients: list[tuple[Specialty, int, int, int]]
) -> None:
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, quota)], DAY)
    plan = [placed(f"P{k:02d}", s, w, d, r) for k, (s, w, d, r) in enumerate(patients)]
    # by weight, then the more urgent of one weight, then the earlier day
    urgent_first = sorted(plan, key=lambda p: (-p.weight, p.rank, p.day, p.patient))
    left = keep_within(book, plan, DAY)
    assert left == {p.patient: "AGR-1" for p in urgent_first[quota:]}


#: an entry of the manifest's "quotas" as `plan build` writes it
QUOTA: dict[str, Any] = {
    "id": "AGR-1",
    "room": 2,
    "organisations": ["ORG-A", "ORG-A/neurology"],
    "facilities": ["F-1", "F-2"],
    "specialties": ["neurology", "orthopaedics"],
}


def test_the_manifest_s_quotas_are_read_as_the_engines_quotas() -> None:
    every = QUOTA | {"id": "AGR-2", "room": 0, "specialties": None}
    assert quotas({"quotas": [QUOTA, every]}) == [
        Quota(
            "AGR-1",
            2,
            frozenset({"ORG-A", "ORG-A/neurology"}),
            frozenset({"F-1", "F-2"}),
            frozenset({"neurology", "orthopaedics"}),
        ),
        Quota("AGR-2", 0, frozenset({"ORG-A", "ORG-A/neurology"}), frozenset({"F-1", "F-2"})),
    ]
    assert quotas({"quotas": []}) == []
    assert quotas({}) == []  # a manifest written before quotas were carried


def test_a_manifest_s_quota_may_hold_on_some_days_only() -> None:
    [early, every] = quotas({"quotas": [QUOTA | {"days": [0, 1, 2]}, QUOTA | {"days": None}]})
    assert early.days == frozenset({0, 1, 2})
    assert every.days is None  # as without "days" (a manifest written before it was)


ORDER = " (0 and up), in order, each once"


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in QUOTA.items() if k != name}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"AGR-1": 2}, "'quotas' must be a list of quotas"),
        (["AGR-1"], "'quotas' entry 0 is not an object"),
        ([_without("room")], "'quotas' entry 0 (AGR-1): 'room' is missing"),
        ([_without("id")], "'quotas' entry 0: 'id' is missing"),
        ([QUOTA | {"quota": 2}], "'quotas' entry 0 (AGR-1): 'quota' is not a field of a quota"),
        ([QUOTA | {"id": ""}], "'quotas' entry 0: 'id' must be an agreement's id"),
        ([QUOTA | {"id": 7}], "'quotas' entry 0: 'id' must be an agreement's id"),
        ([QUOTA | {"room": -1}], "(AGR-1): 'room' must be a count of patients, not -1"),
        ([QUOTA | {"room": "2"}], "(AGR-1): 'room' must be a count of patients, not '2'"),
        ([QUOTA | {"room": True}], "(AGR-1): 'room' must be a count of patients, not True"),
        ([QUOTA | {"room": 2.5}], "(AGR-1): 'room' must be a count of patients, not 2.5"),
        (
            [QUOTA | {"room": 10**30}],
            "(AGR-1): 'room' must be a count of patients, at most 1,000,000, not 1e+30",
        ),
        ([QUOTA | {"organisations": []}], "(AGR-1): 'organisations' is empty"),
        ([QUOTA | {"organisations": "ORG-A"}], "(AGR-1): 'organisations' must be a list of ids"),
        ([QUOTA | {"facilities": []}], "(AGR-1): 'facilities' is empty"),
        ([QUOTA | {"facilities": ["F-1", 2]}], "(AGR-1): 'facilities' must be a list of ids"),
        ([QUOTA | {"facilities": None}], "(AGR-1): 'facilities' must be a list of ids"),
        ([QUOTA | {"specialties": "neurology"}], "(AGR-1): 'specialties' must be a list of ids"),
        ([QUOTA | {"specialties": [""]}], "(AGR-1): 'specialties' must be a list of ids"),
        (
            [QUOTA | {"specialties": ["neurology", "nerology"]}],
            "(AGR-1): 'specialties' has 'nerology', which is not a specialty",
        ),
        ([QUOTA, QUOTA | {"id": "AGR-2", "room": None}], "'quotas' entry 1 (AGR-2): 'room'"),
        *(
            ([QUOTA | {"days": days}], f"(AGR-1): 'days' must be a list of day numbers{ORDER}")
            for days in ([], [2, 1], [0, 0], [-1], [True], [0.0], "0-2", {"0": 1})
        ),
    ],
)
def test_malformed_quotas_are_refused_naming_the_entry_and_field(
    entries: object, message: str
) -> None:
    assert_manifest_refused(quotas, "quotas", entries, message)


def assert_manifest_refused(
    read: Callable[[dict[str, Any]], object], key: str, entries: object, message: str
) -> None:
    """``read`` refuses a manifest whose ``key`` holds ``entries``, naming the manifest and
    saying ``message`` and to build the problem again."""
    with pytest.raises(InvalidValue) as refused:
        read({key: entries})
    assert refused.value.field == "manifest"
    assert message in refused.value.reason
    assert refused.value.reason.endswith(
        "it was not written by `medevac plan build` as it is: build the problem again"
    )


BURNS = Specialty.BURNS


def cover_of(group: list[Agreement]) -> dict[Specialty, frozenset[str]]:
    return {s: frozenset(a.id for a in group if a.covers(s, DAY)) for s in (ORTHO, NEURO, BURNS)}


def test_overlapping_agreements_that_nest_give_one_quota_per_set_of_them() -> None:
    group = [
        agreement("AGR-1", {ORTHO, NEURO, BURNS}, 5),
        agreement("AGR-2", {ORTHO}, 2),
        agreement("AGR-3", {BURNS}, None),
    ]
    book = QuotaBook(group, DAY)
    book.used["AGR-1"] = 1
    rows = _overlapping_quotas(group, cover_of(group), book)
    # burns: an agreement without a quota covers them, they never go beyond one
    assert rows == [
        (frozenset({"AGR-1"}), 4, {NEURO}),
        (frozenset({"AGR-1", "AGR-2"}), 6, {NEURO, ORTHO}),
    ]


def test_overlapping_agreements_that_cross_are_not_carried() -> None:
    group = [
        agreement("AGR-1", {ORTHO, NEURO}, 2),
        agreement("AGR-2", {NEURO, BURNS}, 2),
        agreement("AGR-3", {BURNS, ORTHO}, 2),
    ]
    assert _overlapping_quotas(group, cover_of(group), QuotaBook(group, DAY)) is None


FAMILIES = [  # agreements whose sets covering each specialty nest or are apart
    [{ORTHO, NEURO, BURNS}, {ORTHO}],
    [{ORTHO, NEURO}, {ORTHO}, {BURNS}],
    [{ORTHO, NEURO, BURNS}, {ORTHO, NEURO}, {ORTHO}],
    [{ORTHO}, {ORTHO, NEURO}, {ORTHO, NEURO, BURNS}],
    [{ORTHO}, {NEURO}, {BURNS}],
]


@settings(max_examples=300, deadline=None)
@given(
    family=st.sampled_from(FAMILIES),
    rooms=st.lists(st.integers(0, 3), min_size=3, max_size=3),
    patients=st.lists(st.sampled_from([ORTHO, NEURO, BURNS]), max_size=9),
)
def test_the_carried_quotas_hold_exactly_when_the_approval_counts_nobody_beyond(
    family: list[set[Specialty]], rooms: list[int], patients: list[Specialty]
) -> None:
    group = [agreement(f"AGR-{k}", s, rooms[k]) for k, s in enumerate(family)]
    book = QuotaBook(group, DAY)
    rows = _overlapping_quotas(group, cover_of(group), book)
    assert rows is not None
    kept = [placed(f"P{k}", s, 1) for k, s in enumerate(patients)]
    kept = [p for p in kept if cover_of(group)[p.specialty]]  # those some agreement covers
    within = all(sum(1 for p in kept if p.specialty in specs) <= room for _, room, specs in rows)
    assert within == (over(book, kept) == [])


def test_an_agreement_sent_beyond_its_quota_takes_no_room_from_those_it_overlaps() -> None:
    # 8 were sent under AGR-1 (quota 5: approved over quota, or accepted beyond it); AGR-2
    # (quota 3) still has room for 3 orthopaedic patients, which AGR-1's overrun must not
    # cancel (the set's room was 5 - 8 + 3 = 0, and nothing was carried)
    group = [agreement("AGR-1", {ORTHO, NEURO}, 5), agreement("AGR-2", {ORTHO}, 3)]
    book = QuotaBook(group, DAY)
    book.used["AGR-1"] = 8
    assert _overlapping_quotas(group, cover_of(group), book) == [
        (frozenset({"AGR-1"}), 0, {NEURO}),
        (frozenset({"AGR-1", "AGR-2"}), 3, {NEURO, ORTHO}),
    ]
    # as the approval counts: three orthopaedic patients go under AGR-2, a fourth goes beyond
    three = [placed(f"P{k}", ORTHO, 1) for k in range(3)]
    assert over(book, three) == ["AGR-1"]  # the sent overrun, not the plan's
    recount = book.copy()
    assert set(_count(recount, three, DAY).values()) == {"AGR-2"}
    manifest: dict[str, Any] = {"quotas": [{"id": "AGR-1+AGR-2", "room": 3}]}
    assert carried_room_changes(manifest, book) == []
    book.used["AGR-1"] = 9  # one more sent beyond AGR-1's quota: AGR-2's room is as it was
    assert carried_room_changes(manifest, book) == []
    book.used["AGR-2"] = 1
    assert carried_room_changes(manifest, book) == [
        "agreement AGR-1+AGR-2 has room for 2 more patient(s) now, 3 when the problem was "
        "built: patients sent earlier came to count against it since"
    ]


def test_carried_rooms_that_shrank_since_the_build_are_registry_changes() -> None:
    # the build carried AGR-1 with room 5 and AGR-1+AGR-2 with room 7 together; since then
    # patients sent earlier came to count: 6 against AGR-1 (quota 10), 1 against AGR-2 (quota 3)
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, 10), agreement("AGR-2", {ORTHO}, 3)], DAY)
    manifest: dict[str, Any] = {
        "quotas": [{"id": "AGR-1", "room": 5}, {"id": "AGR-1+AGR-2", "room": 7}]
    }
    book.used["AGR-1"], book.used["AGR-2"] = 5, 1
    assert carried_room_changes(manifest, book) == []  # 5 and 7 left: as built
    book.used["AGR-1"] = 6
    assert carried_room_changes(manifest, book) == [
        "agreement AGR-1 has room for 4 more patient(s) now, 5 when the problem was built: "
        "patients sent earlier came to count against it since",
        "agreement AGR-1+AGR-2 has room for 6 more patient(s) now, 7 when the problem was "
        "built: patients sent earlier came to count against it since",
    ]
    # more room than at the build (a patient of the problem counted as sent then) is no change
    book.used["AGR-1"] = 2
    assert carried_room_changes(manifest, book) == []
    # an agreement no longer in force, or with no quota, is the agreements' comparison's
    lapsed = QuotaBook([agreement("AGR-2", {ORTHO}, 3)], DAY)
    lapsed.used["AGR-2"] = 3
    assert carried_room_changes(manifest, lapsed) == []
    assert carried_room_changes(manifest, None) == []


def test_a_patient_counts_against_the_narrowest_agreement_with_room() -> None:
    # two orthopaedic patients sent earlier: AGR-1 covers orthopaedics and neurology (quota
    # 2), AGR-2 orthopaedics alone (quota 10). Counted against AGR-1 (the first by id) they
    # used up the only room for neurology, and the build dropped it as full
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, 2), agreement("AGR-2", {ORTHO}, 10)], DAY)
    assert [book.count("ORG-A", "ORG-B", ORTHO, DAY) for _ in range(2)] == ["AGR-2"] * 2
    assert book.full() == []
    assert keep_within(book, [placed("N1", NEURO, 1), placed("N2", NEURO, 1)], DAY) == {}
    # an agreement without a quota comes first: it never fills, and a quota it overlaps keeps
    # its room (counted against AGR-4, the patient would have used AGR-4's room)
    free = QuotaBook(
        [agreement("AGR-3", {ORTHO, NEURO}, None), agreement("AGR-4", {ORTHO}, 1)], DAY
    )
    assert free.count("ORG-A", "ORG-B", ORTHO, DAY) == "AGR-3"
    assert free.used["AGR-4"] == 0


@pytest.mark.parametrize(
    ("ids", "carried"),
    [(["AGR+1"], "AGR+1"), (["AGR+1", "AGR-2"], "AGR+1+AGR-2"), (["A", "A+B"], "A+A+B")],
)
def test_a_carried_quota_of_agreements_whose_ids_hold_a_plus_is_compared(
    ids: list[str], carried: str
) -> None:
    # an id may hold "+", with which a quota for a set of agreements joins their ids: split
    # at every "+", "AGR+1" was no agreement, and its room shrinking was never reported
    book = QuotaBook([agreement(i, {ORTHO}, 5) for i in ids], DAY)
    book.used[ids[0]] = 4
    manifest: dict[str, Any] = {"quotas": [{"id": carried, "room": 5 * len(ids) - 2}]}
    [line] = carried_room_changes(manifest, book)
    assert line.startswith(f"agreement {carried} has room for {5 * len(ids) - 4} more")
