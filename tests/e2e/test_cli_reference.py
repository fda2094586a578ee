"""docs/cli.md documents every command as the code defines it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_the_command_reference_is_current(tmp_path: Path) -> None:
    generated = tmp_path / "cli.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "medevac.cli.main",
            "utils",
            "docs",
            "--name",
            "medevac",
            "--title",
            "medevac command reference",
            "--output",
            str(generated),
        ],
        check=True,
        capture_output=True,
        env=os.environ | {"COLUMNS": "100"},
    )
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert generated.read_text(encoding="utf-8") == current, (
        "docs/cli.md is out of date: run `make docs`"
    )
