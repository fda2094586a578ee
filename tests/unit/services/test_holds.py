"""The held beds the manifest records: their text and which holds fit inside others."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medevac.services.manifests import Hold

DAY = date(2026, 12, 5)


@given(
    facility=st.text(min_size=1, max_size=20),
    specialty=st.sampled_from(["neurology", "burns", "oncology"]),
    offset=st.integers(0, 400),
    stay=st.integers(1, 100_000),
)
def test_a_hold_reads_back_from_its_text_whatever_its_facility_id(
    facility: str, specialty: str, offset: int, stay: int
) -> None:
    hold = Hold(facility, specialty, date.fromordinal(DAY.toordinal() + offset), stay)
    assert Hold.parse(hold.key()) == hold


@pytest.mark.parametrize("text", ["", "FAC@neurology@2026-12-05", "FAC@neurology@x+3", "F@n@+"])
def test_a_text_that_is_no_hold_reads_as_none(text: str) -> None:
    assert Hold.parse(text) is None


@pytest.mark.parametrize(
    ("first", "stay", "inside"),
    [
        # the hold seen takes the 5th to the 8th
        (5, 3, True),
        (5, 4, True),
        (6, 3, True),
        (4, 3, False),
        (5, 5, False),
        (6, 4, False),
        # the problem's days are the 3rd to the 9th: what lies outside does not count
        (2, 4, False),  # the 3rd and 4th are new
        (1, 2, True),  # ends before the problem's first day
        (9, 1, False),
        (10, 4, True),  # after the problem's last day
    ],
)
def test_a_hold_is_within_another_when_the_other_takes_every_bed_it_takes(
    first: int, stay: int, inside: bool
) -> None:
    start, end = date(2026, 12, 3), date(2026, 12, 10)
    seen = Hold("FAC", "neurology", date(2026, 12, 5), 4)
    now = Hold("FAC", "neurology", date(2026, 12, first), stay)
    assert now.within(seen, start, end) is inside
    assert not Hold("FAC-2", "neurology", date(2026, 12, 5), 4).within(seen, start, end)
    assert not Hold("FAC", "oncology", date(2026, 12, 5), 4).within(seen, start, end)


def test_a_hold_running_past_the_problem_is_within_one_cut_at_its_end() -> None:
    start, end = date(2026, 12, 5), date(2026, 12, 19)
    seen = Hold("FAC", "burns", date(2026, 12, 10), 9)  # to the problem's last day
    assert Hold("FAC", "burns", date(2026, 12, 10), 30).within(seen, start, end)


def test_a_hold_is_said_with_the_article_its_specialty_takes() -> None:
    # "holds a orthopaedics bed" had been said of every specialty written with a vowel first
    said = Hold("FAC", "orthopaedics", date(2026, 12, 5), 1).said()
    assert said == "an orthopaedics bed at FAC from 2026-12-05 for 1 day"
    assert (
        Hold("FAC", "internal_medicine", date(2026, 12, 5), 2)
        .said()
        .startswith("an internal medicine bed")
    )
    assert Hold("FAC", "neurology", date(2026, 12, 5), 2).said().startswith("a neurology bed")
