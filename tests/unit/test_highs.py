"""HiGHS instances are made without the banner highspy prints for a process's first one."""

from __future__ import annotations

import subprocess
import sys

from tests.fresh_python import run_python


def test_the_first_instance_of_a_process_prints_nothing() -> None:
    code = (
        "from medevac.highs import new_highs\n"
        "first = new_highs()\n"
        "second = new_highs()\n"
        "print('made', first is not second)\n"
    )
    done = run_python(code, timeout=60)
    assert done.stdout == "made True\n"  # the banner went nowhere, the print still arrives
    assert "HiGHS" not in done.stderr


def test_without_the_guard_highspy_prints_its_banner() -> None:
    # the premise of new_highs: if highspy stops printing, the guard can go
    done = subprocess.run(
        [sys.executable, "-c", "import highspy; highspy.Highs()"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "Running HiGHS" in done.stdout
