"""The allocation benchmark's --set option: constants changed for one run, bad ones refused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from medevac.planning import lagrangian

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "allocation.py"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("allocation_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_a_setting_changes_the_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lagrangian, "STEP_SCALE_POWER", lagrangian.STEP_SCALE_POWER)
    monkeypatch.setattr(lagrangian, "NO_SEARCH_TEMPERATURES", lagrangian.NO_SEARCH_TEMPERATURES)
    benchmark = _benchmark()
    benchmark.apply_setting("lagrangian.STEP_SCALE_POWER=0")
    assert lagrangian.STEP_SCALE_POWER == 0.0
    assert isinstance(lagrangian.STEP_SCALE_POWER, float)  # an int given for a float
    benchmark.apply_setting("lagrangian.NO_SEARCH_TEMPERATURES=(1.0, 0.3)")
    assert lagrangian.NO_SEARCH_TEMPERATURES == (1.0, 0.3)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("STEP_SCALE_POWER=0", "MODULE.NAME=VALUE"),
        ("lagrangian.STEP_SCALE_POWER", "MODULE.NAME=VALUE"),
        ("nowhere.STEP_SCALE_POWER=0", "no module medevac.planning.nowhere"),
        ("lagrangian.NO_SUCH_RULE=0", "has no NO_SUCH_RULE"),
        ("lagrangian.STEP_SCALE_POWER=one", "'one' is not a Python literal"),
        ("lagrangian.STEP_SCALE_POWER='1'", "STEP_SCALE_POWER is a float"),
    ],
)
def test_a_bad_setting_is_refused_with_what_is_wrong(setting: str, message: str) -> None:
    kept = lagrangian.STEP_SCALE_POWER
    with pytest.raises(ValueError, match=message):
        _benchmark().apply_setting(setting)
    assert kept == lagrangian.STEP_SCALE_POWER
