"""Keep Python's cyclic garbage collector off the objects a solve starts with.

A problem of 100,000 patients is millions of Python objects. Every full collection walks all
of them (0.22 s on L), and a solve allocates enough (100,000 assignments at the end, for one)
to set off several: on L in 10 s three full collections took 0.47 s, most of the plan's
assembly, and the solve ended at 9.8-9.95 s. `frozen` moves the objects that exist when a
solve starts to the collector's permanent generation (`gc.freeze`) and back when the last
concurrent solve ends; objects made during the solve are collected as usual.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_depth = 0  # solves running now, in any thread


def frozen(solve: Callable[P, R]) -> Callable[P, R]:
    """Run ``solve`` with the objects that exist at its start frozen (see the module)."""

    @functools.wraps(solve)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _depth
        with _lock:
            if _depth == 0:
                gc.freeze()
            _depth += 1
        try:
            return solve(*args, **kwargs)
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    gc.unfreeze()

    return wrapper
