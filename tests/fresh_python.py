"""Run a piece of Python in a fresh interpreter (nothing loaded yet) and read what it printed."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``args`` in a new process of this interpreter; fails if it fails."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
