"""Keep numpy's BLAS (OpenBLAS) on one thread while a solve runs.

OpenBLAS spreads the vector products of the large engine's price ascent (its L-BFGS steps and
the Lagrangian's sums, vectors of about 100,000 prices on L) over every core, and its threads
then spin while they wait for the next product: on the 2-core machine they took the cores from
numba's parallel kernels. One evaluation of L's Lagrangian with its gradient took 0.09-0.12 s
at tau 0.3 with OpenBLAS's default threads against 0.05-0.06 s with one (docs/benchmarks.md,
"2026-12-05, 21:20 UTC"). The products are too small to gain from a second thread.

`one_blas_thread` sets the limit when the first concurrent solve starts and gives back the
process's own setting when the last one ends.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_depth = 0  # solves running now, in any thread
_restore: Callable[[], None] | None = None  # gives back the setting from before


def one_blas_thread(solve: Callable[P, R]) -> Callable[P, R]:
    """Run ``solve`` with numpy's BLAS on one thread (see the module)."""

    @functools.wraps(solve)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _depth, _restore
        with _lock:
            if _depth == 0:
                limiter = ThreadpoolController().limit(limits=1, user_api="blas")
                _restore = limiter.restore_original_limits
            _depth += 1
        try:
            return solve(*args, **kwargs)
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0 and _restore is not None:
                    _restore()
                    _restore = None

    return wrapper
