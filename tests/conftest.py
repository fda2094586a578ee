"""Test-run wide hooks: the storage summary line shows how many tests passed on each backend.

Property tests explore new random examples on every local run; under CI (CI=true) they use a
fixed sequence of examples so that a run is repeatable. A failure found locally is kept in
hypothesis' example database and replayed until fixed.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import settings

# pytest-xdist starts its workers with COLUMNS=80, and Rich fixes a console's width from it
# when the console is made (the CLI's consoles are made at import). Tests that ask for a wider
# terminal would then get 80 columns only under `-n`; without it they behave as in a plain run.
os.environ.pop("COLUMNS", None)
# The tests' times are in UTC and so are the days they expect; on a machine in another zone the
# operation's calendar would otherwise be that machine's (tests of other zones set their own).
os.environ["MEDEVAC_TIME_ZONE"] = "UTC"

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")

STORAGE_BACKENDS = ("sqlite", "postgresql")
_OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def _backend_of(report: pytest.TestReport) -> str | None:
    """The backend in a test id such as `test_x[sqlite]` or `test_y[postgresql-3]`."""
    if "storage" not in report.keywords or "[" not in report.nodeid:
        return None
    params = report.nodeid[report.nodeid.index("[") + 1 : report.nodeid.rindex("]")]
    found = [part for part in params.split("-") if part in STORAGE_BACKENDS]
    return found[0] if found else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: dict[str, Counter[str]] = {backend: Counter() for backend in STORAGE_BACKENDS}
    for outcome in _OUTCOMES:
        for report in terminalreporter.stats.get(outcome, []):
            if not isinstance(report, pytest.TestReport):
                continue
            backend = _backend_of(report)
            if backend is None:
                continue
            # A test counts once: by its call, or by the setup/teardown that failed or skipped.
            if report.when == "call" or outcome in ("error", "skipped"):
                counts[backend][outcome] += 1
    deselected = [
        item
        for item in terminalreporter.stats.get("deselected", [])
        if "[postgresql" in getattr(item, "nodeid", "")
    ]
    if not any(counts.values()) and not deselected:
        return
    parts = []
    for backend in STORAGE_BACKENDS:
        tally = counts[backend]
        words = [f"{tally[o]} {o}" for o in _OUTCOMES if tally[o] or o == "passed"]
        parts.append(f"{', '.join(words)} on {backend}")
    terminalreporter.write_line("storage tests: " + "; ".join(parts), bold=True)
    # PostgreSQL variants left out by -k or -m are the caller's choice, not this variable's
    if os.environ.get("MEDEVAC_SKIP_POSTGRES") == "1":
        terminalreporter.write_line(
            f"WARNING: MEDEVAC_SKIP_POSTGRES=1: {len(deselected)} PostgreSQL storage tests were "
            "deselected and did not run",
            yellow=True,
            bold=True,
        )
