"""The messages of the domain's errors."""

from __future__ import annotations

from medevac.domain.errors import NotFound
from medevac.domain.limits import MAX_ID_LENGTH


def test_a_key_not_found_is_quoted_whole_up_to_the_longest_id_and_cut_beyond() -> None:
    # a looked-up key of 100,000 characters had been quoted whole in a one-line error
    assert str(NotFound("patient", "PT-0001")) == "patient 'PT-0001' not found"
    assert (
        str(NotFound("patient", "P" * MAX_ID_LENGTH))
        == f"patient {'P' * MAX_ID_LENGTH!r} not found"
    )
    assert str(NotFound("facility", "F" * 100_000)) == (
        f"facility {'F' * 40!r}... (100,000 characters) not found"
    )
