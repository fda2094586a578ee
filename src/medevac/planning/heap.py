"""Keep Python's cyclic garbage collector off the objects a solve starts with.

A problem of 100,000 patients is millions of Python objects. Every full collection walks all
of them (0.22 s on L), and a solve allocates enough (100,000 assignments at the end, for one)
to set off several: on L in 10 s three full collections took 0.47 s, most of the plan's
assembly, and the solve ended at 9.8-9.95 s. `frozen` moves the objects that exist when a
solve starts to the collector's permanent generation (`gc.freeze`) and back when the last
concurrent solve ends; objects made during the solve are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from medevac.planning.runtime import WhileSolving


def _freeze() -> Callable[[], None]:
    """Freeze the objects that exist now; return what thaws them."""
    gc.freeze()
    return gc.unfreeze


#: Run a solve with the objects that exist at its start frozen (see the module)
frozen = WhileSolving(_freeze)
