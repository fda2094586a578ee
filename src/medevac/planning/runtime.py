"""The process as the exact engine's compiled kernels need it while a solve runs.

Two settings of the process hurt the large engine's price ascent, which evaluates the
Lagrangian of L (arrays of about 10 MB a call, vectors of about 100,000 prices) some twenty
times a second:

- numpy's BLAS (OpenBLAS) spreads the vector products (the L-BFGS steps, the Lagrangian's
  sums) over every core, and its threads then spin while they wait for the next product: on
  the 2-core machine they took the cores from numba's parallel kernels. One evaluation of L's
  Lagrangian with its gradient took 0.09-0.12 s at tau 0.3 with OpenBLAS's default threads
  against 0.05-0.06 s with one (docs/benchmarks.md, "2026-12-05, 21:20 UTC"). The products are
  too small to gain from a second thread.
- glibc's malloc gives large freed blocks back to the system (by unmapping them, or by
  trimming the heap), so each evaluation's arrays came back as fresh pages: about 21,000 page
  faults an evaluation on L, and with one BLAS thread an evaluation took 0.062 s at tau 0.3
  and 0.047 s at tau 0 against 0.034-0.041 s and 0.018-0.023 s with the freed memory kept
  (docs/benchmarks.md, "2026-12-05, 21:45 UTC"). While solves run, large blocks come from the
  heap and freed memory stays there; after the last one the freed memory is given back to the
  system (`malloc_trim`) and the thresholds are set where glibc's own adjustment would have
  left them. Elsewhere than glibc nothing is changed.

`solving` sets both when the first concurrent solve starts and sets them back when the last
one ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# while solving: no block up to this size is mapped on its own, and the heap is not trimmed
KEPT_BYTES = 1 << 30
# After the last solve: where glibc's own adjustment of the thresholds ends up once blocks this
# large have been freed (it maps blocks on their own up to 32 MB on 64-bit systems, and trims
# the heap beyond twice that). A threshold set by mallopt ends that adjustment for the rest of
# the process, so glibc's starting values (128 KiB) would have every later list of 100,000
# objects mapped and unmapped anew.
AFTER_MMAP_THRESHOLD = 32 << 20
AFTER_TRIM_THRESHOLD = 64 << 20


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has mallopt and malloc_trim), else None. Looked up
    once: finding the library runs a helper program (about 3 ms, on every solve otherwise)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def _keep_freed_memory() -> Callable[[], object] | None:
    """Keep freed memory in the heap; return what gives it back (None: not glibc)."""
    libc = _glibc()
    if libc is None:
        return None
    libc.mallopt(M_MMAP_THRESHOLD, KEPT_BYTES)
    libc.mallopt(M_TRIM_THRESHOLD, KEPT_BYTES)

    def give_back() -> object:
        libc.mallopt(M_MMAP_THRESHOLD, AFTER_MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, AFTER_TRIM_THRESHOLD)
        return libc.malloc_trim(0)

    return give_back


class WhileSolving:
    """A setting of the process held while any solve runs, in any thread: made by ``start``
    when the first of the concurrent solves starts, undone by what ``start`` returned when the
    last one ends. An instance decorates the solves."""

    def __init__(self, start: Callable[[], Callable[[], object]]) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._running = 0  # solves running now
        self._undo: Callable[[], object] | None = None

    def __call__(self, solve: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(solve)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._lock:
                if self._running == 0:
                    self._undo = self._start()
                self._running += 1
            try:
                return solve(*args, **kwargs)
            finally:
                with self._lock:
                    self._running -= 1
                    if self._running == 0 and self._undo is not None:
                        undo, self._undo = self._undo, None
                        undo()

        return wrapper


def _set_for_kernels() -> Callable[[], object]:
    """One BLAS thread and freed memory kept; return what sets both back."""
    limiter = ThreadpoolController().limit(limits=1, user_api="blas")
    give_back = _keep_freed_memory()

    def set_back() -> object:
        if give_back is not None:
            give_back()
        return limiter.restore_original_limits()

    return set_back


#: Run a solve with numpy's BLAS on one thread and freed memory kept (see the module)
solving = WhileSolving(_set_for_kernels)
