"""How the command line says the age of a report."""

from __future__ import annotations

from datetime import timedelta

from medevac.cli.context import age_text
from medevac.domain.limits import CLOCK_SKEW


def test_a_report_ahead_of_the_clock_by_the_skew_allowed_is_just_now() -> None:
    # a report the registry took (within 5 minutes of clock difference) had been shown "in the
    # future" by `facilities capacity show`
    assert age_text(-timedelta(seconds=30)) == "just now"
    assert age_text(-CLOCK_SKEW) == "just now"
    assert age_text(-CLOCK_SKEW - timedelta(minutes=1)) == "in the future"
    assert age_text(timedelta(0)) == "0 min ago"
    assert age_text(timedelta(hours=3, minutes=5)) == "3 h 05 min ago"
    assert age_text(timedelta(days=2, hours=4)) == "2 d 4 h ago"
