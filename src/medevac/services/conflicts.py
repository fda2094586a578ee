"""Serialized use cases tried again when another transaction overtook them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from medevac.domain.errors import TransactionConflict

T = TypeVar("T")


def retried(attempt: Callable[[], T], attempts: int) -> T:
    """Run ``attempt`` (one serialized unit of work: `UnitOfWork.serialized`) again when
    another transaction changed what it read, up to ``attempts`` times; the next attempt sees
    that change, and its checks name it. The last attempt's TransactionConflict is raised."""
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except TransactionConflict:
            if number == attempts:
                raise
    raise AssertionError("unreachable")
