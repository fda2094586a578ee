"""Keeping a plan within agreement quotas: who is left out (`keep_within`)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CostPolicy
from medevac.domain.vocabulary import Specialty
from medevac.services.regulating import Placed, QuotaBook, keep_within

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
