"""Reading plain JSON data into validated structures, with errors that name the path."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

_T = TypeVar("_T")


class ParameterError(ValueError):
    """A scenario value is missing, unknown or impossible; ``path`` names where."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class ObjectReader:
    """Reads one JSON object at ``path`` and re-raises validation errors with the full path."""

    def __init__(self, data: object, path: str) -> None:
        self.data = data
        self.path = path

    def object(self, required: Sequence[str], optional: Sequence[str]) -> Mapping[str, object]:
        if not isinstance(self.data, Mapping):
            raise ParameterError(self.path or "(top level)", "must be a JSON object")
        allowed = set(required) | set(optional)
        for key in self.data:
            if key not in allowed:
                raise ParameterError(
                    self._join(str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in required:
            if key not in self.data:
                raise ParameterError(self._join(key), "required")
        return self.data

    def build(self, cls: type[_T], **kwargs: Any) -> _T:
        try:
            return cls(**kwargs)
        except ParameterError as error:
            raise ParameterError(self._join(error.path), error.reason) from None

    def _join(self, key: str) -> str:
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key


def read_number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(path, f"must be a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:
        # JSON reads 1 followed by 400 zeros as an int that no float can hold
        raise ParameterError(
            path, f"too large, got {shown_number(value)} (numbers must be below 1.8e+308)"
        ) from None
    _require_finite(path, result)
    return result


def read_numbers(value: object, path: str) -> list[float]:
    if not isinstance(value, list):
        raise ParameterError(path, "must be a list of numbers")
    return [read_number(item, f"{path}[{index}]") for index, item in enumerate(value)]


def read_integer(value: object, path: str) -> int:
    """A whole number; written with a point (50.0, 1e2) too, as JSON Schema's "integer"
    takes it (the published schema accepted what this had refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(path, f"must be a whole number, got {value!r}")
    return value


def read_string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ParameterError(path, f"must be a string, got {value!r}")
    return value


def is_finite_number(value: float) -> bool:
    """Whether ``value`` is finite; a Python int is, however large (``math.isfinite`` would
    raise OverflowError on one too large for a float)."""
    return isinstance(value, int) or math.isfinite(value)


def shown_number(value: float) -> str:
    """A number for a message: 100,000 rather than 1e+05, 1e+20 rather than twenty-one digits,
    and 1e+400 for an int too large for a float."""
    if isinstance(value, int):
        if abs(value) < 10**12:
            return f"{value:,}"
        exact = Decimal(value)
        exponent = exact.adjusted()
        return f"{float(exact.scaleb(-exponent)):g}e+{exponent:02d}"
    if value.is_integer() and abs(value) < 1e12:
        return f"{value:,.0f}"
    return f"{value:g}"


def _require_finite(path: str, value: float) -> None:
    if not math.isfinite(value):
        raise ParameterError(path, f"must be a finite number, got {value!r}")
