"""The held beds the manifest records: their text and which holds fit inside others."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medevac.services.regulating import Hold

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
    [(5, 3, True), (5, 5, True), (6, 4, True), (4, 3, False), (6, 5, False), (5, 6, False)],
)
def test_a_hold_is_within_another_when_the_other_takes_every_bed_it_takes(
    first: int, stay: int, inside: bool
) -> None:
    seen = Hold("FAC", "neurology", date(2026, 12, 5), 5)
    now = Hold("FAC", "neurology", date(2026, 12, first), stay)
    assert now.within(seen) is inside
    assert not Hold("FAC-2", "neurology", date(2026, 12, 5), 5).within(seen)
    assert not Hold("FAC", "oncology", date(2026, 12, 5), 5).within(seen)
