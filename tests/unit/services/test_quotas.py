"""Agreement quotas: who is left out to keep a plan within them (`keep_within`), and the
quotas the manifest carries to the engines (`quotas`)."""

from __future__ import annotations

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
from medevac.services.regulating import Placed, QuotaBook, keep_within, quotas

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


def placed(patient: str, specialty: Specialty, weight: float, day: int = 0) -> Placed:
    return Placed(patient, "ORG-A", "ORG-B", specialty, weight, day)


def over(book: QuotaBook, kept: list[Placed]) -> list[str]:
    """Agreements the kept patients, counted by id as the approval counts, take beyond."""
    recount = book.copy()
    for p in sorted(kept, key=lambda p: p.patient):
        recount.count(p.sender, p.receiver, p.specialty, DAY)
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


def test_where_overlapping_agreements_count_otherwise_by_id_one_more_is_left_out() -> None:
    # AGR-1 covers both specialties, AGR-2 orthopaedics only, one place each. By urgency P2
    # (neurology) takes AGR-1 and P1 (orthopaedics) AGR-2; the approval counts by id, and
    # there P1 takes AGR-1 first and leaves P2 beyond it: P1, the less urgent, is left out
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, 1), agreement("AGR-2", {ORTHO}, 1)], DAY)
    patients = [placed("P1", ORTHO, 1), placed("P2", NEURO, 100)]
    assert keep_within(book, patients, DAY) == {"P1": "AGR-1"}


PATIENTS = st.lists(
    st.tuples(st.sampled_from([ORTHO, NEURO]), st.sampled_from([1, 10, 100]), st.integers(0, 3)),
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(quotas=st.tuples(st.integers(0, 4), st.integers(0, 4)), patients=PATIENTS)
def test_what_is_kept_never_goes_beyond_a_quota_counted_by_id(
    quotas: tuple[int, int], patients: list[tuple[Specialty, int, int]]
) -> None:
    first, second = quotas
    book = QuotaBook(
        [agreement("AGR-1", {ORTHO, NEURO}, first), agreement("AGR-2", {ORTHO}, second)], DAY
    )
    plan = [placed(f"P{k:02d}", s, w, d) for k, (s, w, d) in enumerate(patients)]
    left = keep_within(book, plan, DAY)
    kept = [p for p in plan if p.patient not in left]
    assert over(book, kept) == []
    assert len(kept) >= min(len(plan), first)  # the first agreement's places are all used


@settings(max_examples=100, deadline=None)
@given(quota=st.integers(0, 6), patients=PATIENTS)
def test_under_one_agreement_the_most_urgent_keep_their_places(
    quota: int, patients: list[tuple[Specialty, int, int]]
) -> None:
    book = QuotaBook([agreement("AGR-1", {ORTHO, NEURO}, quota)], DAY)
    plan = [placed(f"P{k:02d}", s, w, d) for k, (s, w, d) in enumerate(patients)]
    urgent_first = sorted(plan, key=lambda p: (-p.weight, p.day, p.patient))
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
        ([QUOTA | {"organisations": []}], "(AGR-1): 'organisations' is empty"),
        ([QUOTA | {"organisations": "ORG-A"}], "(AGR-1): 'organisations' must be a list of ids"),
        ([QUOTA | {"facilities": []}], "(AGR-1): 'facilities' is empty"),
        ([QUOTA | {"facilities": ["F-1", 2]}], "(AGR-1): 'facilities' must be a list of ids"),
        ([QUOTA | {"facilities": None}], "(AGR-1): 'facilities' must be a list of ids"),
        ([QUOTA | {"specialties": "neurology"}], "(AGR-1): 'specialties' must be a list of ids"),
        ([QUOTA | {"specialties": [""]}], "(AGR-1): 'specialties' must be a list of ids"),
        ([QUOTA, QUOTA | {"id": "AGR-2", "room": None}], "'quotas' entry 1 (AGR-2): 'room'"),
    ],
)
def test_malformed_quotas_are_refused_naming_the_entry_and_field(
    entries: object, message: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        quotas({"quotas": entries})
    assert refused.value.field == "manifest"
    assert message in refused.value.reason
    assert refused.value.reason.endswith(
        "it was not written by `medevac plan build` as it is: build the problem again"
    )
